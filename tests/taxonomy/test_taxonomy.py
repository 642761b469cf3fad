import copy
import json
import pickle

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, clone

from skhier import Taxonomy, TaxonomyError
from skhier.testing import taxonomies


def test_preorder_and_derived(tree):
    assert tree.nodes == ("root", "A", "A1", "A2", "B", "B1", "B2", "B3")
    assert tree.parent.tolist() == [-1, 0, 1, 1, 0, 4, 4, 4]
    assert tree.depth.tolist() == [0, 1, 2, 2, 1, 2, 2, 2]
    assert tree.leaves.tolist() == [2, 3, 5, 6, 7]
    assert tree.n_leaf_descendants.tolist() == [5, 2, 1, 1, 3, 1, 1, 1]
    assert [c.tolist() for c in tree.children] == [[1, 4], [2, 3], [], [], [5, 6, 7], [], [], []]
    assert [lv.tolist() for lv in tree.levels] == [[0], [1, 4], [2, 3, 5, 6, 7]]
    assert tree.path_indices[6].tolist() == [0, 4, 6]
    assert tree.height.tolist() == [2, 1, 0, 0, 1, 0, 0, 0]
    anc = tree.ancestor_matrix.toarray()
    assert anc[6].tolist() == [1, 0, 0, 0, 1, 0, 1, 0]
    assert anc.trace() == tree.n_nodes


def test_pairwise_lca_and_distance(tree):
    # leaves A1 A2 B1 B2 B3, every pair at once by broadcasting
    leaves = tree.leaves
    expected_lca = [[2, 1, 0, 0, 0], [1, 3, 0, 0, 0], [0, 0, 5, 4, 4], [0, 0, 4, 6, 4], [0, 0, 4, 4, 7]]
    assert tree.lca(leaves[:, None], leaves[None, :]).tolist() == expected_lca
    assert tree.distance(leaves[0], leaves).tolist() == [0, 2, 4, 4, 4]
    assert tree.height[tree.lca(leaves[0], leaves)].tolist() == [0, 1, 2, 2, 2]
    assert tree.distance(4, [0, 1, 6]).tolist() == [1, 2, 1]  # internal nodes too


def test_normalized_adjacency_is_eq3(tree):
    w = np.zeros((8, 8))
    for c, p in enumerate(tree.parent):
        if p >= 0:
            w[c, p] = w[p, c] = 1
    d = w.sum(1)
    expected = w / np.sqrt(np.outer(d, d))
    np.testing.assert_allclose(tree.normalized_adjacency.toarray(), expected)
    np.testing.assert_array_equal(tree.adjacency.toarray(), w)


def test_single_node_taxonomy():
    tax = Taxonomy(["only"], [None])
    assert tax.n_leaves == 1 and tax.max_depth == 0
    assert tax.normalized_adjacency.nnz == 0
    assert str(tax) == "only"


def test_constructors_agree(tree):
    edges = [(tree.nodes[p], tree.nodes[c]) for c, p in enumerate(tree.parent) if p >= 0]
    assert Taxonomy.from_edges(edges) == tree
    nested = {"root": {"A": ["A1", "A2"], "B": {"B1": None, "B2": {}, "B3": None}}}
    assert Taxonomy.from_nested_dict(nested) == tree
    paths = [["A", "A1"], ["A", "A2"], ["B", "B1"], ["B", "B2"], ["B", "B3"]]
    assert Taxonomy.from_paths(paths) == tree
    assert Taxonomy.from_networkx(nx.DiGraph(edges)) == tree
    assert Taxonomy.from_networkx(tree.to_networkx()) == tree
    assert Taxonomy.from_json(tree.to_json()) == tree


def test_children_order_is_canonical():
    a = Taxonomy.from_edges([("r", "x"), ("r", "y")])
    b = Taxonomy.from_edges([("r", "y"), ("r", "x")])
    assert a == b and a.nodes == b.nodes == ("r", "x", "y")
    # ints before strs, ints numerically; a plain name before a path with that name
    mixed = Taxonomy.from_edges([("r", "b"), ("r", 10), ("r", 9), ("r", "a")])
    assert mixed.nodes == ("r", 9, 10, "a", "b")
    paths = Taxonomy.from_paths([["Z", "Other"], ["A", "Other"], ["A", "B"]])
    assert paths.nodes == ("root", "A", "B", ("A", "Other"), "Z", ("Z", "Other"))


