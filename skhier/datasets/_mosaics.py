"""Fashion mosaics: several real Fashion-MNIST items per image, a multi-label hierarchy."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch, check_random_state

from .._taxonomy import Taxonomy
from ..labels import fill_ancestors
from ..utils.validation import check_number
from ._fashion_mnist import _FILES, CLASS_NAMES, FASHION_MNIST_HIERARCHIES, _find_dir, _read_idx

__all__ = ["make_fashion_mosaics", "OUTFITS"]

#: The "outfit" templates of ``co_occurrence="outfits"``: classes that tend to be seen
#: together, so that the labels of a mosaic are correlated.
OUTFITS = {
    "casual": ("T-shirt/top", "Trouser", "Sneaker", "Bag"),
    "office": ("Shirt", "Trouser", "Coat", "Ankle boot", "Bag"),
    "summer": ("Dress", "Sandal", "Bag"),
    "winter": ("Coat", "Pullover", "Trouser", "Ankle boot"),
    "sport": ("T-shirt/top", "Pullover", "Sneaker"),
}


def _templates(co_occurrence):
    if co_occurrence is None:
        return None
    if isinstance(co_occurrence, str):
        if co_occurrence != "outfits":
            raise ValueError(f"co_occurrence must be None, 'outfits' or a mapping of templates, got {co_occurrence!r}")
        co_occurrence = OUTFITS
    if not isinstance(co_occurrence, dict) or not co_occurrence:
        raise TypeError(
            f"co_occurrence must be None, 'outfits' or a non-empty dict of templates, got {co_occurrence!r}"
        )
    out = []
    for name, classes in co_occurrence.items():
        unknown = [c for c in classes if c not in CLASS_NAMES]
        if not classes or unknown:
            raise ValueError(
                f"co_occurrence template {name!r} must list Fashion-MNIST class names, "
                f"got unknown {unknown or classes!r}"
            )
        out.append(np.array([CLASS_NAMES.index(c) for c in classes]))
    return out


def make_fashion_mosaics(
    n_samples=1000,
    *,
    grid=2,
    min_items=1,
    max_items=None,
    co_occurrence="outfits",
    noise=0.1,
    subset="train",
    sparse=False,
    data_home=None,
    random_state=None,
    return_X_y=False,
):
    """Multi-label images: grids of real Fashion-MNIST items, labelled with node sets.

    Every canvas is a ``grid`` × ``grid`` mosaic of 28×28 cells (56×56 with the default
    2×2), of which ``k`` (uniform in ``min_items..max_items``) hold a Fashion-MNIST item
    and the others are empty (black). Its label is the set of the items' classes in the
    H-CNN taxonomy, closed under ancestors: a node-indicator row (root included), the
    multi-label format of :mod:`skhier.labels`. Items come from one split only
    (``subset``), so a train and a test set built from the two splits never share a
    source image; within a call, every class's images are used in a random order
    without replacement until the class runs out (then the order starts again).

    With ``co_occurrence="outfits"`` each canvas first draws an outfit of
    :data:`OUTFITS` (e.g. casual: T-shirt/top, Trouser, Sneaker, Bag) and each item
    comes from the outfit's classes, or with probability ``noise`` from any class, so
    labels co-occur the way a label-correlation graph can exploit. With ``None`` every
    item's class is uniform and independent.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples.
    grid : int, default=2
        Cells per side (canvas side ``28 * grid``).
    min_items, max_items : int, default=1 and ``grid**2``
        Range of the number of items on a canvas.
    co_occurrence : {"outfits"}, dict of name -> class names, or None, default="outfits"
        Templates of classes seen together, or independent classes.
    noise : float, default=0.1
        Probability that an item ignores its canvas's template.
    subset : {"train", "test"}, default="train"
        The Fashion-MNIST split the items come from.
    sparse : bool, default=False
        Return the labels as a scipy CSR matrix instead of a dense int8 array.
    data_home : str or path-like, default=None
        As in :func:`load_fashion_mnist`; nothing is downloaded.
    random_state : int, RandomState or None, default=None
        Makes the mosaics reproducible.
    return_X_y : bool, default=False
        Return ``(data, target, taxonomy)``.

    Returns
    -------
    data : Bunch
        ``data`` (n_samples, 1, 28·grid, 28·grid) float32 in [0, 1]; ``target`` the
        (n_samples, n_nodes) node indicator, ancestors and root set; ``taxonomy``;
        ``sources`` (n_samples, grid²): the source image of every cell in the split, -1
        when empty (cells in row-major order); ``item_classes`` (n_samples, grid²): its
        class 0-9, -1 when empty; ``subset``; ``class_names``.
    (data, target, taxonomy) : tuple
        If ``return_X_y`` is True.

    Notes
    -----
    Label statistics of the defaults (2×2, 1-4 items, outfits, noise 0.1), measured on
    10,000 training canvases (``random_state=0``): 2.50 items and 1.97 distinct classes
    per canvas; label cardinality 5.34 non-root nodes of the 18 (2 coarse, 6 medium, 10
    fine); "Clothes" on 80% of the canvases, "Goods" on 68%, both on 49%; the rarest
    class, Shirt, on 10%.

    Examples
    --------
    >>> from skhier.datasets import make_fashion_mosaics
    >>> X, Y, tax = make_fashion_mosaics(8, random_state=0, return_X_y=True)  # doctest: +SKIP
    >>> X.shape, Y.shape  # doctest: +SKIP
    ((8, 1, 56, 56), (8, 19))
    """
    n_samples = check_number(n_samples, "n_samples", low=1, integer=True)
    grid = check_number(grid, "grid", low=1, integer=True)
    cells = grid * grid
    max_items = cells if max_items is None else check_number(max_items, "max_items", low=1, integer=True)
    min_items = check_number(min_items, "min_items", low=0, integer=True)
    if not min_items <= max_items <= cells:
        raise ValueError(
            f"need 0 <= min_items <= max_items <= grid**2 = {cells}, got min_items={min_items}, max_items={max_items}"
        )
    noise = check_number(noise, "noise", low=0, high=1)
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test' (never both: mosaics of one split), got {subset!r}")
    templates = _templates(co_occurrence)
    rng = check_random_state(random_state)

    directory = _find_dir(data_home)
    img_file, lab_file = _FILES[subset]
    images = _read_idx(directory / img_file)
    labels = _read_idx(directory / lab_file).astype(np.int64)

    # per-class pools, each consumed in a random order without replacement
    pools = [rng.permutation(np.flatnonzero(labels == c)) for c in range(len(CLASS_NAMES))]
    cursor = np.zeros(len(CLASS_NAMES), dtype=np.int64)

    def draw(c):
        pool = pools[c]
        if pool.size == 0:
            raise ValueError(f"the {subset} split has no image of class {CLASS_NAMES[c]!r}")
        i = pool[cursor[c] % pool.size]
        cursor[c] += 1
        return i

    n_items = rng.randint(min_items, max_items + 1, size=n_samples)
    items = np.full((n_samples, cells), -1, dtype=np.int64)
    item_classes = np.full((n_samples, cells), -1, dtype=np.int64)
    for s in range(n_samples):
        where = rng.choice(cells, size=n_items[s], replace=False)
        template = templates[rng.randint(len(templates))] if templates is not None else None
        for cell in where:
            if template is None or rng.rand() < noise:
                c = rng.randint(len(CLASS_NAMES))
            else:
                c = template[rng.randint(template.size)]
            item_classes[s, cell] = c
            items[s, cell] = draw(c)

    side = 28 * grid
    canvas = np.zeros((n_samples, side, side), dtype=np.uint8)
    for cell in range(cells):
        r, q = divmod(cell, grid)
        full = items[:, cell] >= 0
        canvas[full, 28 * r : 28 * (r + 1), 28 * q : 28 * (q + 1)] = images[items[full, cell]]
    X = (canvas.astype(np.float32) / 255.0)[:, None]

    taxonomy = Taxonomy.from_nested_dict(FASHION_MNIST_HIERARCHIES["hcnn"])
    node_of_class = np.array([taxonomy.index(c) for c in CLASS_NAMES])
    rows, cols = np.nonzero(item_classes >= 0)
    leaf_hits = sp.csr_matrix(
        (np.ones(rows.size), (rows, node_of_class[item_classes[rows, cols]])), shape=(n_samples, taxonomy.n_nodes)
    )
    Y = fill_ancestors(leaf_hits, taxonomy)  # int8, the root set on every row
    Y = Y if sparse else Y.toarray()
    if return_X_y:
        return X, Y, taxonomy
    return Bunch(
        data=X,
        target=Y,
        taxonomy=taxonomy,
        sources=items,
        item_classes=item_classes,
        subset=subset,
        class_names=CLASS_NAMES,
        DESCR=f"Fashion mosaics: {grid}x{grid} grids of Fashion-MNIST {subset} items, node-set labels (H-CNN).",
    )
