"""Torch-free rules on node-score arrays: ``classes_`` order, top-down products, bottom-up sums.

The scikit-learn paths (local classifiers, refiners, metrics) use these without importing
torch; :mod:`skhier._tree` holds their torch twins (``tests/tree/test_faces.py`` keeps
the two equal).
"""

from __future__ import annotations

import numpy as np

from .._keys import node_sort_key
from ._core import Taxonomy

__all__ = ["sorted_classes", "top_down_product", "bottom_up_sum"]


def sorted_classes(taxonomy: Taxonomy, nodes) -> tuple[np.ndarray, np.ndarray]:
    """``classes_`` of a classifier whose possible answers are ``nodes`` (indices).

    Returns the identifiers sorted as scikit-learn sorts class labels (see
    :func:`~skhier._keys.node_sort_key`) and their node indices in that order. An
    all-int set of identifiers comes back as an int64 array, anything else as objects.
    """
    nodes = np.unique(np.asarray(nodes, dtype=np.int64))
    ids = [taxonomy.nodes[i] for i in nodes]
    order = sorted(range(len(ids)), key=lambda k: node_sort_key(ids[k]))
    ids = [ids[k] for k in order]
    if ids and all(isinstance(i, int) for i in ids):
        classes = np.asarray(ids, dtype=np.int64)
    else:
        classes = np.empty(len(ids), dtype=object)
        classes[:] = ids
    return classes, nodes[order]


def top_down_product(cond, taxonomy: Taxonomy):
    """Marginals from conditionals ``P(v | parent(v))``: products along root paths, in place.

    Works on numpy arrays and torch tensors of shape (n, n_nodes); the root column is set
    to 1.
    """
    cond[:, 0] = 1.0
    for lv in taxonomy.levels[1:]:
        lv = np.array(lv)  # a writable copy: torch refuses to index with read-only arrays
        cond[:, lv] = cond[:, taxonomy.parent[lv]] * cond[:, lv]
    return cond


def bottom_up_sum(end_scores: np.ndarray, taxonomy: Taxonomy) -> np.ndarray:
    """Numpy twin of ``_tree.bottom_up``: every column of a (n, n_nodes) array added into
    all its ancestors, children first. O(n × n_nodes) on a tree; on a DAG a node sums
    every descendant once, O(n × (node, ancestor) pairs). Not in place
    (``tests/tree/test_faces.py`` holds the twins equal)."""
    out = np.array(end_scores, dtype=np.float64)
    if not taxonomy.is_tree:
        return np.asarray(out @ taxonomy.ancestor_matrix)  # row d of the matrix: d and its ancestors
    for nodes in reversed(taxonomy.levels[1:]):
        np.add.at(out, (slice(None), taxonomy.parent[nodes]), out[:, nodes])
    return out
