"""Mistake severity and top-k hierarchical distances (Bertinetto et al., CVPR 2020)."""

from __future__ import annotations

import torch

from .._chunks import row_blocks
from .._tree import lca, taxonomy_tensors
from ._base import finish, weighted_mean
from ._hierarchical import _pair
from ._operating_curve import _prepare

__all__ = ["mistake_severity", "hierarchical_distance_at_k", "hierarchical_precision_at_k"]


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
    taxonomy : Taxonomy
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    severity : float

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


def hierarchical_distance_at_k(y_true, y_score, *, taxonomy, k=1, sample_weight=None):
    """Mean LCA height between the truth and each of the ``k`` best-scored leaves.

    Bertinetto et al.'s "average hierarchical distance@k": per sample, the mean height of
    the LCA of the true node and each of the top-``k`` leaves; then the mean over samples.
    Ties in score go to the first leaf.

    Parameters
    ----------
    y_true : array-like or tensor
    y_score : array-like or tensor of shape (n_samples, n_nodes)
    taxonomy : Taxonomy
    k : int, default=1
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    distance : float

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


def hierarchical_precision_at_k(y_true, y_score, *, taxonomy, k=1, sample_weight=None):
    """Fraction of the top-``k`` leaves that are among the ``k`` leaves closest to the truth.

    Closeness is the height of the LCA with the true node. With ``h_k`` the ``k``-th
    smallest such height over all leaves, the closest set holds every leaf within ``h_k``
    (all tied leaves count, so the best possible score is 1).

    Parameters
    ----------
    y_true : array-like or tensor
    y_score : array-like or tensor of shape (n_samples, n_nodes)
    taxonomy : Taxonomy
    k : int, default=1
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    precision : float

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import hierarchical_precision_at_k
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> hierarchical_precision_at_k(["A1"], [[1, .6, .5, .1, .4, .4]], taxonomy=tax, k=2)
    0.5
    """
    t, s, w, as_tensor = _prepare(y_true, y_score, taxonomy, sample_weight)
    tt = taxonomy_tensors(taxonomy, str(s.device))
    top = _topk_leaves(s, tt.leaves, k)
    h_k = _kth_closest_height(t, tt, k)
    h_top = tt.height[lca(t[:, None].expand_as(top), top, tt.paths)]
    hits = (h_top <= h_k[:, None]).to(h_top.dtype).mean(dim=1)
    return finish(weighted_mean(hits, w), as_tensor)
