"""Label-based hierarchical metrics: per-level and exact-path accuracy, set-based
hierarchical precision / recall / F1 (Kiritchenko et al., 2005), and the per-example
metrics of Valmadre (2022): correct, depth- and information-based precision / recall / F1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from .._docs import fill_doc
from .._taxonomy import Taxonomy
from .._tree import agreeing_depth, lca, lca_and_depth, taxonomy_tensors
from ..labels import encode_labels
from ..utils.validation import check_taxonomy, is_tensor
from ._base import (
    check_lengths,
    finish,
    harmonic,
    node_indices,
    pick_device,
    safe_ratio,
    sample_weights,
    weighted_mean,
)

__all__ = [
    "path_accuracy_score",
    "level_accuracy_score",
    "hierarchical_precision_recall_fscore",
    "hierarchical_precision_score",
    "hierarchical_recall_score",
    "hierarchical_f1_score",
    "hierarchical_correct_score",
    "specificity_precision_recall_fscore",
    "info_precision_score",
    "info_recall_score",
    "info_f1_score",
    "depth_precision_score",
    "depth_recall_score",
    "depth_f1_score",
]


def _pair(y_true, y_pred, taxonomy, sample_weight):
    check_taxonomy(taxonomy, what="the single-path label metrics")
    device = pick_device(y_true, y_pred)
    t = node_indices(y_true, taxonomy, device, name="y_true")
    p = node_indices(y_pred, taxonomy, device, name="y_pred")
    n = check_lengths(y_true=t, y_pred=p)
    w = sample_weights(sample_weight, n, device)
    return t, p, w, is_tensor(y_true) or is_tensor(y_pred)


@fill_doc
def path_accuracy_score(y_true, y_pred, *, taxonomy, sample_weight=None):
    """Exact-path accuracy: the fraction of samples whose predicted node is the true node.

    This is the "fine accuracy" of HCAM-CL (the whole label path matches) and the
    "exact" metric of Valmadre (2022).

    Parameters
    ----------
    y_true, y_pred : array-like or tensor
        Labels in any single-label format of :mod:`skhier.labels` (a torch tensor holds
        node indices).
    %(taxonomy)s
    %(sample_weight)s

    Returns
    -------
    score : float (0-d tensor for tensor inputs)
        Exact-path accuracy: the fraction of samples whose predicted node is the true node.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import path_accuracy_score
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> path_accuracy_score(["A1", "B1"], ["A1", "A2"], taxonomy=tax)
    0.5
    """
    t, p, w, as_tensor = _pair(y_true, y_pred, taxonomy, sample_weight)
    return finish(weighted_mean((t == p).double(), w), as_tensor)


@fill_doc
def level_accuracy_score(y_true, y_pred, *, taxonomy, level=None, sample_weight=None):
    """Accuracy at each level of the taxonomy.

    At level ``d`` (depth ``d``, 1 = the level below the root) a sample counts as correct
    when its predicted node's ancestor at depth ``d`` is the true node's. Samples whose
    true node is shallower than ``d`` are left out at that level; a prediction shallower
    than ``d`` is wrong there. These are the "coarse" and "fine" accuracies that HCAM-CL,
    B-CNN and H-CNN report per level.

    Parameters
    ----------
    y_true, y_pred : array-like or tensor
        True and predicted labels, in any label format of :mod:`skhier.labels`.
    %(taxonomy)s
    level : int, default=None
        Level in ``1 .. taxonomy.max_depth``; ``None`` returns every level.
    %(sample_weight)s

    Returns
    -------
    score : float, or ndarray of shape (max_depth,) when ``level`` is None
        NaN at a level that no true node reaches.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import level_accuracy_score
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> level_accuracy_score(["A1", "B1"], ["A2", "A2"], taxonomy=tax)
    array([0.5, 0. ])
    """
    if level is not None and not 1 <= level <= taxonomy.max_depth:
        raise ValueError(f"level must be in 1..{taxonomy.max_depth}, got {level}")
    t, p, w, as_tensor = _pair(y_true, y_pred, taxonomy, sample_weight)
    tt = taxonomy_tensors(taxonomy, str(t.device))
    acc = _level_accuracy_compute(*_level_hits_update(t, p, tt, w))
    if level is not None:
        return finish(acc[level - 1], as_tensor)
    return acc if as_tensor else acc.cpu().numpy()


# ---------------------------------------------------------------- kernels
# The metric functions and HierarchicalMetricAccumulator share these (torchmetrics'
# pattern): ``*_update`` turns a batch of node indices into summable statistics,
# ``*_compute`` turns (summed) statistics into the metric. One rule for a zero
# denominator lives in ``_ratio``.
def _ratio(num: torch.Tensor, den: torch.Tensor, zero_division: float) -> torch.Tensor:
    """``num / den`` elementwise, ``zero_division`` where ``den`` is 0."""
    num, den = torch.as_tensor(num), torch.as_tensor(den)
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)),
                       torch.full_like(num / 1.0, float(zero_division)))


def _set_counts_update(t: torch.Tensor, p: torch.Tensor, tt):
    """Per-sample ``|T ∩ P|``, ``|P|``, ``|T|`` of ancestor sets without the root, and the LCA."""
    a, inter = lca_and_depth(t, p, tt.paths)
    return inter.to(tt.depth.dtype), tt.depth.index_select(0, p), tt.depth.index_select(0, t), a


def _set_prf_compute(inter, n_pred, n_true, *, beta=1.0, zero_division=0.0):
    """Kiritchenko's micro ``hP``, ``hR`` and ``F_β`` from summed counts."""
    prec, rec = _ratio(inter, n_pred, zero_division), _ratio(inter, n_true, zero_division)
    return prec, rec, _fscore(prec, rec, beta)


