"""Mistake severity and top-k hierarchical distances (Bertinetto et al., CVPR 2020)."""

from __future__ import annotations

import torch

from .._chunks import row_blocks
from .._docs import fill_doc
from .._tree import lca, taxonomy_tensors
from ._base import finish, weighted_mean
from ._hierarchical import _pair
from ._operating_curve import _prepare

__all__ = [
    "mistake_severity",
    "hierarchical_distance_at_k",
    "hierarchical_precision_at_k",
    "hierarchical_set_precision_at_k",
]


@fill_doc
def mistake_severity(y_true, y_pred, *, taxonomy, sample_weight=None):
    """Mean height of the LCA of truth and prediction over the wrong predictions.

    The height of a node is the number of edges from it down to its deepest leaf; in a
    tree whose leaves all have the same depth this is Bertinetto et al.'s LCA height. A
    prediction at or below the truth is not a mistake. Returns 0.0 when there is no
    mistake.

    Parameters
    ----------
    y_true, y_pred : array-like or tensor
        Labels in any single-label format.
    %(taxonomy)s
    %(sample_weight)s

    Returns
    -------
    severity : float
        Mean mistake severity.

    References
    ----------
    .. [1] L. Bertinetto, R. Mueller, K. Tertikas, S. Samangooei, N. A. Lord. "Making
       Better Mistakes: Leveraging Class Hierarchies with Deep Networks", CVPR 2020.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import mistake_severity
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> mistake_severity(["A1", "A1", "A1"], ["A1", "A2", "B1"], taxonomy=tax)
    1.5
    """
    t, p, w, as_tensor = _pair(y_true, y_pred, taxonomy, sample_weight)
    tt = taxonomy_tensors(taxonomy, str(t.device))
    a = lca(t, p, tt.paths)
    wrong = a != t
    if not wrong.any():
        return finish(tt.height.new_tensor(0.0), as_tensor)
    return finish(weighted_mean(tt.height[a][wrong], None if w is None else w[wrong]), as_tensor)


#: Largest (samples x leaves) block of scores the top-k search sorts at once.
_CHUNK_CELLS = 1 << 22


def _topk_leaves(s: torch.Tensor, leaves: torch.Tensor, k: int) -> torch.Tensor:
    """(n, k) best-scored leaves, ties to the first; sorted in row blocks (O(block · n_leaves) memory)."""
    if not 1 <= k <= leaves.numel():
        raise ValueError(f"k must be in 1..{leaves.numel()} (the number of leaves), got {k}")
    blocks = [torch.argsort(-s[sl, leaves], dim=1, stable=True)[:, :k]
              for sl in row_blocks(s.shape[0], leaves.numel(), _CHUNK_CELLS)]
    return leaves[torch.cat(blocks)] if blocks else leaves.new_zeros((0, k))


def _kth_closest_height(t: torch.Tensor, tt, k: int) -> torch.Tensor:
    """Per true node, the ``k``-th smallest LCA height over all leaves, in O(n · depth).

    A leaf's LCA with ``t`` is an ancestor-or-self of ``t``, and heights grow going up,
    so exactly ``n_leaves_under[a]`` leaves have an LCA height at most ``height[a]``: the
    answer is the height of the lowest ancestor-or-self of ``t`` above at least ``k`` leaves.
    """
    path = tt.paths[t]  # (n, D + 1) root first, -1 padded
    enough = (path >= 0) & (tt.n_leaves_under[path.clamp(min=0)] >= k)  # a prefix of every row
    lowest = path.gather(1, enough.sum(dim=1, keepdim=True) - 1)[:, 0]
    return tt.height[lowest]


@fill_doc
def hierarchical_distance_at_k(y_true, y_score, *, taxonomy, k=1, sample_weight=None):
    """Mean LCA height between the truth and each of the ``k`` best-scored leaves.

    Bertinetto et al.'s "average hierarchical distance@k": per sample, the mean height of
    the LCA of the true node and each of the top-``k`` leaves; then the mean over samples.
    Ties in score go to the first leaf.

    Parameters
    ----------
    y_true : array-like or tensor
        True labels, in any label format of :mod:`skhier.labels`.
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    k : int, default=1
        How many of the top-scored classes are considered.
    %(sample_weight)s

    Returns
    -------
    distance : float
        Mean LCA height between the truth and each of the ``k`` best-scored leaves.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_distance_at_k
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> hierarchical_distance_at_k(["A1"], [[1, .7, .5, .2, .3, .3]], taxonomy=tax, k=2)
    1.0
    """
    t, s, w, as_tensor = _prepare(y_true, y_score, taxonomy, sample_weight)
    tt = taxonomy_tensors(taxonomy, str(s.device))
    top = _topk_leaves(s, tt.leaves, k)
    a = lca(t[:, None].expand_as(top), top, tt.paths)
    return finish(weighted_mean(tt.height[a].mean(dim=1), w), as_tensor)


