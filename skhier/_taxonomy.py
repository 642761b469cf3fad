"""The :class:`Taxonomy`: one immutable rooted tree shared by every skhier object."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from ._keys import _as_key, _scalar_key, check_node_indices, is_missing_label, label_key, node_sort_key  # noqa: F401
from ._validation import check_number
from .exceptions import TaxonomyError

__all__ = ["Taxonomy"]

_MAX_LISTED = 5


def _fmt_nodes(nodes) -> str:
    nodes = list(nodes)
    shown = ", ".join(repr(n) for n in nodes[:_MAX_LISTED])
    if len(nodes) > _MAX_LISTED:
        shown += f", ... ({len(nodes)} in all)"
    return shown


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _readonly_sparse(m: sp.csr_matrix) -> sp.csr_matrix:
    for arr in (m.data, m.indices, m.indptr):
        arr.setflags(write=False)
    return m


class Taxonomy:
    """An immutable rooted tree — or directed acyclic graph — of class labels.

    A taxonomy is one value shared by every estimator, refiner and scorer in skhier. It is
    stored as its node identifiers in depth-first (pre-order) order, root first, and the
    index of each node's parent. Every matrix a method needs (ancestors, adjacency, tree
    distances, root-first paths) is derived from these once, on first use, and cached.

    A node may have several parents (an ontology such as the Gene Ontology: a DAG with
    one root). Then :attr:`is_tree` is False, :attr:`parents` lists every node's parents,
    ancestors are all ancestors over every path and depth is the longest path from the
    root; what needs a unique path per node (:attr:`parent`, :attr:`path_indices`,
    :meth:`lca`, :meth:`distance`, path labels, single-label estimators) refuses a DAG
    with a :class:`~skhier.exceptions.TaxonomyError` naming the operation.

    Taxonomies compare equal by value (same nodes, same parents, same order), hash, pickle
    cheaply and are kept as-is by :func:`sklearn.base.clone`, so an estimator can hold one
    as a parameter and every ``GridSearchCV`` copy shares it.

    Parameters
    ----------
    nodes : sequence of str or int
        Unique node identifiers. A tuple of names identifies a node by its root-first path
        (see Notes).
    parents : sequence
        ``parents[i]`` is the identifier of the parent of ``nodes[i]``, ``None`` for the
        root, or a list (or set) of identifiers for a node with several parents. Exactly
        one node has no parent.

    Attributes
    ----------
    nodes : tuple
        Node identifiers in depth-first pre-order; column ``j`` of every node-score matrix
        belongs to ``nodes[j]``.
    names : tuple
        Display name of every node (the last element of a tuple identifier).
    parent : ndarray of shape (n_nodes,)
        Parent index of every node, ``-1`` for the root.

    See Also
    --------
    skhier.labels.HierarchicalLabelEncoder : reads ``y`` in every label format.

    Notes
    -----
    **Node identity.** Every node has one identifier, unique in the taxonomy. When a
    taxonomy is built with :meth:`from_paths`, the same name under two different parents
    is two different nodes: a name that occurs once is its own identifier, and a name that
    occurs under several parents is identified by its root-first path of names, without
    the root, e.g. ``("Clothes", "Other")`` and ``("Goods", "Other")``. Metrics always
    compare nodes, never bare names, so such nodes are never confused.

    **Node order.** Nodes are kept in depth-first pre-order with the children of every
    node sorted (canonical order): by display name, ints numerically before strs in
    code-point order, as scikit-learn sorts class labels; a plain name before a tuple
    path with the same last name. The order never depends on how the tree was given, so
    the same tree built by any constructor, from labels in any row order, is the same
    value with the same node-score columns (see :func:`node_sort_key`). In a DAG a node
    enters the pre-order when the walk has passed all its parents, so every parent comes
    before its children (a topological order; for a tree, the same pre-order).

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> tax = Taxonomy.from_parent_mapping(
    ...     {"A": "root", "B": "root", "A1": "A", "A2": "A", "B1": "B"})
    >>> tax
    Taxonomy(n_nodes=6, n_leaves=3, max_depth=2)
    >>> print(tax)
    root
    ├── A
    │   ├── A1
    │   └── A2
    └── B
        └── B1
    >>> tax.leaf_names
    ('A1', 'A2', 'B1')
    >>> tax.ancestors_of("A2")
    ('root', 'A', 'A2')
    """

    def __init__(self, nodes: Sequence, parents: Sequence):
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
        if all(len(ps) <= 1 for ps in parent_sets):
            new_parent = np.where(first[order] < 0, -1, rank[np.maximum(first[order], 0)])
            self._set(new_nodes, new_parent)
        else:
            self._set_dag(new_nodes, [sorted(int(rank[q]) for q in parent_sets[i]) for i in order])

    # ------------------------------------------------------------------ construction
    def _set(self, nodes: tuple, parent: np.ndarray) -> None:
        parent = np.asarray(parent, dtype=np.int64)
        object.__setattr__(self, "_nodes", nodes)
        object.__setattr__(self, "_parent", _readonly(parent))
        object.__setattr__(self, "_pptr", None)
        object.__setattr__(self, "_pidx", None)
        object.__setattr__(self, "_index", {v: i for i, v in enumerate(nodes)})
        object.__setattr__(self, "_hash", hash((nodes, parent.tobytes())))

    def _set_dag(self, nodes: tuple, parent_lists: list) -> None:
        """A DAG: every node's parents as CSR (``_pptr``, ``_pidx``), no ``_parent`` array."""
        ptr = np.zeros(len(nodes) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(ps) for ps in parent_lists])
        idx = np.fromiter((q for ps in parent_lists for q in ps), dtype=np.int64, count=int(ptr[-1]))
        object.__setattr__(self, "_nodes", nodes)
        object.__setattr__(self, "_parent", None)
        object.__setattr__(self, "_pptr", _readonly(ptr))
        object.__setattr__(self, "_pidx", _readonly(idx))
        object.__setattr__(self, "_index", {v: i for i, v in enumerate(nodes)})
        object.__setattr__(self, "_hash", hash((nodes, ptr.tobytes(), idx.tobytes())))

    @classmethod
    def _from_canonical(cls, nodes: tuple, parent) -> Taxonomy:
        """Rebuild from arrays already in canonical order (pickling, subtrees).

        ``parent`` is the parent index array of a tree, or a list of parent index lists
        (a DAG).
        """
        self = cls.__new__(cls)
        if not isinstance(parent, np.ndarray) and len(parent) and isinstance(parent[0], (list, tuple)):
            self._set_dag(tuple(nodes), [list(ps) for ps in parent])
        else:
            self._set(tuple(nodes), np.asarray(parent, dtype=np.int64).copy())
        return self

    @classmethod
    def from_parent_mapping(cls, mapping: Mapping) -> Taxonomy:
        """Build a taxonomy from a ``{child: parent}`` mapping.

        The root is the one node that is never a child (or that maps to ``None``).

        Parameters
        ----------
        mapping : mapping
            Each child's parent, or a list (or set) of its parents for a node with several
            (a DAG). A tuple is one parent identified by its path.

        Returns
        -------
        taxonomy : Taxonomy

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_parent_mapping({"cat": "animal", "dog": "animal"}).root_name
        'animal'
        >>> dag = Taxonomy.from_parent_mapping({"pet": "animal", "wild": "animal", "cat": ["pet", "wild"]})
        >>> dag.is_tree, dag.ancestors_of("cat")
        (False, ('animal', 'pet', 'wild', 'cat'))
        """
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
        return cls(all_nodes, [parents.get(n) for n in all_nodes])

    @classmethod
    def from_edges(cls, edges: Iterable) -> Taxonomy:
        """Build a taxonomy from ``(parent, child)`` edges.

        A child may appear under several parents (a DAG, as the Gene Ontology's
        ``parent/child`` edges); a string ``"parent/child"`` is read as one edge.

        Parameters
        ----------
        edges : iterable of (parent, child) pairs or "parent/child" strings

        Returns
        -------
        taxonomy : Taxonomy

        Raises
        ------
        TaxonomyError
            For a duplicate or self edge, a cycle, several roots or no edge at all.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_edges([("animal", "cat"), ("animal", "dog")]).leaf_names
        ('cat', 'dog')
        >>> Taxonomy.from_edges(["root/GO:1", "root/GO:2", "GO:1/GO:3", "GO:2/GO:3"]).is_tree
        False
        """
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
        return cls(nodes, [_one_or_list(parents_of.get(n)) for n in nodes])

    @classmethod
    def from_nested_dict(cls, tree: Mapping) -> Taxonomy:
        """Build a taxonomy from a nested dict ``{root: {child: {grandchild: ...}}}``.

        A leaf's value may be ``None``, an empty dict, or its parent's value may be a list
        of leaf names.

        Parameters
        ----------
        tree : mapping with a single key, the root

        Returns
        -------
        taxonomy : Taxonomy

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_nested_dict({"all": {"A": ["a1", "a2"], "B": None}})
        >>> tax.nodes
        ('all', 'A', 'a1', 'a2', 'B')
        """
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
        return cls(nodes, parents)

    @classmethod
    def from_paths(cls, paths, *, root="root") -> Taxonomy:
        """Build a taxonomy from root-first label paths, one row per sample.

        Parameters
        ----------
        paths : array-like of shape (n_samples, n_levels)
            Row ``i`` is the path of labels of sample ``i`` from the first level below the
            root down. Rows of variable depth are padded at the end with ``""``, ``None``
            or NaN. This is the format HiClass users have.
        root : str or int, default="root"
            Identifier of the root, which paths leave out. If it also occurs as a name in
            ``paths``, that name is identified by its path.

        Returns
        -------
        taxonomy : Taxonomy

        Notes
        -----
        A name that occurs under a single parent identifies its node. A name that occurs
        under several parents (or that equals ``root``) is several nodes, each identified
        by its root-first path, a tuple of names.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_paths([["Clothes", "Other"], ["Goods", "Other"],
        ...                            ["Goods", "Bag"]])
        >>> tax.nodes
        ('root', 'Clothes', ('Clothes', 'Other'), 'Goods', 'Bag', ('Goods', 'Other'))
        >>> tax.names
        ('root', 'Clothes', 'Other', 'Goods', 'Bag', 'Other')
        """
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
        return cls(nodes, parents)

    @classmethod
    def from_networkx(cls, graph) -> Taxonomy:
        """Build a taxonomy from a ``networkx.DiGraph`` with edges parent → child.

        Parameters
        ----------
        graph : networkx.DiGraph

        Returns
        -------
        taxonomy : Taxonomy

        Examples
        --------
        >>> import networkx as nx
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_networkx(nx.DiGraph([("r", "a"), ("r", "b")])).leaf_names
        ('a', 'b')
        """
        if not (hasattr(graph, "edges") and hasattr(graph, "nodes")):
            raise TypeError(f"expected a networkx DiGraph, got {type(graph).__name__}")
        if hasattr(graph, "is_directed") and not graph.is_directed():
            raise TaxonomyError("the graph must be directed, with edges parent -> child")
        if graph.number_of_nodes() == 1:
            (only,) = graph.nodes
            return cls([only], [None])
        isolated = [n for n in graph.nodes if graph.degree(n) == 0]
        if isolated:
            raise TaxonomyError(f"node(s) with no edge: {_fmt_nodes(isolated)}")
        return cls.from_edges(list(graph.edges))

    @classmethod
    def from_obo(cls, source, *, relations=("is_a",), root="root") -> Taxonomy:
        """Read an ontology in OBO format (the Gene Ontology's, HPO's): a DAG of term ids.

        Every ``[Term]`` stanza is a node, identified by its ``id``; ``is_a: PARENT`` lines
        are edges (parent → term), and so are ``relationship: TYPE PARENT`` lines whose
        type is in ``relations`` (``("is_a", "part_of")`` adds GO's part-of links).
        Obsolete terms (``is_obsolete: true``) and other stanzas (``[Typedef]``) are left
        out; ``!`` starts a comment. An ontology with several top terms (GO's three
        namespaces) gets a common parent named ``root``.

        Parameters
        ----------
        source : str, path-like or file
            OBO text, a path to an ``.obo`` file, or an open text file.
        relations : sequence of str, default=("is_a",)
            Relation types read as edges.
        root : str, default="root"
            Name of the added common parent when there are several top terms.

        Returns
        -------
        taxonomy : Taxonomy

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> obo = '''
        ... [Term]
        ... id: T:1
        ... name: top
        ...
        ... [Term]
        ... id: T:2
        ... is_a: T:1 ! top
        ...
        ... [Term]
        ... id: T:3
        ... is_a: T:1
        ... relationship: part_of T:2
        ... '''
        >>> Taxonomy.from_obo(obo).is_tree, Taxonomy.from_obo(obo, relations=("is_a", "part_of")).is_tree
        (True, False)
        """
        if hasattr(source, "read"):
            text = source.read()
        else:
            text = str(source)
            if not text.strip():
                raise ValueError("source is empty: from_obo needs OBO text, a path to an .obo file or an open file")
            if "\n" not in text and "[Term]" not in text:
                with open(text, encoding="utf-8") as f:
                    text = f.read()
        relations = tuple(relations)
        unknown_types = [r for r in relations if not isinstance(r, str)]
        if unknown_types:
            raise TypeError(f"relations must be strings, got {unknown_types!r}")
        terms: dict = {}
        retired: set = set()
        stanza, current, obsolete = None, None, False

        def close():
            if stanza == "Term" and current is not None:
                if obsolete:
                    retired.add(current["id"])
                else:
                    terms[current["id"]] = current["parents"]

        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.split("!", 1)[0].strip()
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                close()
                stanza, current, obsolete = line[1:-1], None, False
                continue
            if stanza != "Term":
                continue
            tag, _, value = line.partition(":")
            tag, value = tag.strip(), value.strip()
            if tag == "id":
                current = {"id": value, "parents": []}
            elif current is None:
                raise TaxonomyError(f"OBO line {lineno}: {raw.strip()!r} comes before the stanza's id")
            elif tag == "is_obsolete":
                obsolete = value.lower() == "true"
            elif tag == "is_a" and "is_a" in relations:
                current["parents"].append(value.split()[0])
            elif tag == "relationship":
                parts = value.split()
                if len(parts) < 2:
                    raise TaxonomyError(f"OBO line {lineno}: relationship needs a type and a term, got {value!r}")
                if parts[0] in relations:
                    current["parents"].append(parts[1])
        close()
        if not terms:
            raise TaxonomyError("the OBO text has no [Term] stanza")
        edges = []
        for term, parents in terms.items():
            for p in dict.fromkeys(parents):
                if p not in terms:
                    why = "an obsolete term" if p in retired else "not a term of this ontology"
                    raise TaxonomyError(f"OBO edge ({p!r}, {term!r}): the parent {p!r} is {why}")
                edges.append((p, term))
        children = {c for _, c in edges}
        tops = [t for t in terms if t not in children]
        if len(tops) > 1:
            edges += [(root, t) for t in tops]
        if not edges:
            return cls([tops[0]], [None])
        return cls.from_edges(edges)

    def to_networkx(self):
        """Return a ``networkx.DiGraph`` with edges parent → child.

        Returns
        -------
        graph : networkx.DiGraph

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_edges([("r", "a")]).to_networkx().number_of_edges()
        1
        """
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self._nodes)
        child, par = self.edges
        g.add_edges_from((self._nodes[p], self._nodes[c]) for c, p in zip(child.tolist(), par.tolist()))
        return g

    def to_json(self) -> str:
        """Serialise to a JSON string that :meth:`from_json` reads back.

        Returns
        -------
        text : str

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_edges([("r", "a"), ("r", 1)])
        >>> Taxonomy.from_json(tax.to_json()) == tax
        True
        """
        parents = [_one_or_list([self._nodes[q] for q in ps]) for ps in self.parents]
        return json.dumps({"nodes": list(self._nodes), "parents": parents})

    @classmethod
    def from_json(cls, text: str) -> Taxonomy:
        """Read a taxonomy written by :meth:`to_json`.

        Parameters
        ----------
        text : str

        Returns
        -------
        taxonomy : Taxonomy

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_json('{"nodes": ["r", "a"], "parents": [null, "r"]}').nodes
        ('r', 'a')
        """
        data = json.loads(text)
        if not isinstance(data, dict) or not {"nodes", "parents"} <= set(data):
            raise TaxonomyError("taxonomy JSON must be an object with 'nodes' and 'parents'")
        return cls(data["nodes"], data["parents"])

    # ------------------------------------------------------------------ value semantics
    def __setattr__(self, name, value):
        raise AttributeError("Taxonomy is immutable")

    def __delattr__(self, name):
        raise AttributeError("Taxonomy is immutable")

    def __eq__(self, other):
        if self is other:
            return True
        if not isinstance(other, Taxonomy):
            return NotImplemented
        if self._hash != other._hash or self._nodes != other._nodes or self.is_tree != other.is_tree:
            return False
        if self.is_tree:
            return bool(np.array_equal(self._parent, other._parent))
        return bool(np.array_equal(self._pptr, other._pptr) and np.array_equal(self._pidx, other._pidx))

    def __hash__(self):
        return self._hash

    def __reduce__(self):
        if self.is_tree:
            return (Taxonomy._from_canonical, (self._nodes, self._parent.tolist()))
        return (Taxonomy._from_canonical, (self._nodes, [ps.tolist() for ps in self.parents]))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __len__(self):
        return len(self._nodes)

    def __contains__(self, node):
        try:
            return _as_key(node) in self._index
        except TypeError:
            return False

    def __iter__(self):
        return iter(self._nodes)

    def __repr__(self):
        dag = "" if self.is_tree else f", n_edges={self.edges[0].size} (DAG)"
        return (
            f"Taxonomy(n_nodes={self.n_nodes}, n_leaves={self.n_leaves}, "
            f"max_depth={self.max_depth}{dag})"
        )

    def __str__(self):
        return self.to_text()

    def to_text(self, max_lines: int = 200) -> str:
        """Draw the tree as text, one node a line.

        Parameters
        ----------
        max_lines : int, default=200
            Lines drawn before the drawing is cut with a summary line.

        Returns
        -------
        text : str

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> print(Taxonomy.from_edges([("r", "a"), ("a", "b")]).to_text())
        r
        └── a
            └── b
        """
        if not self.is_tree:
            return self._dag_text(max_lines)
        lines = [str(self.names[0])]
        # the prefix of a node's children depends on whether each ancestor is a last child
        last = np.zeros(self.n_nodes, dtype=bool)
        for kids in self.children:
            if len(kids):
                last[kids[-1]] = True
        for v in range(1, self.n_nodes):
            if len(lines) >= max_lines:
                lines.append(f"... ({self.n_nodes - v} more nodes)")
                break
            chain = self.path_indices[v][1 : self.depth[v] + 1]
            prefix = "".join("    " if last[a] else "│   " for a in chain[:-1])
            lines.append(prefix + ("└── " if last[v] else "├── ") + str(self.names[v]))
        return "\n".join(lines)

    def _dag_text(self, max_lines: int) -> str:
        """A DAG drawn as its depth-first walk: a node met again is marked ``(*)`` and not expanded."""
        lines = [str(self.names[0])]
        seen = {0}
        stack = [(c, "", i == len(self.children[0]) - 1) for i, c in reversed(list(enumerate(self.children[0])))]
        while stack:
            if len(lines) >= max_lines:
                lines.append(f"... (cut at {max_lines} lines; {self.n_nodes} nodes)")
                break
            v, prefix, is_last = stack.pop()
            again = v in seen
            mark = " (*)" if again else ""
            lines.append(prefix + ("└── " if is_last else "├── ") + str(self.names[v]) + mark)
            if again:
                continue
            seen.add(v)
            kids = self.children[v]
            sub = prefix + ("    " if is_last else "│   ")
            stack.extend((c, sub, i == len(kids) - 1) for i, c in reversed(list(enumerate(kids))))
        return "\n".join(lines)

    # ------------------------------------------------------------------ lookup
    @property
    def nodes(self) -> tuple:
        """Node identifiers in depth-first pre-order, root first."""
        return self._nodes

    @property
    def parent(self) -> np.ndarray:
        """Parent index of every node (``-1`` for the root), read-only; a tree's only.

        Raises
        ------
        TaxonomyError
            On a DAG, where a node may have several parents: use :attr:`parents`.
        """
        self._require_tree("Taxonomy.parent (one parent per node; use Taxonomy.parents)")
        return self._parent

    @property
    def is_tree(self) -> bool:
        """Whether every node has at most one parent (False for a DAG such as GO)."""
        return self._parent is not None

    def _require_tree(self, what: str) -> None:
        """Raise a :class:`TaxonomyError` naming ``what`` when this taxonomy is a DAG."""
        if self._parent is None:
            counts = np.diff(self._pptr)
            v = int(np.flatnonzero(counts > 1)[0])
            ps = [self._nodes[q] for q in self._pidx[self._pptr[v] : self._pptr[v + 1]]]
            raise TaxonomyError(
                f"{what} needs a tree taxonomy, but this one is a DAG: node {self._nodes[v]!r} has "
                f"{len(ps)} parents ({_fmt_nodes(ps)}), and {int((counts > 1).sum())} node(s) have several. "
                "On a DAG use the multi-label estimators (MultiLabelNodeClassifier, CHMCNNClassifier), "
                "CoherenceRefiner and the multi-label metrics"
            )

    @cached_property
    def parents(self) -> tuple:
        """Parent indices of every node as a tuple of read-only arrays (empty for the root)."""
        if self._parent is not None:
            return tuple(_readonly(np.array([p] if p >= 0 else [], dtype=np.int64)) for p in self._parent)
        return tuple(_readonly(self._pidx[self._pptr[i] : self._pptr[i + 1]].copy()) for i in range(self.n_nodes))

    @cached_property
    def edges(self) -> tuple:
        """Every (child, parent) edge as two read-only index arrays, by child in node order."""
        if self._parent is not None:
            child = np.arange(1, self.n_nodes, dtype=np.int64)
            return _readonly(child), _readonly(self._parent[1:].copy())
        child = np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self._pptr))
        return _readonly(child), _readonly(self._pidx.copy())

    @property
    def n_nodes(self) -> int:
        """Number of nodes, root included."""
        return len(self._nodes)

    @property
    def root(self) -> int:
        """Index of the root: always 0."""
        return 0

    @property
    def root_name(self):
        """Identifier of the root."""
        return self._nodes[0]

    @cached_property
    def names(self) -> tuple:
        """Display name of every node: the identifier, or the last name of a tuple path."""
        return tuple(n[-1] if isinstance(n, tuple) else n for n in self._nodes)

    @cached_property
    def _name_array(self) -> np.ndarray:
        """:attr:`names` as a read-only object array (vectorised label checks)."""
        out = np.empty(self.n_nodes, dtype=object)
        out[:] = list(self.names)
        return _readonly(out)

    @cached_property
    def _ancestor_name_arrays(self) -> tuple:
        """Per path position ``k``: the display name of every node's ancestor at depth ``k``
        (object arrays; ``None`` below a node's depth); vectorised path checks."""
        names = np.append(self._name_array, None)  # index -1 (no ancestor) reads None
        return tuple(_readonly(names[self.path_indices[:, k]]) for k in range(self.path_indices.shape[1]))

    @cached_property
    def _has_int_names(self) -> bool:
        """Whether some display name is an int (labels must then refuse bools explicitly)."""
        return any(isinstance(v, int) for v in self.names)

    @cached_property
    def _name_index(self) -> dict:
        """Map a display name to its node when it is unique, to ``-1`` when ambiguous."""
        out: dict = {}
        for i, name in enumerate(self.names):
            out[name] = -1 if name in out else i
        return out

    def index(self, node) -> int:
        """Index of a node given by identifier (or by a display name that is unique).

        Parameters
        ----------
        node : str, int or tuple
            A node identifier (an int is an identifier, not an index: ``nodes[i]`` names index ``i``).

        Returns
        -------
        index : int

        Raises
        ------
        ValueError
            If no node has that identifier, or the name is shared by several nodes.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_edges([("r", "a"), ("r", "b")]).index("b")
        2
        """
        key = _as_key(node)
        i = self._index.get(key)
        if i is not None:
            return i
        j = self._name_index.get(key)
        if j == -1:
            paths = [self._nodes[k] for k, n in enumerate(self.names) if n == key]
            raise ValueError(
                f"label {node!r} names several nodes; identify it by its path: "
                f"{_fmt_nodes(paths)}"
            )
        hint = (" (a missing value that numpy turned into the string 'nan' among strings? every sample needs "
                "a label)" if node in ("nan", "None") and node not in self._index else "")
        raise ValueError(f"unknown label {node!r}: it is not a node of the taxonomy{hint}")

    @cached_property
    def children(self) -> tuple:
        """Children indices of every node, as a tuple of read-only arrays."""
        child, par = self.edges
        order = np.argsort(par, kind="stable")  # by parent, then child in node order
        starts = np.concatenate([[0], np.cumsum(np.bincount(par, minlength=self.n_nodes))])
        kids = child[order]
        return tuple(_readonly(kids[starts[i] : starts[i + 1]].copy()) for i in range(self.n_nodes))

    @cached_property
    def n_children(self) -> np.ndarray:
        """Number of children of every node."""
        return _readonly(np.bincount(self.edges[1], minlength=self.n_nodes))

    @cached_property
    def is_leaf(self) -> np.ndarray:
        """Boolean mask of the leaves."""
        return _readonly(self.n_children == 0)

    @cached_property
    def leaves(self) -> np.ndarray:
        """Indices of the leaves, in node order (their identifiers: :attr:`leaf_names`)."""
        return _readonly(np.flatnonzero(self.is_leaf))

    @property
    def n_leaves(self) -> int:
        """Number of leaves."""
        return int(self.leaves.size)

    @cached_property
    def leaf_names(self) -> tuple:
        """Identifiers of the leaves, in node order (their indices: :attr:`leaves`)."""
        return tuple(self._nodes[i] for i in self.leaves)

    @cached_property
    def leaf_position(self) -> np.ndarray:
        """Position of every node among the leaves, ``-1`` for internal nodes."""
        pos = np.full(self.n_nodes, -1, dtype=np.int64)
        pos[self.leaves] = np.arange(self.n_leaves)
        return _readonly(pos)

    @cached_property
    def depth(self) -> np.ndarray:
        """Number of edges from the root to every node (in a DAG: the longest path)."""
        depth = np.zeros(self.n_nodes, dtype=np.int64)
        if self._parent is None:
            for i in range(1, self.n_nodes):  # parents come first (topological order)
                depth[i] = depth[self._pidx[self._pptr[i] : self._pptr[i + 1]]].max() + 1
            return _readonly(depth)
        for i in range(1, self.n_nodes):  # pre-order: parents come first
            depth[i] = depth[self._parent[i]] + 1
        return _readonly(depth)

    @property
    def max_depth(self) -> int:
        """Depth of the deepest node (0 for a single root)."""
        return int(self.depth.max())

    @cached_property
    def height(self) -> np.ndarray:
        """Longest number of edges from every node down to a leaf in its subtree."""
        height = np.zeros(self.n_nodes, dtype=np.int64)
        if self._parent is None:
            for i in range(self.n_nodes - 1, 0, -1):  # children first
                ps = self._pidx[self._pptr[i] : self._pptr[i + 1]]
                height[ps] = np.maximum(height[ps], height[i] + 1)
            return _readonly(height)
        for i in range(self.n_nodes - 1, 0, -1):  # reverse pre-order: children first
            p = self._parent[i]
            height[p] = max(height[p], height[i] + 1)
        return _readonly(height)

    @cached_property
    def levels(self) -> tuple:
        """Node indices at every depth ``0 .. max_depth``."""
        return tuple(_readonly(np.flatnonzero(self.depth == d)) for d in range(self.max_depth + 1))

    @cached_property
    def path_indices(self) -> np.ndarray:
        """Root-first path of every node, shape (n_nodes, max_depth + 1), padded with -1."""
        self._require_tree("Taxonomy.path_indices (a unique root path per node)")
        paths = np.full((self.n_nodes, self.max_depth + 1), -1, dtype=np.int64)
        paths[0, 0] = 0
        depth = self.depth
        for i in range(1, self.n_nodes):
            paths[i] = paths[self._parent[i]]
            paths[i, depth[i]] = i
        return _readonly(paths)

    def ancestors_of(self, node) -> tuple:
        """Identifiers from the root down to ``node``, both included.

        Parameters
        ----------
        node : str, int or tuple
            A node identifier (an int is an identifier, not an index: ``nodes[i]`` names index ``i``).

        Returns
        -------
        path : tuple

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_edges([("r", "a"), ("a", "b")]).ancestors_of("b")
        ('r', 'a', 'b')
        """
        i = self.index(node)
        if self._parent is None:  # every ancestor over every path, in node order
            return tuple(self._nodes[j] for j in self.ancestor_matrix[i].indices)
        return tuple(self._nodes[j] for j in self.path_indices[i][: self.depth[i] + 1])

    @cached_property
    def ancestor_matrix(self) -> sp.csr_matrix:
        """Sparse (n_nodes, n_nodes) indicator: ``[i, j] = 1`` if j is i or an ancestor of i.

        In a DAG, the ancestors over every path: each level's rows are its parents' rows
        (a sparse product) plus itself, so the cost is the number of (node, ancestor)
        pairs, never n_nodes².
        """
        if self._parent is None:
            return _readonly_sparse(self._dag_ancestors())
        paths = self.path_indices
        rows = np.repeat(np.arange(self.n_nodes), self.depth + 1)
        cols = paths[paths >= 0]
        m = sp.csr_matrix(
            (np.ones(cols.size, dtype=np.float64), (rows, cols)), shape=(self.n_nodes,) * 2
        )
        m.sort_indices()
        return _readonly_sparse(m)

    def _dag_ancestors(self) -> sp.csr_matrix:
        n = self.n_nodes
        child, par = self.edges
        P = sp.csr_matrix((np.ones(child.size), (child, par)), shape=(n, n))
        A = sp.csr_matrix(([1.0], ([0], [0])), shape=(n, n))  # the root's row; the others fill in
        for lv in self.levels[1:]:  # parents sit on shallower levels: their rows are final
            block = (P[lv] @ A).tocsr()
            block.data[:] = 1.0
            block = (block + sp.csr_matrix((np.ones(lv.size), (np.arange(lv.size), lv)), shape=(lv.size, n))).tocsr()
            A = _replace_rows(A, lv, block)
        A.sort_indices()
        return A

    @cached_property
    def leaf_ancestor_matrix(self) -> sp.csr_matrix:
        """Sparse (n_leaves, n_nodes) rows of :attr:`ancestor_matrix` for the leaves.

        ``leaf_probabilities @ leaf_ancestor_matrix`` sums leaf scores into every node
        (bottom-up inference).
        """
        return _readonly_sparse(self.ancestor_matrix[self.leaves].tocsr())

    @cached_property
    def n_leaf_descendants(self) -> np.ndarray:
        """Number of leaves under every node (1 for a leaf)."""
        return _readonly(np.asarray(self.leaf_ancestor_matrix.sum(axis=0)).ravel().astype(np.int64))

    def lca(self, a, b) -> np.ndarray:
        """Lowest common ancestor of node indices ``a`` and ``b`` (broadcast).

        Parameters
        ----------
        a, b : int or array-like of int
            Node indices.

        Returns
        -------
        lca : ndarray of int

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("a", "y"), ("r", "b")])
        >>> tax.nodes[int(tax.lca(tax.index("x"), tax.index("y")))]
        'a'
        """
        self._require_tree("Taxonomy.lca (a unique lowest common ancestor)")
        a, b = np.broadcast_arrays(check_node_indices(a, self, name="a"), check_node_indices(b, self, name="b"))
        pa, pb = self.path_indices[a], self.path_indices[b]
        same = (pa == pb) & (pa >= 0)
        # paths agree on a prefix: the LCA is the last agreeing entry
        k = np.cumprod(same, axis=-1).sum(axis=-1) - 1
        return np.take_along_axis(pa, k[..., None], axis=-1)[..., 0]

    def distance(self, a, b) -> np.ndarray:
        """Number of tree edges between node indices ``a`` and ``b`` (broadcast).

        ``depth[a] + depth[b] - 2 depth[lca(a, b)]``, computed per pair on demand in
        O(pairs · depth): no n_leaves² table is ever built (a 10⁵-leaf taxonomy would
        need 75 GiB for one).

        Parameters
        ----------
        a, b : int or array-like of int
            Node indices.

        Returns
        -------
        distance : ndarray of int

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("a", "y"), ("r", "b")])
        >>> tax.distance(tax.index("x"), [tax.index("y"), tax.index("b"), tax.index("x")]).tolist()
        [2, 3, 0]
        """
        self._require_tree("Taxonomy.distance (tree distances)")
        c = self.lca(a, b)
        a, b = np.broadcast_arrays(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
        return self.depth[a] + self.depth[b] - 2 * self.depth[c]

    @cached_property
    def adjacency(self) -> sp.csr_matrix:
        """Symmetric (n_nodes, n_nodes) parent–child connection matrix W, zero diagonal."""
        child, par = self.edges
        rows = np.concatenate([child, par])
        cols = np.concatenate([par, child])
        w = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(self.n_nodes,) * 2)
        w.sort_indices()
        return _readonly_sparse(w)

    @cached_property
    def normalized_adjacency(self) -> sp.csr_matrix:
        """Symmetric normalisation ``D^-1/2 W D^-1/2`` with ``D = diag(W 1)``.

        Eq. 3 of the diffusion paper (Hierarchical classification by diffusion). A node
        with no neighbour (a single-node taxonomy) has a zero row.
        """
        deg = np.asarray(self.adjacency.sum(axis=1)).ravel()
        inv = np.zeros_like(deg)
        inv[deg > 0] = deg[deg > 0] ** -0.5
        d = sp.diags(inv)
        m = (d @ self.adjacency @ d).tocsr()
        m.sort_indices()
        return _readonly_sparse(m)

    @property
    def path_lookup(self):
        """Read-only map from a path of display names (a tuple, root left out) to the index
        of the node it reaches: how 2-D path labels resolve.

        Returns
        -------
        lookup : mapping of tuple to int

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_paths([["A", "x"], ["B", "x"]])
        >>> tax.path_lookup[("B", "x")], tax.nodes[tax.path_lookup[("B", "x")]]
        (4, ('B', 'x'))
        """
        return MappingProxyType(self._path_lookup)

    @property
    def name_lookup(self):
        """Read-only map from a display name to its node index (``-1`` when the name is
        shared by several nodes, e.g. "x" under two parents).

        Returns
        -------
        lookup : mapping of str or int to int

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_paths([["A", "x"], ["B", "x"]])
        >>> tax.name_lookup["A"], tax.name_lookup["x"]
        (1, -1)
        """
        return MappingProxyType(self._name_index)

    @cached_property
    def _path_lookup(self) -> dict:
        """Map a tuple of display names below the root to the node it reaches."""
        names = self.names
        out = {}
        for i in range(1, self.n_nodes):
            out[tuple(names[j] for j in self.path_indices[i][1 : self.depth[i] + 1])] = i
        return out

    # ------------------------------------------------------------------ sub-taxonomies
    def subtree(self, node) -> Taxonomy:
        """The taxonomy rooted at ``node``.

        Parameters
        ----------
        node : str, int or tuple
            A node identifier (an int is an identifier, not an index: ``nodes[i]`` names index ``i``).

        Returns
        -------
        taxonomy : Taxonomy

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
        >>> tax.subtree("a").nodes
        ('a', 'x')
        """
        self._require_tree("Taxonomy.subtree")
        i = self.index(node)
        keep = np.flatnonzero(self.ancestor_matrix[:, i].toarray().ravel() > 0)
        return self._restrict(keep)

    def prune(self, max_depth: int) -> Taxonomy:
        """The taxonomy without the nodes deeper than ``max_depth``.

        Parameters
        ----------
        max_depth : int
            Depth of the deepest kept node; 0 keeps the root only.

        Returns
        -------
        taxonomy : Taxonomy

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_edges([("r", "a"), ("a", "x")]).prune(1).nodes
        ('r', 'a')
        """
        check_number(max_depth, "max_depth", low=0, integer=True)
        self._require_tree("Taxonomy.prune")
        return self._restrict(np.flatnonzero(self.depth <= max_depth))

    def _restrict(self, keep: np.ndarray) -> Taxonomy:
        """Keep a connected, pre-order-sorted subset whose first node is its root."""
        new = np.full(self.n_nodes, -1, dtype=np.int64)
        new[keep] = np.arange(keep.size)
        parent = new[self._parent[keep]]
        parent[0] = -1
        return Taxonomy._from_canonical(tuple(self._nodes[i] for i in keep), parent)


