"""DAG taxonomies (ontologies such as the Gene Ontology) and what works on them.

Random DAGs (several parents, shared descendants) are checked against networkx and
against slow references written from the definitions; every tree-only operation refuses
a DAG with a message naming itself.
"""

import pickle

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given
from hypothesis import strategies as st

from skhier import Taxonomy, TaxonomyError
from skhier._tree import max_over_descendants
from skhier.inference import CoherenceRefiner
from skhier.labels import encode_labels, fill_ancestors
from skhier.metrics import (
    hierarchical_precision_recall_fscore,
    hierarchy_violations,
    mean_average_precision,
)
from skhier.neural import CHMCNNClassifier
from skhier.neural.modules import MaxConstraintLoss


@st.composite
def dag_edges(draw, min_nodes=3, max_nodes=14):
    """(parent, child) edges of a random rooted DAG: node i picks 1-3 parents among 0..i-1."""
    n = draw(st.integers(min_nodes, max_nodes))
    edges = []
    for i in range(1, n):
        k = draw(st.integers(1, min(3, i)))
        parents = draw(st.lists(st.integers(0, i - 1), min_size=k, max_size=k, unique=True))
        edges += [(f"n{p}", f"n{i}") for p in parents]
    return edges


def ref_depth(g, root):
    """Longest path from the root, by dynamic programming over a topological order."""
    depth = {root: 0}
    for v in nx.topological_sort(g):
        for c in g.successors(v):
            depth[c] = max(depth.get(c, 0), depth[v] + 1)
    return depth


@given(dag_edges(), st.randoms(use_true_random=False))
def test_dag_matches_networkx_and_is_canonical(edges, rnd):
    tax = Taxonomy.from_edges(edges)
    g = nx.DiGraph(edges)
    assert tax.is_tree == all(g.in_degree(v) <= 1 for v in g)
    # every ancestor over every path, self included
    A = tax.ancestor_matrix
    for v in g:
        got = {tax.nodes[j] for j in A[tax.index(v)].indices}
        assert got == nx.ancestors(g, v) | {v}
    # depth is the longest path; parents always come before their children
    depth = ref_depth(g, "n0")
    assert {tax.nodes[i]: int(d) for i, d in enumerate(tax.depth)} == depth
    child, par = tax.edges
    assert (par < child).all() and sorted(zip(par.tolist(), child.tolist())) == sorted(
        (tax.index(p), tax.index(c)) for p, c in edges)
    assert tax.n_leaf_descendants.tolist() == [
        sum(1 for leaf in g if g.out_degree(leaf) == 0 and (leaf == v or leaf in nx.descendants(g, v)))
        for v in tax.nodes]
    # canonical: the same DAG from its edges in any order, from networkx, pickle and JSON
    shuffled = list(edges)
    rnd.shuffle(shuffled)
    again = Taxonomy.from_edges(shuffled)
    assert again == tax and hash(again) == hash(tax) and again.nodes == tax.nodes
    assert Taxonomy.from_networkx(g) == tax
    assert pickle.loads(pickle.dumps(tax)) == tax
    assert Taxonomy.from_json(tax.to_json()) == tax
    assert nx.utils.graphs_equal(tax.to_networkx(), g)


def test_constructors_agree_on_a_dag():
    edges = [("r", "a"), ("r", "b"), ("a", "c"), ("b", "c"), ("c", "d")]
    tax = Taxonomy.from_edges(edges)
    assert not tax.is_tree
    assert Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c", "c/d"]) == tax  # GO's parent/child form
    assert Taxonomy.from_parent_mapping({"a": "r", "b": "r", "c": ["b", "a"], "d": "c"}) == tax
    assert Taxonomy(["d", "c", "b", "a", "r"], ["c", {"a", "b"}, "r", "r", None]) == tax
    assert [p.tolist() for p in tax.parents] == [[], [0], [0], [1, 2], [3]]
    assert tax.ancestors_of("d") == ("r", "a", "b", "c", "d")
    assert tax.depth.tolist() == [0, 1, 1, 2, 3] and tax.height.tolist() == [3, 2, 2, 1, 0]
    assert "(*)" in str(tax) and "DAG" in repr(tax)
    # a tree keeps one parent per node and its pre-order
    tree = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    assert tree.is_tree and tree.parent.tolist() == [-1, 0, 1, 0]


