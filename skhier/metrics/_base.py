"""Validation and sufficient statistics shared by every hierarchical metric.

Metrics follow the torchmetrics split: inputs are validated and formatted here (labels to
node indices, scores to float tensors, taxonomy matrices to tensors on the inputs'
device), each metric computes per-sample statistics in torch, and a reduction turns them
into a number. Numpy and list inputs are computed on the CPU and give a Python float;
torch tensors are computed on their own device and give a 0-d tensor.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from .._taxonomy import Taxonomy
from .._tree import as_score_tensor
from ..labels import encode_labels
from ..utils.validation import is_tensor


@lru_cache(maxsize=32)
def _int_label_lookup(taxonomy: Taxonomy, device: str):
    """Sorted int identifiers of a taxonomy and their node indices, on ``device``."""
    ids = [(n, i) for i, n in enumerate(taxonomy.nodes) if isinstance(n, int)]
    if len(ids) != taxonomy.n_nodes:
        return None
    ids.sort()
    dev = torch.device(device)
    return (torch.as_tensor([n for n, _ in ids], dtype=torch.long, device=dev),
            torch.as_tensor([i for _, i in ids], dtype=torch.long, device=dev))


def pick_device(*arrays) -> torch.device:
    for a in arrays:
        if is_tensor(a):
            return a.device
    return torch.device("cpu")


def node_indices(y, taxonomy: Taxonomy, device, *, name="y_true") -> torch.Tensor:
    """Single-label targets as a long tensor of node indices on ``device``.

    Whatever holds them, labels mean the same: node identifiers in any single-label
    format of :mod:`skhier.labels`. A torch tensor can hold int identifiers only, and is
    looked up on its own device; node indices go through
    :meth:`HierarchicalMetricAccumulator.update_indices` instead.
    """
    if is_tensor(y):
        if y.ndim != 1 or y.dtype.is_floating_point or y.dtype == torch.bool or y.is_complex():
            raise ValueError(f"a tensor {name} must be 1-D int labels, got shape {tuple(y.shape)} and {y.dtype}")
        lookup = _int_label_lookup(taxonomy, str(y.device))
        if lookup is None:
            raise TypeError(
                f"{name} is a tensor, but this taxonomy names nodes by strings, which a tensor "
                f"cannot hold: pass {name} as a list or numpy array of labels (it may live on the "
                "CPU while scores stay on the GPU), or accumulate node indices on the device with "
                "HierarchicalMetricAccumulator.update_indices"
            )
        ids, idx = lookup
        y = y.to(torch.long)
        pos = torch.searchsorted(ids, y).clamp(max=ids.numel() - 1)
        found = ids[pos] == y
        if y.numel() and not bool(found.all()):
            i = int((~found).nonzero()[0, 0])
            raise ValueError(f"{name}[{i}]: unknown label {int(y[i])!r}: it is not a node of the taxonomy")
        return idx[pos].to(device)
    idx, fmt = encode_labels(y, taxonomy, name=name)
    if fmt.multilabel:
        from ..labels import indicator_to_node_indices

        idx = indicator_to_node_indices(idx, taxonomy)
    return torch.as_tensor(idx, dtype=torch.long, device=device)


def check_index_tensor(t, taxonomy: Taxonomy, name: str) -> torch.Tensor:
    """A 1-D tensor of node indices in range (one host sync), as long."""
    if not is_tensor(t) or t.ndim != 1 or t.dtype.is_floating_point or t.dtype == torch.bool:
        raise TypeError(f"{name} must be a 1-D integer tensor of node indices, got {type(t).__name__}")
    if t.numel():
        lo, hi = torch.stack([t.min(), t.max()]).tolist()
        if lo < 0 or hi >= taxonomy.n_nodes:
            raise ValueError(f"{name} holds node indices outside [0, {taxonomy.n_nodes}): found [{lo}, {hi}]")
    return t.to(torch.long)


def node_score_tensor(y_score, taxonomy: Taxonomy, device, *, name="y_score") -> torch.Tensor:
    """(n_samples, n_nodes) scores as a tensor on ``device`` (float64 from numpy): the
    metrics' call of the one score adapter, :func:`skhier._tree.as_score_tensor`."""
    return as_score_tensor(y_score, taxonomy, name=name, device=device, dtype=torch.float64)[0]


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
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"{' and '.join(lengths)} hold no samples: a metric needs at least one")
    return n


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


def finish(value: torch.Tensor, as_tensor: bool):
    """A Python float for numpy callers, a 0-d tensor for torch callers."""
    return value if as_tensor else float(value)
