"""Building a taxonomy: checking what was given and putting it in canonical order.

Each constructor of :class:`~skhier.Taxonomy` turns its input into two lists (node
identifiers and their parents, as the constructor takes them); :func:`canonical` checks
them (empty, duplicate, self edge, unknown parent, no root, several roots, cycle) and
returns the nodes in canonical depth-first order with their :class:`ParentStore`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from .._keys import _as_key, is_missing_label, label_key, node_sort_key
from ..exceptions import TaxonomyError
from ._storage import ParentStore
from ._storage import fmt_nodes as _fmt_nodes

__all__ = ["canonical", "from_parent_mapping", "from_edges", "from_nested_dict", "from_paths", "one_or_list"]


def canonical(nodes, parents) -> tuple[tuple, ParentStore]:
    """Check ``nodes`` and ``parents`` (the constructor's arguments); return the nodes in
    canonical order and their parents' storage."""
    nodes = [_as_key(n) for n in nodes]
    parents = list(parents)
    if len(nodes) == 0:
        raise TaxonomyError("the taxonomy is empty: it needs at least a root node")
    if "" in nodes:
        raise TaxonomyError(
            "a node is named '' (the empty string), which path arrays use as padding: a path "
            "[..., ''] would stop above that node; name it"
        )
    if len(parents) != len(nodes):
        raise TaxonomyError(
            f"nodes and parents must have the same length, got {len(nodes)} nodes "
            f"and {len(parents)} parents"
        )
    index: dict = {}
    dupes = []
    for i, n in enumerate(nodes):
        if n in index:
            dupes.append(n)
        index[n] = i
    if dupes:
        raise TaxonomyError(f"duplicate node(s): {_fmt_nodes(dict.fromkeys(dupes))}")
    parent_sets: list[list[int]] = []
    roots = []
    for i, (n, p) in enumerate(zip(nodes, parents)):
        if isinstance(p, (list, set, frozenset)):
            given = list(p)
            if isinstance(p, list) and len(given) != len(set(map(_as_key, given))):
                dup = next(q for q in given if [_as_key(x) for x in given].count(_as_key(q)) > 1)
                raise TaxonomyError(f"duplicate edge: ({_as_key(dup)!r}, {n!r})")
            given = sorted((_as_key(q) for q in given), key=node_sort_key)
        elif p is None or is_missing_label(p):
            given = []
        else:
            given = [_as_key(p)]
        if not given:
            parent_sets.append([])
            roots.append(n)
            continue
        idx = []
        for q in given:
            if q == n:
                raise TaxonomyError(f"self edge: node {n!r} is its own parent")
            if q not in index:
                raise TaxonomyError(f"node {n!r} has parent {q!r}, which is not a node")
            idx.append(index[q])
        parent_sets.append(idx)
    first = np.array([ps[0] if ps else -1 for ps in parent_sets], dtype=np.int64)
    if len(roots) == 0:
        cycle = _find_cycle(first, nodes)
        raise TaxonomyError(
            "the taxonomy has no root: every node has a parent "
            f"(cycle through {_fmt_nodes(cycle)})"
        )
    if len(roots) > 1:
        raise TaxonomyError(
            f"the taxonomy has several roots: {_fmt_nodes(roots)}; "
            "give them a common parent"
        )
    # Depth-first pre-order, children sorted by node_sort_key: the canonical order. A
    # node is entered once the walk has passed all its parents (topological).
    n = len(nodes)
    children: list[list[int]] = [[] for _ in range(n)]
    waiting = np.array([len(ps) for ps in parent_sets], dtype=np.int64)
    root = -1
    for i in sorted(range(n), key=lambda i: node_sort_key(nodes[i])):
        if not parent_sets[i]:
            root = i
        for q in parent_sets[i]:
            children[q].append(i)
    order = []
    stack = [root]
    while stack:
        v = stack.pop()
        order.append(v)
        ready = []
        for c in children[v]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
        stack.extend(reversed(ready))
    if len(order) != n:
        reached = np.zeros(n, dtype=bool)
        reached[order] = True
        # every node left out waits for a parent left out: following those parents cycles
        pending = np.array([next((q for q in ps if not reached[q]), -1) for ps in parent_sets])
        cycle = _find_cycle(np.where(reached, -1, pending), nodes)
        edge = f"; the edge ({cycle[1]!r}, {cycle[0]!r}) closes it" if len(cycle) > 1 else ""
        raise TaxonomyError(
            f"the taxonomy has a cycle through {_fmt_nodes(cycle)}{edge}: "
            "these nodes are not reachable from the root"
        )
    order = np.asarray(order, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    new_nodes = tuple(nodes[i] for i in order)
    return new_nodes, ParentStore([sorted(int(rank[q]) for q in parent_sets[i]) for i in order])


def from_parent_mapping(mapping: Mapping) -> tuple[list, list]:
    """Nodes and parents of a ``{child: parent}`` mapping."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"mapping must be a Mapping, got {type(mapping).__name__}")

    def keys(v):
        if v is None:
            return []
        return [_as_key(q) for q in v] if isinstance(v, (list, set, frozenset)) else [_as_key(v)]

    nodes = list(dict.fromkeys(_as_key(k) for k in mapping))
    parents = {_as_key(k): v for k, v in mapping.items()}
    named = [q for v in parents.values() for q in keys(v)]
    extra = [q for q in dict.fromkeys(named) if q not in parents]
    all_nodes = extra + nodes
    return all_nodes, [parents.get(n) for n in all_nodes]



def from_edges(edges: Iterable) -> tuple[list, list]:
    """Nodes and parents of ``(parent, child)`` edges or ``"parent/child"`` strings."""
    parents_of: dict = {}
    order: dict = {}
    for edge in edges:
        if isinstance(edge, str):
            parts = edge.split("/")
            edge = tuple(parts) if len(parts) == 2 and all(parts) else edge
        try:
            p, c = edge
        except (TypeError, ValueError):
            raise TaxonomyError(f"an edge must be a (parent, child) pair or a 'parent/child' string, got {edge!r}")
        p, c = _as_key(p), _as_key(c)
        if p == c:
            raise TaxonomyError(f"self edge: ({p!r}, {c!r})")
        known = parents_of.setdefault(c, [])
        if p in known:
            raise TaxonomyError(f"duplicate edge: ({p!r}, {c!r})")
        known.append(p)
        order.setdefault(p, None)
        order.setdefault(c, None)
    if not order:
        raise TaxonomyError("the taxonomy is empty: no edges were given")
    nodes = list(order)
    return nodes, [one_or_list(parents_of.get(n)) for n in nodes]


def from_nested_dict(tree: Mapping) -> tuple[list, list]:
    """Nodes and parents of a nested dict ``{root: {child: ...}}``."""
    if not isinstance(tree, Mapping):
        raise TypeError(f"tree must be a Mapping, got {type(tree).__name__}")
    if len(tree) != 1:
        raise TaxonomyError(
            f"a nested dict taxonomy has exactly one root key, got {len(tree)}: "
            f"{_fmt_nodes(tree)}"
        )
    nodes, parents = [], []
    stack = [(*next(iter(tree.items())), None)]  # iterative: any depth, no RecursionError
    while stack:
        node, sub, parent = stack.pop()
        nodes.append(node)
        parents.append(parent)
        if sub is None:
            continue
        if isinstance(sub, Mapping):
            items = list(sub.items())
        elif isinstance(sub, (list, tuple)):
            items = [(c, None) for c in sub]
        else:
            raise TypeError(f"children of {node!r} must be a dict, a list or None, got {sub!r}")
        stack.extend((c, g, node) for c, g in reversed(items))
    return nodes, parents


def from_paths(paths, root) -> tuple[list, list]:
    """Nodes and parents of root-first label paths (a name under several parents is its path)."""
    rows = _path_rows(paths)
    if not rows:
        raise TaxonomyError("the taxonomy is empty: no paths were given")
    root = _as_key(root)
    seen: dict = {}  # path tuple -> None (ordered)
    for r, row in enumerate(rows):
        for d in range(1, len(row) + 1):
            seen.setdefault(row[:d], None)
    name_paths: dict = {}
    for path in seen:
        name_paths.setdefault(path[-1], []).append(path)
    ident = {
        path: (path if len(name_paths[path[-1]]) > 1 or path[-1] == root else path[-1])
        for path in seen
    }
    nodes = [root] + [ident[p] for p in seen]
    parents = [None] + [ident[p[:-1]] if len(p) > 1 else root for p in seen]
    return nodes, parents


def one_or_list(parents):
    """``None`` for no parent, the parent for one, the list for several (constructor input)."""
    if not parents:
        return None
    return parents[0] if len(parents) == 1 else list(parents)


def _find_cycle(parent: np.ndarray, nodes: list) -> list:
    """Names along one cycle of a parent array where -1 marks nodes off any cycle."""
    for start in range(len(parent)):
        seen = {}
        v = start
        while v >= 0 and v not in seen:
            seen[v] = len(seen)
            v = int(parent[v])
        if v >= 0:
            cyc = list(seen)[seen[v] :]
            return [nodes[i] for i in cyc]
    return []


def _path_rows(paths) -> list[tuple]:
    """Rows of a padded path array as tuples of keys, padding stripped.

    Raises ``ValueError`` naming the row for a gap (a label after padding).
    """
    if hasattr(paths, "to_numpy"):
        paths = paths.to_numpy()
    arr = np.asarray(paths, dtype=object)
    if arr.ndim != 2:
        raise ValueError(f"paths must be 2-D (n_samples, n_levels), got shape {arr.shape}")
    rows = []
    for r, row in enumerate(arr):
        missing = [is_missing_label(v) for v in row]
        depth = missing.index(True) if True in missing else len(row)
        if not all(missing[depth:]):
            raise ValueError(
                f"path {r} has a label after padding: {list(row)!r}; pad only at the end"
            )
        if depth == 0:
            raise ValueError(f"path {r} is empty: every path needs at least one label")
        rows.append(tuple(label_key(v) for v in row[:depth]))
    return rows


# ---------------------------------------------------------------- torch-free tree rules
