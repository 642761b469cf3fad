"""Score-based metrics of Valmadre (2022): the operating curve of a node-score matrix,
AP, AC and R@XC, and the leaf / majority inference rules with their F1 and top-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._chunks import row_blocks
from .._docs import fill_doc
from .._tree import best_leaf, majority_node, taxonomy_tensors
from ..utils.validation import check_number, check_taxonomy, is_tensor
from ._base import (
    check_lengths,
    finish,
    node_indices,
    node_score_tensor,
    pick_device,
    sample_weights,
    weighted_mean,
)
from ._hierarchical import per_example_metrics

__all__ = [
    "OperatingCurve",
    "operating_curve",
    "hierarchical_average_precision",
    "hierarchical_average_correct",
    "recall_at_correct",
    "leaf_prediction",
    "majority_prediction",
    "leaf_f1_score",
    "majority_f1_score",
    "leaf_top1_accuracy",
]


@dataclass(frozen=True)
class OperatingCurve:
    """Mean per-example metrics at every threshold of a node-score matrix.

    Built by :func:`operating_curve`; its fields are its attributes.

    Parameters
    ----------
    thresholds : ndarray
        Decreasing thresholds; the first is ``inf`` (every example predicts the root).
    precision, recall, f1, correct, exact : ndarray
        Mean metric of the predictions at each threshold.
    specificity : str
        "info" or "depth".

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import operating_curve
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"]])
    >>> curve = operating_curve(["A1"], [[1, 1, .8, .2]], taxonomy=tax)
    >>> curve.correct.tolist(), curve.average_precision(), curve.recall_at_correct(0.9)
    ([1.0, 1.0], 1.0, 1.0)
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    correct: np.ndarray
    exact: np.ndarray
    specificity: str = "info"

    def average_precision(self) -> float:
        """AP of this curve: what :func:`hierarchical_average_precision` returns, without
        building the curve again.

        Returns
        -------
        ap : float
            Average precision over the operating curve.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> from skhier.metrics import operating_curve
        >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
        >>> operating_curve(["A1"], [[1, .9, .6, .3, .1, .1]], taxonomy=tax).average_precision()
        1.0
        """
        return float(_pareto_integrate(torch.from_numpy(self.recall), torch.from_numpy(self.precision)))

    def average_correct(self) -> float:
        """AC of this curve (:func:`hierarchical_average_correct`).

        Returns
        -------
        ac : float
            Average correct over the operating curve.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> from skhier.metrics import operating_curve
        >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
        >>> operating_curve(["A1"], [[1, .9, .6, .3, .1, .1]], taxonomy=tax).average_correct()
        1.0
        """
        return float(_pareto_integrate(torch.from_numpy(self.recall), torch.from_numpy(self.correct)))

    def recall_at_correct(self, min_correct=0.9) -> float:
        """R@XC of this curve (:func:`recall_at_correct`): 0.9 is R@90C.

        Parameters
        ----------
        min_correct : float in [0, 1], default=0.9
            The least fraction of correct predictions (precision of the operating point) to reach.

        Returns
        -------
        recall : float
            Hierarchical recall.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> from skhier.metrics import operating_curve
        >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
        >>> curve = operating_curve(["A2"], [[1, .9, .6, .3, .1, .1]], taxonomy=tax)
        >>> round(curve.recall_at_correct(0.9), 4)
        0.3691
        """
        check_number(min_correct, "min_correct", low=0, high=1)
        return float(_recall_at_correct(torch.from_numpy(self.recall), torch.from_numpy(self.correct), min_correct))


_METRICS = ("precision", "recall", "f1", "correct", "exact")


def _check_specificity(specificity):
    if specificity not in ("info", "depth"):
        raise ValueError(f"specificity must be 'info' or 'depth', got {specificity!r}")


def _prepare(y_true, y_score, taxonomy, sample_weight):
    check_taxonomy(taxonomy, what="Valmadre's operating curve and the single-path score metrics")
    device = pick_device(y_true, y_score)
    s = node_score_tensor(y_score, taxonomy, device)
    t = node_indices(y_true, taxonomy, s.device, name="y_true")
    n = check_lengths(y_true=t, y_score=s)
    w = sample_weights(sample_weight, n, s.device, s.dtype)
    return t, s, w, is_tensor(y_true) or is_tensor(y_score)


