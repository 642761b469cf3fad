"""Local classifiers around any scikit-learn estimator: one per node, per parent node or
per level (the HiClass family), with an explicit Taxonomy, parallel fitting, sample
weights, non-mandatory leaf prediction and consistent node probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from .._docs import fill_doc
from .._parallel import _Constant, fit_local_tasks  # noqa: F401 (_Constant: old pickles)
from .._taxonomy import Taxonomy, top_down_product
from ..base import HierarchicalClassifierMixin, NodeScores
from ..labels import HierarchicalLabelEncoder, decode_labels, infer_taxonomy
from ..utils.validation import (
    Boolean,
    HasMethods,
    InstanceOf,
    Interval,
    IsTaxonomy,
    OneOf,
    Options,
    check_sample_weight,
    check_taxonomy,
    validate_params,
)

__all__ = ["LocalClassifierPerNode", "LocalClassifierPerParentNode", "LocalClassifierPerLevel"]

_STOP = -1  # local label of "the path ends here"


def _proba_by_label(est, X, labels):
    """Columns of ``est.predict_proba(X)`` for ``labels`` (0 for labels it never saw)."""
    out = np.zeros((X.shape[0], len(labels)))
    proba = est.predict_proba(X)
    pos = {c: i for i, c in enumerate(np.asarray(est.classes_).tolist())}
    for j, lab in enumerate(labels):
        i = pos.get(lab)
        if i is not None:
            out[:, j] = proba[:, i]
    return out


def _normalised(raw, stop_raw, can_stop):
    """Conditionals of one parent from raw scores of its children (m, k) and of stopping
    (m,): children and stopping sum to one (uniform over the children when all are 0)."""
    st = stop_raw if can_stop else np.zeros(raw.shape[0])
    total = raw.sum(axis=1) + st
    ok = total > 0
    safe = np.where(ok, total, 1.0)
    return np.where(ok[:, None], raw / safe[:, None], 1.0 / raw.shape[1]), np.where(ok, st / safe, 0.0)


class _LocalClassifier(HierarchicalClassifierMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    """Shared fitting, probability and decision machinery of the local classifiers.

    Subclasses plan their local problems (``_plan``) and turn their fitted estimators'
    probabilities into conditional probabilities of every child and of stopping at every
    internal node (``_conditionals``). Node probabilities are then products along the
    root path, consistent by construction.
    """

    _key_kind = "node"

    def __init__(self, local_classifier=None, taxonomy=None, *, local_classifiers=None, threshold=None,
                 n_jobs=None, verbose=0):
        self.local_classifier = local_classifier
        self.taxonomy = taxonomy
        self.local_classifiers = local_classifiers
        self.threshold = threshold
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def _ident(self, key, tax):
        """The user-facing key of a local problem: a node identifier, or a level."""
        return tax.nodes[key] if self._key_kind == "node" else key

    def _valid_keys(self, tax) -> np.ndarray:
        """Indices of the nodes (or the levels) that can hold a local classifier."""
        raise NotImplementedError

    def _key_index(self, key, tax):
        """The index (node) or level of a user-facing key; None when it names nothing."""
        if self._key_kind == "level":
            return key if isinstance(key, (int, np.integer)) and not isinstance(key, bool) else None
        try:
            return tax.index(key)  # an identifier, or a display name that names one node
        except (ValueError, TypeError):
            return None

    def _chosen_estimators(self, tax):
        """``local_classifiers`` as {node index or level: estimator} (a dict, validated once)
        or the callable; None when not given."""
        choice = self.local_classifiers
        if choice is None or (callable(choice) and not isinstance(choice, dict)):
            return choice
        if not isinstance(choice, dict):
            raise TypeError(
                f"local_classifiers must be a dict or a callable f(key, taxonomy), got {type(choice).__name__}"
            )
        valid = set(self._valid_keys(tax).tolist())
        table = {}
        for key, est in choice.items():
            k = self._key_index(key, tax)
            if k not in valid:
                what = {"node": "a node with a local classifier", "level": "a level (1 .. max_depth)"}[self._key_kind]
                shown = sorted(repr(self._ident(v, tax)) for v in list(valid)[:5])
                raise ValueError(
                    f"local_classifiers has key {key!r}, which is not {what} of {type(self).__name__} "
                    f"(valid keys include: {shown}{' ...' if len(valid) > 5 else ''})"
                )
            table[k] = est
        return table

    def _estimator_for(self, key, tax, chosen):
        est = chosen.get(key) if isinstance(chosen, dict) else (chosen(self._ident(key, tax), tax) if chosen else None)
        if est is None:
            est = LogisticRegression(max_iter=1000) if self.local_classifier is None else self.local_classifier
        if not hasattr(est, "predict_proba"):
            raise TypeError(
                f"the local classifier of {self._ident(key, tax)!r} ({type(est).__name__}) has no "
                "predict_proba, which local classifiers need; wrap it in "
                "sklearn.calibration.CalibratedClassifierCV"
            )
        return est

    def _read_y(self, X, y):
        """Validate X and y; return X, node indices, the taxonomy and the label format."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y_arr = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
        is_paths = getattr(y_arr, "ndim", 1) == 2 and y_arr.shape[1] > 1
        if is_paths:
            X = validate_data(self, X, accept_sparse="csr", reset=True)
            if y_arr.shape[0] != X.shape[0]:
                raise ValueError(f"X has {X.shape[0]} samples but y has {y_arr.shape[0]}")
        else:
            X, y_arr = validate_data(self, X, y_arr, accept_sparse="csr", reset=True)  # 1-D, finite
            if self.taxonomy is None:
                # with a taxonomy the encoder checks every label is a node; sklearn's check
                # would warn "regression?" whenever there are more leaves than half the samples
                check_classification_targets(y_arr)
            if y_arr.dtype.kind == "f" and np.all(np.mod(y_arr, 1) == 0):
                y_arr = y_arr.astype(np.int64)
        if self.taxonomy is None:
            tax = Taxonomy.from_paths(y_arr) if is_paths else infer_taxonomy(y_arr)
        else:
            tax = check_taxonomy(self.taxonomy, what=type(self).__name__)
        enc = HierarchicalLabelEncoder(tax)
        nodes = enc.fit_transform(y_arr)
        if enc.format_.multilabel:
            raise ValueError(f"{type(self).__name__} predicts one path per sample; got an indicator matrix")
        return X, nodes, tax, enc.format_

    @fill_doc
    def fit(self, X, y, sample_weight=None):
        """Fit every local classifier.

        Parameters
        ----------
        %(X_features)s
        y : array-like
            Labels in any single-label format of :mod:`skhier.labels`: 1-D leaf or node
            labels, or 2-D root-first paths. Without ``taxonomy``, 2-D paths define it
            and 1-D labels are flat classes under a root.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed by keyword to every local estimator (which must accept it).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        before = dict(self.__dict__)
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            # nothing half-fitted: validate_data's n_features_in_ included
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    #: the parameters' rules (skhier.utils.validation), checked once per fit
    _parameter_rules = {"threshold": Interval(0, 1, allow_none=True), "verbose": Boolean(allow_int="any"),
                        "n_jobs": Interval(integer=True, allow_none=True),
                        "local_classifier": HasMethods("fit", allow_none=True),
                        "local_classifiers": OneOf(Options(None), InstanceOf(Mapping, what="a dict"),
                                                   HasMethods("__call__")),
                        "taxonomy": IsTaxonomy()}

    def _fit(self, X, y, sample_weight):
        validate_params(self)
        X, nodes, tax, fmt = self._read_y(X, y)
        w = check_sample_weight(sample_weight, X.shape[0])
        chosen = self._chosen_estimators(tax)
        # internal nodes where some training path ends: paths may stop there
        stop_nodes = np.unique(nodes[~tax.is_leaf[nodes]])
        tasks = self._plan(nodes, tax)
        chosen = [self._estimator_for(key, tax, chosen) for key, _, _ in tasks]
        if w is not None:
            for (key, _, _), est in zip(tasks, chosen):
                if not has_fit_parameter(est, "sample_weight"):
                    raise TypeError(
                        f"sample_weight was given but {type(est).__name__} (the local classifier of "
                        f"{self._ident(key, tax)!r}) does not accept it"
                    )
        fitted = fit_local_tasks(
            chosen, X, [(idx, y_local) for _, idx, y_local in tasks], w,
            n_jobs=self.n_jobs, verbose=self.verbose, owner=type(self).__name__,
        )
        self.label_format_ = fmt
        self.stop_nodes_ = stop_nodes
        self._set_classes(tax, np.union1d(tax.leaves, stop_nodes))
        self.estimators_ = {self._ident(key, tax): est for (key, _, _), est in zip(tasks, fitted)}
        return self

    def _fitted(self):
        """(node index or level, estimator) of every local problem."""
        tax = self.taxonomy_
        return ((self._key_index(k, tax), est) for k, est in self.estimators_.items())

    # ------------------------------------------------------------------ probabilities
    def _check_X(self, X):
        check_is_fitted(self, "estimators_")
        return validate_data(self, X, accept_sparse="csr", reset=False)

    def _node_proba(self, X):
        """(n, n_nodes) probability of passing each node, and (n, n_nodes) of ending there."""
        tax = self.taxonomy_
        cond, stop = self._conditionals(X)
        marg = top_down_product(cond.copy(), tax)
        end = marg * stop
        end[:, tax.is_leaf] = marg[:, tax.is_leaf]
        return marg, end, cond, stop

    def _estimator_table(self):
        """{node index or level: fitted estimator}."""
        return dict(self._fitted())

    def _parent_raw(self, p, X, table):
        """Raw scores of ``p``'s children (m, k) and of stopping at ``p`` (m,) for rows ``X``."""
        raise NotImplementedError

    def _parent_conditionals(self, p, X, table, can_stop):
        """``P(child | p)`` (m, k) and ``P(stop at p)`` (m,) for rows ``X``."""
        return _normalised(*self._parent_raw(p, X, table), can_stop[p])

    def _can_stop(self):
        """(n_nodes,) bool: the internal nodes where training paths ended."""
        can = np.zeros(self.taxonomy_.n_nodes, dtype=bool)
        can[self.stop_nodes_] = True
        return can

    def _conditionals(self, X):
        """(n, n_nodes) conditionals of every node and of stopping at every internal node."""
        tax = self.taxonomy_
        cond = np.zeros((X.shape[0], tax.n_nodes))
        stop = np.zeros_like(cond)
        table, can_stop = self._estimator_table(), self._can_stop()
        for p in np.flatnonzero(~tax.is_leaf):
            cond[:, tax.children[p]], stop[:, p] = self._parent_conditionals(p, X, table, can_stop)
        return cond, stop

    def _route(self, X):
        """Greedy descent that asks only the local classifiers a sample reaches.

        Level by level, the rows standing at each internal node are sent to that node's
        conditionals alone (each parent's estimator sees only the samples that reached
        it, as HiClass does); a row moves to its best child (ties: the first) unless
        stopping scores at least as high, or the best child is below ``threshold``. The
        same decision as :func:`~skhier._tree.greedy_descent` on the full conditionals,
        without forming them: O(n · depth) estimator rows instead of O(n · n_nodes).
        """
        tax = self.taxonomy_
        table, can_stop = self._estimator_table(), self._can_stop()
        cur = np.zeros(X.shape[0], dtype=np.int64)
        moving = np.flatnonzero(~tax.is_leaf[cur])
        while moving.size:
            order = moving[np.argsort(cur[moving], kind="stable")]
            parents, starts = np.unique(cur[order], return_index=True)
            nxt = []
            for p, rows in zip(parents, np.split(order, starts[1:])):
                cond, stop = self._parent_conditionals(p, X[rows], table, can_stop)
                j = cond.argmax(axis=1)
                best = cond[np.arange(rows.size), j]
                go = best > stop
                if self.threshold is not None:
                    go &= best >= self.threshold
                cur[rows[go]] = tax.children[p][j[go]]
                nxt.append(rows[go])
            moving = np.concatenate(nxt)
            moving = moving[~tax.is_leaf[cur[moving]]]
        return cur

    def _end_proba(self, X):
        return self._node_proba(self._check_X(X))[1]

    @fill_doc
    def conditional_proba(self, X):
        """Conditional probabilities ``P(v | parent(v))`` of every node (the root's is 1).

        What :class:`~skhier.inference.TopDownRefiner` multiplies along root paths; its
        output equals ``transform(X)`` when no training path ends at an internal node.

        Parameters
        ----------
        %(X_features)s

        Returns
        -------
        cond : NodeScores of shape (n_samples, n_nodes)
            Conditional probabilities ``P(v | parent(v))`` of every node (the root's is 1).
        """
        X = self._check_X(X)
        cond = self._node_proba(X)[2].copy()
        cond[:, 0] = 1.0
        return NodeScores.wrap(cond, self.taxonomy_)

    @fill_doc
    def fit_transform(self, X, y, sample_weight=None):
        """Fit, then return node probabilities of ``X``.

        Parameters
        ----------
        %(X_features)s
        y : array-like
            Labels in any label format of :mod:`skhier.labels`.
        %(sample_weight)s

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes)
            Node scores, columns in taxonomy order.
        """
        return self.fit(X, y, sample_weight=sample_weight).transform(X)

    @fill_doc
    def predict(self, X):
        """Greedy top-down prediction, in the label format seen at ``fit``.

        From the root, step to the child with the highest conditional probability; stop
        at a node when stopping there is likelier than every child, or, with
        ``threshold``, when the best child's conditional probability is below it. Each
        local classifier sees only the samples that reach its node; no node
        probabilities are formed (``predict_proba`` and ``transform`` form them).

        Parameters
        ----------
        %(X_features)s

        Returns
        -------
        y : ndarray
            Labels in the format ``y`` was given in.
        """
        X = self._check_X(X)
        return decode_labels(self._route(X), self.taxonomy_, self.label_format_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_DOC_PARAMS = """
    Parameters
    ----------
    local_classifier : estimator, default=None
        Any scikit-learn classifier with ``predict_proba``, cloned for every local
        problem; ``LogisticRegression(max_iter=1000)`` when None. For calibrated local
        probabilities pass ``CalibratedClassifierCV(estimator)``.
    taxonomy : Taxonomy, default=None
        The labels' taxonomy, nodes without training data included. When None, 2-D
        path targets define it and 1-D targets are flat classes under a root.
    local_classifiers : dict or callable, default=None
        A different estimator for some {keys}: a dict {{{key}: estimator}} (others use
        ``local_classifier``), or ``f({key}, taxonomy)`` returning an estimator or None.
    threshold : float in [0, 1], default=None
        Non-mandatory leaf prediction: ``predict`` stops at an internal node when the
        best child's conditional probability is below ``threshold``.
    n_jobs : int, default=None
        Local classifiers fitted in parallel with joblib.
    verbose : int, default=0
        1: a progress bar (tqdm) over the local fits; 2 and more: joblib's messages too.

    Attributes
    ----------
    taxonomy_ : Taxonomy
        The taxonomy used (given or inferred).
    estimators_ : dict
        Fitted local estimators by {key} (node identifiers, or level numbers).
    classes_ : ndarray
        Nodes a path can end at: every leaf, and internal nodes where training paths
        ended, sorted. The columns of ``predict_proba``, whose rows sum to 1.
    class_nodes_ : ndarray of int
        Taxonomy index of every class.
    stop_nodes_ : ndarray of int
        Internal nodes where training paths ended.
    label_format_ : LabelFormat
    n_features_in_ : int

    Notes
    -----
    Nodes without training data get probability 0 and are never predicted; a local
    problem with a single class (a node with one child, or one observed child) needs no
    estimator and is answered with certainty. ``transform`` gives consistent node
    probabilities: each node's equals its children's plus that of stopping there.
"""


class LocalClassifierPerParentNode(_LocalClassifier):
    __doc__ = """A multi-class classifier at every internal node, over its children.

    The local problem at node ``p`` holds the samples whose path goes through ``p``;
    their label is the child on that path (or "stop" when their path ends at ``p``). Its
    probabilities are the conditionals ``P(child | p)``; node probabilities are their
    products along the root path.
""" + _DOC_PARAMS.format(keys="parent nodes", key="node") + """
    See Also
    --------
    LocalClassifierPerNode, LocalClassifierPerLevel

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.local import LocalClassifierPerParentNode
    >>> X, y, tax = make_hierarchical_classification(200, 6, n_levels=2, branching=2, random_state=0)
    >>> clf = LocalClassifierPerParentNode(LogisticRegression(), taxonomy=tax).fit(X, y)
    >>> clf.predict(X[:2]).shape, clf.transform(X[:2]).shape
    ((2,), (2, 7))
    """

    def _valid_keys(self, tax):
        return np.flatnonzero(~tax.is_leaf)

    def _plan(self, nodes, tax):
        anc = tax.path_indices[nodes]  # (n, D + 1)
        depth = tax.depth[nodes]
        tasks = []
        for p in np.flatnonzero(~tax.is_leaf):
            d = tax.depth[p]
            through = anc[:, d] == p
            if not through.any():
                continue
            idx = np.flatnonzero(through)
            below = depth[idx] > d
            y_local = np.where(below, anc[idx, min(d + 1, anc.shape[1] - 1)], _STOP)
            tasks.append((int(p), idx, y_local))
        return tasks

    def _parent_raw(self, p, X, table):
        kids = self.taxonomy_.children[p].tolist()
        est = table.get(p)
        if est is None:  # no training sample went through p
            return np.zeros((X.shape[0], len(kids))), np.zeros(X.shape[0])
        pr = _proba_by_label(est, X, kids + [_STOP])
        return pr[:, :-1], pr[:, -1]


class LocalClassifierPerNode(_LocalClassifier):
    __doc__ = """A binary classifier at every non-root node: is the sample under it?

    The local problem of node ``v`` ("siblings" policy, as in HiClass) holds the samples
    whose path goes through ``v``'s parent: positives are under ``v``, negatives under
    its siblings (or ending at the parent). The positive probabilities of a set of
    siblings (and of stopping at their parent, as none of them) are normalised into
    conditionals, so node probabilities are consistent.
""" + _DOC_PARAMS.format(keys="nodes", key="node") + """
    See Also
    --------
    LocalClassifierPerParentNode, LocalClassifierPerLevel

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.local import LocalClassifierPerNode
    >>> X, y, tax = make_hierarchical_classification(200, 6, n_levels=2, branching=2, random_state=0)
    >>> LocalClassifierPerNode(LogisticRegression(), taxonomy=tax).fit(X, y).predict(X[:2]).shape
    (2,)
    """

    def _valid_keys(self, tax):
        return np.arange(1, tax.n_nodes)

    def _plan(self, nodes, tax):
        anc = tax.path_indices[nodes]
        tasks = []
        for v in range(1, tax.n_nodes):
            p, d = tax.parent[v], tax.depth[v]
            through = anc[:, d - 1] == p
            if not through.any():
                continue
            idx = np.flatnonzero(through)
            y_local = (anc[idx, d] == v).astype(np.int64)
            tasks.append((int(v), idx, y_local))
        return tasks

    def _parent_raw(self, p, X, table):
        kids = self.taxonomy_.children[p]
        raw = np.zeros((X.shape[0], kids.size))
        for j, v in enumerate(kids.tolist()):
            est = table.get(v)
            if est is not None:
                raw[:, j] = _proba_by_label(est, X, [1])[:, 0]
        return raw, np.prod(1.0 - raw, axis=1)  # stopping at p: none of its children


class LocalClassifierPerLevel(_LocalClassifier):
    __doc__ = """A multi-class classifier per level, over the nodes of that level.

    The local problem of level ``d`` holds the samples whose path reaches depth ``d``,
    labelled by their node there (and those ending at depth ``d - 1`` as "stop"). At
    prediction the level's probabilities of a parent's children (and of stopping) are
    normalised into conditionals.
""" + _DOC_PARAMS.format(keys="levels", key="level") + """
    See Also
    --------
    LocalClassifierPerNode, LocalClassifierPerParentNode

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.local import LocalClassifierPerLevel
    >>> X, y, tax = make_hierarchical_classification(200, 6, n_levels=2, branching=2, random_state=0)
    >>> sorted(LocalClassifierPerLevel(LogisticRegression(), taxonomy=tax).fit(X, y).estimators_)
    [1, 2]
    """

    _key_kind = "level"

    def _valid_keys(self, tax):
        return np.arange(1, tax.max_depth + 1)

    def _plan(self, nodes, tax):
        anc = tax.path_indices[nodes]
        depth = tax.depth[nodes]
        tasks = []
        for d in range(1, tax.max_depth + 1):
            reach = depth >= d
            ends_above = (depth == d - 1) & ~tax.is_leaf[nodes] & (depth > 0)
            keep = reach | ends_above
            if not keep.any():
                continue
            idx = np.flatnonzero(keep)
            y_local = np.where(reach[idx], anc[idx, d], _STOP)
            tasks.append((d, idx, y_local))
        return tasks

    def _parent_raw(self, p, X, table):
        kids = self.taxonomy_.children[p].tolist()
        est = table.get(int(self.taxonomy_.depth[p]) + 1)
        if est is None:
            return np.zeros((X.shape[0], len(kids))), np.zeros(X.shape[0])
        pr = _proba_by_label(est, X, kids + [_STOP])
        return pr[:, :-1], pr[:, -1]

    def _conditionals(self, X):
        # one predict_proba per level, shared by all the level's parents
        tax = self.taxonomy_
        cond = np.zeros((X.shape[0], tax.n_nodes))
        stop = np.zeros_like(cond)
        table, can_stop = self._estimator_table(), self._can_stop()
        for d in range(1, tax.max_depth + 1):
            parents = tax.levels[d - 1][~tax.is_leaf[tax.levels[d - 1]]]
            est = table.get(d)
            level = _proba_by_label(est, X, tax.levels[d].tolist() + [_STOP]) if est is not None else None
            col = np.full(tax.n_nodes, -1)
            col[tax.levels[d]] = np.arange(tax.levels[d].size)
            for p in parents:
                kids = tax.children[p]
                raw, st = (level[:, col[kids]], level[:, -1]) if level is not None else (
                    np.zeros((X.shape[0], kids.size)), np.zeros(X.shape[0]))
                cond[:, kids], stop[:, p] = _normalised(raw, st, can_stop[p])
        return cond, stop
