"""Hierarchical scorers for ``cross_val_score``, ``cross_validate`` and ``GridSearchCV``."""

from __future__ import annotations

import numbers
import re
from collections.abc import Iterable

import numpy as np
import torch

from .._docs import fill_doc
from .._taxonomy import Taxonomy
from .._tree import bottom_up
from ..utils.validation import check_number, check_taxonomy
from . import _hierarchical as H
from . import _mistakes as M
from . import _multilabel as ML
from . import _operating_curve as OC

__all__ = [
    "OperatingCurveScorer",
    "make_hierarchical_scorer",
    "get_hierarchical_scorer",
    "get_hierarchical_scorer_names",
    "node_scores",
    "fitted_taxonomy",
]


def fitted_taxonomy(estimator) -> Taxonomy:
    """The taxonomy a fitted estimator learned: its ``taxonomy_``, or a Pipeline's (last step first).

    What a scorer built without a taxonomy scores against, so that
    ``cross_val_score(clf, X, y, scoring=get_hierarchical_scorer("hierarchical_f1"))``
    needs no taxonomy argument: every fitted skhier estimator and refiner knows it.

    Parameters
    ----------
    estimator : fitted estimator
        A skhier estimator, a Pipeline with one among its steps, or a fitted search
        (its ``best_estimator_``).

    Returns
    -------
    taxonomy : Taxonomy
        The taxonomy.

    Raises
    ------
    ValueError
        When no step has a fitted ``taxonomy_`` (a plain scikit-learn classifier): give
        the scorer the taxonomy.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skhier import DiffusionRefiner, FlatClassifier
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.metrics import fitted_taxonomy
    >>> X, y, tax = make_hierarchical_classification(60, 4, n_levels=2, branching=2, random_state=0)
    >>> pipe = make_pipeline(FlatClassifier(LogisticRegression(), tax), DiffusionRefiner()).fit(X, y)
    >>> fitted_taxonomy(pipe) == tax
    True
    """
    seen = estimator
    if hasattr(estimator, "best_estimator_"):
        estimator = estimator.best_estimator_
    steps = [step for _, step in estimator.steps] if hasattr(estimator, "steps") else [estimator]
    for step in reversed(steps):
        tax = getattr(step, "taxonomy_", None)
        if isinstance(tax, Taxonomy):
            return tax
    raise ValueError(
        f"{type(seen).__name__} has no fitted taxonomy_ (it is not a skhier estimator, nor a Pipeline holding one): "
        "give the scorer the taxonomy, e.g. get_hierarchical_scorer(name, taxonomy)"
    )


def _scorer_taxonomy(taxonomy):
    return None if taxonomy is None else check_taxonomy(taxonomy, allow_dag=True)