def _path_rows(tax):
    """Every leaf's root-first path of names, padded with "" (2-D path labels)."""
    rows = [list(tax.names[j] for j in tax.path_indices[v][1 : tax.depth[v] + 1]) for v in tax.leaves]
    width = max(len(r) for r in rows)
    return np.array([r + [""] * (width - len(r)) for r in rows], dtype=object)


@given(taxonomies(min_nodes=2, max_nodes=25), st.randoms(use_true_random=False))
def test_same_tree_same_value_whatever_the_row_order(tax, rnd):
    y = _path_rows(tax)
    perm = list(range(len(y)))
    rnd.shuffle(perm)
    a, b, c = Taxonomy.from_paths(y), Taxonomy.from_paths(y[::-1]), Taxonomy.from_paths(y[perm])
    assert a == b == c and a.nodes == b.nodes == c.nodes
    assert np.array_equal(a.parent, c.parent)
    # any constructor of the same tree gives the same value
    edges = [(tax.nodes[p], tax.nodes[i]) for i, p in enumerate(tax.parent) if p >= 0]
    rnd.shuffle(edges)
    assert Taxonomy.from_edges(edges) == tax
    assert Taxonomy.from_parent_mapping({c_: p for p, c_ in reversed(edges)}) == tax


def test_from_paths_duplicate_names(ragged):
    assert ("Clothes", "Tops", "Other") in ragged.nodes
    assert ("Goods", "Other") in ragged.nodes
    assert ragged.names.count("Other") == 2
    assert ragged.ancestors_of(("Goods", "Other")) == ("root", "Goods", ("Goods", "Other"))
    with pytest.raises(ValueError, match="names several nodes"):
        ragged.index("Other")
    assert ragged.index("Tote") == ragged.nodes.index("Tote")


def test_from_paths_nan_and_none_padding():
    a = Taxonomy.from_paths([["a", "x"], ["b", None]])
    b = Taxonomy.from_paths(np.array([["a", "x"], ["b", np.nan]], dtype=object))
    c = Taxonomy.from_paths([["a", "x"], ["b", ""]])
    assert a == b == c


def test_from_paths_gap_names_row():
    with pytest.raises(ValueError, match="path 1 has a label after padding"):
        Taxonomy.from_paths([["a", "x"], ["", "y"]])


def test_int_and_mixed_names():
    tax = Taxonomy.from_edges([(0, 1), (0, 2), (1, "one-a")])
    assert tax.nodes == (0, 1, "one-a", 2)
    assert Taxonomy.from_json(tax.to_json()) == tax
    assert tax.index(np.int64(2)) == 3


@pytest.mark.parametrize(
    "edges, match",
    [
        ([("a", "b"), ("b", "a")], r"no root.*'a', 'b'"),
        (
            [("r", "a"), ("a", "b"), ("b", "c"), ("c", "a")],
            r"cycle through 'a', 'c', 'b'; the edge \('c', 'a'\) closes it",
        ),
        ([("r", "a"), ("s", "b")], r"several roots: 'r', 's'"),
        ([("r", "a"), ("r", "a")], r"duplicate edge: \('r', 'a'\)"),
        ([("r", "r")], r"self edge"),
        ([("r", "a"), ("x", "y"), ("y", "z"), ("z", "x")], r"two parents|cycle"),
        ([], r"empty"),
    ],
)
def test_malformed_edges(edges, match):
    with pytest.raises(TaxonomyError, match=match):
        Taxonomy.from_edges(edges)


def test_cycle_unreachable_from_root():
    with pytest.raises(TaxonomyError, match=r"cycle through 'x', 'y'|cycle through 'y', 'x'"):
        Taxonomy(["r", "a", "x", "y"], [None, "r", "y", "x"])


def test_other_errors():
    with pytest.raises(TaxonomyError, match="empty"):
        Taxonomy([], [])
    with pytest.raises(TaxonomyError, match="duplicate node"):
        Taxonomy(["r", "a", "a"], [None, "r", "r"])
    with pytest.raises(TaxonomyError, match="not a node"):
        Taxonomy(["r", "a"], [None, "zz"])
    with pytest.raises(TypeError, match="must be str or int"):
        Taxonomy([1.5], [None])
    with pytest.raises(TaxonomyError, match="exactly one root"):
        Taxonomy.from_nested_dict({"a": None, "b": None})
    assert issubclass(TaxonomyError, ValueError)


