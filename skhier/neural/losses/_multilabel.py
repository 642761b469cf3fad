"""Losses for multi-label targets: independent per-label logits, 0/1 targets."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...utils.validation import check_number
from ._base import full_precision

__all__ = ["AsymmetricLoss"]

_REDUCTIONS = ("mean", "sum", "none")


class AsymmetricLoss(nn.Module):
    """The asymmetric loss (ASL) of Ridnik et al. (2021) for multi-label classification.

    With ``p = σ(x)`` and the shifted probability ``p_m = max(p − m, 0)`` of a negative,

    .. math::

        L = -\\sum_c \\big[ y_c (1 - p_c)^{γ_+} \\log p_c
            + (1 - y_c)\\, p_{m,c}^{γ_-} \\log(1 - p_{m,c}) \\big]

    (eq. 2-4 of the ASL paper, the loss CMSG trains with): negatives are down-weighted
    by a stronger focusing exponent ``γ−`` and easy negatives (``p ≤ m``) are discarded
    outright, which counters the many-negatives imbalance of multi-label data. Logs are
    clamped at ``eps`` (1e-8) as in the reference. With ``margin=0`` and both exponents
    0 it is binary cross-entropy.

    Parameters
    ----------
    gamma_neg : float, default=4.0
        Focusing exponent γ− of the negatives (≥ 0).
    gamma_pos : float, default=0.0
        Focusing exponent γ+ of the positives (≥ 0). The paper's recommended setting
        (§3.3: γ+ = 0, γ− = 4, m = 0.05) and its training script's.
    margin : float, default=0.05
        Probability shift ``m`` of the negatives, in [0, 1).
    eps : float, default=1e-8
        Lower clamp of the probabilities inside the logs.
    detach_focusing : bool, default=True
        Compute the focusing weights without gradient, as the ASL paper's training script
        does (``disable_torch_grad_focal_loss=True``). With ``False`` the weights are
        differentiated too (our option); a weight whose base is 0 (an easy negative
        under the margin, a saturated positive) then has gradient 0, never NaN, for any
        exponent, fractional ones included.
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"sum"`` is the paper's total over samples and labels; ``"mean"`` (our default)
        divides it by the number of entries, the scale of
        :class:`torch.nn.BCEWithLogitsLoss`, so swapping the two keeps learning rates;
        ``"none"`` returns the (B, C) terms.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.losses import AsymmetricLoss
    >>> x, y = torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 0.0]])
    >>> bce = torch.nn.functional.binary_cross_entropy_with_logits(x, y)
    >>> asl = AsymmetricLoss(gamma_neg=0, gamma_pos=0, margin=0)(x, y)
    >>> bool(torch.isclose(asl, bce))
    True
    """

    def __init__(self, gamma_neg=4.0, gamma_pos=0.0, margin=0.05, eps=1e-8, detach_focusing=True, reduction="mean"):
        super().__init__()
        self.gamma_neg = check_number(gamma_neg, "gamma_neg", low=0)
        self.gamma_pos = check_number(gamma_pos, "gamma_pos", low=0)
        self.margin = check_number(margin, "margin", low=0, high=1, high_open=True)
        self.eps = check_number(eps, "eps", low=1e-30, high=1, high_open=True)
        self.detach_focusing = bool(detach_focusing)
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def forward(self, logits, targets):
        """The loss of (B, C) logits against (B, C) 0/1 targets.

        Parameters
        ----------
        logits : tensor of shape (n_samples, n_labels)
            Model outputs, one row per sample.
        targets : tensor of shape (n_samples, n_labels)
            0/1 (float or bool).

        Returns
        -------
        loss : tensor
            A scalar, or (B, C) with ``reduction="none"``.
        """
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
            raise ValueError(f"logits must be a (n_samples, n_labels) tensor, got {getattr(logits, 'shape', logits)!r}")
        if not isinstance(targets, torch.Tensor) or tuple(targets.shape) != tuple(logits.shape):
            raise ValueError(
                f"targets must be a tensor of the logits' shape {tuple(logits.shape)}, "
                f"got {tuple(getattr(targets, 'shape', ())) or targets!r}"
            )
        x = full_precision(logits)
        y = targets.to(x.dtype)
        log_eps = math.log(self.eps)
        p = torch.sigmoid(x)
        # log p = logsigmoid(x), clamped at log(eps): stable at any logit
        log_p = nn.functional.logsigmoid(x).clamp(min=log_eps)
        if self.margin > 0:
            p_m = (p - self.margin).clamp(min=0)
            log_1m = torch.log((1 - p_m).clamp(min=self.eps))  # 1 - p_m ≥ m: never near 0
        else:
            p_m = p
            log_1m = nn.functional.logsigmoid(-x).clamp(min=log_eps)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.detach_focusing):
            w_pos = _focusing(1 - p, self.gamma_pos)
            w_neg = _focusing(p_m, self.gamma_neg)
        terms = -(y * w_pos * log_p + (1 - y) * w_neg * log_1m)
        if self.reduction == "none":
            return terms
        return terms.sum() if self.reduction == "sum" else terms.mean()


def _focusing(base: torch.Tensor, gamma: float) -> torch.Tensor:
    """``base ** gamma`` (``base`` in [0, 1]) with a finite gradient everywhere.

    ``d/db b^γ = γ b^(γ-1)`` is infinite at ``b = 0`` for ``γ < 1``, and autograd would
    multiply it by 0 into NaN; the weight is 0 there (1 for ``γ = 0``), so its gradient
    is taken as 0.
    """
    if gamma == 0:
        return torch.ones_like(base)
    positive = base > 0
    safe = torch.where(positive, base, torch.ones_like(base))
    return torch.where(positive, safe**gamma, torch.zeros_like(base))
