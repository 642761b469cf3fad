import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skhier import Taxonomy
from skhier.datasets import make_hierarchical_classification
from skhier.inference import (
    BottomUpRefiner,
    DifferentiableDiffusionRefiner,
    DiffusionRefiner,
    FlatClassifier,
    NodeScores,
    TopDownRefiner,
    decide,
    diffuse,
    diffusion_operator,
)
from skhier.labels import node_indices_to_paths
from skhier.metrics import get_hierarchical_scorer
from skhier.testing import node_scores, taxonomies


def naive_iteration(f0, wn, alpha, n_iter=3000):
    f = f0.copy()
    for _ in range(n_iter):
        f = alpha * f @ wn + (1 - alpha) * f0
    return f


@given(st.data())
def test_closed_form_equals_iterative_limit(data):
    tax = data.draw(taxonomies(min_nodes=1, max_nodes=25))
    alpha = data.draw(st.floats(0.0, 0.95))
    n = data.draw(st.integers(1, 4))
    f0 = np.asarray(data.draw(node_scores(tax, n))) if tax.n_leaves > 0 else np.ones((n, 1))
    t0 = torch.as_tensor(f0)
    dense = diffuse(t0, tax, alpha, solver="dense").numpy()
    tree = diffuse(t0, tax, alpha, solver="tree").numpy()
    it = diffuse(t0, tax, alpha, method="iterative", tol=1e-12, max_iter=5000).numpy()
    ref = naive_iteration(f0, tax.normalized_adjacency.toarray(), alpha)
    np.testing.assert_allclose(dense, ref, atol=1e-6)
    np.testing.assert_allclose(tree, ref, atol=1e-6)
    np.testing.assert_allclose(it, ref, atol=1e-6)
    assert np.isfinite(dense).all()
    if alpha == 0:
        np.testing.assert_allclose(tree, f0)


@given(taxonomies(min_nodes=3, max_nodes=25, min_leaves=2), st.floats(0.0, 0.9))
def test_perfect_one_hot_decodes_to_its_leaf(tax, alpha):
    for leaf in tax.leaves:
        onehot = np.zeros((1, tax.n_nodes))
        onehot[0, leaf] = 1
        path = tax.ancestor_matrix[[leaf]].toarray()  # bottom-up sums of a one-hot leaf
        for f0 in (onehot, path):
            ref = DiffusionRefiner(tax, alpha=alpha).fit(f0)
            assert decide(ref.transform(f0), tax, "leaf")[0] == leaf


def test_alpha_zero_is_identity(tree):
    s = np.random.default_rng(0).random((4, 8))
    np.testing.assert_allclose(DiffusionRefiner(tree, alpha=0.0).fit_transform(s), s)
    np.testing.assert_allclose(diffusion_operator(tree, 0.0), np.eye(8))


def test_bottom_up_and_top_down_by_hand(tree):
    leaf = np.array([[0, 0, 0.5, 0.2, 0, 0.1, 0.1, 0.1]])
    out = BottomUpRefiner(tree).fit_transform(leaf)
    np.testing.assert_allclose(out, [[1, 0.7, 0.5, 0.2, 0.3, 0.1, 0.1, 0.1]])
    cond = np.array([[1, 0.7, 0.5, 0.5, 0.3, 0.2, 0.2, 0.6]])
    np.testing.assert_allclose(TopDownRefiner(tree).fit_transform(cond), [[1, 0.7, 0.35, 0.35, 0.3, 0.06, 0.06, 0.18]])
    cond2 = np.array([[1, 0.7, 0.2, 0.2, 0.7, 0.1, 0.1, 0.2]])  # siblings not normalised
    out2 = TopDownRefiner(tree, normalize=True).fit_transform(cond2)
    np.testing.assert_allclose(out2, [[1, 0.5, 0.25, 0.25, 0.5, 0.125, 0.125, 0.25]])


