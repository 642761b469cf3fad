"""Supervised contrastive losses: SupCon (Khosla et al.) and HMCE (Zhang et al.)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..._tree import taxonomy_tensors
from ...utils.validation import check_number, check_taxonomy
from ._base import full_precision

__all__ = ["SupConLoss", "HMCELoss", "LAYER_PENALTIES"]

#: Level weights λ_l of HMCE, by name: l = 1 is the finest level.
LAYER_PENALTIES = {"exp": lambda l: math.exp(1.0 / l), "pow2": lambda l: 2.0 ** (1.0 / l)}


def _as_views(features: torch.Tensor, name="features") -> torch.Tensor:
    """(B, D) → (B, 1, D); (B, V, D) and (B, V, L, D) unchanged; anything else refused."""
    if not isinstance(features, torch.Tensor) or features.ndim not in (2, 3, 4):
        raise ValueError(
            f"{name} must be a (batch, dim), (batch, views, dim) or (batch, views, levels, dim) tensor, "
            f"got {tuple(getattr(features, 'shape', ())) or type(features).__name__}"
        )
    return features[:, None] if features.ndim == 2 else features


def supcon_terms(features: torch.Tensor, positives: torch.Tensor, temperature: float, base_temperature: float):
    """Per-anchor SupCon losses and which anchors have a positive.

    ``features`` (B, V, D), ``positives`` (B, B) bool between samples (the diagonal is
    ignored: a sample's other views are always its positives). Returns ``(terms,
    valid)`` over the B·V anchors, view-major (anchor ``v·B + i`` is view ``v`` of
    sample ``i``).
    """
    b, v, _ = features.shape
    z = full_precision(features).transpose(0, 1).reshape(b * v, -1)  # view-major rows
    logits = z @ z.T / temperature
    eye = torch.eye(b * v, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(eye, -torch.inf)  # A(i): every view but the anchor itself
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    same = positives.to(torch.bool) | torch.eye(b, dtype=torch.bool, device=z.device)
    pos = same.repeat(v, v) & ~eye
    n_pos = pos.sum(dim=1)
    mean_log_prob = torch.where(pos, log_prob, torch.zeros_like(log_prob)).sum(dim=1) / n_pos.clamp(min=1)
    return -(temperature / base_temperature) * mean_log_prob, n_pos > 0


class SupConLoss(nn.Module):
    """Supervised contrastive loss (Khosla et al., 2020, eq. 2, "L_out").

    Every view of every sample is an anchor ``i``; ``A(i)`` is every other view in the
    batch and ``P(i)`` the views in ``A(i)`` of samples with the same label (its own
    other views included). With ``z`` the L2-normalised features,

    .. math::

        L_i = -\\frac{τ}{τ_{base}} \\frac{1}{|P(i)|} \\sum_{p ∈ P(i)}
              \\log \\frac{\\exp(z_i · z_p / τ)}{\\sum_{a ∈ A(i)} \\exp(z_i · z_a / τ)}

    and the loss is the mean over the anchors with at least one positive (the others
    are left out; a batch without any gives 0). Without labels it is SimCLR's loss
    (positives = the other views of the same sample).

    Parameters
    ----------
    temperature : float, default=0.07
        Softmax temperature of the similarities.
    base_temperature : float, default=0.07
        Temperature the loss is rescaled by (SupCon's ``base_temperature``).

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.losses import SupConLoss
    >>> z = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), dim=1)
    >>> loss = SupConLoss(temperature=0.5)
    >>> bool(loss(z, torch.tensor([0, 0, 1])) < loss(z, torch.tensor([0, 1, 0])))
    True
    """

    def __init__(self, temperature=0.07, base_temperature=0.07):
        super().__init__()
        self.temperature = check_number(temperature, "temperature", low=1e-6)
        self.base_temperature = check_number(base_temperature, "base_temperature", low=1e-6)

    def forward(self, features, labels=None, mask=None):
        """The loss of (B, D) or (B, V, D) L2-normalised features.

        Parameters
        ----------
        features : tensor of shape (n_samples, dim) or (n_samples, n_views, dim)
            Latent vectors, one row per sample.
        labels : tensor of shape (n_samples,), default=None
            Samples with equal labels are positives.
        mask : tensor of shape (n_samples, n_samples), default=None
            Positives given directly (instead of ``labels``).

        Returns
        -------
        loss : scalar tensor
            The loss, averaged over the batch.
        """
        f = _as_views(features)
        if f.ndim != 3:
            raise ValueError(
                f"SupConLoss takes (batch, dim) or (batch, views, dim) features, got {tuple(features.shape)}"
            )
        b = f.shape[0]
        if labels is not None and mask is not None:
            raise ValueError("pass labels or mask, not both")
        if labels is not None:
            labels = torch.as_tensor(labels, device=f.device)
            if labels.shape != (b,):
                raise ValueError(f"labels must have shape ({b},), got {tuple(labels.shape)}")
            positives = labels[:, None] == labels[None, :]
        elif mask is not None:
            positives = torch.as_tensor(mask, device=f.device)
            if positives.shape != (b, b):
                raise ValueError(f"mask must have shape ({b}, {b}), got {tuple(positives.shape)}")
        else:
            positives = torch.zeros(b, b, dtype=torch.bool, device=f.device)
        terms, valid = supcon_terms(f, positives, self.temperature, self.base_temperature)
        return terms[valid].mean() if valid.any() else terms.sum() * 0.0


class HMCELoss(nn.Module):
    """Hierarchical multi-label contrastive loss with the hierarchy constraint (HMCE).

    Zhang et al. (CVPR 2022, "Use All The Labels", eq. 3-5): a label is its root-first
    path (levels 1..L, L the taxonomy's depth). For ``l = 1, ..., L``, from the finest
    level up, the ``l − 1`` finest levels are masked and positives are the samples that
    share the path prefix of length ``h = L − l + 1`` (the same level-``h`` ancestor);
    ``L_l`` is :class:`SupConLoss` with those positives;

    - the hierarchy-constraint: ``L_l ← max(L_l, L_{l'} for the finer l' < l)``, so a
      coarse level never costs less than a finer one (eq. 5);
    - the level weight ``λ_l = exp(1/l)`` (``layer_penalty="exp"``; ``"pow2"``,
      ``2^(1/l)``, is the authors' code's choice; or a callable of ``l``);
    - after each level one sample per distinct prefix of length ``h`` is kept (the
      first in batch order), so a pair is pulled together only at the finest level
      they share;
    - the total is ``Σ_l λ_l L_l / (L + 1)``, the normalisation of the authors' public
      code (it divides by the number of label columns, the L levels plus one); the
      paper's eq. 5 leaves the constant out.

    **Variable depth** (our rule, where the paper has fixed-depth labels): a sample
    whose path ends above level ``h`` takes no part in step ``l`` — not as anchor, not
    as positive, not in any denominator — and is never dropped by that step's
    de-duplication; it joins at the levels it reaches. A level at which no anchor has a
    positive adds nothing and leaves the running maximum alone. The division is always
    by L + 1.

    Per-level features ``(B, V, L, D)`` (the feature masks of G-HMLC and A-HMLC) give
    step ``l`` the features of level ``h``; ``(B, D)`` or ``(B, V, D)`` features are
    shared by every level.

    Parameters
    ----------
    taxonomy : Taxonomy
        Gives every node's root path.
    temperature : float, default=0.07
        Softmax temperature of the similarities.
    base_temperature : float, default=0.07
        Temperature the loss is rescaled by (SupCon's ``base_temperature``).
    layer_penalty : {"exp", "pow2"} or callable, default="exp"
    constraint : bool, default=True
        Apply the hierarchy constraint (False gives the authors' "HMC" variant).

    Examples
    --------
    >>> import torch
    >>> from skhier import Taxonomy
    >>> from skhier.neural.losses import HMCELoss
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> z = torch.nn.functional.normalize(torch.randn(4, 2, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    >>> nodes = torch.tensor([tax.index(v) for v in ["A1", "A1", "A2", "B1"]])
    >>> HMCELoss(tax)(z, nodes).ndim
    0
    """

    def __init__(self, taxonomy, temperature=0.07, base_temperature=0.07, layer_penalty="exp", constraint=True):
        super().__init__()
        self.taxonomy = check_taxonomy(taxonomy)
        self.temperature = check_number(temperature, "temperature", low=1e-6)
        self.base_temperature = check_number(base_temperature, "base_temperature", low=1e-6)
        if isinstance(layer_penalty, str) and layer_penalty not in LAYER_PENALTIES:
            raise ValueError(
                f"layer_penalty must be one of {sorted(LAYER_PENALTIES)} or a callable, got {layer_penalty!r}"
            )
        if not isinstance(layer_penalty, str) and not callable(layer_penalty):
            raise TypeError(
                f"layer_penalty must be one of {sorted(LAYER_PENALTIES)} or a callable, got {layer_penalty!r}"
            )
        self.layer_penalty = layer_penalty
        self.constraint = bool(constraint)

    @property
    def n_levels(self) -> int:
        return int(self.taxonomy.max_depth)

    def _weight(self, l: int) -> float:
        fn = LAYER_PENALTIES[self.layer_penalty] if isinstance(self.layer_penalty, str) else self.layer_penalty
        return float(fn(l))

    def level_labels(self, nodes: torch.Tensor) -> torch.Tensor:
        """The level-``h`` ancestor of every sample (column 0 the root), -1 below its depth.

        Parameters
        ----------
        nodes : tensor of int of shape (B,)
            Node indices of the labels.

        Returns
        -------
        ancestors : tensor of int of shape (B, L + 1)
            The level-``h`` ancestor of every sample (column 0 the root), -1 below its depth.
        """
        return taxonomy_tensors(self.taxonomy, str(nodes.device)).paths[nodes]

    def forward(self, features, targets):
        """The loss of normalised features against the samples' node indices.

        Parameters
        ----------
        features : tensor of shape (B, D), (B, V, D) or (B, V, L, D)
            Latent vectors, one row per sample.
        targets : tensor of shape (B,)
            Node index of every sample's label (where its path ends).

        Returns
        -------
        loss : scalar tensor
            The loss, averaged over the batch.
        """
        f = _as_views(features)
        n_levels = self.n_levels
        if f.ndim == 4 and f.shape[2] != n_levels:
            raise ValueError(f"per-level features must have {n_levels} levels (axis 2), got shape {tuple(f.shape)}")
        targets = torch.as_tensor(targets, device=f.device).long()
        if targets.shape != (f.shape[0],):
            raise ValueError(f"targets must have shape ({f.shape[0]},), got {tuple(targets.shape)}")
        labels = self.level_labels(targets)
        keep = torch.arange(f.shape[0], device=f.device)
        total = f.sum() * 0.0
        running = None
        for l in range(1, n_levels + 1):
            h = n_levels - l + 1
            lab = labels[keep, h]
            part = lab >= 0
            if part.sum() >= 1:
                idx = keep[part]
                feats = f[idx] if f.ndim == 3 else f[idx, :, h - 1]
                pos = lab[part][:, None] == lab[part][None, :]
                terms, valid = supcon_terms(feats, pos, self.temperature, self.base_temperature)
                if valid.any():
                    loss = terms[valid].mean()
                    if self.constraint and running is not None:
                        loss = torch.maximum(loss, running)
                    running = loss if running is None else torch.maximum(running, loss)
                    total = total + self._weight(l) * loss
                # one sample per distinct prefix: the first in batch order (O(batch), not O(nodes))
                prefixes, group = torch.unique(lab[part], return_inverse=True)
                at = torch.arange(keep.numel(), device=f.device)[part]
                first = torch.full((prefixes.numel(),), keep.numel(), dtype=torch.long, device=f.device)
                first = first.scatter_reduce(0, group, at, "amin")
                survivors = ~part
                survivors[first] = True
                keep = keep[survivors]
        return total / (n_levels + 1)  # the authors' code divides by its L + 1 label columns