def _best_height_sum(t: torch.Tensor, tt, k: int) -> torch.Tensor:
    """Per true node, the sum of the ``k`` smallest LCA heights over all leaves, O(n · depth).

    Going up ``t``'s root path ``a_0 = t, a_1, ...``, the leaves whose LCA with ``t`` is
    ``a_j`` are the ``n_leaves_under[a_j] - n_leaves_under[a_{j-1}]`` leaves under ``a_j``
    but not under ``a_{j-1}``, all at height ``height[a_j]``; the ``k`` closest take them
    in that order.
    """
    path = tt.paths[t]  # (n, D + 1) root first, -1 padded
    valid = path >= 0
    under = torch.where(valid, tt.n_leaves_under[path.clamp(min=0)], torch.zeros_like(path)).clamp(max=k)
    below = torch.cat([under[:, 1:], torch.zeros_like(under[:, :1])], dim=1)  # the child on the path's count
    taken = torch.where(valid, under - below, torch.zeros_like(under)).to(tt.height.dtype)
    return (taken * tt.height[path.clamp(min=0)]).sum(dim=1)


@fill_doc
def hierarchical_precision_at_k(y_true, y_score, *, taxonomy, k=1, sample_weight=None):
    """Bertinetto et al.'s hierarchical precision@k: top-k similarity over the best possible.

    With ``d(y, c)`` the height of the LCA of the true node ``y`` and a leaf ``c`` and
    ``d_max`` the largest such height between two leaves (the height of the first node
    below the root with more than one child), the similarity of ``c`` is
    ``1 - d(y, c) / d_max``. Per sample the score is the sum of the similarities of the
    ``k`` best-scored leaves divided by the sum of the ``k`` largest similarities any
    ``k`` leaves reach (Bertinetto et al., §4.1, and the evaluation of their public code,
    which normalises by that best possible sum); then the mean over samples. Ties in
    score go to the first leaf. A true node at or above the first branching node (every
    leaf equally far; the best sum is 0) scores 1, our choice. For the set-based
    quantity of Frome et al. (the fraction of the top ``k`` within the ``k`` closest
    leaves) see :func:`hierarchical_set_precision_at_k`.

    Parameters
    ----------
    y_true : array-like or tensor
        True labels, in any label format of :mod:`skhier.labels`.
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    k : int, default=1
        How many of the top-scored classes are considered.
    %(sample_weight)s

    Returns
    -------
    precision : float
        Hierarchical precision.

    References
    ----------
    .. [1] L. Bertinetto, R. Mueller, K. Tertikas, S. Samangooei, N. A. Lord. "Making
       Better Mistakes: Leveraging Class Hierarchies with Deep Networks", CVPR 2020.

    Examples
    --------
    >>> # truth A1, top-2 leaves A2 (LCA A, height 1) and B1 (LCA the root, height 2):
    >>> # similarities 1/2 and 0 against the best 1 + 1/2
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_precision_at_k
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"], ["B", "B2"]])
    >>> hierarchical_precision_at_k(["A1"], [[1, .6, .1, .5, .4, .4, .1]], taxonomy=tax, k=2)
    0.3333333333333333
    """
    t, s, w, as_tensor = _prepare(y_true, y_score, taxonomy, sample_weight)
    tt = taxonomy_tensors(taxonomy, str(s.device))
    top = _topk_leaves(s, tt.leaves, k)
    d_max = max(float(tt.height[tt.top]), 1.0)
    h_top = tt.height[lca(t[:, None].expand_as(top), top, tt.paths)]
    got = k - h_top.sum(dim=1) / d_max
    best = k - _best_height_sum(t, tt, k) / d_max
    # a truth at or above the first branching node: every leaf is as far, any top-k is the best
    ratio = torch.where(best > 0, got / torch.where(best > 0, best, torch.ones_like(best)), torch.ones_like(best))
    return finish(weighted_mean(ratio, w), as_tensor)


@fill_doc
def hierarchical_set_precision_at_k(y_true, y_score, *, taxonomy, k=1, sample_weight=None):
    """Frome et al.'s hierarchical precision@k: the share of the top k among the closest leaves.

    Closeness is the height of the LCA with the true node. With ``h_k`` the ``k``-th
    smallest such height over all leaves, the closest set holds every leaf within ``h_k``
    (all tied leaves count, so the best possible score is 1): the set of "at least k"
    correct labels that DeViSE's hierarchical precision@k builds from the hierarchy.

    Parameters
    ----------
    y_true : array-like or tensor
        True labels, in any label format of :mod:`skhier.labels`.
    y_score : array-like or tensor of shape (n_samples, n_nodes)
        Node scores (e.g. probabilities), one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    k : int, default=1
        How many of the top-scored classes are considered.
    %(sample_weight)s

    Returns
    -------
    precision : float
        Hierarchical precision.

    See Also
    --------
    hierarchical_precision_at_k : Bertinetto et al.'s similarity-weighted form.

    References
    ----------
    .. [1] A. Frome, G. S. Corrado, J. Shlens, S. Bengio, J. Dean, M. Ranzato, T. Mikolov.
       "DeViSE: A Deep Visual-Semantic Embedding Model", NeurIPS 2013.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_set_precision_at_k
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> hierarchical_set_precision_at_k(["A1"], [[1, .6, .5, .1, .4, .4]], taxonomy=tax, k=2)
    0.5
    """
    t, s, w, as_tensor = _prepare(y_true, y_score, taxonomy, sample_weight)
    tt = taxonomy_tensors(taxonomy, str(s.device))
    top = _topk_leaves(s, tt.leaves, k)
    h_k = _kth_closest_height(t, tt, k)
    h_top = tt.height[lca(t[:, None].expand_as(top), top, tt.paths)]
    hits = (h_top <= h_k[:, None]).to(h_top.dtype).mean(dim=1)
    return finish(weighted_mean(hits, w), as_tensor)
