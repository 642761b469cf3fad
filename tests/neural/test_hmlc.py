"""HMLC: SupCon and HMCE against slow references, the hierarchical batch sampler, G-/A-HMLC, the encoder."""

import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skhier import FlatClassifier, Taxonomy
from skhier.datasets import make_hierarchical_classification, make_taxonomy
from skhier.labels import node_indices_to_paths, to_node_indices
from skhier.metrics import get_hierarchical_scorer
from skhier.neural import HMLCEncoder
from skhier.neural.backbones import MLP
from skhier.neural.data import HierarchicalBatchIterator, NodeDataset, TensorBatchIterator
from skhier.neural.losses import HMCELoss, SupConLoss
from skhier.neural.modules import HMLCModule, gmm_level_masks

# ragged: leaves at depths 1, 2 and 3
RAGGED = Taxonomy.from_parent_mapping({
    "A": "r", "B": "r", "C": "r",
    "A1": "A", "A2": "A", "B1": "B",
    "A1a": "A1", "A1b": "A1", "A2a": "A2",
})


def _normalized(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


# ---------------------------------------------------------------- slow references
def ref_supcon_terms(z, same, tau, base):
    """Per-anchor losses by the formula: z (B, V, D) list-of-lists, same(i, j) → bool."""
    b, v = len(z), len(z[0])
    anchors = [(i, a) for i in range(b) for a in range(v)]
    out = []
    for i, a in anchors:
        others = [(j, c) for (j, c) in anchors if (j, c) != (i, a)]
        pos = [(j, c) for (j, c) in others if j == i or same(i, j)]
        if not pos:
            continue
        zi = z[i][a]
        den = math.log(sum(math.exp(float(zi @ z[j][c]) / tau) for j, c in others))
        out.append(-(tau / base) * sum(float(zi @ z[j][c]) / tau - den for j, c in pos) / len(pos))
    return out


def ref_hmce(z, nodes, tax, tau, base, penalty, constraint):
    depth = tax.max_depth
    def root_path(n):  # node indices from level 1 down to n, by walking up the parents
        out = []
        while n != 0:
            out.append(n)
            n = int(tax.parent[n])
        return out[::-1]

    path = [root_path(int(n)) for n in nodes]
    keep = list(range(len(nodes)))
    total, running = 0.0, None
    for l in range(1, depth + 1):
        h = depth - l + 1
        part = [i for i in keep if len(path[i]) >= h]
        prefix = {i: tuple(path[i][:h]) for i in part}
        feats = [[(z[i][a] if z.ndim == 3 else z[i][a][h - 1]) for a in range(z.shape[1])] for i in part]
        terms = ref_supcon_terms(feats, lambda x, y: prefix[part[x]] == prefix[part[y]], tau, base)
        if terms:
            loss = sum(terms) / len(terms)
            if constraint and running is not None:
                loss = max(loss, running)
            running = loss if running is None else max(running, loss)
            total += penalty(l) * loss
        seen, survivors = set(), []
        for i in keep:
            if len(path[i]) < h:
                survivors.append(i)
            elif prefix[i] not in seen:
                seen.add(prefix[i])
                survivors.append(i)
        keep = survivors
    return total / (depth + 1)  # the public code divides by its L + 1 label columns


# ---------------------------------------------------------------- SupCon
@pytest.mark.parametrize("views, tau, base", [(1, 0.07, 0.07), (2, 0.07, 0.07), (3, 0.5, 0.07)])
def test_supcon_equals_its_formula(views, tau, base):
    z = _normalized(7, views, 5)
    labels = torch.tensor([0, 0, 1, 2, 2, 2, 3])  # 1 and 3 have no other sample
    terms = ref_supcon_terms(z, lambda i, j: labels[i] == labels[j], tau, base)
    got = SupConLoss(tau, base)(z if views > 1 else z[:, 0], labels)
    assert got.item() == pytest.approx(sum(terms) / len(terms), rel=1e-10)
    # the same positives as a mask
    mask = labels[:, None] == labels[None, :]
    assert SupConLoss(tau, base)(z, mask=mask).item() == pytest.approx(got.item(), rel=1e-12)


def test_supcon_without_labels_is_simclr_and_without_positives_is_zero():
    z = _normalized(5, 2, 4, seed=1)
    terms = ref_supcon_terms(z, lambda i, j: False, 0.1, 0.1)
    assert SupConLoss(0.1, 0.1)(z).item() == pytest.approx(sum(terms) / len(terms), rel=1e-10)
    lone = _normalized(4, 4).requires_grad_(True)
    out = SupConLoss()(lone, torch.arange(4))  # one view, all labels distinct
    assert out.item() == 0.0
    out.backward()  # still part of the graph
    # stable at a tiny temperature, float32
    loss = SupConLoss(temperature=1e-3)(_normalized(6, 2, 3).float(), torch.tensor([0, 0, 1, 1, 2, 2]))
    assert torch.isfinite(loss)


# ---------------------------------------------------------------- HMCE
@pytest.mark.parametrize("views, per_level", [(1, False), (2, False), (2, True)])
@pytest.mark.parametrize("penalty, constraint", [("exp", True), ("pow2", True), ("exp", False)])
def test_hmce_equals_its_formula_on_ragged_paths(views, per_level, penalty, constraint):
    names = ["A1a", "A1a", "A1b", "A2a", "A2", "B1", "B1", "B", "C", "A1b", "A"]
    nodes = torch.tensor([RAGGED.index(v) for v in names])
    shape = (len(names), views, RAGGED.max_depth, 6) if per_level else (len(names), views, 6)
    z = _normalized(*shape, seed=2)
    fn = {"exp": lambda l: math.exp(1 / l), "pow2": lambda l: 2 ** (1 / l)}[penalty]
    want = ref_hmce(z, nodes, RAGGED, 0.2, 0.07, fn, constraint)
    got = HMCELoss(RAGGED, temperature=0.2, layer_penalty=penalty, constraint=constraint)(z, nodes)
    assert got.item() == pytest.approx(want, rel=1e-10)


def test_hmce_levels_without_positives_and_gradients():
    # one view, every sample alone at the leaves: the finest level has no positive at all
    nodes = torch.tensor([RAGGED.index(v) for v in ["A1a", "A1b", "A2a", "B1"]])
    z = _normalized(4, 1, 5, seed=3).requires_grad_(True)
    fn = lambda l: math.exp(1 / l)  # noqa: E731
    loss = HMCELoss(RAGGED)(z, nodes)
    assert loss.item() == pytest.approx(ref_hmce(z.detach(), nodes, RAGGED, 0.07, 0.07, fn, True), rel=1e-10)
    loss.backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    # a callable penalty
    custom = HMCELoss(RAGGED, layer_penalty=lambda l: 1.0)(z.detach(), nodes)
    assert custom.item() == pytest.approx(ref_hmce(z.detach(), nodes, RAGGED, 0.07, 0.07, lambda l: 1.0, True))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: HMCELoss(RAGGED, layer_penalty="cube"), ValueError, "layer_penalty must be one of"),
        (lambda: HMCELoss(RAGGED, layer_penalty=3), TypeError, "layer_penalty must be one of"),
        (lambda: HMCELoss(RAGGED, temperature=0), ValueError, "temperature must be"),
        (
            lambda: HMCELoss(RAGGED)(torch.zeros(3, 2, 2, 4), torch.zeros(3, dtype=torch.long)),
            ValueError,
            "must have 3 levels",
        ),
        (
            lambda: HMCELoss(RAGGED)(torch.zeros(3, 4), torch.zeros(2, dtype=torch.long)),
            ValueError,
            r"targets must have shape \(3,\)",
        ),
        (lambda: SupConLoss()(torch.zeros(3), None), ValueError, "features must be a"),
        (lambda: SupConLoss()(torch.zeros(3, 4), torch.zeros(2)), ValueError, r"labels must have shape \(3,\)"),
        (lambda: SupConLoss()(torch.zeros(3, 4), torch.zeros(3), mask=torch.ones(3, 3)), ValueError, "not both"),
        (lambda: SupConLoss()(torch.zeros(3, 4), mask=torch.ones(2, 2)), ValueError, r"mask must have shape \(3, 3\)"),
        (lambda: HMLCModule(MLP(2, 4), (4,), 2, masks="soft"), ValueError, "masks must be None, 'attention' or 'hard'"),
        (lambda: gmm_level_masks(np.zeros((5, 2)), np.zeros((5, 3))), ValueError, "2 dims < 3 levels"),
        (lambda: gmm_level_masks(np.zeros((5, 2)), np.zeros((4, 1))), ValueError, "must share n"),
    ],
)
def test_loss_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- the hierarchical sampler
def _check_groups(groups, nodes, tax):
    paths = np.asarray(tax.path_indices)[nodes]
    depth = tax.max_depth
    for row in groups:
        a = row[0]
        # same label: another sample with the anchor's node, whenever there is one
        others = np.flatnonzero(nodes == nodes[a])
        if others.size > 1:
            assert row[1] != a and nodes[row[1]] == nodes[a]
        for slot, h in zip(row[2:], range(depth - 1, -1, -1)):
            if paths[a, h] < 0:
                continue  # the anchor does not reach level h: any sample will do
            cousins = (paths[:, h] == paths[a, h]) & (paths[:, h + 1] != paths[a, h + 1])
            if cousins.any():
                assert cousins[slot], (a, h, slot)