OBO = """format-version: 1.2
! a hand-written ontology: two namespaces, a term with two parents, a part_of link

[Term]
id: X:1
name: biological process
namespace: biological_process

[Term]
id: X:2
name: cellular component
namespace: cellular_component

[Term]
id: X:3
name: growth
is_a: X:1 ! biological process

[Term]
id: X:4
name: cell growth
is_a: X:3 ! growth
is_a: X:1
relationship: part_of X:2 ! cellular component

[Term]
id: X:5
name: retired
is_obsolete: true
is_a: X:1

[Typedef]
id: part_of
name: part of
"""


def test_obo_reader(tmp_path):
    tax = Taxonomy.from_obo(OBO)
    # two top terms get a common root; the obsolete term is gone
    assert tax.root_name == "root" and set(tax.nodes) == {"root", "X:1", "X:2", "X:3", "X:4"}
    assert {tax.nodes[p] for p in tax.parents[tax.index("X:4")]} == {"X:1", "X:3"}
    with_part = Taxonomy.from_obo(OBO, relations=("is_a", "part_of"))
    assert {with_part.nodes[p] for p in with_part.parents[with_part.index("X:4")]} == {"X:1", "X:2", "X:3"}
    path = tmp_path / "tiny.obo"
    path.write_text(OBO)
    assert Taxonomy.from_obo(str(path)) == tax and Taxonomy.from_obo(path.open()) == tax
    with pytest.raises(TaxonomyError, match=r"OBO edge \('X:5', 'X:6'\): the parent 'X:5' is an obsolete term"):
        Taxonomy.from_obo(OBO + "\n[Term]\nid: X:6\nis_a: X:5\n")
    with pytest.raises(TaxonomyError, match=r"OBO edge \('X:9', 'X:6'\): the parent 'X:9' is not a term"):
        Taxonomy.from_obo(OBO + "\n[Term]\nid: X:6\nis_a: X:9\n")
    with pytest.raises(TaxonomyError, match="no \\[Term\\] stanza"):
        Taxonomy.from_obo("format-version: 1.2\n[Typedef]\nid: part_of\n")


DAG = Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c", "b/d", "c/e", "d/e", "c/f"])


@pytest.mark.parametrize("call, match", [
    (lambda: DAG.parent, r"Taxonomy.parent"),
    (lambda: DAG.path_indices, r"Taxonomy.path_indices"),
    (lambda: DAG.lca(1, 2), r"Taxonomy.lca"),
    (lambda: DAG.distance(1, 2), r"Taxonomy.distance"),
    (lambda: DAG.subtree("a"), r"Taxonomy.subtree"),
    (lambda: DAG.prune(1), r"Taxonomy.prune"),
    (lambda: encode_labels([["a", "c"]], DAG), r"path"),
])
def test_tree_only_members_refuse_a_dag(call, match):
    with pytest.raises(TaxonomyError, match=match + r".* needs a tree taxonomy, but this one is a DAG: node 'c' has 2"):
        call()


def test_tree_only_estimators_refuse_a_dag_at_fit():
    from sklearn.linear_model import LogisticRegression

    from skhier.local import LocalClassifierPerLevel, LocalClassifierPerParentNode
    from skhier.metrics import hierarchical_average_precision
    from skhier.neural import FlatSoftmaxClassifier, HCAMCLClassifier

    X = np.zeros((4, 3), dtype=np.float32)
    y = ["e", "f", "e", "f"]
    for est in (HCAMCLClassifier(DAG, max_epochs=1), FlatSoftmaxClassifier(DAG, max_epochs=1),
                LocalClassifierPerParentNode(LogisticRegression(), taxonomy=DAG),
                LocalClassifierPerLevel(LogisticRegression(), taxonomy=DAG)):
        with pytest.raises(
            TaxonomyError, match=f"{type(est).__name__} needs a tree taxonomy.*MultiLabelNodeClassifier"
        ):
            est.fit(X, y)
    with pytest.raises(TaxonomyError, match="operating curve .* needs a tree taxonomy"):
        hierarchical_average_precision(y, np.ones((4, DAG.n_nodes)), taxonomy=DAG)
    with pytest.raises(TaxonomyError, match="CHMCNNClassifier with single-label y .* needs a tree"):
        CHMCNNClassifier(DAG, max_epochs=1).fit(X, y)