def _pareto_sets(s: torch.Tensor, spec: torch.Tensor, lead: int, chunk: int = 1 << 22):
    """Kept (row, node, score) of every example's Pareto set, ``lead`` first with score inf.

    ``spec`` is the specificity of every node as Valmadre (2022) defines it and his
    reference code computes it: fewer leaf descendants is more specific (no tie-break
    by depth), and nodes with exactly one child (the root included) are never predicted
    (``spec < 0``). ``lead``, the end of the root's single-child chain, is the least
    specific node that may be predicted and is kept first.

    The definition visits nodes by decreasing score, ties more specific first (then lower
    index), and keeps a node strictly more specific (``spec``) than every node kept
    before it. That is the same as: group the nodes by ``spec``; a group keeps its
    first-visited node (its best score, the lowest index among ties) when that score is
    strictly above every score of the more specific groups. So no row is sorted: a
    per-group max and argmax (segment reductions over a fixed column grouping) and a
    running max over the groups give every Pareto set in O(n_samples × n_nodes). Nodes
    with ``spec < 0`` are never kept and never block another.
    """
    n, m = s.shape
    valid = torch.nonzero(spec >= 0).ravel()  # the columns that take part
    levels, group = torch.unique(spec[valid], return_inverse=True)  # group 0: the least specific (lead's)
    n_groups = levels.numel()
    rows, nodes, scores = [], [], []
    for sl in row_blocks(n, m, chunk):
        block = s[sl, valid]
        block[:, valid == lead] = float("inf")  # ``lead`` first (a fresh copy: s is never written)
        b = block.shape[0]
        idx = group.expand(b, -1)
        top = block.new_full((b, n_groups), -float("inf")).scatter_reduce_(1, idx, block, "amax")
        cols = torch.arange(valid.numel(), device=s.device).expand(b, -1)
        first = torch.where(block == top.gather(1, idx), cols, valid.numel())
        arg = torch.full((b, n_groups), valid.numel(), dtype=cols.dtype, device=s.device).scatter_reduce_(
            1, idx, first, "amin")
        # best score among the strictly more specific groups (those after g)
        above = torch.flip(torch.cummax(torch.flip(top, [1]), dim=1).values, [1])
        above = torch.cat([above[:, 1:], torch.full_like(above[:, :1], -float("inf"))], dim=1)
        r, g = (top > above).nonzero(as_tuple=True)  # row-major: by row, then least specific (best score) first
        col = arg[r, g]
        rows.append(r + sl.start)
        nodes.append(valid[col])
        scores.append(block[r, col])
    return torch.cat(rows), torch.cat(nodes), torch.cat(scores)


def _curve(t, s, w, taxonomy, specificity):
    _check_specificity(specificity)
    tt = taxonomy_tensors(taxonomy, str(s.device))
    rows, nodes, scores = _pareto_sets(s, tt.specificity, tt.top)
    m = per_example_metrics(t[rows], nodes, taxonomy, specificity)
    vals = torch.stack([m[k] for k in _METRICS], dim=1)  # (n_kept, 5)
    # rows come out sorted, and within a row by decreasing score: root first
    first = torch.ones_like(rows, dtype=torch.bool)
    first[1:] = rows[1:] != rows[:-1]
    delta = vals.clone()
    delta[~first] = vals[~first] - vals[:-1][~first[1:]]
    ww = torch.ones(s.shape[0], dtype=vals.dtype, device=s.device) if w is None else w.to(vals.dtype)
    delta = delta * ww[rows, None]
    total = ww.sum()
    base = delta[first].sum(dim=0)
    ev_score, ev_delta = scores[~first], delta[~first]
    order = torch.argsort(-ev_score, stable=True)
    ev_score, ev_delta = ev_score[order], ev_delta[order]
    cum = torch.cumsum(ev_delta, dim=0) + base
    if ev_score.numel():
        last = torch.ones_like(ev_score, dtype=torch.bool)
        last[:-1] = ev_score[1:] != ev_score[:-1]
        thr = torch.cat([ev_score.new_tensor([float("inf")]), ev_score[last]])
        curve = torch.cat([base[None], cum[last]], dim=0) / total
    else:
        thr = s.new_tensor([float("inf")])
        curve = base[None] / total
    return thr, curve


