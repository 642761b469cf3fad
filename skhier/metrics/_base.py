"""Validation and sufficient statistics shared by every hierarchical metric.

Metrics follow the torchmetrics split: inputs are validated and formatted here (labels to
node indices, scores to float tensors, taxonomy matrices to tensors on the inputs'
device), each metric computes per-sample statistics in torch, and a reduction turns them
into a number. Numpy and list inputs are computed on the CPU and give a Python float;
torch tensors are computed on their own device and give a 0-d tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import torch

from .._taxonomy import Taxonomy
from ..labels import _check_taxonomy, check_node_scores, encode_labels


def is_tensor(x) -> bool:
    return isinstance(x, torch.Tensor)


@dataclass(frozen=True)
class TaxonomyTensors:
    """Per-node arrays of a taxonomy as tensors on one device."""

    depth: torch.Tensor  # (n_nodes,) float
    info: torch.Tensor  # (n_nodes,) float: log2(n_leaves / leaves under node)
    height: torch.Tensor  # (n_nodes,) float
    paths: torch.Tensor  # (n_nodes, max_depth + 1) long, -1 padded
    leaves: torch.Tensor  # (n_leaves,) long
    is_leaf: torch.Tensor  # (n_nodes,) bool
    specificity: torch.Tensor  # (n_nodes,) long rank of (info, depth)


def information(taxonomy: Taxonomy) -> np.ndarray:
    """``log2(n_leaves / n_leaf_descendants)`` of every node (0 at the root)."""
    return np.log2(taxonomy.n_leaves / taxonomy.n_leaf_descendants)


@lru_cache(maxsize=32)
def taxonomy_tensors(taxonomy: Taxonomy, device: str) -> TaxonomyTensors:
    info = information(taxonomy)
    # rank nodes by (info, depth): "more specific" compares these ranks
    keys = np.stack([np.round(info, 12), taxonomy.depth.astype(float)], axis=1)
    _, rank = np.unique(keys, axis=0, return_inverse=True)
    dev = torch.device(device)
    f = torch.float64 if dev.type == "cpu" else torch.float32
    return TaxonomyTensors(
        depth=torch.as_tensor(np.array(taxonomy.depth), dtype=f, device=dev),
        info=torch.as_tensor(info, dtype=f, device=dev),
        height=torch.as_tensor(np.array(taxonomy.height), dtype=f, device=dev),
        paths=torch.as_tensor(np.array(taxonomy.path_indices), dtype=torch.long, device=dev),
        leaves=torch.as_tensor(np.array(taxonomy.leaves), dtype=torch.long, device=dev),
        is_leaf=torch.as_tensor(np.array(taxonomy.is_leaf), device=dev),
        specificity=torch.as_tensor(rank.ravel(), dtype=torch.long, device=dev),
    )


def pick_device(*arrays) -> torch.device:
    for a in arrays:
        if is_tensor(a):
            return a.device
    return torch.device("cpu")


def node_indices(y, taxonomy: Taxonomy, device, *, name="y_true") -> torch.Tensor:
    """Single-label targets as a long tensor of node indices on ``device``.

    A torch tensor holds node indices already; anything else is read by
    :func:`skhier.labels.encode_labels` in any single-label format.
    """
    if is_tensor(y):
        if y.ndim != 1 or y.dtype.is_floating_point:
            raise ValueError(f"a tensor {name} must be 1-D node indices, got {tuple(y.shape)} {y.dtype}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= taxonomy.n_nodes):
            raise ValueError(f"{name} holds node indices outside [0, {taxonomy.n_nodes})")
        return y.to(device=device, dtype=torch.long)
    idx, fmt = encode_labels(y, taxonomy)
    if fmt.multilabel:
        from ..labels import indicator_to_node_indices

        idx = indicator_to_node_indices(idx, taxonomy)
    return torch.as_tensor(idx, dtype=torch.long, device=device)


def node_score_tensor(y_score, taxonomy: Taxonomy, device) -> torch.Tensor:
    """(n_samples, n_nodes) scores as a float tensor, validated.

    Scores with one column per leaf are accepted too and summed bottom-up into nodes.
    """
    if not is_tensor(y_score):
        arr = y_score.toarray() if sp.issparse(y_score) else np.asarray(y_score)
        if arr.ndim == 2 and arr.shape[1] == taxonomy.n_leaves and taxonomy.n_leaves != taxonomy.n_nodes:
            arr = np.asarray(arr @ taxonomy.leaf_ancestor_matrix)
        arr = check_node_scores(arr, taxonomy, name="y_score")
        return torch.as_tensor(arr, dtype=torch.float64, device=device)
    s = y_score
    if s.ndim == 2 and s.shape[1] == taxonomy.n_leaves and taxonomy.n_leaves != taxonomy.n_nodes:
        full = torch.zeros(s.shape[0], taxonomy.n_nodes, dtype=s.dtype, device=s.device)
        full[:, taxonomy_tensors(taxonomy, str(s.device)).leaves] = s
        s = bottom_up(full, taxonomy)
    s = check_node_scores(s, taxonomy, name="y_score")
    return s.to(device)


def bottom_up(node_leaf_scores: torch.Tensor, taxonomy: Taxonomy) -> torch.Tensor:
    """Add every column of a (n, n_nodes) tensor into all its ancestors' (children first).

    Leaf probabilities (other columns 0) become node probabilities; an end-node
    distribution (mass where paths end, leaves or internal) becomes the probability of
    passing each node. O(n × n_nodes), no dense matrix.
    """
    out = node_leaf_scores.clone()
    parent = torch.as_tensor(np.array(taxonomy.parent), device=out.device)
    for d in range(taxonomy.max_depth, 0, -1):
        nodes = torch.as_tensor(np.array(taxonomy.levels[d]), device=out.device)
        out.index_add_(1, parent[nodes], out[:, nodes])
    return out


def sample_weights(sample_weight, n: int, device, dtype=torch.float64) -> torch.Tensor | None:
    if sample_weight is None:
        return None
    w = torch.as_tensor(
        sample_weight if is_tensor(sample_weight) else np.asarray(sample_weight, dtype=float),
        device=device,
    ).to(dtype)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},), got {tuple(w.shape)}")
    if not torch.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    return w


def check_lengths(**arrays) -> int:
    lengths = {k: (v.shape[0] if hasattr(v, "shape") else len(v)) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inconsistent numbers of samples: {lengths}")
    return next(iter(lengths.values()))


def weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    values = values.to(torch.float64) if values.device.type == "cpu" else values.float()
    if values.numel() == 0:
        return values.new_tensor(float("nan"))
    if weight is None:
        return values.mean()
    weight = weight.to(values.dtype)
    return (values * weight).sum() / weight.sum()


def safe_ratio(num: torch.Tensor, den: torch.Tensor, both_zero: float = 1.0) -> torch.Tensor:
    """``num / den``, ``both_zero`` where both are 0 (and 0 where only ``den`` is)."""
    out = num / torch.where(den == 0, torch.ones_like(den), den)
    out = torch.where((den == 0) & (num == 0), torch.full_like(out, both_zero), out)
    return torch.where((den == 0) & (num != 0), torch.zeros_like(out), out)


def harmonic(p: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    s = p + r
    return torch.where(s > 0, 2 * p * r / torch.where(s > 0, s, torch.ones_like(s)), torch.zeros_like(s))


def lca(a: torch.Tensor, b: torch.Tensor, paths: torch.Tensor) -> torch.Tensor:
    """Lowest common ancestor of node index tensors ``a`` and ``b``."""
    pa, pb = paths[a], paths[b]
    same = ((pa == pb) & (pa >= 0)).long()
    k = same.cumprod(dim=-1).sum(dim=-1) - 1
    return pa.gather(-1, k.unsqueeze(-1)).squeeze(-1)


def finish(value: torch.Tensor, as_tensor: bool):
    """A Python float for numpy callers, a 0-d tensor for torch callers."""
    return value if as_tensor else float(value)