def random_node_sets(tax, n, rng):
    """A (n, n_nodes) 0/1 matrix of random node sets closed under ancestors (every path)."""
    Y = np.zeros((n, tax.n_nodes), dtype=np.int8)
    Y[np.arange(n), rng.integers(1, tax.n_nodes, n)] = 1
    return fill_ancestors(Y, tax).toarray()


def test_label_sets_are_closed_under_all_ancestors():
    Y = np.zeros((2, DAG.n_nodes), dtype=int)
    Y[0, DAG.index("e")] = 1  # e is under c and d, so under a and b too
    Y[1, DAG.index("f")] = 1
    closed = fill_ancestors(Y, DAG).toarray()
    assert {DAG.nodes[j] for j in np.flatnonzero(closed[0])} == {"r", "a", "b", "c", "d", "e"}
    assert {DAG.nodes[j] for j in np.flatnonzero(closed[1])} == {"r", "a", "b", "c", "f"}
    np.testing.assert_array_equal(fill_ancestors(sp.csr_matrix(Y), DAG).toarray(), closed)
    enc, fmt = encode_labels(Y, DAG)
    assert fmt.multilabel and (enc.toarray() == closed).all()


def dense_mcm(h, tax):
    """The paper's MCM with its dense (B, n, n) tensor: max over R[k, d] * h[d]."""
    R = torch.as_tensor(tax.ancestor_matrix.toarray().T, dtype=h.dtype)  # R[k, d]: d is k or below k
    out, _ = torch.max(R[None] * h[:, None, :], dim=2)
    return out


def dense_mcm_signed(x, tax):
    """The dense MCM for scores of any sign: entries outside {k} ∪ D(k) are -inf, not 0."""
    R = torch.as_tensor(tax.ancestor_matrix.toarray().T, dtype=torch.bool)
    masked = torch.where(R[None], x[:, None, :], torch.tensor(-torch.inf, dtype=x.dtype))
    out, _ = torch.max(masked, dim=2)
    return out


def dense_mcloss(x, y, tax):
    """MCLoss as the paper's code computes it, on probabilities, over the non-root classes."""
    h = torch.sigmoid(x)
    out = (1 - y) * dense_mcm(h, tax) + y * dense_mcm(y * h, tax)
    return torch.nn.functional.binary_cross_entropy(out[:, 1:], y[:, 1:])


@given(dag_edges(min_nodes=4, max_nodes=12), st.integers(0, 2**31 - 1),
       st.sampled_from([torch.float64, torch.float32]))
def test_mcm_and_mcloss_equal_the_dense_reference(edges, seed, dtype):
    # float64 takes the pair path, float32 the packed bottom-up pass: both exact
    tax = Taxonomy.from_edges(edges)
    g = torch.Generator().manual_seed(seed)
    # logits on a 3-value grid: ties everywhere (and signed zeros, and -inf in the MCLoss)
    x = (torch.randint(-1, 2, (5, tax.n_nodes), generator=g) * 1.5).to(dtype).requires_grad_()
    y = torch.as_tensor(random_node_sets(tax, 5, np.random.default_rng(seed)), dtype=dtype)
    # MCM: values and gradients (one maximiser per entry, the first among ties)
    w = torch.randn(5, tax.n_nodes, generator=g, dtype=dtype)
    got = max_over_descendants(torch.sigmoid(x), tax)
    (g1,) = torch.autograd.grad((got * w).sum(), x)
    x2 = x.detach().clone().requires_grad_()
    want = dense_mcm(torch.sigmoid(x2), tax)
    (g2,) = torch.autograd.grad((want * w).sum(), x2)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(g1, g2)
    # raw scores with signed zeros and negatives: the same values and routing
    raw = (x.detach() * torch.tensor([-1.0, 1.0], dtype=dtype)[torch.randint(0, 2, x.shape, generator=g)])
    raw = raw.clone().requires_grad_()
    (g3,) = torch.autograd.grad((max_over_descendants(raw, tax) * w).sum(), raw)
    raw2 = raw.detach().clone().requires_grad_()
    (g4,) = torch.autograd.grad((dense_mcm_signed(raw2, tax) * w).sum(), raw2)
    torch.testing.assert_close(max_over_descendants(raw.detach(), tax), dense_mcm_signed(raw2.detach(), tax))
    torch.testing.assert_close(g3, g4)
    # MCLoss on label logits (the root's column is the module's constant)
    loss = MaxConstraintLoss(tax)(x[:, 1:], y[:, 1:])
    (g1,) = torch.autograd.grad(loss, x)
    ref = dense_mcloss(x2, y, tax)
    (g2,) = torch.autograd.grad(ref, x2)
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(g1[:, 1:], g2[:, 1:])