@fill_doc
def operating_curve(y_true, y_score, *, taxonomy, specificity="info", sample_weight=None):
    """The operating curve of a node-score matrix (Valmadre, 2022).

    For each example, nodes are sorted by decreasing score (ties: more specific first)
    and the Pareto set keeps those strictly more specific than every better-scored node
    kept before; the root is always kept first (or, when the root has a single child,
    the first node below it with more than one child). Specificity is the number of leaf
    descendants alone, and nodes with exactly one child, the root included, are never
    predicted, as in Valmadre's definition and reference code. At threshold ``τ`` an
    example predicts its most specific kept node with score ``≥ τ`` (the first kept node
    above every score). The curve
    holds the mean per-example metrics (see :func:`specificity_precision_recall_fscore`)
    at every threshold where some prediction changes.

    Parameters
    ----------
    y_true : array-like or tensor
        True labels in any single-label format.
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores, columns in taxonomy order (leaf-only scores are refused).
    %(taxonomy)s
    specificity : {"info", "depth"}, default="info"
    %(sample_weight)s

    Returns
    -------
    curve : OperatingCurve
        The operating curve of a node-score matrix (Valmadre, 2022).

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import operating_curve
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> curve = operating_curve(["A1"], [[1, .9, .6, .3, .1, .1]], taxonomy=tax)
    >>> curve.thresholds.tolist(), curve.recall.round(2).tolist()
    ([inf, 0.9, 0.6], [0.0, 0.37, 1.0])
    """
    t, s, w, _ = _prepare(y_true, y_score, taxonomy, sample_weight)
    thr, curve = _curve(t, s, w, taxonomy, specificity)
    c = curve.cpu().numpy()
    return OperatingCurve(thr.cpu().numpy(), *(c[:, i] for i in range(len(_METRICS))), specificity)


