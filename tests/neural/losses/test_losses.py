"""Every hierarchical loss against a slow per-sample reference written from its formula.

The references loop over samples and nodes with plain Python sets on a hand-built
taxonomy whose leaves sit at depths 1, 2 and 3; targets include internal nodes.
"""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skhier import Taxonomy
from skhier.datasets import make_hierarchical_classification
from skhier.metrics import get_hierarchical_scorer, latent_distance_correlation
from skhier.neural import FlatSoftmaxClassifier, HierarchicalLossClassifier, KFRClassifier
from skhier.neural.losses import (
    LOSSES,
    ConditionalSigmoidLoss,
    ConditionalSoftmaxLoss,
    FlatSoftmaxLoss,
    HierarchicalCrossEntropyLoss,
    MultiLabelSigmoidLoss,
    ParameterSharingSoftmaxLoss,
    QuantitativeRelativityLoss,
    SoftLabelsLoss,
    SoftMaxDescendantLoss,
    SoftMaxMarginLoss,
    get_criterion,
    get_loss,
    normalized_l1_distance,
    sample_triplets,
)

# root ─ A ─ A1, A2 ; B (a leaf at depth 1) ; C ─ C1 ─ C11 ; C ─ C2
TAX = Taxonomy.from_parent_mapping(
    {"A": "r", "A1": "A", "A2": "A", "B": "r", "C": "r", "C1": "C", "C11": "C1", "C2": "C"}
)
N = TAX.n_nodes
LEAVES = [int(v) for v in TAX.leaves]
PARENT = [int(p) for p in TAX.parent]
TARGETS = torch.tensor([TAX.index(n) for n in ["A1", "B", "C11", "C2", "A", "C1"]])  # leaves and internal nodes


def anc(v):
    """Root path of node v, root first."""
    out = [v]
    while PARENT[out[-1]] >= 0:
        out.append(PARENT[out[-1]])
    return out[::-1]


def below(v):
    return {u for u in range(N) if v in anc(u)}  # v's subtree, v included


def children(v):
    return [u for u in range(N) if PARENT[u] == v]


def height(v):
    return 0 if not children(v) else 1 + max(height(c) for c in children(v))


def lca(a, b):
    return [u for u in anc(a) if u in anc(b)][-1]


def depth(v):
    return len(anc(v)) - 1


def lse(xs):
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def softplus(x):
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


def leaf_softmax(scores):
    z = lse(scores)
    return [math.exp(s - z) for s in scores]


# ---------------------------------------------------------------- slow references, one sample
def ref_flat(th, y):
    p = leaf_softmax(th)
    return -math.log(sum(p[k] for k, l in enumerate(LEAVES) if l in below(y)))


def ref_ps(th, y):
    s = [sum(th[u] for u in anc(l)[1:]) for l in LEAVES]
    return ref_flat(s, y)


def ref_cond_softmax(th, y):
    return -sum(th[u] - lse([th[s] for s in children(PARENT[u])]) for u in anc(y)[1:])


def ref_cond_sigmoid(th, y):
    path = set(anc(y))
    pos = path - {0}
    neg = {s for s in range(1, N) if PARENT[s] in path and s not in path and PARENT[s] != y}
    return sum(softplus(-th[v]) for v in pos) + sum(softplus(th[v]) for v in neg)


def ref_multilabel(th, y):
    path = set(anc(y))
    total = 0.0
    for v in range(1, N):
        if v in path:
            total += softplus(-th[v])
        elif y not in anc(v):  # nodes below an internal label are unknown
            total += softplus(th[v])
    return total


def ref_descendant(th, y, weighted):
    total = 0.0
    for a in anc(y):
        cousins = [u for u in range(N) if u not in anc(a) and a not in anc(u)]
        term = lse([th[a]] + [th[u] for u in cousins]) - th[a]
        n_leaves = sum(1 for l in LEAVES if l in below(a))
        total += term / n_leaves if weighted else term
    return total


def ref_margin(th, y, margin, tau):
    if margin == "incorrect":
        delta = [0.0 if v in anc(y) else 1.0 for v in range(N)]
    else:
        delta = [depth(y) + depth(v) - 2 * depth(lca(y, v)) for v in range(N)]
    return lse([th[v] + tau * delta[v] for v in range(N)]) - th[y]


def ref_hxe(th, y, alpha):
    p = leaf_softmax(th)
    mass = lambda v: sum(p[k] for k, l in enumerate(LEAVES) if l in below(v))  # noqa: E731
    return -sum(math.exp(-alpha * depth(v)) * math.log(mass(v) / mass(PARENT[v])) for v in anc(y)[1:])


