"""How a taxonomy stores its edges: every node's parents, one storage for trees and DAGs.

A tree is the one-parent case of a DAG. :class:`ParentStore` keeps every node's parents
as CSR arrays (``ptr``, ``idx``: the parents of node ``i`` are
``idx[ptr[i]:ptr[i + 1]]``) and, when every node has at most one parent, also the plain
parent array of a tree. Everything that differs between the two shapes (depth, height,
ancestors, root paths, equality, pickling, the message that refuses a DAG) is decided
here, once, so the rest of :class:`~skhier.Taxonomy` reads one storage.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..exceptions import TaxonomyError

__all__ = ["ParentStore", "fmt_nodes", "readonly", "readonly_sparse"]

_MAX_LISTED = 5


def fmt_nodes(nodes) -> str:
    """The first few of ``nodes`` for a message, with the count when cut."""
    nodes = list(nodes)
    shown = ", ".join(repr(n) for n in nodes[:_MAX_LISTED])
    if len(nodes) > _MAX_LISTED:
        shown += f", ... ({len(nodes)} in all)"
    return shown


def readonly(a: np.ndarray) -> np.ndarray:
    """``a``, flagged read-only (a taxonomy's arrays are shared by every estimator)."""
    a.setflags(write=False)
    return a


def readonly_sparse(m: sp.csr_matrix) -> sp.csr_matrix:
    """``m`` with its three arrays flagged read-only."""
    for arr in (m.data, m.indices, m.indptr):
        arr.setflags(write=False)
    return m


class ParentStore:
    """Every node's parents (node indices in canonical order), tree or DAG.

    Parameters
    ----------
    parent_lists : list of list of int
        Sorted parent indices of every node; the root's list is empty.

    Attributes
    ----------
    ptr, idx : ndarray of int64
        CSR parents: node ``i``'s are ``idx[ptr[i]:ptr[i + 1]]``.
    single : ndarray of int64 or None
        The parent of every node (``-1`` for the root) when every node has at most one,
        else None (a DAG).
    """

    __slots__ = ("ptr", "idx", "single")

    def __init__(self, parent_lists: list):
        ptr = np.zeros(len(parent_lists) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(ps) for ps in parent_lists])
        idx = np.fromiter((q for ps in parent_lists for q in ps), dtype=np.int64, count=int(ptr[-1]))
        self._init(ptr, idx)

    def _init(self, ptr: np.ndarray, idx: np.ndarray) -> None:
        self.ptr, self.idx = readonly(ptr), readonly(idx)
        counts = np.diff(ptr)
        if counts.size and counts.max(initial=0) <= 1:
            single = np.full(counts.size, -1, dtype=np.int64)
            single[counts == 1] = idx
            self.single = readonly(single)
        else:
            self.single = None

    @classmethod
    def from_parent(cls, parent) -> ParentStore:
        """The storage of a tree given its parent array (``-1`` for the root)."""
        parent = np.asarray(parent, dtype=np.int64)
        has = parent >= 0
        ptr = np.zeros(parent.size + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(has)
        store = cls.__new__(cls)
        store._init(ptr, parent[has].copy())
        return store

    # ---------------------------------------------------------------- shape
    @property
    def is_tree(self) -> bool:
        """Whether every node has at most one parent."""
        return self.single is not None

    def require_tree(self, nodes: tuple, what: str) -> None:
        """Raise a :class:`TaxonomyError` naming ``what`` and a node with several parents."""
        if self.single is not None:
            return
        counts = np.diff(self.ptr)
        v = int(np.flatnonzero(counts > 1)[0])
        ps = [nodes[q] for q in self.idx[self.ptr[v] : self.ptr[v + 1]]]
        raise TaxonomyError(
            f"{what} needs a tree taxonomy, but this one is a DAG: node {nodes[v]!r} has "
            f"{len(ps)} parents ({fmt_nodes(ps)}), and {int((counts > 1).sum())} node(s) have several. "
            "On a DAG use the multi-label estimators (MultiLabelNodeClassifier, CHMCNNClassifier), "
            "CoherenceRefiner and the multi-label metrics"
        )

    def tree_parent(self, nodes: tuple, what: str) -> np.ndarray:
        """The parent array of a tree (``-1`` for the root); a DAG is refused naming ``what``."""
        self.require_tree(nodes, what)
        return self.single

    # ---------------------------------------------------------------- value
    def key(self) -> tuple:
        """What equality and the hash compare: the CSR arrays' bytes."""
        return (self.ptr.tobytes(), self.idx.tobytes())

    def __eq__(self, other):
        return isinstance(other, ParentStore) and self.key() == other.key()

    __hash__ = None  # compared through key(); the Taxonomy hashes

    def state(self):
        """Picklable state: the parent array of a tree, the parent lists of a DAG."""
        if self.single is not None:
            return self.single.tolist()
        return [self.idx[self.ptr[i] : self.ptr[i + 1]].tolist() for i in range(self.ptr.size - 1)]

    @classmethod
    def from_state(cls, state) -> ParentStore:
        """Inverse of :meth:`state`."""
        if len(state) and isinstance(state[0], (list, tuple)):
            return cls([list(ps) for ps in state])
        return cls.from_parent(state)

    # ---------------------------------------------------------------- derived
    def parents(self) -> tuple:
        """Parent indices of every node as read-only arrays (empty for the root)."""
        return tuple(readonly(self.idx[self.ptr[i] : self.ptr[i + 1]].copy()) for i in range(self.ptr.size - 1))

    def edges(self) -> tuple:
        """(child, parent) index arrays, by child in node order."""
        child = np.repeat(np.arange(self.ptr.size - 1, dtype=np.int64), np.diff(self.ptr))
        return readonly(child), readonly(self.idx.copy())

    def depth(self) -> np.ndarray:
        """Edges from the root to every node; the longest path in a DAG (parents come first)."""
        n = self.ptr.size - 1
        depth = [0] * n
        if self.single is not None:
            parent = self.single.tolist()
            for i in range(1, n):
                depth[i] = depth[parent[i]] + 1
        else:
            ptr, idx = self.ptr.tolist(), self.idx.tolist()
            for i in range(1, n):
                depth[i] = max(depth[q] for q in idx[ptr[i] : ptr[i + 1]]) + 1
        return readonly(np.asarray(depth, dtype=np.int64))

    def height(self) -> np.ndarray:
        """Longest number of edges from every node down to a leaf (children come last)."""
        n = self.ptr.size - 1
        height = [0] * n
        ptr, idx = self.ptr.tolist(), self.idx.tolist()
        for i in range(n - 1, 0, -1):
            h = height[i] + 1
            for q in idx[ptr[i] : ptr[i + 1]]:
                if height[q] < h:
                    height[q] = h
        return readonly(np.asarray(height, dtype=np.int64))

    def root_paths(self, depth: np.ndarray) -> np.ndarray:
        """Root-first path of every node of a tree, shape (n_nodes, max_depth + 1), padded -1."""
        n = self.ptr.size - 1
        paths = np.full((n, int(depth.max()) + 1), -1, dtype=np.int64)
        paths[0, 0] = 0
        for i in range(1, n):
            paths[i] = paths[self.single[i]]
            paths[i, depth[i]] = i
        return readonly(paths)

    def ancestors(self, depth: np.ndarray, levels: tuple, root_paths) -> sp.csr_matrix:
        """Sparse (n_nodes, n_nodes) indicator of every node's ancestors and itself.

        A tree reads its root paths (``root_paths()``, the taxonomy's cached ones); a DAG
        builds each level's rows as its parents' rows (a sparse product) plus itself, so
        the cost is the number of (node, ancestor) pairs, never n_nodes².
        """
        n = self.ptr.size - 1
        if self.single is not None:
            rows = np.repeat(np.arange(n), depth + 1)
            paths = root_paths()
            cols = paths[paths >= 0]
            m = sp.csr_matrix((np.ones(cols.size, dtype=np.float64), (rows, cols)), shape=(n, n))
            m.sort_indices()
            return readonly_sparse(m)
        child, par = self.edges()
        P = sp.csr_matrix((np.ones(child.size), (child, par)), shape=(n, n))
        A = sp.csr_matrix(([1.0], ([0], [0])), shape=(n, n))  # the root's row; the others fill in
        for lv in levels[1:]:  # parents sit on shallower levels: their rows are final
            block = (P[lv] @ A).tocsr()
            block.data[:] = 1.0
            block = (block + sp.csr_matrix((np.ones(lv.size), (np.arange(lv.size), lv)), shape=(lv.size, n))).tocsr()
            A = _replace_rows(A, lv, block)
        A.sort_indices()
        return readonly_sparse(A)


def _replace_rows(A: sp.csr_matrix, rows: np.ndarray, block: sp.csr_matrix) -> sp.csr_matrix:
    """``A`` with ``A[rows]`` replaced by ``block`` (rows of ``A`` there are empty)."""
    n = A.shape[0]
    scatter = sp.csr_matrix((np.ones(rows.size), (rows, np.arange(rows.size))), shape=(n, rows.size))
    return (A + scatter @ block).tocsr()
