"""Backbones: plain torch modules that map a batch to features.

They know nothing of scikit-learn or skorch. Any ``nn.Module`` that maps a batch to a
(B, C, H, W) feature map or (B, D) feature vectors can stand in for them (a torchvision
or timm model the user already has, with its classifier removed).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..utils.validation import check_number

__all__ = ["SmallCNN", "MLP", "feature_shape"]


class SmallCNN(nn.Module):
    """A small VGG-style CNN for 28×28 / 32×32 images, returning a feature map.

    ``n_blocks`` blocks of two 3×3 convolutions with batch norm and ReLU, each block but
    the last followed by 2×2 max pooling; widths double per block from ``width``. On
    28×28 inputs with the defaults the output is (B, 128, 7, 7): the keys and values of
    HCAM-CL's cross-attention, or a vector after global pooling.

    Parameters
    ----------
    in_channels : int, default=1
        Channels of the input images.
    width : int, default=32
        Channels of the first block.
    n_blocks : int, default=3
        Convolution blocks (each halves the spatial size but the first).
    dropout : float, default=0.1
        Spatial dropout after each pooling.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.backbones import SmallCNN
    >>> SmallCNN()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 128, 7, 7])
    """

    def __init__(self, in_channels=1, width=32, n_blocks=3, dropout=0.1):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("width", width), ("n_blocks", n_blocks)):
            check_number(value, name, low=1, integer=True)
        check_number(dropout, "dropout", low=0, high=1, high_open=True)
        layers = []
        c_in = in_channels
        for b in range(n_blocks):
            c_out = width * 2**b
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            if b < n_blocks - 1:
                layers += [nn.MaxPool2d(2), nn.Dropout2d(dropout)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.out_channels = c_in

    def forward(self, x):
        return self.features(x)


class MLP(nn.Module):
    """A multi-layer perceptron for feature vectors, returning (B, hidden) features.

    Parameters
    ----------
    in_features : int
        Width of the input vectors.
    hidden : int or sequence of int, default=256
        Width of each hidden layer.
    dropout : float, default=0.1
        Dropout probability.

    Examples
    --------
    >>> import torch
    >>> from skhier.neural.backbones import MLP
    >>> MLP(10, hidden=(32, 16))(torch.zeros(4, 10)).shape
    torch.Size([4, 16])
    """

    def __init__(self, in_features, hidden=256, dropout=0.1):
        super().__init__()
        widths = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
        if not widths or not all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w >= 1
                                 for w in widths):
            raise ValueError(f"hidden must be a positive int or a non-empty sequence of them, got {hidden!r}")
        check_number(dropout, "dropout", low=0, high=1, high_open=True)
        layers = []
        d = in_features
        for w in widths:
            layers += [nn.Linear(d, w), nn.LayerNorm(w), nn.GELU(), nn.Dropout(dropout)]
            d = w
        self.net = nn.Sequential(*layers)
        self.out_features = d

    def forward(self, x):
        return self.net(x.flatten(1))


@torch.no_grad()
def feature_shape(backbone: nn.Module, input_shape) -> tuple:
    """Shape of the backbone's output for one sample of ``input_shape`` (a dry run on CPU).

    Parameters
    ----------
    backbone : nn.Module
        The feature extractor: an ``nn.Module`` mapping a batch to features.
    input_shape : tuple of int
        Shape of one sample, e.g. (1, 28, 28).

    Returns
    -------
    shape : tuple of int
        (C, H, W) for a feature map, (D,) for feature vectors.

    Examples
    --------
    >>> from skhier.neural.backbones import SmallCNN, feature_shape
    >>> feature_shape(SmallCNN(), (1, 32, 32))
    (128, 8, 8)
    """
    was_training = backbone.training
    backbone.eval()
    try:
        out = backbone(torch.zeros(2, *input_shape))
    except RuntimeError as exc:
        if "output size" not in str(exc).lower() and "kernel size" not in str(exc).lower():
            raise
        raise ValueError(
            f"samples of shape {tuple(input_shape)} are too small for the backbone {type(backbone).__name__} "
            f"({exc}); give larger inputs, fewer pooling blocks (backbone__n_blocks for the CNN) or "
            "backbone='mlp'"
        ) from None
    finally:
        backbone.train(was_training)
    if not isinstance(out, torch.Tensor) or out.ndim not in (2, 4):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"a backbone must return a (B, C, H, W) feature map or (B, D) features, got {got}"
        )
    return tuple(out.shape[1:])
