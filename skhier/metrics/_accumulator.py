"""A stateful face of the label-based metrics: accumulate sufficient statistics over
batches (on the device of the inputs), compute once.

It reuses the functional metrics' per-sample statistics (the torchmetrics split): every
value it computes equals the corresponding function applied to all batches at once.
"""

from __future__ import annotations

import torch

from .._docs import fill_doc
from .._taxonomy import Taxonomy
from .._tree import taxonomy_tensors
from ..utils.validation import check_taxonomy
from ._base import check_index_tensor, node_indices, pick_device, sample_weights
from ._hierarchical import (
    _level_accuracy_compute,
    _level_hits_update,
    _per_example_update,
    _ratio,
    _set_counts_update,
    _set_prf_compute,
)

__all__ = ["HierarchicalMetricAccumulator"]

_SUMS = ("exact", "correct", "info_precision", "info_recall", "info_f1", "depth_precision", "depth_recall",
         "depth_f1", "inter", "n_pred", "n_true", "severity", "mistakes", "weight")


@fill_doc
class HierarchicalMetricAccumulator:
    """Accumulate label-based hierarchical metrics over batches.

    ``update(y_true, y_pred)`` adds the sufficient statistics of a batch (sums of
    per-sample values, set intersections and sizes, per-level hits); ``compute()``
    reduces them. Tensors stay on their device, so a training loop can score on the GPU
    without host round trips until ``compute``.

    Parameters
    ----------
    %(taxonomy)s

    Attributes
    ----------
    n_samples_ : int
        Samples seen since the last ``reset``.

    See Also
    --------
    hierarchical_f1_score, path_accuracy_score, level_accuracy_score, mistake_severity :
        the functions whose values ``compute`` returns.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import HierarchicalMetricAccumulator
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> acc = HierarchicalMetricAccumulator(tax)
    >>> acc.update(["A1", "B1"], ["A1", "A2"])
    >>> acc.update(["A2"], ["A2"])
    >>> scores = acc.compute()
    >>> round(scores["path_accuracy"], 4), round(scores["hierarchical_f1"], 4)
    (0.6667, 0.6667)
    """

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = check_taxonomy(taxonomy, what="HierarchicalMetricAccumulator")
        self.reset()

    def reset(self):
        """Forget every batch.

        Returns
        -------
        self : HierarchicalMetricAccumulator
            This accumulator, with the batch added.
        """
        self._sums = None
        self._level_hits = None
        self._level_totals = None
        self.n_samples_ = 0
        return self

    @fill_doc
    def update(self, y_true, y_pred, sample_weight=None):
        """Add a batch of true and predicted labels.

        Parameters
        ----------
        y_true, y_pred : array-like or tensor
            Labels in any single-label format, as every metric reads them.
        %(sample_weight)s
        """
        device = pick_device(y_true, y_pred)
        t = node_indices(y_true, self.taxonomy, device, name="y_true")
        p = node_indices(y_pred, self.taxonomy, device, name="y_pred")
        self._add(t, p, sample_weight)

    def update_indices(self, y_true, y_pred, sample_weight=None):
        """Add a batch of true and predicted node indices (tensors, on any device).

        What a training loop has on the GPU; nothing leaves the device but one range
        check.

        Parameters
        ----------
        y_true, y_pred : tensor of int of shape (n_samples,)
            Node indices (columns of the taxonomy).
        sample_weight : tensor or array-like of shape (n_samples,), default=None
            Weights of the samples; ``None`` weighs every sample equally.

        Examples
        --------
        >>> import torch
        >>> from skhier import Taxonomy
        >>> from skhier.metrics import HierarchicalMetricAccumulator
        >>> tax = Taxonomy.from_paths([["A", "A1"], ["B", "B1"]])
        >>> acc = HierarchicalMetricAccumulator(tax)
        >>> acc.update_indices(torch.tensor([2, 4]), torch.tensor([2, 2]))
        >>> acc.compute()["path_accuracy"]
        0.5
        """
        t = check_index_tensor(y_true, self.taxonomy, "y_true")
        p = check_index_tensor(y_pred, self.taxonomy, "y_pred").to(t.device)
        self._add(t, p, sample_weight)

    def _add(self, t, p, sample_weight):
        tax = self.taxonomy
        if t.shape != p.shape:
            raise ValueError(f"inconsistent numbers of samples: y_true {t.shape[0]}, y_pred {p.shape[0]}")
        tt = taxonomy_tensors(tax, str(t.device))
        w = sample_weights(sample_weight, t.shape[0], t.device, tt.depth.dtype)
        w = torch.ones(t.shape[0], dtype=tt.depth.dtype, device=t.device) if w is None else w
        inter, n_pred, n_true, a = _set_counts_update(t, p, tt)  # one LCA for every metric
        p2, a2 = torch.where(a == t, t, p), torch.where(a == t, t, a)  # Valmadre's truncation
        info = _per_example_update(t, p2, a2, tt.info)
        depth = _per_example_update(t, p2, a2, tt.depth)
        wrong = (a != t).to(w.dtype)
        values = {
            "exact": (t == p).to(w.dtype), "correct": info["correct"],
            "info_precision": info["precision"], "info_recall": info["recall"], "info_f1": info["f1"],
            "depth_precision": depth["precision"], "depth_recall": depth["recall"], "depth_f1": depth["f1"],
            "inter": inter, "n_pred": n_pred, "n_true": n_true,
            "severity": tt.height[a] * wrong, "mistakes": wrong, "weight": torch.ones_like(w),
        }
        sums = torch.stack([(values[k].to(w.dtype) * w).sum() for k in _SUMS])
        hits, totals = _level_hits_update(t, p, tt, w)
        if self._sums is None:
            self._sums, self._level_hits, self._level_totals = sums, hits, totals
        else:
            self._sums = self._sums + sums.to(self._sums.device)
            self._level_hits = self._level_hits + hits.to(self._sums.device)
            self._level_totals = self._level_totals + totals.to(self._sums.device)
        self.n_samples_ += int(t.shape[0])

    def compute(self) -> dict:
        """Reduce the accumulated statistics.

        Returns
        -------
        scores : dict
            ``path_accuracy``, ``hierarchical_precision`` / ``recall`` / ``f1`` (micro),
            ``hierarchical_correct``, ``info_*`` and ``depth_*`` precision / recall / F1,
            ``mistake_severity`` and ``level_accuracy`` (a list, one per level), as
            Python floats.

        Raises
        ------
        ValueError
            Before any ``update``.
        """
        if self._sums is None:
            raise ValueError("no batch was added: call update(y_true, y_pred) first")
        s = dict(zip(_SUMS, self._sums.double().cpu()))
        n = s["weight"]
        prec, rec, f1 = _set_prf_compute(s["inter"], s["n_pred"], s["n_true"])  # the functions' kernel
        out = {
            "path_accuracy": s["exact"] / n,
            "hierarchical_precision": prec,
            "hierarchical_recall": rec,
            "hierarchical_f1": f1,
            "hierarchical_correct": s["correct"] / n,
            "mistake_severity": _ratio(s["severity"], s["mistakes"], 0.0),
        }
        for k in ("info_precision", "info_recall", "info_f1", "depth_precision", "depth_recall", "depth_f1"):
            out[k] = s[k] / n
        out = {k: float(v) for k, v in out.items()}
        acc = _level_accuracy_compute(self._level_hits.double().cpu(), self._level_totals.double().cpu())
        out["level_accuracy"] = acc.tolist()
        return out
