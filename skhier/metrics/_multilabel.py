"""Multi-label metrics of the CMSG paper: mAP, CP / CR / CF1 and OP / OR / OF1."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from .._docs import fill_doc
from ..labels import encode_labels
from ..utils.validation import is_tensor
from ._base import check_lengths, finish, node_score_tensor, pick_device, sample_weights

__all__ = ["mean_average_precision", "multilabel_precision_recall_f1", "hierarchy_violations"]


def _are_node_scores(y_score, taxonomy) -> bool:
    """Whether ``y_score`` is a numeric (n_samples, n_nodes) score matrix (not labels)."""
    if is_tensor(y_score) or sp.issparse(y_score):
        return True
    arr = np.asarray(y_score)
    return arr.ndim == 2 and arr.dtype.kind in "biuf" and arr.shape[1] == taxonomy.n_nodes


def _label_sets(y, taxonomy, device, name) -> torch.Tensor:
    """Labels in any format as (n_samples, n_nodes - 1) node-set indicators (no root)."""
    enc, fmt = encode_labels(y, taxonomy, name=name)
    m = enc if fmt.multilabel else taxonomy.ancestor_matrix[enc]
    return torch.as_tensor(sp.csr_matrix(m)[:, 1:].toarray(), device=device)


def _ml_inputs(y_true, y_score, taxonomy, sample_weight):
    device = pick_device(y_true, y_score)
    as_tensor = is_tensor(y_true) or is_tensor(y_score)
    if taxonomy is not None:
        if _are_node_scores(y_score, taxonomy):
            s = node_score_tensor(y_score, taxonomy, device)[:, 1:]
        else:  # predicted labels (any format): their node sets
            s = _label_sets(y_score, taxonomy, device, "y_score").to(torch.float64)
        if is_tensor(y_true):
            y = y_true.to(device)
            if y.ndim == 1:
                y = torch.as_tensor(taxonomy.ancestor_matrix[y.cpu().numpy()].toarray(), device=device)
            y = y[:, 1:] if y.shape[1] == taxonomy.n_nodes else y
        else:
            y = _label_sets(y_true, taxonomy, device, "y_true")
    else:
        s = y_score if is_tensor(y_score) else torch.as_tensor(np.asarray(y_score, dtype=np.float64))
        y = y_true if is_tensor(y_true) else torch.as_tensor(
            y_true.toarray() if sp.issparse(y_true) else np.asarray(y_true)
        )
        s, y = s.to(device), y.to(device)
        if s.ndim != 2 or y.shape != s.shape:
            raise ValueError(
                f"y_true and y_score must both be (n_samples, n_classes), got {tuple(y.shape)} "
                f"and {tuple(s.shape)}"
            )
        if not torch.isfinite(s).all():
            raise ValueError("y_score contains NaN or infinity")
    y = y.to(s.dtype)
    if ((y != 0) & (y != 1)).any():
        raise ValueError("y_true must be a 0/1 indicator matrix")
    n = check_lengths(y_true=y, y_score=s)
    w = sample_weights(sample_weight, n, s.device, s.dtype)
    return y, s, (torch.ones(n, dtype=s.dtype, device=s.device) if w is None else w), as_tensor


@fill_doc
def mean_average_precision(y_true, y_score, *, taxonomy=None, sample_weight=None):
    """mAP: the mean over classes of the average precision of each class's scores.

    Average precision follows scikit-learn's ``average_precision_score`` (step-wise
    area, tied scores as one threshold). Classes without a positive sample are left out.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_classes), or hierarchical labels
        A 0/1 indicator; with ``taxonomy``, any label format (classes are the non-root
        nodes, ancestors filled in).
    y_score : array-like or tensor of shape (n_samples, n_classes)
        With ``taxonomy``: node scores (n_samples, n_nodes).
    taxonomy : Taxonomy, default=None
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.
    %(sample_weight)s

    Returns
    -------
    map : float
        Mean average precision.

    Examples
    --------
    >>> from skhier.metrics import mean_average_precision
    >>> mean_average_precision([[1, 0], [0, 1], [1, 1]], [[.9, .2], [.3, .8], [.6, .1]])
    0.9166666666666666
    """
    y, s, w, as_tensor = _ml_inputs(y_true, y_score, taxonomy, sample_weight)
    order = torch.argsort(-s, dim=0, stable=True)
    ss = s.gather(0, order)
    yy = y.gather(0, order)
    ww = w[order]
    tp = torch.cumsum(yy * ww, dim=0)
    fp = torch.cumsum((1 - yy) * ww, dim=0)
    npos = tp[-1]
    end = torch.ones_like(ss, dtype=torch.bool)
    end[:-1] = ss[1:] != ss[:-1]
    prec = tp / (tp + fp).clamp(min=torch.finfo(s.dtype).tiny)
    rec = tp / npos.clamp(min=torch.finfo(s.dtype).tiny)
    rec_end = torch.where(end, rec, torch.zeros_like(rec))
    prev = torch.cummax(rec_end, dim=0).values
    prev = torch.cat([torch.zeros_like(prev[:1]), prev[:-1]], dim=0)
    ap = torch.where(end, (rec - prev) * prec, torch.zeros_like(prec)).sum(dim=0)
    has_pos = npos > 0
    if not has_pos.any():
        return finish(s.new_tensor(float("nan")), as_tensor)
    return finish(ap[has_pos].mean(), as_tensor)


@fill_doc
def multilabel_precision_recall_f1(
    y_true, y_score, *, taxonomy=None, threshold=0.5, top_k=None, zero_division=0.0, sample_weight=None
):
    """Per-class (CP, CR, CF1) and overall (OP, OR, OF1) precision, recall and F1.

    A label is predicted when its score is ``≥ threshold``, or, with ``top_k``, when it
    is among the ``top_k`` best of its sample (the "top-3" variants of ML-GCN and CMSG).
    CP and CR average the per-class ratios, CF1 is their harmonic mean; OP, OR and OF1
    pool the counts of all classes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_classes), or hierarchical labels
        True labels, in any label format of :mod:`skhier.labels`.
    y_score : array-like or tensor of shape (n_samples, n_classes)
        With ``taxonomy``: node scores (n_samples, n_nodes), or predicted labels in
        any label format (their node sets score 1), e.g. a multi-label ``predict``.
    taxonomy : Taxonomy, default=None
        When given, classes are the non-root nodes (see :func:`mean_average_precision`).
    threshold : float, default=0.5
        A node is predicted when its score is at least ``threshold``.
    top_k : int, default=None
        Predict each sample's ``top_k`` best-scored labels instead of thresholding.
    zero_division : float, default=0.0
        Ratio of a class with no prediction (CP) or no positive (CR).
    %(sample_weight)s

    Returns
    -------
    scores : dict
        Keys ``"CP", "CR", "CF1", "OP", "OR", "OF1"``.

    Examples
    --------
    >>> from skhier.metrics import multilabel_precision_recall_f1
    >>> out = multilabel_precision_recall_f1([[1, 0], [0, 1]], [[.9, .6], [.3, .8]])
    >>> {k: round(v, 3) for k, v in out.items()}
    {'CP': 0.75, 'CR': 1.0, 'CF1': 0.857, 'OP': 0.667, 'OR': 1.0, 'OF1': 0.8}
    """
    y, s, w, as_tensor = _ml_inputs(y_true, y_score, taxonomy, sample_weight)
    if top_k is not None:
        if not 1 <= top_k <= s.shape[1]:
            raise ValueError(f"top_k must be in 1..{s.shape[1]}, got {top_k}")
        idx = torch.argsort(-s, dim=1, stable=True)[:, :top_k]
        pred = torch.zeros_like(s).scatter_(1, idx, 1.0)
    else:
        pred = (s >= threshold).to(s.dtype)
    tp = ((pred * y) * w[:, None]).sum(dim=0)
    npred = (pred * w[:, None]).sum(dim=0)
    npos = (y * w[:, None]).sum(dim=0)
    zd = torch.full_like(tp, float(zero_division))
    cp = torch.where(npred > 0, tp / npred.clamp(min=1e-300), zd).mean()
    cr = torch.where(npos > 0, tp / npos.clamp(min=1e-300), zd).mean()
    op = tp.sum() / npred.sum() if npred.sum() > 0 else s.new_tensor(float(zero_division))
    orr = tp.sum() / npos.sum() if npos.sum() > 0 else s.new_tensor(float(zero_division))

    def f1(p, r):
        return 2 * p * r / (p + r) if (p + r) > 0 else p.new_tensor(0.0)

    out = {"CP": cp, "CR": cr, "CF1": f1(cp, cr), "OP": op, "OR": orr, "OF1": f1(op, orr)}
    return {k: finish(v, as_tensor) for k, v in out.items()}


@fill_doc
def hierarchy_violations(y_score, *, taxonomy, threshold=None):
    """Per sample, the number of (node, ancestor) pairs where a node outranks its ancestor.

    On node scores with ``threshold``: a node at or above ``threshold`` whose ancestor is
    below it (the thresholded set is not closed under ancestors); without ``threshold``:
    a node scoring strictly above an ancestor (the scores are not coherent, in C-HMCNN's
    sense). On a 0/1 indicator, a predicted node whose ancestor is not predicted. Trees
    and DAGs (every ancestor over every path); O(n_samples × pairs).

    Parameters
    ----------
    y_score : array-like, sparse matrix or tensor of shape (n_samples, n_nodes)
        Node scores or a node-indicator matrix, columns in taxonomy order.
    %(taxonomy)s
    threshold : float, default=None
        A node is predicted when its score is at least ``threshold``.

    Returns
    -------
    counts : ndarray of int of shape (n_samples,) (a tensor for tensor input)
        Per sample, the number of (node, ancestor) pairs where a node outranks its ancestor.

    See Also
    --------
    skhier.inference.CoherenceRefiner : removes every violation.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchy_violations
    >>> tax = Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c"])  # columns r, a, b, c
    >>> hierarchy_violations([[1, .2, .6, .9], [1, .9, .9, .9]], taxonomy=tax).tolist()
    [2, 0]
    >>> hierarchy_violations([[1, .2, .6, .9]], taxonomy=tax, threshold=0.5).tolist()
    [1]
    """
    from .._tree import hierarchy_violations as _violations
    from ..utils.validation import check_taxonomy

    check_taxonomy(taxonomy, allow_dag=True)
    as_tensor = is_tensor(y_score)
    s = node_score_tensor(y_score.toarray() if sp.issparse(y_score) else y_score, taxonomy, pick_device(y_score))
    counts = _violations(s, taxonomy, threshold)
    return counts if as_tensor else counts.cpu().numpy()
