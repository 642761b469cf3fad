"""Batch augmentations that run on the device, for ``train_transform=``.

Plain torch modules, applied to whole training batches inside the training step, so
augmentation costs no host round trip.
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils.validation import Boolean, check_number

__all__ = ["RandomCropFlip", "RandomFeatureNoise"]


class RandomCropFlip(nn.Module):
    """Random translation by up to ``padding`` pixels (zero padding) and horizontal flip.

    Every sample of a (B, C, H, W) batch gets its own offsets and flip, drawn from
    torch's generator on the batch's device (seeded by the estimator's
    ``random_state``).

    Parameters
    ----------
    padding : int, default=2
        Largest translation, in pixels (0 or more).
    flip : bool, default=True
        Also flip half of the samples horizontally.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.augment import RandomCropFlip
    >>> RandomCropFlip(padding=2)(torch.ones(4, 1, 28, 28)).shape
    torch.Size([4, 1, 28, 28])
    """

    def __init__(self, padding=2, flip=True):
        super().__init__()
        self.padding = check_number(padding, "padding", low=0, integer=True)
        self.flip = Boolean().check(flip, "flip")

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"RandomCropFlip needs (B, C, H, W) batches, got shape {tuple(x.shape)}")
        b, c, h, w = x.shape
        p = self.padding
        if p > 0:
            padded = nn.functional.pad(x, (p, p, p, p))
            oy = torch.randint(0, 2 * p + 1, (b,), device=x.device)
            ox = torch.randint(0, 2 * p + 1, (b,), device=x.device)
            rows = (oy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (b, h, 1)
            cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (b, 1, w)
            idx = torch.arange(b, device=x.device)[:, None, None]
            x = padded.permute(0, 2, 3, 1)[idx, rows, cols].permute(0, 3, 1, 2)
        if self.flip:
            mask = torch.rand(b, device=x.device) < 0.5
            x = torch.where(mask[:, None, None, None], x.flip(-1), x)
        return x.contiguous(memory_format=torch.channels_last) if x.is_cuda and x.stride(1) == 1 else x.contiguous()


class RandomFeatureNoise(nn.Module):
    """Feature-vector augmentation: random feature dropout and Gaussian noise.

    Each entry is zeroed with probability ``drop`` (the survivors rescaled by
    ``1 / (1 − drop)``, as in dropout), then ``std`` times the batch's per-feature
    standard deviation of Gaussian noise is added. Our choice of views for contrastive
    learning on (B, D) inputs, where crops and flips do not apply.

    Parameters
    ----------
    drop : float, default=0.1
        Probability that a feature is zeroed, in [0, 1).
    std : float, default=0.1
        Noise standard deviation, in units of each feature's batch standard deviation
        (0 or more; a one-sample batch has no spread, and gets units of 1).

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.augment import RandomFeatureNoise
    >>> RandomFeatureNoise()(torch.ones(4, 10)).shape
    torch.Size([4, 10])
    """

    def __init__(self, drop=0.1, std=0.1):
        super().__init__()
        self.drop = float(check_number(drop, "drop", low=0, high=1, high_open=True))
        self.std = float(check_number(std, "std", low=0))

    def forward(self, x):
        if self.drop > 0:
            keep = torch.rand_like(x) >= self.drop
            x = x * keep / (1 - self.drop)
        if self.std > 0:
            scale = x.std(dim=0, keepdim=True) if x.shape[0] > 1 else torch.ones_like(x[:1])
            x = x + self.std * scale * torch.randn_like(x)
        return x