def _level_hits_update(t: torch.Tensor, p: torch.Tensor, tt, w=None):
    """Per level (1..depth): the (weighted) number of samples that reach it, and of those
    whose prediction has the same node there."""
    at_t, at_p = tt.paths[t, 1:], tt.paths[p, 1:]
    reach = (at_t >= 0).to(tt.depth.dtype)
    if w is not None:
        reach = reach * w.to(reach.dtype)[:, None]
    return ((at_t == at_p).to(reach.dtype) * reach).sum(dim=0), reach.sum(dim=0)


def _level_accuracy_compute(hits, totals) -> torch.Tensor:
    """Accuracy at every level; NaN at a level no sample reaches."""
    return _ratio(hits, totals, float("nan"))


def _set_sizes(m) -> torch.Tensor:
    """Per row of a 0/1 CSR node indicator: its number of set nodes, the root not counted
    (the stored entries; no column slice, no copy)."""
    m = sp.csr_matrix(m)
    m.eliminate_zeros()
    counts = np.diff(m.indptr)
    rows_with_root = np.repeat(np.arange(m.shape[0]), counts)[m.indices == 0]
    return torch.as_tensor(counts - np.bincount(rows_with_root, minlength=m.shape[0]), dtype=torch.float64)


def _set_counts(y_true, y_pred, taxonomy):
    """Per-sample |T ∩ P|, |P|, |T| over ancestor sets without the root."""
    device = pick_device(y_true, y_pred)
    if not (is_tensor(y_true) or is_tensor(y_pred)):
        et, ft = encode_labels(y_true, taxonomy, name="y_true")
        ep, fp = encode_labels(y_pred, taxonomy, name="y_pred")
        if ft.multilabel or fp.multilabel:
            anc = taxonomy.ancestor_matrix.astype(np.int8)
            T = et if ft.multilabel else anc[et]
            P = ep if fp.multilabel else anc[ep]
            check_lengths(y_true=T, y_pred=P)
            T, P = sp.csr_matrix(T), sp.csr_matrix(P)
            return _set_sizes(T.multiply(P)), _set_sizes(P), _set_sizes(T), False
        check_taxonomy(taxonomy, what="hierarchical P/R/F on single labels (on a DAG pass node-set indicators)")
        check_lengths(y_true=et, y_pred=ep)
        # numpy labels are counted in numpy: a dozen small torch calls cost more than the
        # counting itself at 10⁴ samples (the dispatcher's fixed cost, cold after other work)
        paths, depth = taxonomy.path_indices, taxonomy.depth
        inter = agreeing_depth(paths.take(et, axis=0), paths.take(ep, axis=0))
        return tuple(a.astype(np.float64) for a in (inter, depth.take(ep), depth.take(et))) + (False,)
    t = node_indices(y_true, taxonomy, device, name="y_true")
    p = node_indices(y_pred, taxonomy, device, name="y_pred")
    check_lengths(y_true=t, y_pred=p)
    inter, n_pred, n_true, _ = _set_counts_update(t, p, taxonomy_tensors(taxonomy, str(t.device)))
    return inter, n_pred, n_true, True