def _one_or_list(parents):
    """``None`` for no parent, the parent for one, the list for several (constructor input)."""
    if not parents:
        return None
    return parents[0] if len(parents) == 1 else list(parents)


def _replace_rows(A: sp.csr_matrix, rows: np.ndarray, block: sp.csr_matrix) -> sp.csr_matrix:
    """``A`` with ``A[rows]`` replaced by ``block`` (rows of ``A`` there are empty)."""
    n = A.shape[0]
    scatter = sp.csr_matrix((np.ones(rows.size), (rows, np.arange(rows.size))), shape=(n, rows.size))
    return (A + scatter @ block).tocsr()


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
# (re-exported by ``_tree``; here so that the scikit-learn paths never import torch)
def check_taxonomy(taxonomy, *, allow_dag: bool = False, what: str | None = None) -> Taxonomy:
    """Return ``taxonomy`` if it is a :class:`Taxonomy`, else raise a ``TypeError``.

    A DAG (a node with several parents) is refused with a :class:`TaxonomyError` naming
    ``what`` unless ``allow_dag``: everything that needs one path per node checks here.

    Parameters
    ----------
    taxonomy : object
        What should be a :class:`Taxonomy`.
    allow_dag : bool, default=False
        Accept a DAG (nodes with several parents).
    what : str, default=None
        What needs a tree, for the message.

    Returns
    -------
    taxonomy : Taxonomy

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.utils.validation import check_taxonomy
    >>> check_taxonomy(Taxonomy.from_paths([["A"]])).n_nodes
    2
    """
    if not isinstance(taxonomy, Taxonomy):
        raise TypeError(
            f"taxonomy must be a skhier.Taxonomy, got {type(taxonomy).__name__}; build one "
            "with Taxonomy.from_paths, from_edges or from_parent_mapping"
        )
    if not allow_dag:
        taxonomy._require_tree(what or "this function or estimator")
    return taxonomy


def sorted_classes(taxonomy: Taxonomy, nodes) -> tuple[np.ndarray, np.ndarray]:
    """``classes_`` of a classifier whose possible answers are ``nodes`` (indices).

    Returns the identifiers sorted as scikit-learn sorts class labels (see
    :func:`~skhier._taxonomy.node_sort_key`) and their node indices in that order. An
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
    (``tests/test_tree_faces.py`` holds the twins equal)."""
    out = np.array(end_scores, dtype=np.float64)
    if not taxonomy.is_tree:
        return np.asarray(out @ taxonomy.ancestor_matrix)  # row d of the matrix: d and its ancestors
    for nodes in reversed(taxonomy.levels[1:]):
        np.add.at(out, (slice(None), taxonomy.parent[nodes]), out[:, nodes])
    return out
