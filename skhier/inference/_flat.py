"""FlatClassifier: any scikit-learn classifier as a producer of node scores."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from .._docs import fill_doc
from ..base import HierarchicalClassifierMixin
from ..labels import HierarchicalLabelEncoder, decode_labels, infer_taxonomy
from ..utils.validation import HasMethods, IsTaxonomy, check_taxonomy, validate_params

__all__ = ["FlatClassifier"]


class FlatClassifier(HierarchicalClassifierMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    """Wrap a flat scikit-learn classifier so that it outputs taxonomy node scores.

    The wrapped estimator is trained on the deepest node of every sample (the leaves, in
    the usual case) as flat classes. Its ``predict_proba`` is the end-node distribution
    of this classifier; summed bottom-up it gives every node's marginal probability (the
    root's is 1), which ``transform`` returns, so a ``FlatClassifier`` starts a refiner
    Pipeline. Dense and scipy sparse ``X`` (e.g. TF-IDF) work as the estimator allows.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        Any scikit-learn classifier; cloned at ``fit``. For one without
        ``predict_proba`` (``LinearSVC``), wrap it in ``CalibratedClassifierCV``.
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` infers it from ``y`` at ``fit``
        (:func:`skhier.labels.infer_taxonomy`: 2-D paths define a tree, 1-D labels are
        flat classes under a root).

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``.
    taxonomy_ : Taxonomy
        The taxonomy at ``fit``.
    classes_ : ndarray
        The nodes seen as labels at ``fit``, sorted: the columns of ``predict_proba``.
    class_nodes_ : ndarray of int
        Taxonomy index of every class.
    label_format_ : LabelFormat
        Format of ``y`` at ``fit``; ``predict`` answers in it.
    n_features_in_ : int

    See Also
    --------
    skhier.inference.DiffusionRefiner : refine these scores on the taxonomy graph.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.inference import FlatClassifier, DiffusionRefiner
    >>> X, y, tax = make_hierarchical_classification(200, 5, n_levels=2, branching=2, random_state=0)
    >>> flat = FlatClassifier(LogisticRegression(), tax).fit(X, y)
    >>> flat.predict_proba(X[:1]).shape, flat.transform(X[:1]).shape
    ((1, 4), (1, 7))
    >>> pipe = make_pipeline(FlatClassifier(LogisticRegression(), tax), DiffusionRefiner(tax, alpha=0.3))
    >>> pipe.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _parameter_rules = {"estimator": HasMethods("fit"),
                        "taxonomy": IsTaxonomy()}

    def __init__(self, estimator, taxonomy=None):
        self.estimator = estimator
        self.taxonomy = taxonomy

    @fill_doc
    def fit(self, X, y, **fit_params):
        """Fit the wrapped estimator on the deepest node of every sample.

        Parameters
        ----------
        %(X_features)s
        y : array-like
            Labels in any single-label format of :mod:`skhier.labels`.
        **fit_params : dict
            Passed to the estimator's ``fit`` (``sample_weight`` for instance).

        Returns
        -------
        self : FlatClassifier
            The fitted estimator.
        """
        if y is None:
            raise ValueError("FlatClassifier requires y to be passed, but the target y is None")
        validate_params(self)
        tax = check_taxonomy(infer_taxonomy(y) if self.taxonomy is None else self.taxonomy)
        if not hasattr(self.estimator, "predict_proba"):
            raise TypeError(
                f"estimator {type(self.estimator).__name__} has no predict_proba, which FlatClassifier "
                "needs; wrap it in sklearn.calibration.CalibratedClassifierCV"
            )
        enc = HierarchicalLabelEncoder(tax)
        nodes = enc.fit_transform(y)
        if enc.format_.multilabel:
            raise ValueError("FlatClassifier takes single-label targets, got an indicator matrix")
        self.label_format_ = enc.format_
        self.estimator_ = clone(self.estimator).fit(X, nodes, **fit_params)
        n_features = X.shape[1] if (sp.issparse(X) or hasattr(X, "shape")) else np.asarray(X).shape[1]
        self.n_features_in_ = getattr(self.estimator_, "n_features_in_", n_features)
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        self._set_classes(tax, np.asarray(self.estimator_.classes_, dtype=np.int64))
        return self

    def _end_proba(self, X):
        check_is_fitted(self, "estimator_")
        proba = np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)
        end = np.zeros((proba.shape[0], self.taxonomy_.n_nodes))
        end[:, np.asarray(self.estimator_.classes_, dtype=np.int64)] = proba
        return end

    @fill_doc
    def predict(self, X):
        """The estimator's predicted node, in the label format seen at ``fit``.

        Parameters
        ----------
        %(X_features)s

        Returns
        -------
        y : ndarray
            Labels in the format ``y`` was given in.
        """
        check_is_fitted(self, "estimator_")
        nodes = np.asarray(self.estimator_.predict(X), dtype=np.int64)
        return decode_labels(nodes, self.taxonomy_, self.label_format_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