def _micro_prf(inter: float, n_pred: float, n_true: float, beta: float, zero_division: float) -> tuple:
    """:func:`_set_prf_compute` on Python floats (summed numpy counts): the same formulas,
    without a dozen 0-d tensor operations."""
    prec = inter / n_pred if n_pred > 0 else float(zero_division)
    rec = inter / n_true if n_true > 0 else float(zero_division)
    b2 = beta**2
    den = b2 * prec + rec
    return prec, rec, (1 + b2) * prec * rec / den if den > 0 else 0.0


@fill_doc
def hierarchical_precision_recall_fscore(
    y_true, y_pred, *, taxonomy, average="micro", beta=1.0, zero_division=0.0, sample_weight=None
):
    """Set-based hierarchical precision, recall and F-score (Kiritchenko et al., 2005).

    Each label is replaced by the set of its ancestors and itself, without the root:
    ``T`` for the truth, ``P`` for the prediction. Then ``hP = |T ∩ P| / |P|`` and
    ``hR = |T ∩ P| / |T|``. Nodes are taxonomy nodes, never bare names, so the same name
    under two parents is never a hit. Indicator inputs (several paths per sample) use the
    union of their paths' sets.

    Parameters
    ----------
    y_true, y_pred : array-like, sparse matrix or tensor
        Labels in any format of :mod:`skhier.labels`.
    %(taxonomy)s
    average : {"micro", "macro"}, default="micro"
        ``"micro"`` sums the counts over samples before dividing; ``"macro"`` averages the
        per-sample ratios: macro precision and recall are the means of the per-sample
        ``hP`` and ``hR``, and the macro F-score is the mean of the per-sample F-scores
        (not the F-score of the two means), as HiClass defines it.
    beta : float, default=1.0
        Weight of recall in the F-score.
    zero_division : float, default=0.0
        Value of a ratio whose denominator is 0 (a root prediction or truth).
    %(sample_weight)s

    Returns
    -------
    precision, recall, fscore : float (0-d tensors for tensor inputs)
        The three scores.

    See Also
    --------
    hierarchical_f1_score

    References
    ----------
    .. [1] S. Kiritchenko, S. Matwin, A. F. Famili. "Functional annotation of genes using
       hierarchical text categorization", 2005.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_precision_recall_fscore
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> hierarchical_precision_recall_fscore(["A1"], ["A"], taxonomy=tax)
    (1.0, 0.5, 0.6666666666666666)
    """
    check_taxonomy(taxonomy, allow_dag=True)  # node sets work on a DAG; single paths are checked below
    if average not in ("micro", "macro"):
        raise ValueError(f"average must be 'micro' or 'macro', got {average!r}")
    inter, npred, ntrue, as_tensor = _set_counts(y_true, y_pred, taxonomy)
    if isinstance(inter, np.ndarray):
        if average == "micro" and sample_weight is None:
            return _micro_prf(float(inter.sum()), float(npred.sum()), float(ntrue.sum()), beta, zero_division)
        inter, npred, ntrue = (torch.from_numpy(a) for a in (inter, npred, ntrue))
    w = sample_weights(sample_weight, inter.shape[0], inter.device, inter.dtype)
    if average == "micro":
        sums = (inter.sum(), npred.sum(), ntrue.sum()) if w is None else ((w * inter).sum(), (w * npred).sum(),
                                                                          (w * ntrue).sum())
        prec, rec, f = _set_prf_compute(*sums, beta=beta, zero_division=zero_division)
        return finish(prec, as_tensor), finish(rec, as_tensor), finish(f, as_tensor)
    pr, rc = _ratio(inter, npred, zero_division), _ratio(inter, ntrue, zero_division)
    f = weighted_mean(_fscore(pr, rc, beta), w)  # the mean of per-sample F, as HiClass
    return finish(weighted_mean(pr, w), as_tensor), finish(weighted_mean(rc, w), as_tensor), finish(f, as_tensor)


def _fscore(prec: torch.Tensor, rec: torch.Tensor, beta: float) -> torch.Tensor:
    """``(1 + β²) P R / (β² P + R)`` elementwise, 0 where both are 0."""
    b2 = beta**2
    den = b2 * prec + rec
    safe = torch.where(den > 0, den, torch.ones_like(den))
    return torch.where(den > 0, (1 + b2) * prec * rec / safe, torch.zeros_like(den))


