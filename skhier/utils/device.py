"""Where tensors go: the one device rule of every skhier estimator (torch imported on use)."""

from __future__ import annotations

__all__ = ["resolve_device"]


def resolve_device(device) -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is available, else ``"cpu"``; others unchanged.

    The one device rule of skhier: every estimator and refiner that takes ``device``
    defaults to ``"auto"`` and resolves it here.

    Parameters
    ----------
    device : str, torch.device or None
        Where tensors go (``"cpu"``, ``"cuda"``); ``"auto"`` picks CUDA when available;
        ``None`` is returned as is (a refiner then keeps tensor input where it is).

    Returns
    -------
    device : str or torch.device
        ``"auto"`` → ``"cuda"`` when a GPU is available, else ``"cpu"``; others unchanged.

    Examples
    --------
    >>> from skhier.utils.device import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    """
    if isinstance(device, str) and device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
