"""FlatClassifier: any scikit-learn classifier as a producer of node scores."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..labels import HierarchicalLabelEncoder, _check_taxonomy, decode_labels
from ._base import NodeScoresMixin, NodeScores, node_classes

__all__ = ["FlatClassifier"]


class FlatClassifier(NodeScoresMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    """Wrap a flat scikit-learn classifier so that it outputs taxonomy node scores.

    The wrapped estimator is trained on the deepest node of every sample (the leaves, in
    the usual case) as flat classes. Its ``predict_proba`` columns are placed in their
    node columns and summed bottom-up, so every node's score is the probability of the
    subtree below it: the root scores 1. ``transform`` returns these scores, which makes
    a ``FlatClassifier`` the first step of a refiner Pipeline.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        Any scikit-learn classifier; cloned at ``fit``.
    taxonomy : Taxonomy
        The labels' taxonomy.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``.
    classes_ : ndarray of object
        The taxonomy nodes: the columns of ``transform`` and ``predict_proba``.
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
    >>> pipe = make_pipeline(FlatClassifier(LogisticRegression(), tax), DiffusionRefiner(tax, alpha=0.3))
    >>> pipe.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    def __init__(self, estimator, taxonomy):
        self.estimator = estimator
        self.taxonomy = taxonomy

    def fit(self, X, y, **fit_params):
        """Fit the wrapped estimator on the deepest node of every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like
            Labels in any single-label format of :mod:`skhier.labels`.
        **fit_params : dict
            Passed to the estimator's ``fit`` (``sample_weight`` for instance).

        Returns
        -------
        self : FlatClassifier
        """
        _check_taxonomy(self.taxonomy)
        if not hasattr(self.estimator, "predict_proba"):
            raise TypeError(f"{type(self.estimator).__name__} has no predict_proba; FlatClassifier needs one")
        enc = HierarchicalLabelEncoder(self.taxonomy)
        nodes = enc.fit_transform(y)
        if enc.format_.multilabel:
            raise ValueError("FlatClassifier takes single-label targets, got an indicator matrix")
        self.label_format_ = enc.format_
        self.estimator_ = clone(self.estimator).fit(X, nodes, **fit_params)
        self.n_features_in_ = getattr(self.estimator_, "n_features_in_", np.asarray(X).shape[1])
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        self.classes_ = node_classes(self.taxonomy)
        return self

    def transform(self, X):
        """Node scores: the estimator's class probabilities summed bottom-up.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes)
        """
        check_is_fitted(self, "estimator_")
        proba = np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)
        # each class's probability lands on its node and every ancestor
        spread = self.taxonomy.ancestor_matrix[np.asarray(self.estimator_.classes_, dtype=np.int64)]
        return NodeScores.wrap(np.asarray(proba @ spread), self.taxonomy)

    def predict_proba(self, X):
        """Node probabilities (same as ``transform``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_nodes)
        """
        return self.transform(X)

    def predict(self, X):
        """The estimator's predicted node, in the label format seen at ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray
        """
        check_is_fitted(self, "estimator_")
        nodes = np.asarray(self.estimator_.predict(X), dtype=np.int64)
        return decode_labels(nodes, self.taxonomy, self.label_format_)