def test_chmcnn_on_a_dag_is_coherent_and_learns():
    rng = np.random.default_rng(0)
    Y = random_node_sets(DAG, 300, rng)
    X = (Y[:, 1:] * 2.0 + rng.normal(size=(300, DAG.n_nodes - 1))).astype(np.float32)
    clf = CHMCNNClassifier(DAG, max_epochs=2, batch_size=16, lr=1e-3, device="cpu", random_state=0,
                           module__hidden=32, train_split=None).fit(X, Y)
    P = clf.predict_proba(X)
    assert (hierarchy_violations(P, taxonomy=DAG) == 0).all()  # coherent by construction
    pred = clf.predict(X)
    assert (hierarchy_violations(pred, taxonomy=DAG) == 0).all()
    assert mean_average_precision(Y, P, taxonomy=DAG) > mean_average_precision(Y, rng.random(P.shape), taxonomy=DAG)
    assert clf.history_[-1, "train_loss"] < clf.history_[0, "train_loss"]
    # prune keeps a node only when every ancestor (over every path) passes
    clf.set_params(consistency="prune", threshold=0.5)
    assert (hierarchy_violations(clf.predict(X), taxonomy=DAG) == 0).all()


def test_chmcnn_probabilities_stay_coherent_when_the_sigmoid_rounds_by_position(monkeypatch):
    """Regression: torch's float32 sigmoid on some CPUs rounds the same logit 1 ulp apart in
    its vectorised and scalar code paths (σ(0.31840736) was 0.57893604 in a block of 16 and
    0.57893610 in the tail on an AVX2 machine), so probabilities taken after the MCM on logits
    had a node above its ancestor (found on cellcycle GO). The MCM is now also applied to the
    probabilities. The rounding is built directly here (a sigmoid that rounds the tail columns
    1 ulp up), so the test holds on every instruction set."""
    chain = Taxonomy.from_edges(["r/n0"] + [f"n{i}/n{i + 1}" for i in range(16)])  # 18 nodes, root first
    Y = fill_ancestors(np.eye(chain.n_nodes, dtype=int)[np.r_[1:18, 1:18]], chain)
    X = np.random.default_rng(0).normal(size=(Y.shape[0], 3)).astype(np.float32)
    clf = CHMCNNClassifier(chain, max_epochs=1, device="cpu", random_state=0, module__hidden=4,
                           train_split=None).fit(X, Y)
    v = 0.3184073567390442
    last = clf.module_.net[-1]
    with torch.no_grad():  # every label logit exactly v, so the MCM leaves them equal
        last.weight.zero_()
        last.bias.fill_(v)
    exact = torch.sigmoid

    def rounds_by_position(x):  # what a vectorised body and a scalar tail can do: the tail 1 ulp up
        out = exact(x)
        out[..., -1:] = torch.nextafter(out[..., -1:], torch.ones_like(out[..., -1:]))
        return out

    monkeypatch.setattr(torch, "sigmoid", rounds_by_position)
    naive = torch.sigmoid(clf._outputs(X[:1])).double().numpy()  # the probabilities before the fix
    assert hierarchy_violations(naive, taxonomy=chain).sum() > 0  # the case is built: the deepest node on top
    P = clf.predict_proba(X[:1])
    assert (hierarchy_violations(P, taxonomy=chain) == 0).all()
    assert len(set(P[0, 1:].tolist())) == 1  # equal logits, equal probabilities
    assert (hierarchy_violations(clf.predict(X[:1]), taxonomy=chain) == 0).all()