@fill_doc
def hierarchical_precision_score(y_true, y_pred, *, taxonomy, average="micro", zero_division=0.0, sample_weight=None):
    """Set-based hierarchical precision; see :func:`hierarchical_precision_recall_fscore`.

    Parameters
    ----------
    y_true, y_pred : array-like, sparse matrix or tensor
        True and predicted labels, in any label format of :mod:`skhier.labels`.
    %(taxonomy)s
    average : {"micro", "macro"}, default="micro"
    zero_division : float, default=0.0
        The value a ratio takes when its denominator is 0.
    %(sample_weight)s

    Returns
    -------
    precision : float
        Hierarchical precision.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_precision_score
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"]])
    >>> hierarchical_precision_score(["A1"], ["A2"], taxonomy=tax)
    0.5
    """
    return hierarchical_precision_recall_fscore(
        y_true, y_pred, taxonomy=taxonomy, average=average, zero_division=zero_division,
        sample_weight=sample_weight,
    )[0]


@fill_doc
def hierarchical_recall_score(y_true, y_pred, *, taxonomy, average="micro", zero_division=0.0, sample_weight=None):
    """Set-based hierarchical recall; see :func:`hierarchical_precision_recall_fscore`.

    Parameters
    ----------
    y_true, y_pred : array-like, sparse matrix or tensor
        True and predicted labels, in any label format of :mod:`skhier.labels`.
    %(taxonomy)s
    average : {"micro", "macro"}, default="micro"
    zero_division : float, default=0.0
        The value a ratio takes when its denominator is 0.
    %(sample_weight)s

    Returns
    -------
    recall : float
        Hierarchical recall.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_recall_score
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"]])
    >>> hierarchical_recall_score(["A1"], ["A"], taxonomy=tax)
    0.5
    """
    return hierarchical_precision_recall_fscore(
        y_true, y_pred, taxonomy=taxonomy, average=average, zero_division=zero_division,
        sample_weight=sample_weight,
    )[1]


@fill_doc
def hierarchical_f1_score(y_true, y_pred, *, taxonomy, average="micro", zero_division=0.0, sample_weight=None):
    """Set-based hierarchical F1; see :func:`hierarchical_precision_recall_fscore`.

    With ``average="micro"`` this is also the label F1 of HCAM-CL (§4.2): the F1 of the
    predicted path labels against the true ones.

    Parameters
    ----------
    y_true, y_pred : array-like, sparse matrix or tensor
        True and predicted labels, in any label format of :mod:`skhier.labels`.
    %(taxonomy)s
    average : {"micro", "macro"}, default="micro"
    zero_division : float, default=0.0
        The value a ratio takes when its denominator is 0.
    %(sample_weight)s

    Returns
    -------
    f1 : float
        Set-based hierarchical F1; see :func:`hierarchical_precision_recall_fscore`.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_f1_score
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"]])
    >>> hierarchical_f1_score(["A1", "A2"], ["A1", "A1"], taxonomy=tax)
    0.75
    """
    return hierarchical_precision_recall_fscore(
        y_true, y_pred, taxonomy=taxonomy, average=average, zero_division=zero_division,
        sample_weight=sample_weight,
    )[2]


def _truncate(t: torch.Tensor, p: torch.Tensor, paths: torch.Tensor):
    """Replace a prediction below the truth by the truth; return it and the LCA."""
    a = lca(t, p, paths)
    below = a == t
    return torch.where(below, t, p), torch.where(below, t, a)


def per_example_metrics(t: torch.Tensor, p: torch.Tensor, taxonomy: Taxonomy, specificity="info"):
    """Per-example exact, correct, precision, recall and F1 of Valmadre (2022).

    Predictions below the truth are truncated to it first. ``specificity`` is "info"
    (``log2(n_leaves / leaves under v)``) or "depth". Each ratio is 1 when numerator and
    denominator are both 0.
    """
    tt = taxonomy_tensors(taxonomy, str(t.device))
    if specificity == "info":
        f = tt.info
    elif specificity == "depth":
        f = tt.depth
    else:
        raise ValueError(f"specificity must be 'info' or 'depth', got {specificity!r}")
    p2, a = _truncate(t, p, tt.paths)
    return _per_example_update(t, p2, a, f)


def _per_example_update(t, p2, a, f) -> dict:
    """Valmadre's per-example values from the truncated prediction ``p2``, the LCA ``a``
    and the node specificities ``f`` (1 where a ratio is 0 / 0, by his definition)."""
    exact = (p2 == t).to(f.dtype)
    correct = ((a == t) | (a == p2)).to(f.dtype)
    prec = safe_ratio(f[a], f[p2])
    rec = safe_ratio(f[a], f[t])
    return {"exact": exact, "correct": correct, "precision": prec, "recall": rec, "f1": harmonic(prec, rec)}


