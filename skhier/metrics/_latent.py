"""How well a latent space mirrors the taxonomy: the quantity KFR optimises."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr

from .._docs import fill_doc
from .._tree import TREE_DISTANCES, tree_distance
from ..utils.validation import check_number
from ._base import node_indices

__all__ = ["latent_distance_correlation"]

_LATENT_METRICS = ("normalized_l1", "euclidean", "cosine")


def _latent_distance(za, zb, metric):
    if metric == "normalized_l1":  # KFR's d: per-vector standardised, mean |difference|
        za, zb = (
            (z - z.mean(axis=1, keepdims=True)) / np.maximum(z.std(axis=1, ddof=1, keepdims=True), 1e-12)
            for z in (za, zb)
        )
        return np.abs(za - zb).mean(axis=1)
    if metric == "euclidean":
        return np.linalg.norm(za - zb, axis=1)
    na = np.maximum(np.linalg.norm(za, axis=1), 1e-12)
    nb = np.maximum(np.linalg.norm(zb, axis=1), 1e-12)
    return 1 - (za * zb).sum(axis=1) / (na * nb)


@fill_doc
def latent_distance_correlation(
    y_true, Z, *, taxonomy, latent_metric="normalized_l1", distance="edges", max_pairs=100_000, random_state=0
):
    """Spearman correlation between latent distances and taxonomy distances of sample pairs.

    For pairs of samples ``(i, j)``, ranks the distance between their latent vectors
    ``Z[i]``, ``Z[j]`` against the taxonomy distance between their labels: 1 when the
    latent space orders every pair as the taxonomy does, about 0 when it ignores it.
    This is what KFR's quantitative-relativity loss aligns (its eq. 4), measured on
    held-out samples instead of accuracy.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, depth)
        Labels in any single-label format.
    Z : array-like of shape (n_samples, n_features)
        Latent vectors (e.g. :meth:`~skhier.neural.HierarchicalLossClassifier.embed`).
    %(taxonomy)s
    latent_metric : {"normalized_l1", "euclidean", "cosine"}, default="normalized_l1"
        ``"normalized_l1"`` is KFR's: each vector standardised by its own mean and
        standard deviation, then the mean absolute difference.
    distance : {"edges", "lca_height", "hierarchical_precision"}, default="edges"
        Taxonomy distance (see :class:`~skhier.neural.losses.QuantitativeRelativityLoss`).
    max_pairs : int, default=100_000
        All pairs when there are at most this many, else this many drawn at random
        (with replacement, never a sample with itself).
    random_state : int, RandomState or None, default=0
        Draws the pairs.

    Returns
    -------
    rho : float
        Spearman's rank correlation; NaN when either distance is constant over the
        pairs (all labels equal, or all latent vectors equal).

    Examples
    --------
    >>> import numpy as np
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import latent_distance_correlation
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> y = ["A1", "A2", "B1"]
    >>> Z = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]])
    >>> # pairs (A1, A2), (A1, B1), (A2, B1): latent 1, 5, 4; taxonomy 2, 4, 4 (a tie)
    >>> round(latent_distance_correlation(y, Z, taxonomy=tax, latent_metric="euclidean"), 4)
    0.866
    """
    if latent_metric not in _LATENT_METRICS:
        raise ValueError(f"latent_metric must be one of {_LATENT_METRICS}, got {latent_metric!r}")
    if distance not in TREE_DISTANCES:
        raise ValueError(f"distance must be one of {TREE_DISTANCES}, got {distance!r}")
    max_pairs = check_number(max_pairs, "max_pairs", low=1, integer=True)
    if isinstance(Z, torch.Tensor):
        Z = Z.detach().cpu().numpy()
    Z = np.asarray(Z)
    if Z.ndim != 2 or not np.issubdtype(Z.dtype, np.number) or np.issubdtype(Z.dtype, np.complexfloating):
        raise ValueError(f"Z must be a 2-D numeric array (n_samples, n_features), got shape {Z.shape} and {Z.dtype}")
    Z = Z.astype(np.float64)
    if not np.isfinite(Z).all():
        raise ValueError("Z contains NaN or infinity")
    nodes = node_indices(y_true, taxonomy, "cpu")
    n = nodes.shape[0]
    if n != Z.shape[0]:
        raise ValueError(f"y_true has {n} samples but Z has {Z.shape[0]}")
    if n < 2:
        raise ValueError(f"latent_distance_correlation needs at least 2 samples, got {n}")
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, k=1)
    else:
        rng = (
            np.random.default_rng(random_state) if not isinstance(random_state, np.random.RandomState) else random_state
        )
        i = rng.integers(0, n, max_pairs)
        j = (i + rng.integers(1, n, max_pairs)) % n
    d_lat = _latent_distance(Z[i], Z[j], latent_metric)
    d_tax = tree_distance(nodes[torch.as_tensor(i)], nodes[torch.as_tensor(j)], taxonomy, distance).numpy()
    if np.ptp(d_lat) == 0 or np.ptp(d_tax) == 0:
        return float("nan")
    return float(spearmanr(d_lat, d_tax).statistic)