def test_immutable(tree):
    with pytest.raises(AttributeError):
        tree.foo = 1
    with pytest.raises(ValueError):
        tree.depth[0] = 3
    with pytest.raises(ValueError):
        tree.ancestor_matrix.data[0] = 3


class _Holder(BaseEstimator):
    def __init__(self, taxonomy=None, alpha=1.0):
        self.taxonomy = taxonomy
        self.alpha = alpha


def test_pickle_copy_clone(tree):
    _ = tree.ancestor_matrix  # caches are not pickled
    blob = pickle.dumps(tree)
    assert len(blob) < 600
    back = pickle.loads(blob)
    assert back == tree and hash(back) == hash(tree)
    assert copy.deepcopy(tree) is tree and copy.copy(tree) is tree
    est = _Holder(tree)
    assert clone(est).taxonomy is tree
    assert {tree: 1}[back] == 1


def test_subtree_and_prune(tree, ragged):
    sub = tree.subtree("B")
    assert sub.nodes == ("B", "B1", "B2", "B3") and sub.parent.tolist() == [-1, 0, 0, 0]
    assert tree.prune(1).nodes == ("root", "A", "B")
    assert tree.prune(0).nodes == ("root",)
    assert ragged.prune(1).leaf_names == ("Clothes", "Goods")
    with pytest.raises(ValueError, match="max_depth"):
        tree.prune(-1)


def test_text_and_repr(ragged):
    text = str(ragged)
    assert text.splitlines()[0] == "root"
    assert "│       └── Shirt" in text and "    │   └── Tote" in text
    assert repr(ragged) == "Taxonomy(n_nodes=10, n_leaves=5, max_depth=3)"
    assert len(ragged.to_text(max_lines=3).splitlines()) == 4


def test_lca_vectorised(tree):
    a = np.array([2, 2, 5, 0])
    b = np.array([3, 6, 7, 6])
    assert tree.lca(a, b).tolist() == [1, 0, 4, 0]
    assert int(tree.lca(6, 6)) == 6


@given(taxonomies(max_nodes=25))
def test_invariants(tax):
    n = tax.n_nodes
    parent = tax.parent
    assert parent[0] == -1 and (parent[1:] < np.arange(1, n)).all()  # pre-order
    assert tax.ancestor_matrix.sum() == (tax.depth + 1).sum()
    assert tax.n_leaf_descendants[0] == tax.n_leaves
    # leaf distance is a metric agreeing with networkx shortest paths
    g = tax.to_networkx().to_undirected()
    leaves = tax.leaves
    for i in range(min(4, len(leaves))):
        for j in range(len(leaves)):
            d = nx.shortest_path_length(g, tax.nodes[leaves[i]], tax.nodes[leaves[j]])
            assert tax.distance(leaves[i], leaves[j]) == d
            lca = nx.lowest_common_ancestor(tax.to_networkx(), tax.nodes[leaves[i]], tax.nodes[leaves[j]])
            assert tax.nodes[tax.lca(leaves[i], leaves[j])] == lca
    assert pickle.loads(pickle.dumps(tax)) == tax
    assert Taxonomy.from_json(tax.to_json()) == tax
    w = tax.normalized_adjacency.toarray()
    np.testing.assert_allclose(w, w.T)
    assert np.abs(np.linalg.eigvalsh(w)).max() <= 1 + 1e-9  # spectral radius <= 1


@given(taxonomies(max_nodes=20, names="mixed"))
def test_json_roundtrip_mixed(tax):
    data = json.loads(tax.to_json())
    assert len(data["nodes"]) == tax.n_nodes
    assert Taxonomy.from_json(tax.to_json()) == tax


def test_numpy_scalars_become_plain_python():
    tax = Taxonomy(np.array(["r", "a"]), [None, np.str_("r")])
    assert all(type(n) is str for n in tax.nodes)
    tax2 = Taxonomy.from_edges(np.array([[0, 1], [0, 2]]))
    assert all(type(n) is int for n in tax2.nodes)