def test_decisions(tree):
    s = np.array([[1, 0.45, 0.3, 0.15, 0.55, 0.2, 0.15, 0.2]])
    # leaf: A1 (0.3) beats every B leaf; top-down: B (0.55) then B1 (first of the tied 0.2s)
    assert tree.nodes[decide(s, tree, "leaf")[0]] == "A1"
    assert tree.nodes[decide(s, tree, "top_down")[0]] == "B1"
    assert tree.nodes[decide(s, tree, "majority")[0]] == "B"
    assert tree.nodes[decide(s, tree, "threshold", threshold=0.5)[0]] == "B"
    assert tree.nodes[decide(s, tree, "threshold", threshold=0.25)[0]] == "A1"
    assert tree.nodes[decide(s, tree, "threshold", threshold=0.9)[0]] == "root"
    with pytest.raises(ValueError, match="decision must be one of"):
        decide(s, tree, "best")


def test_validation_errors(tree, ragged):
    with pytest.raises(ValueError, match="have 3 columns but the taxonomy has 8"):
        DiffusionRefiner(tree).fit(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        DiffusionRefiner(tree).fit(np.full((2, 8), np.inf))
    with pytest.raises(ValueError, match="probabilities"):
        BottomUpRefiner(tree).fit(-np.ones((2, 8)))
    with pytest.raises(ValueError, match="alpha must be a number in"):
        DiffusionRefiner(tree, alpha=1.0).fit(np.ones((2, 8)))
    other = Taxonomy.from_paths([["X", "x1"], ["X", "x2"], ["Y", "y1"], ["Y", "y2"], ["Y", "y3"]])
    assert other.n_nodes == tree.n_nodes and other != tree
    with pytest.raises(ValueError, match="another taxonomy"):
        DiffusionRefiner(tree).fit(NodeScores.wrap(np.ones((2, 8)), other))
    with pytest.raises(ValueError, match="X has 2 samples but y has 1"):
        DiffusionRefiner(tree).fit(np.ones((2, 8)), ["A1"])


def test_pipeline_with_steps_on_different_taxonomies():
    X, y, tax = make_hierarchical_classification(60, 4, n_levels=2, branching=2, random_state=0)
    renamed = Taxonomy([f"x{i}" for i in range(tax.n_nodes)], [None] + [f"x{p}" for p in tax.parent[1:]])
    pipe = make_pipeline(FlatClassifier(LogisticRegression(), tax), DiffusionRefiner(renamed))
    with pytest.raises(ValueError, match="another taxonomy"):
        pipe.fit(X, y)


def test_tensor_in_tensor_out(tree):
    s = torch.rand(3, 8, dtype=torch.float64)
    ref = DiffusionRefiner(tree, alpha=0.3).fit(s)
    out = ref.transform(s)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), ref.transform(s.numpy()))
    assert isinstance(ref.transform(s.numpy()), NodeScores)


@pytest.fixture(scope="module")
def synth():
    return make_hierarchical_classification(300, 8, n_levels=2, branching=3, class_sep=1.5, random_state=0)


@pytest.mark.parametrize("two_d", [False, True])
def test_cross_val_score_and_grid_search(synth, two_d):
    X, y, tax = synth
    if two_d:
        y = node_indices_to_paths([tax.index(v) for v in y], tax)
    pipe = make_pipeline(FlatClassifier(LogisticRegression(max_iter=300), tax), DiffusionRefiner(tax))
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, X, y, cv=cv, scoring=get_hierarchical_scorer("hierarchical_f1", tax))
    assert scores.shape == (3,) and (scores > 0.4).all()
    grid = {"diffusionrefiner__alpha": [0.0, 0.3], "diffusionrefiner__decision": ["leaf", "threshold"]}
    gs = GridSearchCV(pipe, grid, cv=cv, scoring={
        "ap": get_hierarchical_scorer("average_precision", tax),
        "hf1": get_hierarchical_scorer("hierarchical_f1", tax),
    }, refit="hf1").fit(X, y)
    assert set(gs.best_params_) == set(grid)
    pred = gs.predict(X[:5])
    assert pred.shape == ((5, 2) if two_d else (5,))
    # predictions come back in the fitted format and are taxonomy nodes or paths
    if two_d:
        assert {tuple(r) for r in pred.tolist()} <= {tuple(r) for r in y.tolist()} | {("", "")} | {
            (tax.nodes[v], "") for v in tax.levels[1]
        }
    else:
        assert set(pred) <= set(tax.nodes)