@fill_doc
def node_scores(estimator, X, taxonomy: Taxonomy) -> np.ndarray:
    """Node scores (n_samples, n_nodes) of a fitted estimator.

    A skhier estimator, or a Pipeline ending in one, gives them from ``transform``
    (node marginals, or refined scores). Any other classifier fitted on node labels gives
    ``predict_proba`` over its ``classes_``: each class's probability is placed in its
    node's column and summed bottom-up into the ancestors.

    Parameters
    ----------
    estimator : fitted estimator
        With ``transform`` returning :class:`~skhier.base.NodeScores`, or with
        ``predict_proba`` and ``classes_``.
    X : array-like
        Input samples: images (n, C, H, W) or feature vectors (n, n_features).
    %(taxonomy)s

    Returns
    -------
    scores : ndarray of shape (n_samples, n_nodes)
        Node scores, columns in taxonomy order.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.metrics import node_scores
    >>> X, y, tax = make_hierarchical_classification(60, 4, n_levels=2, branching=2, random_state=0)
    >>> node_scores(LogisticRegression().fit(X, y), X[:2], tax).shape
    (2, 7)
    """
    if hasattr(estimator, "transform"):  # a Pipeline has it only when its last step does
        out = estimator.transform(X)
        src = getattr(out, "taxonomy", None)
        if src is not None:
            if src != taxonomy:
                raise ValueError(
                    f"{type(estimator).__name__} gives node scores of another taxonomy ({src!r}) than "
                    f"the scorer's ({taxonomy!r})"
                )
            return np.asarray(out)
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"{type(estimator).__name__} has neither a transform giving node scores nor "
            "predict_proba; score-based hierarchical metrics need node scores"
        )
    proba = estimator.predict_proba(X)
    if isinstance(proba, list):
        raise TypeError(
            f"{type(estimator).__name__}.predict_proba returned one array per output "
            "(a multi-output classifier); fit it on 1-D leaf labels or use a skhier estimator"
        )
    proba = np.asarray(proba)
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        raise ValueError(
            f"{type(estimator).__name__} has no classes_ to place its {proba.shape[1]} "
            "predict_proba columns in taxonomy nodes"
        )
    classes = np.asarray(classes).tolist()
    if proba.shape[1] == taxonomy.n_nodes and tuple(classes) == taxonomy.nodes:
        return proba  # per-node probabilities of a multi-label classifier
    cols = np.array([taxonomy.index(c) for c in classes], dtype=np.int64)
    end = torch.zeros(proba.shape[0], taxonomy.n_nodes, dtype=torch.float64)
    end[:, torch.as_tensor(cols)] = torch.as_tensor(proba, dtype=torch.float64)
    return bottom_up(end, taxonomy).numpy()  # every node: the mass ending below it


class HierarchicalScorer:
    """A scorer ``scorer(estimator, X, y, sample_weight=None)`` for a hierarchical metric.

    Build one with :func:`make_hierarchical_scorer` or :func:`get_hierarchical_scorer`.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_pred_or_scores, *, taxonomy, **kwargs)``.
    taxonomy : Taxonomy or None
        The labels' taxonomy; ``None`` reads it from each fitted estimator scored
        (:func:`fitted_taxonomy`).
    response_method : {"predict", "predict_proba"}
        What the metric reads from the estimator; ``"predict_proba"`` gives node scores.
    sign : {1, -1}
        ``-1`` for metrics where lower is better, so that greater is always better.
    key : str, default=None
        The entry to score when the metric returns a dict.
    kwargs : dict
        More keyword arguments of the metric.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import get_hierarchical_scorer
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["B", "B1"]])
    >>> get_hierarchical_scorer("leaf_f1", tax).response_method
    'predict_proba'
    """

    def __init__(self, metric, taxonomy, response_method, sign=1, key=None, kwargs=None):
        self.metric = metric
        self.taxonomy = taxonomy
        self.response_method = response_method
        self.sign = sign
        self.key = key
        self.kwargs = dict(kwargs or {})

    def __call__(self, estimator, X, y_true, sample_weight=None):
        taxonomy = self.taxonomy if self.taxonomy is not None else fitted_taxonomy(estimator)
        if self.response_method == "predict_proba":
            y_out = node_scores(estimator, X, taxonomy)
        else:
            y_out = estimator.predict(X)
        kw = dict(self.kwargs)
        if sample_weight is not None:
            kw["sample_weight"] = sample_weight
        value = self.metric(y_true, y_out, taxonomy=taxonomy, **kw)
        if self.key is not None:
            value = value[self.key]
        return self.sign * float(value)

    def __repr__(self):
        name = getattr(self.metric, "__name__", repr(self.metric))
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        sign = "" if self.sign == 1 else ", greater_is_better=False"
        return f"make_hierarchical_scorer({name}, response_method={self.response_method!r}{sign}{extra})"