def ref_soft_labels(th, y, beta):
    w = [math.exp(-beta * height(lca(y, l)) / height(0)) for l in LEAVES]
    q = [x / sum(w) for x in w]
    return -sum(qc * math.log(pc) for qc, pc in zip(q, leaf_softmax(th)))


CASES = [
    (FlatSoftmaxLoss(TAX), ref_flat),
    (ParameterSharingSoftmaxLoss(TAX), ref_ps),
    (ConditionalSoftmaxLoss(TAX), ref_cond_softmax),
    (ConditionalSigmoidLoss(TAX), ref_cond_sigmoid),
    (MultiLabelSigmoidLoss(TAX), ref_multilabel),
    (SoftMaxDescendantLoss(TAX), lambda th, y: ref_descendant(th, y, True)),
    (SoftMaxDescendantLoss(TAX, node_weight=None), lambda th, y: ref_descendant(th, y, False)),
    (SoftMaxMarginLoss(TAX), lambda th, y: ref_margin(th, y, "incorrect", 5.0)),
    (SoftMaxMarginLoss(TAX, margin="edges", tau=0.7), lambda th, y: ref_margin(th, y, "edges", 0.7)),
    (HierarchicalCrossEntropyLoss(TAX, alpha=0.0), lambda th, y: ref_hxe(th, y, 0.0)),
    (HierarchicalCrossEntropyLoss(TAX, alpha=0.6), lambda th, y: ref_hxe(th, y, 0.6)),
    (SoftLabelsLoss(TAX, beta=3.0), lambda th, y: ref_soft_labels(th, y, 3.0)),
]


def _name(case):
    loss = case[0]
    return f"{type(loss).__name__}-{loss.extra_repr().split(', ', 2)[-1]}"


@pytest.mark.parametrize("loss, ref", CASES, ids=[_name(c) for c in CASES])
def test_loss_equals_slow_reference(loss, ref):
    g = torch.Generator().manual_seed(0)
    logits = (3 * torch.randn(len(TARGETS), loss.n_outputs, generator=g, dtype=torch.float64)).requires_grad_()
    value = loss(logits, TARGETS)
    expected = np.mean([ref(logits[i].tolist(), int(y)) for i, y in enumerate(TARGETS)])
    assert value.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    value.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    # leaf targets only: the fast cross-entropy path of the leaf softmaxes agrees too
    leaf_t = TARGETS[torch.as_tensor(TAX.is_leaf.copy())[TARGETS]]
    leaf_value = loss(logits[: len(leaf_t)].detach(), leaf_t)
    assert float(leaf_value) == pytest.approx(
        np.mean([ref(logits[i].tolist(), int(y)) for i, y in enumerate(leaf_t)]), rel=1e-9
    )


def test_losses_are_float32_stable_with_large_logits():
    logits = torch.full((3, N), 60.0)
    logits[:, 1] = -60.0
    for loss, _ in CASES:
        x = logits[:, : loss.n_outputs].clone().requires_grad_()
        value = loss(x, TARGETS[:3])
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(x.grad).all(), type(loss).__name__


def ref_end(loss, th):
    """The read-out each loss documents, as a list over all nodes (0 where it cannot end)."""
    out = [0.0] * N
    if isinstance(loss, (SoftMaxMarginLoss, SoftMaxDescendantLoss)):
        return leaf_softmax(th)  # a softmax over every node
    if isinstance(loss, ConditionalSoftmaxLoss):
        for l in LEAVES:
            out[l] = math.exp(-ref_cond_softmax(th, l))
        return out
    if isinstance(loss, (ConditionalSigmoidLoss, MultiLabelSigmoidLoss)):
        s = [sum(-softplus(-th[u]) for u in anc(l)[1:]) for l in LEAVES]
    elif isinstance(loss, ParameterSharingSoftmaxLoss):
        s = [sum(th[u] for u in anc(l)[1:]) for l in LEAVES]
    else:
        s = th
    for l, p in zip(LEAVES, leaf_softmax(s)):
        out[l] = p
    return out