def _pareto_integrate(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Area under ``b`` against ``a`` with ``b`` replaced by its running max from the right."""
    order = torch.argsort(a, stable=True)
    a, b = a[order], b[order]
    b = torch.flip(torch.cummax(torch.flip(b, [0]), dim=0).values, [0])
    da = torch.diff(a, prepend=a.new_zeros(1))
    return (da * b).sum()


@fill_doc
def hierarchical_average_precision(y_true, y_score, *, taxonomy, specificity="info", sample_weight=None):
    """AP: area under the precision vs recall operating curve, Pareto-integrated.

    Parameters
    ----------
    y_true : array-like or tensor
        True labels, in any label format of :mod:`skhier.labels`.
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    specificity : {"info", "depth"}, default="info"
    %(sample_weight)s

    Returns
    -------
    ap : float
        Average precision over the operating curve.

    See Also
    --------
    operating_curve

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_average_precision
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> hierarchical_average_precision(["A1"], [[1, .9, .6, .3, .1, .1]], taxonomy=tax)
    1.0
    """
    t, s, w, as_tensor = _prepare(y_true, y_score, taxonomy, sample_weight)
    _, c = _curve(t, s, w, taxonomy, specificity)
    return finish(_pareto_integrate(c[:, 1], c[:, 0]), as_tensor)


@fill_doc
def hierarchical_average_correct(y_true, y_score, *, taxonomy, specificity="info", sample_weight=None):
    """AC: area under the correct vs recall operating curve, Pareto-integrated.

    Parameters
    ----------
    y_true : array-like or tensor
        True labels, in any label format of :mod:`skhier.labels`.
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    specificity : {"info", "depth"}, default="info"
    %(sample_weight)s

    Returns
    -------
    ac : float
        Average correct over the operating curve.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_average_correct
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> hierarchical_average_correct(["A1"], [[1, .9, .6, .3, .1, .1]], taxonomy=tax)
    1.0
    """
    t, s, w, as_tensor = _prepare(y_true, y_score, taxonomy, sample_weight)
    _, c = _curve(t, s, w, taxonomy, specificity)
    return finish(_pareto_integrate(c[:, 1], c[:, 3]), as_tensor)


@fill_doc
def recall_at_correct(y_true, y_score, *, taxonomy, min_correct=0.9, specificity="info", sample_weight=None):
    """R@XC: the best recall among operating points with correct ≥ ``min_correct``.

    ``min_correct=0.9`` is R@90C and ``0.95`` R@95C. Zero when no operating point is
    that often correct.

    Parameters
    ----------
    y_true : array-like or tensor
        True labels, in any label format of :mod:`skhier.labels`.
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    min_correct : float, default=0.9
        The least fraction of correct predictions (precision of the operating point) to reach.
    specificity : {"info", "depth"}, default="info"
    %(sample_weight)s

    Returns
    -------
    recall : float
        Hierarchical recall.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import recall_at_correct
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> round(recall_at_correct(["A2"], [[1, .9, .6, .3, .1, .1]], taxonomy=tax), 4)
    0.3691
    """
    check_number(min_correct, "min_correct", low=0, high=1)
    t, s, w, as_tensor = _prepare(y_true, y_score, taxonomy, sample_weight)
    _, c = _curve(t, s, w, taxonomy, specificity)
    return finish(_recall_at_correct(c[:, 1], c[:, 3], min_correct), as_tensor)


def _recall_at_correct(recall: torch.Tensor, correct: torch.Tensor, min_correct: float) -> torch.Tensor:
    ok = correct >= min_correct - 1e-12
    return recall[ok].max() if ok.any() else recall.new_tensor(0.0)


@fill_doc
def leaf_prediction(y_score, taxonomy):
    """Leaf inference rule: the leaf with the highest score (ties: the first leaf).

    Parameters
    ----------
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s

    Returns
    -------
    nodes : ndarray or tensor of int64
        Node indices.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import leaf_prediction
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> leaf_prediction([[1, .9, .3, .6, .1, .1]], tax)
    array([3])
    """
    check_taxonomy(taxonomy)
    s = node_score_tensor(y_score, taxonomy, pick_device(y_score))
    out = best_leaf(s, taxonomy)
    return out if is_tensor(y_score) else out.cpu().numpy()


@fill_doc
def majority_prediction(y_score, taxonomy, *, threshold=0.5):
    """Majority inference rule: the most specific non-root node with score > ``threshold``.

    Ties in specificity go to the higher score; with no such node, the root. With
    probabilities consistent with the tree, the nodes above 0.5 form a path and this is
    its end.

    Parameters
    ----------
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    threshold : float, default=0.5
        A node is predicted when its score is at least ``threshold``.

    Returns
    -------
    nodes : ndarray or tensor of int64
        Node indices.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import majority_prediction
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> majority_prediction([[1, .9, .3, .6, .1, .1]], tax)
    array([3])
    """
    check_taxonomy(taxonomy)
    s = node_score_tensor(y_score, taxonomy, pick_device(y_score))
    out = majority_node(s, taxonomy, threshold)
    return out if is_tensor(y_score) else out.cpu().numpy()


def _rule_metric(y_true, y_score, taxonomy, sample_weight, rule, key):
    t, s, w, as_tensor = _prepare(y_true, y_score, taxonomy, sample_weight)
    p = best_leaf(s, taxonomy) if rule == "leaf" else majority_node(s, taxonomy, 0.5)
    m = per_example_metrics(t, p, taxonomy, "info")
    return finish(weighted_mean(m[key], w), as_tensor)


@fill_doc
def leaf_f1_score(y_true, y_score, *, taxonomy, sample_weight=None):
    """Leaf F1: mean information-based F1 of the leaf rule's predictions (Valmadre, 2022).

    Parameters
    ----------
    y_true : array-like or tensor
        True labels, in any label format of :mod:`skhier.labels`.
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    %(sample_weight)s

    Returns
    -------
    score : float
        Leaf F1: mean information-based F1 of the leaf rule's predictions (Valmadre, 2022).

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import leaf_f1_score
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> leaf_f1_score(["A1"], [[1, .9, .6, .3, .1, .1]], taxonomy=tax)
    1.0
    """
    return _rule_metric(y_true, y_score, taxonomy, sample_weight, "leaf", "f1")


@fill_doc
def majority_f1_score(y_true, y_score, *, taxonomy, sample_weight=None):
    """Majority F1: mean information-based F1 of the majority rule's predictions.

    Parameters
    ----------
    y_true : array-like or tensor
        True labels, in any label format of :mod:`skhier.labels`.
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    %(sample_weight)s

    Returns
    -------
    score : float
        Majority F1: mean information-based F1 of the majority rule's predictions.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import majority_f1_score
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> majority_f1_score(["A1"], [[1, .9, .6, .3, .1, .1]], taxonomy=tax)
    1.0
    """
    return _rule_metric(y_true, y_score, taxonomy, sample_weight, "majority", "f1")


@fill_doc
def leaf_top1_accuracy(y_true, y_score, *, taxonomy, sample_weight=None):
    """Top-1 accuracy of the leaf rule (a true internal node counts any leaf below it).

    Parameters
    ----------
    y_true : array-like or tensor
        True labels, in any label format of :mod:`skhier.labels`.
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    %(sample_weight)s

    Returns
    -------
    score : float
        Top-1 accuracy of the leaf rule (a true internal node counts any leaf below it).

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import leaf_top1_accuracy
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> leaf_top1_accuracy(["A1", "B1"], [[1, .9, .6, .3, .1, .1]] * 2, taxonomy=tax)
    0.5
    """
    return _rule_metric(y_true, y_score, taxonomy, sample_weight, "leaf", "exact")
