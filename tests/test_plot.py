"""skhier.plot: the layout's invariants, what plot_taxonomy draws (Agg), and confusion by subtree."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from sklearn.metrics import confusion_matrix

from skhier import Taxonomy
from skhier.plot import plot_subtree_confusion, plot_taxonomy, subtree_confusion_matrix, taxonomy_layout
from skhier.testing import taxonomies

matplotlib = pytest.importorskip("matplotlib", reason="skhier.plot draws with matplotlib: pip install 'skhier[plot]'")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TAX = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"], ["C", ""]])
DAG = Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c", "b/d"])


@given(taxonomies(max_nodes=40))
@settings(max_examples=40, deadline=None)
def test_layout_puts_parents_over_their_children(tax):
    xy = taxonomy_layout(tax)
    assert np.isfinite(xy).all()
    np.testing.assert_array_equal(xy[:, 1], -tax.depth)
    leaves = np.flatnonzero(tax.is_leaf)
    np.testing.assert_array_equal(xy[leaves, 0], np.arange(leaves.size))  # evenly spread, node order
    child, parent = tax.edges
    for p in np.unique(parent):
        xs = xy[child[parent == p], 0]
        assert xy[p, 0] == pytest.approx((xs.min() + xs.max()) / 2)


def test_layout_on_a_dag():
    xy = taxonomy_layout(DAG)  # r, a, b, c, d (c below both a and b; depth = longest path)
    assert DAG.nodes == ("r", "a", "b", "c", "d")
    np.testing.assert_array_equal(xy[:, 1], [0, -1, -1, -2, -2])
    assert xy[1, 0] == xy[3, 0] and xy[2, 0] == (xy[3, 0] + xy[4, 0]) / 2


def test_plot_taxonomy_draws_every_edge_node_value_and_label():
    values = np.array([1.0, 0.6, 0.5, 0.1, 0.3, 0.3, 0.1])
    ax = plot_taxonomy(TAX, node_values=values, title="node marginals")
    edges, nodes = ax.collections[:2]
    assert len(edges.get_segments()) == TAX.n_nodes - 1
    np.testing.assert_array_equal(nodes.get_array(), values)
    np.testing.assert_array_equal(nodes.get_offsets(), taxonomy_layout(TAX))
    assert sorted(t.get_text() for t in ax.texts) == sorted(TAX.names)
    assert ax.get_title() == "node marginals" and len(ax.figure.axes) == 2  # the colour bar
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png")
    w, h = ax.figure.get_size_inches() * ax.figure.dpi
    assert buf.getbuffer().nbytes > 1000 and w >= 300 and h >= 200
    plt.close("all")
    # node scores of many samples are averaged; a dict leaves the other nodes grey (NaN)
    scores = np.array([values, values * 0.5])
    np.testing.assert_allclose(plot_taxonomy(TAX, scores).collections[1].get_array(), values * 0.75)
    got = plot_taxonomy(TAX, {"A1": 0.9}).collections[1].get_array()
    assert got[TAX.index("A1")] == 0.9 and np.isnan(np.delete(got, TAX.index("A1"))).all()
    # a DAG draws every parent edge; no labels past 150 nodes unless asked
    assert len(plot_taxonomy(DAG).collections[0].get_segments()) == 5
    big = Taxonomy.from_parent_mapping({f"n{i}": "root" for i in range(200)})
    assert not plot_taxonomy(big).texts and len(plot_taxonomy(big, labels=True).texts) == 201
    plt.close("all")


@pytest.mark.parametrize("values, match", [
    (np.ones(3), r"one value per taxonomy node \(7\).*got shape \(3,\)"),
    (np.full(7, np.inf), "node_values must be finite"),
])
def test_plot_taxonomy_bad_values(values, match):
    with pytest.raises(ValueError, match=match):
        plot_taxonomy(TAX, values)


def test_subtree_confusion_matches_sklearn_on_the_ancestors():
    rng = np.random.default_rng(0)
    leaves = np.asarray(TAX.nodes, dtype=object)[TAX.leaves]
    t, p = rng.choice(leaves, 50), rng.choice(leaves, 50)
    m, nodes = subtree_confusion_matrix(t, p, taxonomy=TAX)
    assert nodes == ["A", "B", "C"]
    top = {"A1": "A", "A2": "A", "B1": "B", "C": "C"}
    want = confusion_matrix([top[v] for v in t], [top[v] for v in p], labels=nodes)
    np.testing.assert_array_equal(m, want)
    m2, nodes2 = subtree_confusion_matrix(t, p, taxonomy=TAX, depth=2, normalize="true")
    assert nodes2 == ["A1", "A2", "B1", "C"]  # C is a leaf above depth 2: it stays itself
    np.testing.assert_allclose(m2.sum(axis=1), 1.0)
    disp = plot_subtree_confusion(t, p, taxonomy=TAX)
    np.testing.assert_allclose(disp.confusion_matrix, want / want.sum(axis=1, keepdims=True))
    plt.close("all")


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: subtree_confusion_matrix(["c"], ["d"], taxonomy=DAG), Exception, "needs a tree taxonomy"),
        (
            lambda: subtree_confusion_matrix(["A1"], ["A1"], taxonomy=TAX, depth=3),
            ValueError,
            r"depth must be an int in \[1, 2\].*got 3",
        ),
        (
            lambda: subtree_confusion_matrix(["A1"], ["A1", "B1"], taxonomy=TAX),
            ValueError,
            "y_true has 1 samples but y_pred has 2",
        ),
        (lambda: subtree_confusion_matrix(["Z"], ["A1"], taxonomy=TAX), ValueError, r"y_true\[0\]: unknown label 'Z'"),
    ],
)
def test_subtree_confusion_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_without_matplotlib_the_message_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'skhier\[plot\]'"):
        plot_taxonomy(TAX)