# name -> (metric, response_method, sign, key, kwargs)
_SCORERS = {
    "path_accuracy": (H.path_accuracy_score, "predict", 1, None, {}),
    "hierarchical_precision": (H.hierarchical_precision_score, "predict", 1, None, {}),
    "hierarchical_recall": (H.hierarchical_recall_score, "predict", 1, None, {}),
    "hierarchical_f1": (H.hierarchical_f1_score, "predict", 1, None, {}),
    "hierarchical_f1_macro": (H.hierarchical_f1_score, "predict", 1, None, {"average": "macro"}),
    "hierarchical_correct": (H.hierarchical_correct_score, "predict", 1, None, {}),
    "info_precision": (H.info_precision_score, "predict", 1, None, {}),
    "info_recall": (H.info_recall_score, "predict", 1, None, {}),
    "info_f1": (H.info_f1_score, "predict", 1, None, {}),
    "depth_precision": (H.depth_precision_score, "predict", 1, None, {}),
    "depth_recall": (H.depth_recall_score, "predict", 1, None, {}),
    "depth_f1": (H.depth_f1_score, "predict", 1, None, {}),
    "neg_mistake_severity": (M.mistake_severity, "predict", -1, None, {}),
    "average_precision": (OC.hierarchical_average_precision, "predict_proba", 1, None, {}),
    "average_correct": (OC.hierarchical_average_correct, "predict_proba", 1, None, {}),
    "recall_at_90_correct": (OC.recall_at_correct, "predict_proba", 1, None, {"min_correct": 0.9}),
    "recall_at_95_correct": (OC.recall_at_correct, "predict_proba", 1, None, {"min_correct": 0.95}),
    "leaf_f1": (OC.leaf_f1_score, "predict_proba", 1, None, {}),
    "majority_f1": (OC.majority_f1_score, "predict_proba", 1, None, {}),
    "leaf_top1": (OC.leaf_top1_accuracy, "predict_proba", 1, None, {}),
    "mean_average_precision": (ML.mean_average_precision, "predict_proba", 1, None, {}),
}
_SCORERS["map"] = _SCORERS["mean_average_precision"]
for _k in ("CP", "CR", "CF1", "OP", "OR", "OF1"):
    # on the estimator's own label sets (its threshold and consistency): what tunes them
    _SCORERS[_k.lower()] = (ML.multilabel_precision_recall_f1, "predict", 1, _k, {})
    # on the node probabilities thresholded at 0.5 (or the top 3 of each sample)
    _SCORERS[f"multilabel_{_k.lower()}"] = (ML.multilabel_precision_recall_f1, "predict_proba", 1, _k, {})
    _SCORERS[f"multilabel_{_k.lower()}_top3"] = (
        ML.multilabel_precision_recall_f1, "predict_proba", 1, _k, {"top_k": 3},
    )

_PATTERNS = [
    (
        re.compile(r"level_(\d+)_accuracy"),
        lambda m: (H.level_accuracy_score, "predict", 1, None, {"level": int(m.group(1))}),
    ),
    (
        re.compile(r"neg_hierarchical_distance_at_(\d+)"),
        lambda m: (M.hierarchical_distance_at_k, "predict_proba", -1, None, {"k": int(m.group(1))}),
    ),
    (
        re.compile(r"hierarchical_precision_at_(\d+)"),
        lambda m: (M.hierarchical_precision_at_k, "predict_proba", 1, None, {"k": int(m.group(1))}),
    ),
    (
        re.compile(r"hierarchical_set_precision_at_(\d+)"),
        lambda m: (M.hierarchical_set_precision_at_k, "predict_proba", 1, None, {"k": int(m.group(1))}),
    ),
]


def get_hierarchical_scorer_names():
    """Names accepted by :func:`get_hierarchical_scorer`.

    Besides these, ``"level_<d>_accuracy"``, ``"neg_hierarchical_distance_at_<k>"``,
    ``"hierarchical_precision_at_<k>"`` and ``"hierarchical_set_precision_at_<k>"`` take
    any level ``d`` or ``k``.

    Returns
    -------
    names : list of str
        The node names.

    Examples
    --------
    >>> from skhier.metrics import get_hierarchical_scorer_names
    >>> "hierarchical_f1" in get_hierarchical_scorer_names()
    True
    """
    return sorted(_SCORERS) + [
        "level_<d>_accuracy",
        "neg_hierarchical_distance_at_<k>",
        "hierarchical_precision_at_<k>",
        "hierarchical_set_precision_at_<k>",
    ]