def test_coherence_refiner_and_violations_on_a_dag():
    rng = np.random.default_rng(1)
    S = rng.random((20, DAG.n_nodes))
    S[:, 0] = 1.0
    want = dense_mcm(torch.as_tensor(S), DAG).numpy()
    ref = CoherenceRefiner(DAG).fit(S, random_node_sets(DAG, 20, rng))
    out = np.asarray(ref.transform(S))
    np.testing.assert_allclose(out, want)
    # violations by brute force: pairs (node, ancestor) with the node above
    A = DAG.ancestor_matrix.toarray()
    brute = [sum(S[i, d] > S[i, a] for d in range(DAG.n_nodes) for a in range(DAG.n_nodes) if a != d and A[d, a])
             for i in range(20)]
    assert hierarchy_violations(S, taxonomy=DAG).tolist() == brute
    assert (hierarchy_violations(out, taxonomy=DAG) == 0).all()
    pred = ref.predict(S)
    assert pred.shape == S.shape and (hierarchy_violations(pred, taxonomy=DAG, threshold=0.5) == 0).all()
    np.testing.assert_array_equal(pred, (out >= 0.5) | (np.arange(DAG.n_nodes) == 0))


def test_set_based_metrics_on_dag_node_sets():
    rng = np.random.default_rng(2)
    T = random_node_sets(DAG, 30, rng)
    P = random_node_sets(DAG, 30, rng)
    inter = (T[:, 1:] & P[:, 1:]).sum()
    p, r, _ = hierarchical_precision_recall_fscore(T, P, taxonomy=DAG)
    assert p == pytest.approx(inter / P[:, 1:].sum()) and r == pytest.approx(inter / T[:, 1:].sum())
    with pytest.raises(TaxonomyError, match="single labels .* needs a tree"):
        hierarchical_precision_recall_fscore(["e"], ["f"], taxonomy=DAG)


def test_multilabel_estimators_and_label_texts_on_a_dag():
    from skhier.neural import CMSGClassifier
    from skhier.neural.text import label_prompts

    # a DAG node has no single root path: its text is its name, or the one given
    texts = label_prompts(DAG, {"e": "cell growth"})
    assert texts[DAG.index("e")] == "cell growth" and texts[DAG.index("c")] == "c"
    rng = np.random.default_rng(3)
    Y = random_node_sets(DAG, 40, rng)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    clf = CMSGClassifier(DAG, correlation="cooccurrence", backbone="mlp", module__dim=8, module__heads=2,
                         max_epochs=1, device="cpu", random_state=0).fit(X, Y)
    assert (hierarchy_violations(clf.predict(X), taxonomy=DAG) == 0).all()


def test_bottom_up_and_diffusion_on_the_dag_graph():
    from skhier.inference import BottomUpRefiner, DiffusionRefiner, TopDownRefiner, diffuse

    rng = np.random.default_rng(4)
    leaf = np.zeros((6, DAG.n_nodes))
    leaf[:, DAG.leaves] = rng.dirichlet(np.ones(DAG.n_leaves), 6)
    # bottom-up: every node sums the leaves below it over any path, each leaf once
    A = DAG.ancestor_matrix.toarray()
    want = leaf @ A  # leaf rows of A: a leaf's ancestors
    np.testing.assert_allclose(np.asarray(BottomUpRefiner(DAG).fit_transform(leaf)), want)
    assert np.allclose(want[:, 0], 1.0)
    # diffusion on the graph of every edge: the paper's closed form, by any solver
    W = np.zeros((DAG.n_nodes,) * 2)
    child, par = DAG.edges
    W[child, par] = W[par, child] = 1
    d = W.sum(1) ** -0.5
    ref = 0.7 * want @ np.linalg.inv(np.eye(DAG.n_nodes) - 0.3 * d[:, None] * W * d[None, :])
    t = torch.as_tensor(want)
    for kw in (dict(solver="dense"), dict(solver="auto"), dict(method="iterative", tol=1e-13, max_iter=100000)):
        np.testing.assert_allclose(diffuse(t, DAG, 0.3, **kw).numpy(), ref, atol=1e-10)
    from skhier.inference import _diffusion
    np.testing.assert_allclose(_diffusion._sparse_solve(t, DAG, 0.3, "node").numpy(), ref, atol=1e-10)
    with pytest.raises(TaxonomyError, match=r"diffuse\(solver='tree'\).* needs a tree"):
        diffuse(t, DAG, 0.3, solver="tree")
    # refiners fitted on node sets predict node sets; single-label predictions need a tree
    Y = random_node_sets(DAG, 6, rng)
    ref_est = DiffusionRefiner(DAG, alpha=0.3).fit(want, Y)
    pred = ref_est.predict(want)
    assert pred.shape == Y.shape and (pred[:, 0] == 1).all()
    with pytest.raises(TaxonomyError, match="TopDownRefiner needs a tree taxonomy"):
        TopDownRefiner(DAG).fit(want)
    with pytest.raises(TaxonomyError, match=r"BottomUpRefiner.predict with single-label y .* needs a tree"):
        BottomUpRefiner(DAG).fit(leaf).predict(leaf)