def test_longer_chain(synth):
    X, y, tax = synth
    pipe = make_pipeline(
        FlatClassifier(LogisticRegression(max_iter=300), tax),
        BottomUpRefiner(tax),
        DiffusionRefiner(tax, alpha=0.2, decision="top_down"),
    ).fit(X, y)
    scores = pipe.transform(X[:4])
    assert scores.shape == (4, tax.n_nodes)
    assert not hasattr(pipe, "predict_proba")  # refined scores are no class distribution
    np.testing.assert_allclose(pipe.decision_function(X[:4]), np.asarray(scores)[:, pipe[-1].class_nodes_])
    assert list(pipe.get_feature_names_out()) == [str(n) for n in tax.nodes]
    clone(pipe)


def test_flat_classifier(synth):
    X, y, tax = synth
    fc = FlatClassifier(LogisticRegression(max_iter=300), tax).fit(X, y)
    s = fc.transform(X[:5])
    np.testing.assert_allclose(s[:, 0], 1.0, atol=1e-6)
    # children sum to their parent
    for v in range(tax.n_nodes):
        kids = tax.children[v]
        if len(kids):
            np.testing.assert_allclose(s[:, kids].sum(1), s[:, v], atol=1e-9)
    np.testing.assert_array_equal(
        fc.predict(X[:20]), np.array([tax.nodes[i] for i in fc.estimator_.predict(X[:20])])
    )
    from skhier.metrics import path_accuracy_score

    assert fc.score(X, y) == path_accuracy_score(y, fc.predict(X), taxonomy=tax)
    ref = DiffusionRefiner(tax, alpha=0.2).fit(fc.transform(X), y)
    assert ref.score(fc.transform(X), y) == path_accuracy_score(y, ref.predict(fc.transform(X)), taxonomy=tax)
    with pytest.raises(TypeError, match="predict_proba"):
        from sklearn.svm import LinearSVC

        FlatClassifier(LinearSVC(), tax).fit(X, y)


def test_differentiable_diffusion_learns(synth):
    X, y, tax = synth
    # confuse the scores systematically: leaf j's mass goes to leaf (j+1) mod L
    L = tax.n_leaves
    t = np.array([tax.leaf_position[tax.index(v)] for v in y])
    leaf_p = np.full((len(y), L), 0.1 / (L - 1))
    leaf_p[np.arange(len(y)), (t + 1) % L] = 0.9
    scores = leaf_p @ tax.leaf_ancestor_matrix
    base = DiffusionRefiner(tax, alpha=0.3).fit(scores, y)
    learned = DifferentiableDiffusionRefiner(
        tax, alpha=0.3, lr=0.05, max_epochs=60, validation_fraction=0.2, patience=10, device="cpu", random_state=0
    ).fit(scores, y)
    acc = lambda m: np.mean(m.predict(scores) == y)
    assert acc(base) < 0.05 and acc(learned) > 0.9
    assert learned.n_epochs_ >= 1 and learned.operator_.shape == (tax.n_nodes, tax.n_nodes)
    again = clone(learned).fit(scores, y)
    np.testing.assert_allclose(again.operator_, learned.operator_, atol=1e-6)
    with pytest.raises(ValueError, match="needs y"):
        DifferentiableDiffusionRefiner(tax, device="cpu").fit(scores)
    with pytest.raises(ValueError, match="max_nodes"):
        DifferentiableDiffusionRefiner(tax, operator="dense", max_nodes=3, device="cpu").fit(scores, y)