def get_hierarchical_scorer(name, taxonomy=None):
    """A named hierarchical scorer for ``scoring=`` in model selection.

    scikit-learn resolves ``scoring="<name>"`` only from its own registry (no public way
    to add names to it), so a hierarchical scorer is one call away instead:
    ``scoring=get_hierarchical_scorer("hierarchical_f1")`` where scikit-learn users write
    ``scoring="f1"``; a dict of them is a multi-metric ``scoring=``.

    Parameters
    ----------
    name : str
        One of :func:`get_hierarchical_scorer_names`. Metrics where lower is better are
        negated and named ``neg_*``.
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` reads it from each fitted estimator scored (its
        ``taxonomy_``, or a Pipeline's: :func:`fitted_taxonomy`). Give it to score a
        plain scikit-learn classifier fitted on node labels.

    Returns
    -------
    scorer : HierarchicalScorer
        A scorer for ``GridSearchCV``, ``cross_val_score`` and friends.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.metrics import get_hierarchical_scorer
    >>> X, y, tax = make_hierarchical_classification(90, 4, n_levels=2, branching=2, random_state=0)
    >>> scorer = get_hierarchical_scorer("hierarchical_f1", tax)
    >>> cross_val_score(LogisticRegression(), X, y, scoring=scorer, cv=3).shape
    (3,)
    >>> from skhier import FlatClassifier  # a skhier estimator knows its taxonomy
    >>> cross_val_score(FlatClassifier(LogisticRegression()), X, y, cv=3,
    ...                 scoring=get_hierarchical_scorer("hierarchical_f1")).shape
    (3,)
    """
    taxonomy = _scorer_taxonomy(taxonomy)
    if name in _SCORERS:
        metric, method, sign, key, kwargs = _SCORERS[name]
        return HierarchicalScorer(metric, taxonomy, method, sign, key, kwargs)
    for pattern, build in _PATTERNS:
        m = pattern.fullmatch(name)
        if m:
            metric, method, sign, key, kwargs = build(m)
            return HierarchicalScorer(metric, taxonomy, method, sign, key, kwargs)
    raise ValueError(
        f"unknown hierarchical scorer {name!r}; valid names: {', '.join(get_hierarchical_scorer_names())}"
    )


def make_hierarchical_scorer(metric, taxonomy=None, *, response_method=None, greater_is_better=True, key=None,
                             **kwargs):
    """Turn a hierarchical metric into a scorer, like ``sklearn.metrics.make_scorer``.

    Parameters
    ----------
    metric : callable or str
        ``metric(y_true, y_pred_or_scores, *, taxonomy, **kwargs)``, or a scorer name
        (then ``kwargs`` override its defaults).
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` reads it from each fitted estimator scored
        (:func:`fitted_taxonomy`).
    response_method : {"predict", "predict_proba"}, default=None
        ``None`` picks ``"predict_proba"`` (node scores) for the score-based metrics of
        skhier and ``"predict"`` otherwise.
    greater_is_better : bool, default=True
        False negates the metric.
    key : str, default=None
        Entry to score when the metric returns a dict.
    **kwargs
        Passed to the metric.

    Returns
    -------
    scorer : HierarchicalScorer
        A scorer for ``GridSearchCV``, ``cross_val_score`` and friends.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import make_hierarchical_scorer, hierarchical_f1_score
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["B", "B1"]])
    >>> make_hierarchical_scorer(hierarchical_f1_score, tax, average="macro")
    make_hierarchical_scorer(hierarchical_f1_score, response_method='predict', average='macro')
    """
    taxonomy = _scorer_taxonomy(taxonomy)
    sign = 1 if greater_is_better else -1
    if isinstance(metric, str):
        base = get_hierarchical_scorer(metric, taxonomy)
        merged = {**base.kwargs, **kwargs}
        return HierarchicalScorer(
            base.metric, taxonomy, response_method or base.response_method, base.sign * sign,
            key or base.key, merged,
        )
    if not callable(metric):
        raise TypeError(f"metric must be callable or a scorer name, got {metric!r}")
    if response_method is None:
        score_based = {v[0] for v in _SCORERS.values() if v[1] == "predict_proba"} | {
            M.hierarchical_distance_at_k, M.hierarchical_precision_at_k, M.hierarchical_set_precision_at_k,
            OC.operating_curve,
        }
        response_method = "predict_proba" if metric in score_based else "predict"
    if response_method not in ("predict", "predict_proba"):
        raise ValueError(f"response_method must be 'predict' or 'predict_proba', got {response_method!r}")
    return HierarchicalScorer(metric, taxonomy, response_method, sign, key, kwargs)