@given(st.integers(1, 4), st.integers(2, 3), st.integers(5, 80), st.integers(0, 10_000))
def test_hierarchical_batches_have_positives_at_every_level(depth, branching, n, seed):
    tax = make_taxonomy(depth, branching)
    rng = np.random.default_rng(seed)
    nodes = rng.choice(np.arange(1, tax.n_nodes), n)  # leaves and internal nodes
    ds = NodeDataset(torch.zeros(n, 2), torch.as_tensor(nodes), strata=nodes)
    it = HierarchicalBatchIterator(ds, batch_size=3 * (depth + 2), taxonomy=tax, seed=seed)
    groups = it.groups(np.random.default_rng(seed))
    assert groups.shape == (-(-n // (depth + 2)), depth + 2)
    assert len(np.unique(groups[:, 0])) == groups.shape[0]  # distinct anchors
    _check_groups(groups, nodes, tax)
    batches = [yb for _, yb in it]
    assert len(batches) == len(it) and all(b.numel() <= 3 * (depth + 2) for b in batches)
    assert sum(b.numel() for b in batches) == groups.size


def test_hierarchical_batches_on_a_subset_and_bad_inputs():
    tax = make_taxonomy(2, 3)
    nodes = np.repeat(tax.leaves, 4)
    ds = NodeDataset(torch.arange(len(nodes), dtype=torch.float32)[:, None].repeat(1, 2), torch.as_tensor(nodes), nodes)
    sub = torch.utils.data.Subset(ds, np.arange(0, len(nodes), 2))
    it = HierarchicalBatchIterator(sub, batch_size=8, taxonomy=tax, seed=0)
    seen = torch.cat([xb[:, 0] for xb, _ in it]).long().numpy()
    assert set(seen) <= set(range(0, len(nodes), 2))  # only the subset's samples
    _check_groups(it.groups(np.random.default_rng(0)), nodes[::2], tax)
    with pytest.raises(ValueError, match="batch_size=3 is too small for hierarchical batches"):
        HierarchicalBatchIterator(ds, batch_size=3, taxonomy=tax)
    with pytest.raises(ValueError, match="needs the taxonomy"):
        HierarchicalBatchIterator(ds, batch_size=8)
    with pytest.raises(TypeError, match="NodeDataset with the node of every sample"):
        HierarchicalBatchIterator(NodeDataset(torch.zeros(4, 2)), batch_size=8, taxonomy=tax)


# ---------------------------------------------------------------- G-HMLC masks
def test_gmm_masks_find_the_dimensions_of_each_level():
    rng = np.random.default_rng(1)
    coarse = rng.integers(0, 2, 600)
    fine = coarse * 3 + rng.integers(0, 3, 600)
    Z = rng.normal(size=(600, 8))
    Z[:, [0, 2, 5]] += 3 * coarse[:, None]  # separate the coarse classes only
    Z[:, [1, 3, 4, 6, 7]] += 3 * (fine % 3)[:, None]  # separate the fine classes within each coarse one
    masks = gmm_level_masks(Z, np.stack([coarse, fine], axis=1), random_state=0)
    assert masks[0].tolist() == [True, False, True, False, False, True, False, False]
    assert (masks[0] ^ masks[1]).all()
    # a level with a single class carries no signal, yet gets a dimension
    flat = gmm_level_masks(Z, np.stack([np.zeros(600, int), fine], axis=1), random_state=0)
    assert flat.any(axis=1).all() and flat.any(axis=0).all()


# ---------------------------------------------------------------- the encoder
KW = dict(max_epochs=2, lr=3e-3, device="cpu", random_state=0, backbone__hidden=(32,), embed_dim=16, batch_size=40)


@pytest.fixture(scope="module")
def data():
    return make_hierarchical_classification(240, 10, n_levels=3, branching=2, random_state=0)


@pytest.mark.parametrize("loss", ["supcon", "hmce", "g-hmlc", "a-hmlc"])
def test_encoder_transform_and_linear_evaluation(loss, data):
    X, y, tax = data
    enc = HMLCEncoder(tax, criterion=loss, **KW).fit(X, y)
    Z = enc.transform(X)
    assert Z.shape == (len(X), 32) and np.isfinite(Z).all()
    assert list(enc.get_feature_names_out()[:2]) == ["embedding0", "embedding1"]
    out = enc.module_(torch.as_tensor(X[:4], dtype=torch.float32))
    assert out.shape == ((4, 16) if loss in ("supcon", "hmce") else (4, tax.max_depth, 16))
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(out.shape[:-1]))
    assert {"train_loss", "valid_loss"} <= set(enc.history[-1])
    if loss == "g-hmlc":  # the mixture assigned every dimension to a level, each level non-empty
        dims = enc.history[-1]["level_mask_dims"]
        masks = enc.module_.level_masks
        assert len(dims) == tax.max_depth and min(dims) >= 1 and masks.sum() < masks.numel()
        assert (masks.sum(0) >= 1).all()
    pipe = make_pipeline(HMLCEncoder(tax, criterion=loss, **KW), LogisticRegression(max_iter=500)).fit(X, y)
    assert pipe.score(X, y) > 0.5  # 8 leaves: chance is 0.125


def test_encoder_in_cross_val_grid_search_clone_and_pickle(data):
    X, y, tax = data
    pipe = make_pipeline(HMLCEncoder(tax, criterion="hmce", **KW), LogisticRegression(max_iter=500))
    scorer = get_hierarchical_scorer("hierarchical_f1", tax)
    scores = cross_val_score(pipe, X, y, cv=KFold(2, shuffle=True, random_state=0), scoring=scorer)
    assert scores.shape == (2,) and (scores > 0.3).all()
    gs = GridSearchCV(pipe, {"hmlcencoder__criterion": ["supcon", "a-hmlc"]}, scoring=scorer, cv=2).fit(X, y)
    assert set(gs.cv_results_["param_hmlcencoder__criterion"]) == {"supcon", "a-hmlc"}
    enc = HMLCEncoder(tax, criterion="g-hmlc", layer_penalty="pow2", criterion__base_temperature=0.1, **KW).fit(X, y)
    assert enc.criterion_.layer_penalty == "pow2" and enc.criterion_.base_temperature == 0.1
    back = pickle.loads(pickle.dumps(enc))
    np.testing.assert_allclose(back.transform(X[:10]), enc.transform(X[:10]))
    torch.testing.assert_close(back.module_.level_masks, enc.module_.level_masks)
    params = clone(enc).get_params()
    assert params["criterion"] == "g-hmlc" and params["taxonomy"] is tax and params["embed_dim"] == 16
    # plain random batches are one parameter away
    plain = HMLCEncoder(tax, criterion="hmce", iterator_train=TensorBatchIterator, **KW).fit(X, y)
    assert np.isfinite(plain.history[-1]["train_loss"])


def test_hierarchical_linear_evaluation_on_path_labels(data):
    # issue 26/27: the user guide's recipe; a bare LogisticRegression fails on 2-D paths
    X, y, tax = data
    paths = node_indices_to_paths(to_node_indices(y, tax), tax)
    pipe = make_pipeline(
        HMLCEncoder(tax, criterion="hmce", **KW), FlatClassifier(LogisticRegression(max_iter=500), tax)
    )
    pipe.fit(X, paths)
    pred = pipe.predict(X)
    assert pred.shape == paths.shape and pred.dtype == paths.dtype
    assert (pred == paths).all(axis=1).mean() > 0.5  # 8 leaves: chance is 0.125
    np.testing.assert_allclose(pipe.transform(X)[:, 0], 1.0, atol=1e-6)  # node marginals
    score = get_hierarchical_scorer("hierarchical_f1", tax)(pipe, X, paths)
    assert score > 0.6


def test_encoder_trains_on_images_with_two_views():
    rng = np.random.default_rng(0)
    tax = Taxonomy.from_paths([["A", "a1"], ["A", "a2"], ["B", "b1"], ["B", "b2"]])
    y = np.tile(["a1", "a2", "b1", "b2"], 20)
    X = rng.normal(size=(80, 1, 8, 8)).astype(np.float32)
    enc = HMLCEncoder(tax, criterion="a-hmlc", max_epochs=1, device="cpu", random_state=0, embed_dim=8,
                      backbone__width=4, backbone__n_blocks=2, batch_size=16).fit(X, y)
    assert enc.transform(X).shape == (80, 8)
    assert type(enc.train_transform_).__name__ == "RandomCropFlip"


@pytest.mark.parametrize(
    "params, match",
    [
        (
            dict(criterion="simclr"),
            r"criterion must be one of \['a-hmlc', 'g-hmlc', 'hmce', 'supcon'\], a loss class or module, got 'simclr'",
        ),
        (dict(criterion="g-hmlc", embed_dim=2), "embed_dim=2 < 3 levels"),
        (dict(batch_size=4), "batch_size=4 is too small for positives: hierarchical batches need depth \\+ 2 = 5"),
        (dict(batch_size=1, iterator_train=TensorBatchIterator), "a contrastive batch needs at least 2 samples"),
        (dict(n_views=0), "n_views must be"),
        (dict(layer_penalty="cube"), "layer_penalty must be one of"),
        (dict(train_transform="flip"), "train_transform must be one of 'auto', None, or a callable, got 'flip'"),
    ],
)
def test_encoder_bad_inputs(params, match, data):
    X, y, tax = data
    with pytest.raises(ValueError, match=match):
        HMLCEncoder(tax, **{**KW, "max_epochs": 1, **params}).fit(X, y)


def test_deprecated_loss_still_names_the_criterion_with_a_warning(data):
    X, y, tax = data
    with pytest.warns(FutureWarning, match=r"HMLCEncoder\(loss='supcon'\) is deprecated.*use criterion='supcon'"):
        old = HMLCEncoder(tax, loss="supcon", **KW).fit(X, y)
    new = HMLCEncoder(tax, criterion="supcon", **KW).fit(X, y)
    assert isinstance(old.criterion_, SupConLoss) and old.module_.masks is None
    np.testing.assert_array_equal(old.transform(X[:8]), new.transform(X[:8]))
    with pytest.warns(FutureWarning):
        g = HMLCEncoder(tax, loss="g-hmlc", **dict(KW, max_epochs=1)).fit(X, y)
    assert isinstance(g.criterion_, HMCELoss) and g.module_.masks == "hard"