@pytest.mark.parametrize("loss, ref", CASES, ids=[_name(c) for c in CASES])
def test_read_out_is_the_documented_end_distribution(loss, ref):
    logits = torch.randn(4, loss.n_outputs, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    end = loss.end_log_probs(logits).exp()
    for i in range(4):
        np.testing.assert_allclose(end[i].numpy(), ref_end(loss, logits[i].tolist()), rtol=1e-10, atol=1e-15)
    assert torch.allclose(end.sum(1), torch.ones(4, dtype=torch.float64))
    finite = torch.isfinite(loss.end_log_probs(logits)).all(0).nonzero().ravel().tolist()
    assert finite == sorted(int(v) for v in loss.end_nodes)
    # node marginals: the subtree sums of the end distribution
    marg = loss.node_log_probs(logits).exp()
    expected = [[sum(float(end[i, u]) for u in below(v)) for v in range(N)] for i in range(4)]
    np.testing.assert_allclose(marg.numpy(), expected, rtol=1e-10)


def test_kfr_relativity_equals_eq6_reference():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 5, generator=g, dtype=torch.float64)
    trip = (torch.tensor([0, 1, 2, 5]), torch.tensor([1, 3, 4, 0]), torch.tensor([2, 0, 5, 3]))

    def d_lat(a, b, mode):
        if mode == "vector":
            za, zb = [(z[k] - z[k].mean()) / z[k].std() for k in (a, b)]
        else:
            za, zb = [(z[k] - z.mean()) / z.std() for k in (a, b)]
        return float((za - zb).abs().pow(2.0).sum())  # the paper's L1 (here with p = 2)

    def d_tax(u, v, kind):
        c = lca(u, v)
        return {"edges": depth(u) + depth(v) - 2 * depth(c), "lca_height": height(c),
                "hierarchical_precision": 1 - depth(c) / 3}[kind]

    for mode in ("vector", "batch"):
        for kind in ("edges", "lca_height", "hierarchical_precision"):
            loss = QuantitativeRelativityLoss(TAX, alpha=2.0, p=2.0, normalize=mode, distance=kind)
            expected = np.mean([
                abs(d_lat(a, b, mode) * d_tax(int(TARGETS[a]), int(TARGETS[c]), kind)
                    - d_lat(a, c, mode) * d_tax(int(TARGETS[a]), int(TARGETS[b]), kind))
                for a, b, c in zip(*(t.tolist() for t in trip))
            ])
            assert float(loss.relativity(z, TARGETS, trip)) == pytest.approx(expected, rel=1e-5)
            logits = torch.randn(6, TAX.n_leaves, dtype=torch.float64)
            total = loss(logits, TARGETS, features=z, triplets=trip)
            ce = np.mean([ref_flat(logits[a].tolist(), int(TARGETS[a])) for a in trip[0].tolist()])
            assert float(total) == pytest.approx(ce + 2.0 * expected, rel=1e-5)
            # our option: the per-dimension mean, the same term over the width m = 5
            mean = QuantitativeRelativityLoss(TAX, p=2.0, normalize=mode, distance=kind, latent_distance="mean_l1")
            assert float(mean.relativity(z, TARGETS, trip)) == pytest.approx(expected / 5, rel=1e-5)


def test_kfr_latent_distance_is_the_papers_l1():
    # regression: the distance was the mean over the m dimensions, so alpha was m times
    # smaller than the paper's. z_a = (0, 1, 2) and z_b = (2, 1, 0) standardise to
    # (-1, 0, 1) and (1, 0, -1): L1 = 4 (the mean was 4/3)
    za, zb = torch.tensor([[-1.0, 0.0, 1.0]]), torch.tensor([[1.0, 0.0, -1.0]])
    assert normalized_l1_distance(za, zb).tolist() == [4.0]
    assert normalized_l1_distance(za, zb, reduce="mean").tolist() == pytest.approx([4 / 3])


def test_kfr_width_one_features_are_refused_not_nan():
    # regression: one latent dimension has no standard deviation, and the loss and its
    # gradients were NaN
    logits = torch.randn(6, TAX.n_leaves)
    z = torch.randn(6, 1, requires_grad=True)
    with pytest.raises(ValueError, match=r"normalize='vector' .* at least 2 .* width 1.*normalize='batch'"):
        QuantitativeRelativityLoss(TAX)(logits, TARGETS, features=z)
    out = QuantitativeRelativityLoss(TAX, normalize="batch")(logits, TARGETS, features=z)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(z.grad).all()


