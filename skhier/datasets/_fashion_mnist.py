"""Fashion-MNIST with the two-level hierarchy of H-CNN (Seo & Shin, 2019)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .._taxonomy import Taxonomy
from ..labels import LabelFormat, decode_labels
from ..utils.validation import check_number

__all__ = ["load_fashion_mnist", "FASHION_MNIST_HIERARCHIES"]

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
ENV_VAR = "SKHIER_FASHION_MNIST"

#: Fashion-MNIST class names in the order of the original integer labels 0-9.
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

#: Nested-dict hierarchies over the ten classes, by name.
FASHION_MNIST_HIERARCHIES = {
    "hcnn": {
        "root": {
            "Clothes": {
                "Tops": ["T-shirt/top", "Pullover", "Shirt"],
                "Bottoms": ["Trouser"],
                "Dresses": ["Dress"],
                "Outers": ["Coat"],
            },
            "Goods": {
                "Accessories": ["Bag"],
                "Shoes": ["Sandal", "Sneaker", "Ankle boot"],
            },
        }
    },
    "flat": {"root": list(CLASS_NAMES)},
}

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file (magic {magic:#x})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find_dir(data_home) -> Path:
    candidates = [data_home] if data_home is not None else [os.environ.get(ENV_VAR), DEFAULT_DIR]
    for cand in candidates:
        if cand and all((Path(cand) / f).is_file() for pair in _FILES.values() for f in pair):
            return Path(cand)
    where = data_home if data_home is not None else f"${ENV_VAR} or {DEFAULT_DIR}"
    raise FileNotFoundError(
        f"Fashion-MNIST was not found in {where}. Install it with "
        "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or download the four "
        "*-idx?-ubyte.gz files and pass their directory as data_home= or in "
        f"${ENV_VAR}."
    )


def load_fashion_mnist(
    hierarchy="hcnn",
    *,
    subset="train",
    label_format="path",
    data_home=None,
    n_samples=None,
    return_X_y=False,
):
    """Load Fashion-MNIST with a label hierarchy.

    Reads the original idx files from ``data_home``, else from the directory in the
    ``SKHIER_FASHION_MNIST`` environment variable, else from
    ``/usr/share/datasets/fashion-mnist/`` (Debian package ``dataset-fashion-mnist``).
    Nothing is downloaded.

    Parameters
    ----------
    hierarchy : {"hcnn", "flat"} or Taxonomy, default="hcnn"
        ``"hcnn"``: the H-CNN hierarchy (Seo & Shin, 2019), 2 coarse, 6 medium and 10 fine
        classes. ``"flat"``: the ten classes under the root. A :class:`Taxonomy` whose
        leaves are the ten class names is used as given.
    subset : {"train", "test", "all"}, default="train"
        The standard 60,000 / 10,000 split, or both (train first).
    label_format : {"path", "leaf", "indicator"}, default="path"
        Format of ``target`` (see :mod:`skhier.labels`).
    data_home : str or path-like, default=None
        Directory holding the four ``*-ubyte.gz`` files.
    n_samples : int, default=None
        Keep only the first ``n_samples`` images (for quick runs).
    return_X_y : bool, default=False
        Return ``(data, target, taxonomy)`` instead of a Bunch. **Three values, not
        scikit-learn's two**: the labels are only half the answer without their taxonomy
        (``X, y, tax = load_fashion_mnist(return_X_y=True)``; ``X, y = ...`` raises
        "too many values to unpack"). Every skhier loader and generator that returns
        ``X, y`` returns the taxonomy third, the same way.

    Returns
    -------
    data : Bunch
        ``data`` (n, 1, 28, 28) float32 in [0, 1], ``target`` in ``label_format``,
        ``taxonomy``, ``class_names`` and ``original_target`` (the integer labels 0-9).
    (data, target, taxonomy) : tuple
        If ``return_X_y`` is True: three values (the taxonomy third).

    Raises
    ------
    FileNotFoundError
        If the files are not found; the message says how to install them.

    Examples
    --------
    >>> from skhier.datasets import load_fashion_mnist
    >>> X, y, tax = load_fashion_mnist(n_samples=5, return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y[0].tolist()  # doctest: +SKIP
    ((5, 1, 28, 28), ['Goods', 'Shoes', 'Ankle boot'])
    """
    if isinstance(hierarchy, Taxonomy):
        taxonomy = hierarchy
    elif hierarchy in FASHION_MNIST_HIERARCHIES:
        taxonomy = Taxonomy.from_nested_dict(FASHION_MNIST_HIERARCHIES[hierarchy])
    else:
        raise ValueError(
            f"hierarchy must be a Taxonomy or one of {sorted(FASHION_MNIST_HIERARCHIES)}, "
            f"got {hierarchy!r}"
        )
    missing = [c for c in CLASS_NAMES if c not in taxonomy]
    if missing:
        raise ValueError(f"the taxonomy lacks Fashion-MNIST classes {missing}")
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}")
    check_number(n_samples, "n_samples", low=1, integer=True, allow_none=True)
    if label_format not in ("path", "leaf", "indicator"):
        raise ValueError(f"label_format must be 'path', 'leaf' or 'indicator', got {label_format!r}")
    directory = _find_dir(data_home)
    parts = ["train", "test"] if subset == "all" else [subset]
    images, labels = [], []
    for part in parts:
        img_file, lab_file = _FILES[part]
        images.append(_read_idx(directory / img_file))
        labels.append(_read_idx(directory / lab_file))
    images = np.concatenate(images)
    labels = np.concatenate(labels).astype(np.int64)
    if n_samples is not None:
        images, labels = images[:n_samples], labels[:n_samples]
    X = (images.astype(np.float32) / 255.0)[:, None, :, :]
    node_of_class = np.array([taxonomy.index(c) for c in CLASS_NAMES])
    nodes = node_of_class[labels]
    fmt = {"path": LabelFormat("path"), "leaf": LabelFormat("leaf"), "indicator": LabelFormat("indicator")}
    y = decode_labels(nodes, taxonomy, fmt[label_format])
    if return_X_y:
        return X, y, taxonomy
    return Bunch(
        data=X,
        target=y,
        taxonomy=taxonomy,
        class_names=CLASS_NAMES,
        original_target=labels,
        DESCR="Fashion-MNIST (Xiao et al., 2017) with the H-CNN hierarchy.",
    )