@fill_doc
def specificity_precision_recall_fscore(y_true, y_pred, *, taxonomy, specificity="info", sample_weight=None):
    """Mean per-example precision, recall and F1 of Valmadre (2022).

    With ``f`` the specificity of a node (``"info"``: ``log2(n_leaves / leaves under
    it)``, ``"depth"``: its depth) and ``a`` the LCA of truth ``t`` and prediction ``p``:
    precision ``f(a) / f(p)``, recall ``f(a) / f(t)``, each 1 when both terms are 0; F1
    their harmonic mean. A prediction below the truth is first truncated to the truth.

    Parameters
    ----------
    y_true, y_pred : array-like or tensor
        True and predicted labels, in any label format of :mod:`skhier.labels`.
    %(taxonomy)s
    specificity : {"info", "depth"}, default="info"
    %(sample_weight)s

    Returns
    -------
    precision, recall, f1 : float
        The three scores.

    References
    ----------
    .. [1] J. Valmadre. "Hierarchical classification at multiple operating points",
       NeurIPS 2022.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import specificity_precision_recall_fscore
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"]])
    >>> specificity_precision_recall_fscore(["A1"], ["A"], taxonomy=tax, specificity="depth")
    (1.0, 0.5, 0.6666666666666666)
    """
    t, p, w, as_tensor = _pair(y_true, y_pred, taxonomy, sample_weight)
    m = per_example_metrics(t, p, taxonomy, specificity)
    return tuple(finish(weighted_mean(m[k], w), as_tensor) for k in ("precision", "recall", "f1"))


@fill_doc
def hierarchical_correct_score(y_true, y_pred, *, taxonomy, sample_weight=None):
    """Fraction of correct predictions: the truth, one of its ancestors or descendants.

    Valmadre's "correct": the LCA of truth and prediction is one of them, i.e. the
    prediction makes no mistake, however coarse it is.

    Parameters
    ----------
    y_true, y_pred : array-like or tensor
        True and predicted labels, in any label format of :mod:`skhier.labels`.
    %(taxonomy)s
    %(sample_weight)s

    Returns
    -------
    score : float
        Fraction of correct predictions: the truth, one of its ancestors or descendants.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_correct_score
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"]])
    >>> hierarchical_correct_score(["A1", "A1"], ["A", "A2"], taxonomy=tax)
    0.5
    """
    t, p, w, as_tensor = _pair(y_true, y_pred, taxonomy, sample_weight)
    return finish(weighted_mean(per_example_metrics(t, p, taxonomy)["correct"], w), as_tensor)


def _make_single(spec, which):
    def metric(y_true, y_pred, *, taxonomy, sample_weight=None):
        t, p, w, as_tensor = _pair(y_true, y_pred, taxonomy, sample_weight)
        return finish(weighted_mean(per_example_metrics(t, p, taxonomy, spec)[which], w), as_tensor)

    name = f"{spec}_{which}_score"
    long = {"precision": "precision ``f(lca) / f(pred)``", "recall": "recall ``f(lca) / f(true)``",
            "f1": "F1 (harmonic mean of precision and recall)"}[which]
    fdesc = "``log2(n_leaves / leaves under v)``" if spec == "info" else "the depth of ``v``"
    metric.__name__ = metric.__qualname__ = name
    metric.__doc__ = f"""Mean per-example {spec}-based {long} (Valmadre, 2022).

    Specificity ``f(v)`` is {fdesc}; each ratio is 1 when both of its terms are 0, and a
    prediction below the truth is truncated to the truth first. See
    :func:`specificity_precision_recall_fscore`.

    Parameters
    ----------
    y_true, y_pred : array-like or tensor
        Labels in any single-label format of :mod:`skhier.labels`.
    %(taxonomy)s
    %(sample_weight)s

    Returns
    -------
    score : float (0-d tensor for tensor inputs)
        Fraction of correct predictions: the truth, one of its ancestors or descendants.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import {name}
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"]])
    >>> round({name}(["A1"], ["A1"], taxonomy=tax), 3)
    1.0
    """
    return fill_doc(metric)


info_precision_score = _make_single("info", "precision")
info_recall_score = _make_single("info", "recall")
info_f1_score = _make_single("info", "f1")
depth_precision_score = _make_single("depth", "precision")
depth_recall_score = _make_single("depth", "recall")
depth_f1_score = _make_single("depth", "f1")