class OperatingCurveScorer:
    """One scorer for all of Valmadre's curve metrics: AP, AC and R@XC from one curve.

    Called as ``scorer(estimator, X, y_true, sample_weight=None)``, it takes the node
    scores once, builds one :class:`~skhier.metrics.OperatingCurve` and returns a dict
    ``{"average_precision", "average_correct", "recall_at_90_correct", ...}``: what
    scikit-learn's multi-metric ``scoring=`` takes (``GridSearchCV(..., scoring=scorer,
    refit="average_precision")``, ``cross_validate``). The values equal the single
    scorers' (``get_hierarchical_scorer("average_precision", ...)`` and so on), at the
    cost of one curve instead of one per metric.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The labels' taxonomy; ``None`` reads it from each fitted estimator scored
        (:func:`fitted_taxonomy`).
    min_correct : float or sequence of float, default=(0.9, 0.95)
        One ``recall_at_<100·c>_correct`` entry per value (a single value gives one).
    specificity : {"info", "depth"}, default="info"

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_validate
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.metrics import OperatingCurveScorer
    >>> X, y, tax = make_hierarchical_classification(90, 4, n_levels=2, branching=2, random_state=0)
    >>> res = cross_validate(LogisticRegression(), X, y, scoring=OperatingCurveScorer(tax), cv=3)
    >>> sorted(k for k in res if k.startswith("test_"))
    ['test_average_correct', 'test_average_precision', 'test_recall_at_90_correct', 'test_recall_at_95_correct']
    """

    def __init__(self, taxonomy=None, *, min_correct=(0.9, 0.95), specificity="info"):
        self.taxonomy = _scorer_taxonomy(taxonomy)
        if isinstance(min_correct, numbers.Real):
            min_correct = (min_correct,)
        elif isinstance(min_correct, (str, bytes)) or not isinstance(min_correct, Iterable):
            raise TypeError(f"min_correct must be a number in [0, 1] or a sequence of them, got {min_correct!r}")
        self.min_correct = tuple(min_correct)
        for c in self.min_correct:
            check_number(c, "min_correct", low=0, high=1)
        names = [self._key(c) for c in self.min_correct]
        if len(set(names)) != len(names):
            raise ValueError(f"min_correct has values giving the same key twice: {self.min_correct!r} -> {names}")
        OC._check_specificity(specificity)
        self.specificity = specificity

    def __call__(self, estimator, X, y_true, sample_weight=None):
        taxonomy = self.taxonomy if self.taxonomy is not None else fitted_taxonomy(estimator)
        scores = node_scores(estimator, X, taxonomy)
        curve = OC.operating_curve(y_true, scores, taxonomy=taxonomy, specificity=self.specificity,
                                   sample_weight=sample_weight)
        out = {"average_precision": curve.average_precision(), "average_correct": curve.average_correct()}
        for c in self.min_correct:
            out[self._key(c)] = curve.recall_at_correct(c)
        return out

    @staticmethod
    def _key(c):
        return f"recall_at_{round(100 * float(c), 4):g}_correct"

    def __repr__(self):
        return f"OperatingCurveScorer(min_correct={self.min_correct!r}, specificity={self.specificity!r})"