def test_edge_diffusion_map_starts_at_the_closed_form_and_learns(synth):
    X, y, tax = synth
    rng = np.random.default_rng(0)
    scores = rng.dirichlet(np.ones(tax.n_leaves), len(y)) @ tax.leaf_ancestor_matrix
    closed = DiffusionRefiner(tax, alpha=0.4).fit(scores).transform(scores)
    untrained = DifferentiableDiffusionRefiner(tax, alpha=0.4, operator="edges", lr=1e-9, max_epochs=1,
                                               validation_fraction=0, device="cpu", random_state=0).fit(scores, y)
    assert untrained.n_steps_ == 16  # the fewest with 0.4**n <= 1e-6
    assert sp.issparse(untrained.operator_) and untrained.operator_.nnz == 2 * (tax.n_nodes - 1)
    np.testing.assert_allclose(untrained.transform(scores), closed, atol=1e-5)
    # trained on scores that leave the internal nodes at 0, it learns to lift them: it fits
    # the subtree indicators far better than where it started
    t = np.array([tax.leaf_position[tax.index(v)] for v in y])
    scores = np.full((len(y), tax.n_nodes), 0.0)
    scores[:, tax.leaves] = 0.4 / (tax.n_leaves - 1)
    scores[np.arange(len(y)), tax.leaves[t]] = 0.6
    target = tax.ancestor_matrix[[tax.index(v) for v in y]].toarray()
    mse = lambda ref: np.mean((np.asarray(ref.transform(scores)) - target) ** 2)
    learned = DifferentiableDiffusionRefiner(tax, alpha=0.4, operator="edges", lr=0.05, max_epochs=20,
                                             validation_fraction=0, device="cpu", random_state=0).fit(scores, y)
    assert mse(learned) < 0.5 * mse(untrained), (mse(learned), mse(untrained))
    # "auto" is dense up to max_nodes, the edge map above
    assert DifferentiableDiffusionRefiner(tax, max_epochs=1, device="cpu").fit(scores, y).n_steps_ is None
    auto = DifferentiableDiffusionRefiner(tax, max_nodes=3, max_epochs=1, n_steps=5, device="cpu").fit(scores, y)
    assert auto.n_steps_ == 5 and sp.issparse(auto.operator_)


@pytest.mark.cuda
def test_diffusion_on_cuda(tree):
    s = torch.rand(50, 8, dtype=torch.float64)
    cpu = DiffusionRefiner(tree, alpha=0.4, solver="tree").fit(s).transform(s)
    gpu = DiffusionRefiner(tree, alpha=0.4, solver="tree").fit(s).transform(s.cuda())
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), atol=1e-10)
    out = DiffusionRefiner(tree, alpha=0.4, device="cuda").fit(s.numpy()).transform(s.numpy())
    np.testing.assert_allclose(out, cpu.numpy(), atol=1e-10)
    it = DiffusionRefiner(tree, alpha=0.4, method="iterative").fit(s).transform(s.cuda())
    np.testing.assert_allclose(it.cpu().numpy(), cpu.numpy(), atol=1e-6)


def test_refining_never_writes_into_the_input(tree):
    # regression: the tree solver transposed a (1, n_nodes) input into a view and scaled it in place
    for shape in [(1, 8), (5, 8)]:
        s = torch.rand(*shape, dtype=torch.float64)
        before = s.clone()
        DiffusionRefiner(tree, alpha=0.5, solver="tree").fit(s).transform(s)
        assert torch.equal(s, before)


def test_bad_diffusion_options(tree):
    s = np.ones((2, 8))
    with pytest.raises(ValueError, match="method must be"):
        DiffusionRefiner(tree, method="power").fit(s)
    with pytest.raises(ValueError, match="solver must be"):
        DiffusionRefiner(tree, solver="lu").fit(s)
    with pytest.raises(TypeError, match="skhier.Taxonomy"):
        DiffusionRefiner({"a": "root"}).fit(s)
    with pytest.raises(ValueError, match=r"root must be one of 'exclude', 'node', got 'drop'"):
        DiffusionRefiner(tree, root="drop").fit(s)


