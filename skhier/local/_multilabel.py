"""A binary classifier per node for node sets (multi-label), on trees and DAG ontologies."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from .._docs import fill_doc
from .._parallel import fit_local_tasks
from ..base import NodeScores, NodeScoresMixin
from ..labels import HierarchicalLabelEncoder, decode_labels
from ..utils.validation import Boolean, HasMethods, Interval, IsTaxonomy, check_taxonomy, validate_params
from ._local import _proba_by_label

__all__ = ["MultiLabelLocalClassifierPerNode"]


class MultiLabelLocalClassifierPerNode(NodeScoresMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    """A binary classifier at every non-root node for node sets, on trees and DAGs.

    For label sets (a node-indicator ``y``: several paths per sample, closed under
    ancestors), as HiClass's ``MultiLabelLocalClassifierPerNode``, on any taxonomy, the
    Gene Ontology's DAG included. The local problem of node ``v`` holds the samples whose
    label set contains **all** of ``v``'s parents (our policy: the samples for which
    ``v`` is a question at all); positives contain ``v``. At prediction the nodes are
    visited parents first and ``P(v) = p_v(x) · min_{u ∈ parents(v)} P(u)``, so no node
    ever scores above a parent (coherent, as C-HMCNN's outputs) and ``predict``'s
    thresholded sets are closed under ancestors. A node whose training samples hold one
    class answers it with certainty; one with none, 0.

    Parameters
    ----------
    local_classifier : estimator, default=None
        Cloned for every node; needs ``predict_proba``. ``None``:
        ``LogisticRegression(max_iter=1000)``.
    taxonomy : Taxonomy
        A tree or a DAG (required: node sets do not determine a taxonomy).
    threshold : float, default=0.5
        Probability a node needs in ``predict``.
    n_jobs : int, default=None
        joblib's ``n_jobs`` for fitting the local classifiers.
    verbose : int, default=0
        1: a progress bar (tqdm) over the local fits; 2 and more: joblib's messages too.

    Attributes
    ----------
    taxonomy_ : Taxonomy
    classes_ : ndarray
        Every taxonomy node, in taxonomy order (the indicator's columns).
    estimators_ : dict
        Node identifier → fitted local classifier.
    label_format_ : LabelFormat
    n_features_in_ : int

    See Also
    --------
    skhier.neural.CHMCNNClassifier : the neural model with the same coherence.
    skhier.local.LocalClassifierPerNode : one path per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from skhier import Taxonomy
    >>> from skhier.local import MultiLabelLocalClassifierPerNode
    >>> tax = Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c"])  # c under a and b
    >>> Y = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]] * 5)
    >>> X = Y[:, 1:] + np.random.default_rng(0).normal(scale=0.1, size=(20, 3))
    >>> clf = MultiLabelLocalClassifierPerNode(taxonomy=tax).fit(X, Y)
    >>> P = clf.predict_proba(X)
    >>> bool((P[:, tax.index("c")] <= np.minimum(P[:, tax.index("a")], P[:, tax.index("b")])).all())
    True
    """

    _parameter_rules = {"threshold": Interval(0, 1), "verbose": Boolean(allow_int="any"),
                        "n_jobs": Interval(integer=True, allow_none=True),
                        "local_classifier": HasMethods("fit", allow_none=True),
                        "taxonomy": IsTaxonomy()}

    def __init__(self, local_classifier=None, taxonomy=None, *, threshold=0.5, n_jobs=None, verbose=0):
        self.local_classifier = local_classifier
        self.taxonomy = taxonomy
        self.threshold = threshold
        self.n_jobs = n_jobs
        self.verbose = verbose

    @fill_doc
    def fit(self, X, y):
        """Fit one binary classifier per non-root node.

        Parameters
        ----------
        %(X_features)s
        y : array-like or sparse matrix
            Node sets as an indicator (one column per node, root first; ancestors are
            filled in).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        validate_params(self)
        X = validate_data(self, X, accept_sparse="csr", reset=True)  # X first: its errors do not depend on y
        if self.taxonomy is None:
            raise ValueError(f"{type(self).__name__} needs taxonomy=: node sets do not determine one")
        tax = check_taxonomy(self.taxonomy, allow_dag=True, what=type(self).__name__)
        est = LogisticRegression(max_iter=1000) if self.local_classifier is None else self.local_classifier
        if not hasattr(est, "predict_proba"):
            raise TypeError(f"local_classifier ({type(est).__name__}) has no predict_proba, which local "
                            "classifiers need; wrap it in sklearn.calibration.CalibratedClassifierCV")
        enc = HierarchicalLabelEncoder(tax)
        encoded = enc.fit_transform(y)
        if not enc.format_.multilabel:
            raise ValueError(f"{type(self).__name__} learns node sets: y must be a node-indicator matrix "
                             "(one column per taxonomy node); for one path per sample use LocalClassifierPerNode")
        Y = encoded.toarray().astype(bool)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {Y.shape[0]}")
        tasks, nodes = [], []
        for v in range(1, tax.n_nodes):
            rows = np.flatnonzero(Y[:, tax.parents[v]].all(axis=1))
            if rows.size:
                tasks.append((rows, Y[rows, v].astype(np.int64)))
                nodes.append(v)
        fitted = fit_local_tasks([est] * len(tasks), X, tasks, n_jobs=self.n_jobs, verbose=self.verbose,
                                 owner=type(self).__name__)
        self.taxonomy_ = tax
        self.label_format_ = enc.format_
        self.estimators_ = {tax.nodes[v]: e for v, e in zip(nodes, fitted)}
        self.classes_ = np.empty(tax.n_nodes, dtype=object)
        self.classes_[:] = list(tax.nodes)
        return self

    @fill_doc
    def predict_proba(self, X):
        """Per-node probabilities, coherent: no node above any of its parents.

        Parameters
        ----------
        %(X_features)s

        Returns
        -------
        proba : ndarray of shape (n_samples, n_nodes)
            Probabilities.
        """
        check_is_fitted(self, "estimators_")
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        tax = self.taxonomy_
        P = np.zeros((X.shape[0], tax.n_nodes))
        P[:, 0] = 1.0
        for v in range(1, tax.n_nodes):  # node order is topological: parents first
            est = self.estimators_.get(tax.nodes[v])
            if est is None:
                continue
            local = _proba_by_label(est, X, [1])[:, 0]
            P[:, v] = local * P[:, tax.parents[v]].min(axis=1)
        return P

    @fill_doc
    def transform(self, X):
        """Per-node probabilities as node scores (see :meth:`predict_proba`).

        Parameters
        ----------
        %(X_features)s

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes)
            Node scores, columns in taxonomy order.
        """
        return NodeScores.wrap(self.predict_proba(X), self.taxonomy_)

    @fill_doc
    def predict(self, X):
        """The nodes at or above ``threshold`` (closed under ancestors), in ``y``'s format.

        Parameters
        ----------
        %(X_features)s

        Returns
        -------
        y : ndarray or sparse matrix
            Labels in the format ``y`` was given in.
        """
        hit = self.predict_proba(X) >= self.threshold
        hit[:, 0] = True
        return decode_labels(sp.csr_matrix(hit), self.taxonomy_, self.label_format_)
