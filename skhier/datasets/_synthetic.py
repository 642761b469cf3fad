"""Seeded synthetic hierarchical data: siblings are closer than cousins."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

from .._taxonomy import Taxonomy
from ..labels import LabelFormat, decode_labels
from ..utils.validation import check_number

__all__ = ["make_taxonomy", "make_hierarchical_classification"]


def make_taxonomy(n_levels=3, branching=3, *, random_state=None, prefix="n"):
    """A taxonomy with every leaf at depth ``n_levels``.

    Parameters
    ----------
    n_levels : int, default=3
        Depth of the leaves.
    branching : int or (int, int), default=3
        Children per internal node, or an inclusive (min, max) range drawn per node.
    random_state : int, RandomState instance or None, default=None
        Seed (or generator) of the randomness, for reproducible results.
    prefix : str, default="n"
        Nodes are named ``prefix`` followed by their path of child positions,
        e.g. ``"n0.2.1"``.

    Returns
    -------
    taxonomy : Taxonomy
        The taxonomy.

    Examples
    --------
    >>> from skhier.datasets import make_taxonomy
    >>> make_taxonomy(2, 3)
    Taxonomy(n_nodes=13, n_leaves=9, max_depth=2)
    """
    check_number(n_levels, "n_levels", low=1, integer=True)
    if isinstance(branching, numbers.Integral):
        lo = hi = int(branching)
    else:
        pair = tuple(branching) if isinstance(branching, (tuple, list)) else ()
        if len(pair) != 2 or not all(isinstance(b, numbers.Integral) for b in pair):
            raise ValueError(f"branching must be an int or an inclusive (min, max) pair of ints, got {branching!r}")
        lo, hi = (int(b) for b in pair)
    if lo < 1 or hi < lo:
        raise ValueError(f"branching must be >= 1 (or a range lo <= hi), got {branching!r}")
    rng = check_random_state(random_state)
    nodes, parents = ["root"], [None]
    frontier = [("root", "")]
    for _ in range(n_levels):
        nxt = []
        for name, code in frontier:
            for c in range(rng.randint(lo, hi + 1)):
                child_code = f"{code}.{c}" if code else str(c)
                child = prefix + child_code
                nodes.append(child)
                parents.append(name)
                nxt.append((child, child_code))
        frontier = nxt
    return Taxonomy(nodes, parents)


def make_hierarchical_classification(
    n_samples=1000,
    n_features=20,
    *,
    taxonomy=None,
    n_levels=3,
    branching=3,
    class_sep=1.0,
    decay=0.5,
    noise=1.0,
    weights=None,
    label_format="leaf",
    random_state=None,
):
    """Generate a classification problem whose classes follow a taxonomy.

    Every node gets a random direction; a leaf's cluster centre is the sum of the
    directions of its ancestors, scaled by ``class_sep * decay**(depth - 1)``. Siblings
    share every term but the last, so they are closer than cousins, and the coarse levels
    are easier to separate than the fine ones. Samples are Gaussian around their leaf's
    centre.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples.
    n_features : int, default=20
        Number of features of every sample.
    taxonomy : Taxonomy, default=None
        Labels are its leaves; ``None`` builds one with :func:`make_taxonomy`.
    n_levels, branching : int
        Shape of the generated taxonomy when ``taxonomy`` is None.
    class_sep : float, default=1.0
        Length of the first-level directions.
    decay : float, default=0.5
        Ratio of the direction lengths of consecutive levels.
    noise : float, default=1.0
        Standard deviation of the samples around their centre.
    weights : array-like of shape (n_leaves,), default=None
        Leaf proportions; uniform by default.
    label_format : {"leaf", "path", "indicator"}, default="leaf"
        The label format to answer in (``HierarchicalLabelEncoder.format_``).
    random_state : int, RandomState instance or None, default=None
        Seed (or generator) of the randomness, for reproducible results.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
        Features.
    y : ndarray
        Labels in ``label_format``.
    taxonomy : Taxonomy
        The taxonomy.

    Examples
    --------
    >>> from skhier.datasets import make_hierarchical_classification
    >>> X, y, tax = make_hierarchical_classification(100, 5, random_state=0)
    >>> X.shape, y.shape, tax.n_leaves
    ((100, 5), (100,), 27)
    """
    rng = check_random_state(random_state)
    if taxonomy is None:
        taxonomy = make_taxonomy(n_levels, branching, random_state=rng)
    elif not isinstance(taxonomy, Taxonomy):
        raise TypeError(f"taxonomy must be a Taxonomy, got {type(taxonomy).__name__}")
    if taxonomy.n_leaves < 2:
        raise ValueError("the taxonomy needs at least two leaves to classify")
    if label_format not in ("leaf", "path", "indicator"):
        raise ValueError(f"label_format must be 'leaf', 'path' or 'indicator', got {label_format!r}")
    directions = rng.standard_normal((taxonomy.n_nodes, n_features))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True) + 1e-12
    scale = class_sep * decay ** np.maximum(taxonomy.depth - 1, 0)
    scale[0] = 0.0
    offsets = directions * scale[:, None] * np.sqrt(n_features)
    centres = taxonomy.leaf_ancestor_matrix @ offsets
    if weights is None:
        p = None
    else:
        p = np.asarray(weights, dtype=float)
        if p.shape != (taxonomy.n_leaves,) or (p < 0).any():
            raise ValueError(f"weights must be {taxonomy.n_leaves} non-negative numbers")
        p = p / p.sum()
    leaf = rng.choice(taxonomy.n_leaves, size=n_samples, p=p)
    X = centres[leaf] + noise * rng.standard_normal((n_samples, n_features))
    y = decode_labels(taxonomy.leaves[leaf], taxonomy, LabelFormat(label_format))
    return X.astype(np.float32), y, taxonomy