@given(st.data())
def test_root_excluded_from_the_graph(data):
    # root="exclude": W without the root's edges, every solver the same, the root's score passes through
    tax = data.draw(taxonomies(min_nodes=2, max_nodes=14, max_depth=4))
    f0 = np.asarray(data.draw(node_scores(tax, 3)), dtype=np.float64)
    alpha = data.draw(st.sampled_from([0.2, 0.5, 0.9]))
    w = tax.adjacency.toarray().astype(float)
    w[0, :] = w[:, 0] = 0
    deg = w.sum(1)
    inv = np.where(deg > 0, deg, 1.0) ** -0.5 * (deg > 0)
    wn = inv[:, None] * w * inv[None, :]
    want = (1 - alpha) * f0 @ np.linalg.inv(np.eye(tax.n_nodes) - alpha * wn)
    want[:, 0] = f0[:, 0]
    for solver in ("dense", "tree"):
        got = DiffusionRefiner(tax, alpha=alpha, root="exclude", solver=solver).fit(f0).transform(f0)
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-10)
    it = DiffusionRefiner(tax, alpha=alpha, root="exclude", method="iterative", tol=1e-13, max_iter=100000)
    np.testing.assert_allclose(np.asarray(it.fit(f0).transform(f0)), want, atol=1e-8)


def test_root_roles_by_hand():
    # r -> {a, b}: without the root, a and b have no neighbour: f* = (1 - α) f0 and the root
    # keeps its score; with it, eq. 6 on the 3-node star (the diffuse docstring's values)
    tax = Taxonomy.from_edges([("r", "a"), ("r", "b")])
    f0 = np.array([[1.0, 1.0, 0.0]])
    np.testing.assert_allclose(DiffusionRefiner(tax, alpha=0.5, root="exclude").fit(f0).transform(f0),
                               [[1.0, 0.5, 0.0]])
    assert DiffusionRefiner(tax).root == "node"
    np.testing.assert_allclose(DiffusionRefiner(tax, alpha=0.5).fit(f0).transform(f0), [[0.902, 0.819, 0.319]],
                               atol=5e-4)


@pytest.mark.parametrize("make", [
    lambda tax: TopDownRefiner(tax),
    lambda tax: BottomUpRefiner(tax),
    lambda tax: DiffusionRefiner(tax, alpha=0.5),
])
@pytest.mark.parametrize("multilabel", [False, True])
def test_refiner_predict_validates_its_scores_once(monkeypatch, make, multilabel):
    """predict = one check of X, then private kernels on the checked tensor (a spy counts)."""
    import skhier.labels

    tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    rng = np.random.default_rng(0)
    s = rng.random((6, tax.n_nodes))
    s[:, 0] = 1.0
    y = sp.csr_matrix((s > 0.5).astype(float)) if multilabel else np.array(["A1", "A2", "B1"] * 2)
    ref = make(tax).fit(s, y)
    expected = ref.predict(s)
    calls = []
    real = skhier.utils.validation.check_node_scores
    monkeypatch.setattr(
        skhier.utils.validation, "check_node_scores", lambda *a, **k: calls.append(k.get("name")) or real(*a, **k)
    )
    got = ref.predict(s)
    assert calls == ["X"]
    if multilabel:
        assert (got != expected).nnz == 0
    else:
        np.testing.assert_array_equal(got, expected)


def test_one_score_adapter_gives_one_message_for_leaf_scores():
    """Metrics and refiners refuse leaf-only scores with the same words (one adapter)."""
    from skhier.metrics import operating_curve

    tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    leaf = np.full((2, tax.n_leaves), 1 / 3)
    msgs = []
    for call in (lambda: operating_curve(np.array(["A1", "B1"]), leaf, taxonomy=tax),
                 lambda: BottomUpRefiner(tax).fit_transform(leaf)):
        with pytest.raises(ValueError, match="one per leaf") as err:
            call()
        msgs.append(str(err.value).split(" has ")[1])
    assert msgs[0] == msgs[1]
