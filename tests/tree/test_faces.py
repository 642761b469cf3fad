"""The tree rules have a torch-free numpy face (``skhier._taxonomy``: what the
scikit-learn paths use, so that they never import torch) and a torch face
(``skhier._tree``: what the neural methods, refiners and metrics use on any device).
Each pair is held equal here on random taxonomies (and DAGs where the rule applies)."""

import networkx as nx
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skhier import Taxonomy
from skhier._taxonomy import bottom_up_sum, top_down_product
from skhier._tree import bottom_up, lca, taxonomy_tensors
from skhier.testing import taxonomies


@settings(max_examples=40, deadline=None)
@given(tax=taxonomies(max_nodes=25), seed=st.integers(0, 2**16))
def test_bottom_up_and_lca_agree_on_trees(tax, seed):
    rng = np.random.default_rng(seed)
    end = rng.random((5, tax.n_nodes))
    np.testing.assert_allclose(bottom_up_sum(end, tax), bottom_up(torch.as_tensor(end), tax).numpy(), rtol=1e-12)
    a, b = rng.integers(0, tax.n_nodes, 12), rng.integers(0, tax.n_nodes, 12)
    paths = taxonomy_tensors(tax, "cpu").paths
    np.testing.assert_array_equal(tax.lca(a, b), lca(torch.as_tensor(a), torch.as_tensor(b), paths).numpy())


@settings(max_examples=40, deadline=None)
@given(tax=taxonomies(max_nodes=25), seed=st.integers(0, 2**16))
def test_top_down_product_is_one_rule_for_numpy_and_torch(tax, seed):
    cond = np.random.default_rng(seed).random((4, tax.n_nodes))
    np.testing.assert_allclose(top_down_product(cond.copy(), tax),
                               top_down_product(torch.as_tensor(cond), tax).numpy(), rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_bottom_up_agrees_on_dags(data):
    n = data.draw(st.integers(3, 14))
    edges = [(0, 1)]
    for v in range(2, n):  # every node below the root gets 1-3 parents among the earlier nodes
        k = data.draw(st.integers(1, min(3, v)))
        edges += [(int(u), v) for u in data.draw(st.permutations(range(v)))[:k]]
    tax = Taxonomy.from_edges([(f"n{u}", f"n{v}") for u, v in edges])
    end = np.random.default_rng(n).random((3, tax.n_nodes))
    ours = bottom_up_sum(end, tax)
    np.testing.assert_allclose(ours, bottom_up(torch.as_tensor(end), tax).numpy(), rtol=1e-12)
    g = nx.DiGraph([(tax.nodes[tax.index(f"n{u}")], tax.nodes[tax.index(f"n{v}")]) for u, v in edges])
    for v in range(tax.n_nodes):  # against networkx: each descendant (and itself) counted once
        below = [tax.index(d) for d in nx.descendants(g, tax.nodes[v])] + [v]
        np.testing.assert_allclose(ours[:, v], end[:, below].sum(axis=1), rtol=1e-12)