def test_kfr_triplets_and_degenerate_batches():
    for n in (2, 3, 10):
        for sampling in ("all_anchors", "random"):
            a, b, c = sample_triplets(n, sampling=sampling, generator=torch.Generator().manual_seed(n))
            assert len(a) == n and bool((a != b).all() and (a != c).all())
            if n >= 3:
                assert bool((b != c).all())
    a, b, c = sample_triplets(1)
    assert a.numel() == b.numel() == c.numel() == 0
    # one sample: no triplet, the loss is the cross-entropy alone (a documented no-op)
    logits, z = torch.randn(1, TAX.n_leaves), torch.randn(1, 4)
    kfr = QuantitativeRelativityLoss(TAX, alpha=10.0)
    assert float(kfr(logits, TARGETS[:1], features=z)) == pytest.approx(
        float(FlatSoftmaxLoss(TAX)(logits, TARGETS[:1]))
    )
    # alpha = 0 is the flat softmax whatever the features
    logits, z = torch.randn(6, TAX.n_leaves), torch.randn(6, 4)
    zero = QuantitativeRelativityLoss(TAX, alpha=0.0)(logits, TARGETS, features=z)
    assert float(zero) == pytest.approx(float(FlatSoftmaxLoss(TAX)(logits, TARGETS)))
    with pytest.raises(ValueError, match="needs the latent vectors"):
        kfr(logits, TARGETS)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: get_criterion("softmax"), ValueError, "criterion must be one of"),
        (lambda: get_criterion("bce"), ValueError, "'bce' is a criterion of 'multilabel' estimators"),
        (lambda: get_criterion("hmce", kind="flat"), ValueError, "kind must be one of"),
        (lambda: get_criterion(3), TypeError, "criterion must be a loss name"),
        (lambda: QuantitativeRelativityLoss(TAX, alpha=-1), ValueError, "alpha must be"),
        (lambda: QuantitativeRelativityLoss(TAX, normalize="layer"), ValueError, "normalize must be one of"),
        (lambda: QuantitativeRelativityLoss(TAX, distance="cosine"), ValueError, "distance must be one of"),
        (lambda: QuantitativeRelativityLoss(TAX, p=0), ValueError, "p must be > 0"),
        (lambda: HierarchicalCrossEntropyLoss(TAX, alpha=float("nan")), ValueError, "alpha must be"),
        (lambda: SoftLabelsLoss(TAX, beta=0), ValueError, "beta must be > 0"),
        (lambda: SoftMaxMarginLoss(TAX, margin="hinge"), ValueError, "margin must be"),
        (lambda: SoftMaxMarginLoss(TAX, tau=-1), ValueError, "tau must be"),
        (lambda: SoftMaxDescendantLoss(TAX, node_weight="depth"), ValueError, "node_weight must be"),
        (lambda: FlatSoftmaxLoss(Taxonomy.from_paths([["only"]])), ValueError, "at least two leaves"),
        (lambda: FlatSoftmaxLoss("tax"), TypeError, "Taxonomy"),
        (lambda: FlatSoftmaxLoss(TAX)(torch.zeros(2, N), TARGETS[:2]), ValueError, r"shape \(batch, 5\)"),
        (lambda: FlatSoftmaxLoss(TAX)(torch.zeros(2, 5), TARGETS[:3]), ValueError, "1-D tensor of 2 node indices"),
    ],
)
def test_loss_bad_inputs(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ---------------------------------------------------------------- the estimator switch
TINY = dict(max_epochs=1, device="cpu", random_state=0, backbone__hidden=(16,))


@pytest.fixture(scope="module")
def data():
    X, y, tax = make_hierarchical_classification(240, 10, n_levels=2, branching=3, random_state=0)
    return X.astype(np.float32), y, tax


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_trains_and_keeps_the_contract(data, name):
    X, y, tax = data
    clf = HierarchicalLossClassifier(tax, criterion=name, **TINY).fit(X, y)
    assert clf.criterion_.__class__ is LOSSES[name] and clf.module_.head.out_features == clf.criterion_.n_outputs
    proba = clf.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(1), 1.0)
    marg = clf.transform(X[:5])
    np.testing.assert_allclose(marg[:, 0], 1.0, rtol=1e-6)
    leaf = tax.is_leaf[clf.class_nodes_]  # node-softmax losses may also end at internal nodes
    np.testing.assert_allclose(marg[:, clf.class_nodes_[leaf]], proba[:, leaf], atol=1e-6)
    assert set(clf.predict(X[:5])) <= set(clf.classes_)
    assert np.isfinite(clf.history_[-1, "train_loss"])