def test_multilabel_local_classifier_per_node_on_a_dag():
    from sklearn.linear_model import LogisticRegression

    from skhier.local import MultiLabelLocalClassifierPerNode

    rng = np.random.default_rng(5)
    Y = random_node_sets(DAG, 120, rng)
    X = Y[:, 1:] * 2.0 + rng.normal(size=(120, DAG.n_nodes - 1))
    clf = MultiLabelLocalClassifierPerNode(LogisticRegression(), taxonomy=DAG).fit(X, Y)
    P = clf.predict_proba(X)
    assert (hierarchy_violations(P, taxonomy=DAG) == 0).all() and (P[:, 0] == 1).all()
    # a node's local problem: the samples holding all its parents. f (under c): the rows with c
    has_c = Y[:, DAG.index("c")].astype(bool)
    ref = LogisticRegression().fit(X[has_c], Y[has_c, DAG.index("f")])
    local = clf.estimators_["f"].predict_proba(X)[:, 1]
    np.testing.assert_allclose(local, ref.predict_proba(X)[:, 1])
    np.testing.assert_allclose(P[:, DAG.index("f")], local * P[:, DAG.index("c")])
    # e (under c and d): every row holding both holds e here, so its local answer is 1 and
    # P(e) is the smaller of its parents'
    np.testing.assert_allclose(P[:, DAG.index("e")], np.minimum(P[:, DAG.index("c")], P[:, DAG.index("d")]))
    pred = clf.predict(X)
    assert pred.shape == Y.shape and (hierarchy_violations(pred, taxonomy=DAG) == 0).all()
    assert mean_average_precision(Y, P, taxonomy=DAG) > 0.8
    with pytest.raises(ValueError, match="learns node sets: y must be a node-indicator matrix"):
        MultiLabelLocalClassifierPerNode(taxonomy=DAG).fit(X[:3], ["e", "f", "e"])
    with pytest.raises(ValueError, match="needs taxonomy="):
        MultiLabelLocalClassifierPerNode().fit(X, Y)


def test_chmcnn_default_stops_early_on_the_held_out_ap_and_keeps_the_best_epoch():
    # the defaults (issue 38): 10 % held out, EarlyStopping on valid_ap with patience 10, best weights back
    from skhier.neural import CHMCNNClassifier

    tax = Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c", "b/d"])
    rng = np.random.default_rng(0)
    Y = np.zeros((200, tax.n_nodes), dtype=int)
    Y[:, 0] = 1
    Y[:100, [tax.index("a"), tax.index("b"), tax.index("c")]] = 1
    Y[100:, [tax.index("b"), tax.index("d")]] = 1
    X = (Y[:, 1:] + rng.normal(scale=0.3, size=(200, 4))).astype(np.float32)
    kw = dict(device="cpu", random_state=0, module__hidden=16, max_epochs=100, patience=3)
    clf = CHMCNNClassifier(tax, refit=False, **kw).fit(X, Y)
    ap = clf.history[:, "valid_ap"]
    best = int(np.argmax(ap))
    assert len(ap) == best + 1 + 3 < 100  # stopped 3 epochs after the best held-out AP
    held_out = clf.history[best, "valid_ap"]
    assert held_out == max(ap) and 0.9 < held_out <= 1.0
    # the default then refits on every sample for those best + 1 epochs; the selection's curve is kept
    refit = CHMCNNClassifier(tax, **kw).fit(X, Y)
    assert refit.selection_history_[:, "valid_ap"] == ap and refit.refit_epochs_ == best + 1 == len(refit.history_)
