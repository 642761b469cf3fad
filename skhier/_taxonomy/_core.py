"""The :class:`Taxonomy`: one immutable rooted tree (or DAG) shared by every skhier object.

Construction checks and the canonical order live in :mod:`._build`, the edge storage in
:mod:`._storage`, file formats in :mod:`._io`, label lookup tables in :mod:`._lookup`;
this module is the value itself and what is derived from it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .._docs import fill_doc
from .._keys import _as_key
from . import _build, _io
from ._lookup import NodeLookup
from ._storage import ParentStore, fmt_nodes, readonly, readonly_sparse

__all__ = ["Taxonomy"]


def tree_only(what: str):
    """Guard a method that needs one parent per node: on a DAG it raises a
    :class:`~skhier.exceptions.TaxonomyError` naming ``what`` (networkx's
    ``not_implemented_for`` in spirit)."""

    def wrap(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            self._store.require_tree(self._nodes, what)
            return method(self, *args, **kwargs)

        return guarded

    return wrap


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
        self._set(*_build.canonical(nodes, parents))

    # ------------------------------------------------------------------ construction
    def _set(self, nodes: tuple, store: ParentStore) -> None:
        object.__setattr__(self, "_nodes", nodes)
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_hash", hash((nodes, *store.key())))

    @classmethod
    def _from_canonical(cls, nodes: tuple, parent) -> Taxonomy:
        """Rebuild from arrays already in canonical order (pickling, subtrees).

        ``parent`` is the parent index array of a tree, or a list of parent index lists
        (a DAG).
        """
        self = cls.__new__(cls)
        self._set(tuple(nodes), ParentStore.from_state(parent))
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
            The taxonomy.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_parent_mapping({"cat": "animal", "dog": "animal"}).root_name
        'animal'
        >>> dag = Taxonomy.from_parent_mapping({"pet": "animal", "wild": "animal", "cat": ["pet", "wild"]})
        >>> dag.is_tree, dag.ancestors_of("cat")
        (False, ('animal', 'pet', 'wild', 'cat'))
        """
        return cls(*_build.from_parent_mapping(mapping))

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
            The taxonomy.

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
        return cls(*_build.from_edges(edges))

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
            The taxonomy.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_nested_dict({"all": {"A": ["a1", "a2"], "B": None}})
        >>> tax.nodes
        ('all', 'A', 'a1', 'a2', 'B')
        """
        return cls(*_build.from_nested_dict(tree))

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
            The taxonomy.

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
        return cls(*_build.from_paths(paths, root))

    @classmethod
    def from_networkx(cls, graph) -> Taxonomy:
        """Build a taxonomy from a ``networkx.DiGraph`` with edges parent → child.

        Parameters
        ----------
        graph : networkx.DiGraph

        The taxonomy's nodes and parent -> child edges.
        -------
        taxonomy : Taxonomy
            The taxonomy.

        Examples
        --------
        >>> import networkx as nx
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_networkx(nx.DiGraph([("r", "a"), ("r", "b")])).leaf_names
        ('a', 'b')
        """
        return cls(*_io.read_networkx(graph))

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
            The taxonomy.

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
        return cls(*_io.read_obo(source, relations, root))

    def to_networkx(self):
        """Return a ``networkx.DiGraph`` with edges parent → child.

        Returns
        -------
        graph : networkx.DiGraph
            The taxonomy's nodes and parent -> child edges.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_edges([("r", "a")]).to_networkx().number_of_edges()
        1
        """
        return _io.write_networkx(self)

    def to_json(self) -> str:
        """Serialise to a JSON string that :meth:`from_json` reads back.

        Returns
        -------
        text : str
            The text.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_edges([("r", "a"), ("r", 1)])
        >>> Taxonomy.from_json(tax.to_json()) == tax
        True
        """
        return _io.write_json(self)

    @classmethod
    def from_json(cls, text: str) -> Taxonomy:
        """Read a taxonomy written by :meth:`to_json`.

        Parameters
        ----------
        text : str

        Returns
        -------
        taxonomy : Taxonomy
            The taxonomy.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_json('{"nodes": ["r", "a"], "parents": [null, "r"]}').nodes
        ('r', 'a')
        """
        return cls(*_io.read_json(text))

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
        return self._hash == other._hash and self._nodes == other._nodes and self._store == other._store

    def __hash__(self):
        return self._hash

    def __reduce__(self):
        return (Taxonomy._from_canonical, (self._nodes, self._store.state()))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __len__(self):
        return len(self._nodes)

    def __contains__(self, node):
        try:
            return _as_key(node) in self.lookup.index
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
            The text.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> print(Taxonomy.from_edges([("r", "a"), ("a", "b")]).to_text())
        r
        └── a
            └── b
        """
        return _io.draw(self, max_lines)


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
        return self._store.tree_parent(self._nodes, "Taxonomy.parent (one parent per node; use Taxonomy.parents)")

    @property
    def is_tree(self) -> bool:
        """Whether every node has at most one parent (False for a DAG such as GO)."""
        return self._store.is_tree

    def _require_tree(self, what: str) -> None:
        """Raise a :class:`TaxonomyError` naming ``what`` when this taxonomy is a DAG."""
        self._store.require_tree(self._nodes, what)

    @cached_property
    def parents(self) -> tuple:
        """Parent indices of every node as a tuple of read-only arrays (empty for the root)."""
        return self._store.parents()

    @cached_property
    def edges(self) -> tuple:
        """Every (child, parent) edge as two read-only index arrays, by child in node order."""
        return self._store.edges()

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
    def lookup(self) -> NodeLookup:
        """Read-only tables from labels to node indices (what label encoding reads).

        Returns
        -------
        lookup : NodeLookup
            Read-only tables from labels to node indices (what label encoding reads).

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_edges([("r", "a"), ("r", "b")]).lookup.index["b"]
        2
        """
        return NodeLookup(self)

    @fill_doc
    def index(self, node) -> int:
        """Index of a node given by identifier (or by a display name that is unique).

        Parameters
        ----------
        %(node)s

        Returns
        -------
        index : int
            Index of a node given by identifier (or by a display name that is unique).

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
        i = self.lookup.index.get(key)
        if i is not None:
            return i
        j = self.lookup.name_index.get(key)
        if j == -1:
            paths = [self._nodes[k] for k, n in enumerate(self.names) if n == key]
            raise ValueError(
                f"label {node!r} names several nodes; identify it by its path: "
                f"{fmt_nodes(paths)}"
            )
        hint = (" (a missing value that numpy turned into the string 'nan' among strings? every sample needs "
                "a label)" if node in ("nan", "None") and node not in self.lookup.index else "")
        raise ValueError(f"unknown label {node!r}: it is not a node of the taxonomy{hint}")

    @cached_property
    def children(self) -> tuple:
        """Children indices of every node, as a tuple of read-only arrays."""
        child, par = self.edges
        order = np.argsort(par, kind="stable")  # by parent, then child in node order
        starts = np.concatenate([[0], np.cumsum(np.bincount(par, minlength=self.n_nodes))])
        kids = child[order]
        return tuple(readonly(kids[starts[i] : starts[i + 1]].copy()) for i in range(self.n_nodes))

    @cached_property
    def n_children(self) -> np.ndarray:
        """Number of children of every node."""
        return readonly(np.bincount(self.edges[1], minlength=self.n_nodes))

    @cached_property
    def is_leaf(self) -> np.ndarray:
        """Boolean mask of the leaves."""
        return readonly(self.n_children == 0)

    @cached_property
    def leaves(self) -> np.ndarray:
        """Indices of the leaves, in node order (their identifiers: :attr:`leaf_names`)."""
        return readonly(np.flatnonzero(self.is_leaf))

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
        return readonly(pos)

    @cached_property
    def depth(self) -> np.ndarray:
        """Number of edges from the root to every node (in a DAG: the longest path)."""
        return self._store.depth()

    @property
    def max_depth(self) -> int:
        """Depth of the deepest node (0 for a single root)."""
        return int(self.depth.max())

    @cached_property
    def height(self) -> np.ndarray:
        """Longest number of edges from every node down to a leaf in its subtree."""
        return self._store.height()

    @cached_property
    def levels(self) -> tuple:
        """Node indices at every depth ``0 .. max_depth``."""
        return tuple(readonly(np.flatnonzero(self.depth == d)) for d in range(self.max_depth + 1))

    @cached_property
    @tree_only("Taxonomy.path_indices (a unique root path per node)")
    def path_indices(self) -> np.ndarray:
        """Root-first path of every node, shape (n_nodes, max_depth + 1), padded with -1."""
        return self._store.root_paths(self.depth)

    @fill_doc
    def ancestors_of(self, node) -> tuple:
        """Identifiers from the root down to ``node``, both included.

        Parameters
        ----------
        %(node)s

        Returns
        -------
        path : tuple
            Identifiers from the root down.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_edges([("r", "a"), ("a", "b")]).ancestors_of("b")
        ('r', 'a', 'b')
        """
        # in node order: a tree's pre-order (a DAG's topological order) puts ancestors first
        return tuple(self._nodes[j] for j in self.ancestor_matrix[self.index(node)].indices)

    @cached_property
    def ancestor_matrix(self) -> sp.csr_matrix:
        """Sparse (n_nodes, n_nodes) indicator: ``[i, j] = 1`` if j is i or an ancestor of i.

        In a DAG, the ancestors over every path: each level's rows are its parents' rows
        (a sparse product) plus itself, so the cost is the number of (node, ancestor)
        pairs, never n_nodes².
        """
        return self._store.ancestors(self.depth, self.levels, lambda: self.path_indices)

    @cached_property
    def leaf_ancestor_matrix(self) -> sp.csr_matrix:
        """Sparse (n_leaves, n_nodes) rows of :attr:`ancestor_matrix` for the leaves.

        ``leaf_probabilities @ leaf_ancestor_matrix`` sums leaf scores into every node
        (bottom-up inference).
        """
        return readonly_sparse(self.ancestor_matrix[self.leaves].tocsr())

    @cached_property
    def n_leaf_descendants(self) -> np.ndarray:
        """Number of leaves under every node (1 for a leaf)."""
        return readonly(np.asarray(self.leaf_ancestor_matrix.sum(axis=0)).ravel().astype(np.int64))

    @tree_only("Taxonomy.lca (a unique lowest common ancestor)")
    def lca(self, a, b) -> np.ndarray:
        """Lowest common ancestor of node indices ``a`` and ``b`` (broadcast).

        Parameters
        ----------
        a, b : int or array-like of int
            Node indices.

        Returns
        -------
        lca : ndarray of int
            Lowest common ancestor of node indices ``a`` and ``b`` (broadcast).

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("a", "y"), ("r", "b")])
        >>> tax.nodes[int(tax.lca(tax.index("x"), tax.index("y")))]
        'a'
        """
        from ..utils.validation import check_node_indices  # validation sits above the taxonomy

        a, b = np.broadcast_arrays(check_node_indices(a, self, name="a"), check_node_indices(b, self, name="b"))
        pa, pb = self.path_indices[a], self.path_indices[b]
        same = (pa == pb) & (pa >= 0)
        # paths agree on a prefix: the LCA is the last agreeing entry
        k = np.cumprod(same, axis=-1).sum(axis=-1) - 1
        return np.take_along_axis(pa, k[..., None], axis=-1)[..., 0]

    @tree_only("Taxonomy.distance (tree distances)")
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
            Number of tree edges between node indices ``a`` and ``b`` (broadcast).

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("a", "y"), ("r", "b")])
        >>> tax.distance(tax.index("x"), [tax.index("y"), tax.index("b"), tax.index("x")]).tolist()
        [2, 3, 0]
        """
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
        return readonly_sparse(w)

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
        return readonly_sparse(m)

    @property
    def path_lookup(self):
        """Read-only map from a path of display names (a tuple, root left out) to the index
        of the node it reaches: how 2-D path labels resolve.

        Returns
        -------
        lookup : mapping of tuple to int
            Path of display names -> node index.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_paths([["A", "x"], ["B", "x"]])
        >>> tax.path_lookup[("B", "x")], tax.nodes[tax.path_lookup[("B", "x")]]
        (4, ('B', 'x'))
        """
        return self.lookup.paths

    @property
    def name_lookup(self):
        """Read-only map from a display name to its node index (``-1`` when the name is
        shared by several nodes, e.g. "x" under two parents).

        Returns
        -------
        lookup : mapping of str or int to int
            Display name -> node index, ``-1`` for a shared name.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_paths([["A", "x"], ["B", "x"]])
        >>> tax.name_lookup["A"], tax.name_lookup["x"]
        (1, -1)
        """
        return self.lookup.name_index

    # ------------------------------------------------------------------ sub-taxonomies
    @tree_only("Taxonomy.subtree")
    @fill_doc
    def subtree(self, node) -> Taxonomy:
        """The taxonomy rooted at ``node``.

        Parameters
        ----------
        %(node)s

        Returns
        -------
        taxonomy : Taxonomy
            The taxonomy.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
        >>> tax.subtree("a").nodes
        ('a', 'x')
        """
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
            The taxonomy.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_edges([("r", "a"), ("a", "x")]).prune(1).nodes
        ('r', 'a')
        """
        from ..utils.validation import check_number  # validation sits above the taxonomy

        check_number(max_depth, "max_depth", low=0, integer=True)
        self._require_tree("Taxonomy.prune")
        return self._restrict(np.flatnonzero(self.depth <= max_depth))

    def _restrict(self, keep: np.ndarray) -> Taxonomy:
        """Keep a connected, pre-order-sorted subset whose first node is its root."""
        new = np.full(self.n_nodes, -1, dtype=np.int64)
        new[keep] = np.arange(keep.size)
        parent = new[self.parent[keep]]
        parent[0] = -1
        return Taxonomy._from_canonical(tuple(self._nodes[i] for i in keep), parent)