def test_grid_search_over_criteria_clone_and_pickle(data):
    X, y, tax = data
    scorer = get_hierarchical_scorer("average_precision", tax)
    grid = GridSearchCV(
        FlatSoftmaxClassifier(tax, **TINY),
        [{"criterion": ["flat_softmax", "conditional_softmax", "soft_max_margin"]},
         {"criterion": ["hxe"], "criterion__alpha": [0.0, 0.5]}],
        scoring=scorer, cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 5 and np.isfinite(grid.cv_results_["mean_test_score"]).all()
    est = FlatSoftmaxClassifier(tax, criterion="hxe", criterion__alpha=0.3, **TINY)
    assert clone(est).get_params()["criterion"] == "hxe" and clone(est).get_params()["criterion__alpha"] == 0.3
    fitted = est.fit(X, y)
    assert fitted.criterion_.alpha == 0.3
    back = pickle.loads(pickle.dumps(fitted))
    assert isinstance(back.criterion_, HierarchicalCrossEntropyLoss) and back.criterion_.alpha == 0.3
    np.testing.assert_allclose(back.predict_proba(X[:7]), fitted.predict_proba(X[:7]))


def test_criterion_as_class_or_instance(data):
    X, y, tax = data
    a = HierarchicalLossClassifier(tax, criterion=SoftLabelsLoss, criterion__beta=4.0, **TINY).fit(X, y)
    assert a.criterion_.beta == 4.0
    built = SoftMaxMarginLoss(tax, tau=2.0)
    b = HierarchicalLossClassifier(tax, criterion=built, **TINY).fit(X, y)
    assert b.criterion_ is built
    with pytest.raises(ValueError, match="another taxonomy"):
        HierarchicalLossClassifier(tax, criterion=SoftMaxMarginLoss(TAX), **TINY).fit(X, y)
    with pytest.raises(ValueError, match="criterion must be one of"):
        HierarchicalLossClassifier(tax, criterion="hinge", **TINY).fit(X, y)
    with pytest.raises(ValueError, match="alpha must be"):
        KFRClassifier(tax, alpha=-1.0, **TINY).fit(X, y)
    one_leaf = Taxonomy.from_paths([["A", "a"]])
    with pytest.raises(ValueError, match="at least two leaves"):
        FlatSoftmaxClassifier(one_leaf, **TINY).fit(X[:10], ["a"] * 10)


def test_internal_labels_train_every_loss(data):
    X, y, tax = data
    y = np.array(y, dtype=object)
    parents = np.array([tax.nodes[tax.parent[tax.index(v)]] for v in y], dtype=object)
    y_mixed = np.where(np.arange(len(y)) % 3 == 0, parents, y)  # a third labelled only to level 1
    for name in ("flat_softmax", "conditional_sigmoid", "multilabel_sigmoid", "soft_max_descendant", "hxe"):
        clf = HierarchicalLossClassifier(tax, criterion=name, **TINY).fit(X, y_mixed)
        assert np.isfinite(clf.history_[-1, "train_loss"])


def test_kfr_aligns_latent_distances_with_the_taxonomy():
    """Trained with the relativity term, latent distances rank pairs as the taxonomy does.

    Leaf centroids are drawn independently of the tree, so nothing but the loss can make
    the latent space hierarchical (measured: rho 0.19 untrained, 0.16 with CE alone,
    0.47 with alpha=10).
    """
    _, _, tax = make_hierarchical_classification(10, 2, n_levels=3, branching=2, random_state=0)
    rng = np.random.default_rng(0)
    leaves = np.array(tax.leaf_names, dtype=object)
    lab = rng.integers(0, len(leaves), 600)
    X = (2 * rng.normal(size=(len(leaves), 16))[lab] + rng.normal(size=(600, 16))).astype(np.float32)
    y = leaves[lab]
    kw = dict(lr=3e-3, device="cpu", random_state=0, backbone__hidden=(32,), train_split=None,
              criterion__latent_distance="l1")  # the paper's scale, on which these alphas were measured
    rho = {}
    # alpha on the paper's scale (the L1 over the 32 feature dimensions): 10 / 32 is the
    # 10 that the per-dimension mean took when these figures were measured
    # "before": one epoch at a learning rate of 1e-12 leaves the initial weights (max_epochs=0 is refused)
    for name, alpha, epochs, lr in [("before", 10 / 32, 1, 1e-12), ("with", 10 / 32, 6, 3e-3),
                                    ("without", 0.0, 6, 3e-3)]:
        model = KFRClassifier(tax, alpha=alpha, max_epochs=epochs, **dict(kw, lr=lr)).fit(X[:450], y[:450])
        rho[name] = latent_distance_correlation(y[450:], model.embed(X[450:]), taxonomy=tax)
    assert rho["with"] > rho["before"] + 0.15, rho
    assert rho["with"] > rho["without"] + 0.15, rho


def test_kfr_ce_epochs_is_the_papers_first_phase(monkeypatch):
    _, _, tax = make_hierarchical_classification(10, 2, n_levels=2, branching=2, random_state=0)
    rng = np.random.default_rng(0)
    leaves = np.array(tax.leaf_names, dtype=object)
    X, y = rng.normal(size=(64, 6)).astype(np.float32), leaves[rng.integers(0, len(leaves), 64)]
    epochs = []
    clf = KFRClassifier(tax, alpha=1.0, ce_epochs=2, max_epochs=3, batch_size=32, device="cpu", random_state=0,
                        backbone__hidden=(8,), train_split=None)
    real = QuantitativeRelativityLoss.relativity

    def spy(self, *args):
        epochs.append(len(clf.history))
        return real(self, *args)

    monkeypatch.setattr(QuantitativeRelativityLoss, "relativity", spy)
    clf.fit(X, y)
    assert sorted(set(epochs)) == [3]  # the triplet term joins at epoch 3 only, 2 batches
    assert len(epochs) == 2
    with pytest.raises(ValueError, match="ce_epochs must be"):
        KFRClassifier(tax, ce_epochs=-1, max_epochs=1, device="cpu").fit(X, y)


def test_latent_distance_correlation_matches_scipy():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    y = rng.choice(["A1", "A2", "B", "C11", "C2"], 30)
    Z = rng.normal(size=(30, 4))
    i, j = np.triu_indices(30, 1)
    zn = (Z - Z.mean(1, keepdims=True)) / Z.std(1, ddof=1, keepdims=True)
    d_lat = np.abs(zn[i] - zn[j]).mean(1)
    nodes = [TAX.index(v) for v in y]
    d_tax = [depth(nodes[a]) + depth(nodes[b]) - 2 * depth(lca(nodes[a], nodes[b])) for a, b in zip(i, j)]
    assert latent_distance_correlation(y, Z, taxonomy=TAX) == pytest.approx(spearmanr(d_lat, d_tax).statistic)
    sampled = latent_distance_correlation(y, Z, taxonomy=TAX, max_pairs=200, random_state=0)
    assert -1 <= sampled <= 1 and sampled != latent_distance_correlation(y, Z, taxonomy=TAX)
    assert math.isnan(latent_distance_correlation(["B"] * 5, Z[:5], taxonomy=TAX))


def test_get_loss_is_a_deprecated_alias_of_get_criterion():
    with pytest.warns(FutureWarning, match="use get_criterion"):
        assert get_loss("hxe") is get_criterion("hxe") is HierarchicalCrossEntropyLoss
    with pytest.warns(FutureWarning), pytest.raises(TypeError, match="a HierarchicalLoss subclass or instance"):
        get_loss(torch.nn.CrossEntropyLoss)  # as before: hierarchical losses only


def test_kfr_alpha_zero_trains_exactly_as_the_flat_softmax():
    """Regression: the triplet draw consumed the random stream, so alpha=0 differed by 2.7e-3."""
    X, y, tax = make_hierarchical_classification(200, 8, n_levels=2, branching=2, random_state=0)
    kw = dict(max_epochs=3, device="cpu", random_state=0)
    a = KFRClassifier(tax, alpha=0, **kw).fit(X, y).predict_proba(X)
    b = FlatSoftmaxClassifier(tax, **kw).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_kfr_default_alpha_trains_within_a_tolerance_of_cross_entropy():
    """The default (alpha=0.3 on the per-dimension scale) does not lower accuracy beyond a stated
    tolerance (benchmarks/kfr_alpha.py measures it on Fashion-MNIST, where the paper's L1 collapses)."""
    X, y, tax = make_hierarchical_classification(600, 16, n_levels=2, branching=3, class_sep=1.0, random_state=0)
    kw = dict(max_epochs=4, device="cpu", random_state=0, lr=3e-3)
    acc = {}
    for name, extra in [("ce", {"alpha": 0}), ("default", {})]:
        clf = KFRClassifier(tax, **kw, **extra).fit(X[:400], y[:400])
        acc[name] = float((clf.predict(X[400:]) == y[400:]).mean())
    assert 0.3 < acc["ce"] < 0.95, acc  # a case where harm could show
    assert acc["default"] >= acc["ce"] - 0.05, acc  # the stated tolerance: 5 points
