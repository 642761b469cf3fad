import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Checkpoint, EarlyStopping, LRScheduler

from skhier import DiffusionRefiner, Taxonomy
from skhier.datasets import make_hierarchical_classification
from skhier.labels import encode_labels, node_indices_to_paths
from skhier.metrics import get_hierarchical_scorer
from skhier.neural import FlatSoftmaxClassifier, HCAMCLClassifier
from skhier.neural.backbones import MLP, SmallCNN
from skhier.neural.modules import HCAMCLModule
from skhier.testing import taxonomies

CPU = dict(device="cpu", random_state=0, batch_size=64)


@pytest.fixture(scope="module")
def synth():
    return make_hierarchical_classification(300, 8, n_levels=2, branching=3, class_sep=2.0, random_state=0)


@pytest.fixture(scope="module")
def ragged_data():
    """A ragged taxonomy; 2-D variable-depth paths padded with ''."""
    tax = Taxonomy.from_paths([["a", "a1", "a1x"], ["a", "a1", "a1y"], ["a", "a2", ""], ["b", "", ""]])
    rng = np.random.default_rng(0)
    leaves = tax.leaves
    idx = rng.integers(0, len(leaves), 240)
    centres = rng.normal(size=(len(leaves), 6)) * 3
    X = (centres[idx] + rng.normal(size=(240, 6))).astype(np.float32)
    Y = node_indices_to_paths(leaves[idx], tax)
    return X, Y, tax


@pytest.mark.parametrize("cls", [FlatSoftmaxClassifier, HCAMCLClassifier])
def test_fit_1d_leaf_labels(cls, synth):
    X, y, tax = synth
    clf = cls(tax, max_epochs=6, lr=5e-3, **CPU).fit(X, y)
    pred = clf.predict(X)
    assert pred.shape == y.shape and set(pred) <= set(tax.leaf_names)
    assert clf.score(X, y) > 0.6
    np.testing.assert_allclose(clf.predict_proba(X[:10]).sum(1), 1, atol=1e-5)
    assert list(clf.classes_) == sorted(tax.leaf_names)
    P = clf.transform(X[:10])
    np.testing.assert_allclose(P[:, 0], 1, atol=1e-5)
    for v in range(tax.n_nodes):  # children sum to the parent (no internal stops)
        if len(tax.children[v]):
            np.testing.assert_allclose(P[:, tax.children[v]].sum(1), P[:, v], atol=1e-5)
    assert list(clf.get_feature_names_out()) == [str(n) for n in tax.nodes]
    assert {"valid_exact", "valid_hf1", "valid_loss"} <= set(clf.history[-1])


@pytest.mark.parametrize("cls", [FlatSoftmaxClassifier, HCAMCLClassifier])
def test_fit_2d_variable_depth_paths(cls, ragged_data):
    X, Y, tax = ragged_data
    clf = cls(tax, max_epochs=8, lr=5e-3, **CPU).fit(X, Y)
    pred = clf.predict(X)
    assert pred.shape == Y.shape
    encode_labels(pred, tax)  # every row is a valid path
    assert np.mean([tuple(a) == tuple(b) for a, b in zip(pred.tolist(), Y.tolist())]) > 0.8


def test_hcamcl_internal_stops(ragged_data):
    X, Y, tax = ragged_data
    Y2 = Y.copy()
    Y2[Y2[:, 1] == "a2"] = ["a", "", ""]  # some samples labelled only down to "a"
    clf = HCAMCLClassifier(tax, max_epochs=10, lr=5e-3, **CPU).fit(X, Y2)
    assert clf.internal_stops_ and bool(clf.module_.allowed(torch.tensor([tax.index("a")]))[0, 0])
    pred = clf.predict(X)
    assert {tuple(r) for r in pred.tolist()} & {("a", "", "")}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(taxonomies(min_nodes=2, max_nodes=15, max_depth=4, min_leaves=1), st.booleans(), st.sampled_from([0, 1, 2]))
def test_untrained_hcamcl_always_decodes_valid_paths(tax, internal, n_layers):
    torch.manual_seed(0)
    module = HCAMCLModule(MLP(5, 16), (16,), tax.parent.tolist(), allow_internal_stop=internal,
                          d_model=16, n_heads=2, hidden_size=16, fc_hidden=16, n_attention_layers=n_layers)
    module.eval()
    x = torch.randn(7, 5)
    with torch.no_grad():
        exact = module.end_log_probs(x).exp()
        module.decoding, module.beam_width = "beam", 64
        beam = module.end_log_probs(x).exp()
        greedy = module(x).argmax(-1)
    np.testing.assert_allclose(exact.sum(1).numpy(), 1, atol=1e-5)
    np.testing.assert_allclose(beam.numpy(), exact.numpy(), atol=1e-5)
    ends = exact.argmax(1).numpy()
    assert ends.min() >= 1 and (internal or tax.is_leaf[ends].all())
    assert (exact[:, 0] == 0).all()  # never ends at the root
    # greedy free-running decoding only ever steps to a child, then NULL
    for row in greedy.numpy():
        prev = 0
        for tok in row:
            if tok == 0:
                prev = -1
                continue
            assert prev >= 0 and tax.parent[tok] == prev
            prev = tok


def _reference_step(m, feats, token, state):
    """HCAM-CL's step as the paper writes it (eq. 2-8), each attention layer through its own
    ``nn.MultiheadAttention.forward`` (keys and values projected anew at every step): the
    module's shared-memory step must give the same numbers, dropout draws included."""
    h, c = state
    w = m.embed(token)
    q = (w + m.query_from_h(h))[:, None, :]
    if m.n_attention_layers == 0:
        v = m.global_proj(feats.mean(dim=1))
    else:
        z = m.norm1(m.attn1(q, feats, feats, need_weights=False)[0] + q)
        if m.n_attention_layers == 2:
            z = m.norm2(m.attn2(z, feats, feats, need_weights=False)[0] + z)
        v = z[:, 0, :]
    logits = m.out(torch.cat([h, v, w], dim=1))
    h2, c2 = m.lstm(torch.cat([v, w], dim=1), (h, c))
    return logits.masked_fill(~m.allowed(token), -float("inf")), (h2, c2)


def _reference_forward(m, x, targets):
    feats, state = m.encode(x)
    token = torch.zeros(x.shape[0], dtype=torch.long)
    out = []
    for t in range(m.max_steps):
        logits, state = _reference_step(m, feats, token, state)
        out.append(logits)
        nxt = targets[:, t]
        token = torch.where(nxt == 0, torch.full_like(nxt, m.n_nodes), nxt)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("n_layers", [0, 1, 2])
@pytest.mark.parametrize("maps", [False, True])
def test_hcamcl_shared_memory_step_equals_the_per_step_attention(n_layers, maps):
    # issue 25: the attention never projects the tokens (queries are carried back through
    # the key, value and feature projections); training (dropout on, the same random
    # stream), gradients and both decoders are unchanged, on feature vectors and maps
    parent = [-1, 0, 0, 1, 1, 2, 2, 3, 3]
    torch.manual_seed(0)
    if maps:  # a (6, 2, 2) feature map: 4 tokens with a position embedding each
        backbone, shape, x = (torch.nn.Sequential(torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.AdaptiveAvgPool2d(2)),
                              (6, 2, 2), torch.randn(9, 1, 5, 5))
    else:
        backbone, shape, x = MLP(6, 12), (12,), torch.randn(9, 6)
    m = HCAMCLModule(backbone, shape, parent, d_model=16, n_heads=2, hidden_size=24, fc_hidden=20,
                     n_attention_layers=n_layers, dropout=0.3)
    m.position = torch.nn.Parameter(torch.randn_like(m.position))
    from skhier.neural._hcam import _KeyValues, _Tokens

    # the cheaper memory for the shape: keys/values once for one token, tokens carried for a map
    kind = type(m._encode_memory(x)[0])
    assert kind is (_Tokens if maps or n_layers == 0 else _KeyValues)
    targets = torch.tensor([[1, 3, 7], [2, 5, 0], [1, 4, 0]] * 3)
    m.train()
    grads = []
    outs = []
    for fn in (lambda: m(x, targets), lambda: _reference_forward(m, x, targets)):
        torch.manual_seed(1)
        m.zero_grad()
        out = fn()
        torch.nan_to_num(out, neginf=0.0).square().sum().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in m.parameters() if p.grad is not None])
    assert torch.isinf(outs[0]).equal(torch.isinf(outs[1]))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=1e-6)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # inference: the level-by-level exact decoder and the beam search read the same states
    m.eval()
    with torch.no_grad():
        feats, state = m.encode(x)
        tok = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2, 9])
        want, _ = _reference_step(m, feats, tok, state)
        got, _ = m.step(feats, tok, state)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
        exact = m.end_log_probs(x)
        m.decoding, m.beam_width = "beam", 16
        torch.testing.assert_close(m.end_log_probs(x), exact, rtol=0, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(taxonomies(min_nodes=2, max_nodes=15, max_depth=4, min_leaves=1), st.booleans())
def test_hcamcl_allowed_tokens_match_a_dense_table(tax, internal):
    # the dense (n + 1, n) transition table the module no longer builds, written out
    n = tax.n_nodes
    table = np.zeros((n + 1, n), dtype=bool)
    for child in range(1, n):
        table[tax.parent[child], child] = True
    for v in range(n):
        table[v, 0] = bool(tax.is_leaf[v]) or (internal and v > 0)
    table[n, 0] = True  # after NULL only NULL
    module = HCAMCLModule(MLP(3, 8), (8,), tax.parent.tolist(), allow_internal_stop=internal,
                          d_model=8, n_heads=2, hidden_size=8, fc_hidden=8)
    np.testing.assert_array_equal(module.allowed(torch.arange(n + 1)).numpy(), table)


def test_clone_pickle_and_reproducible(synth):
    X, y, tax = synth
    clf = HCAMCLClassifier(tax, max_epochs=2, module__d_model=32, module__hidden_size=32, **CPU)
    c = clone(clf)
    assert c.get_params()["module__d_model"] == 32 and c.get_params()["device"] == "cpu"
    a = clf.fit(X, y).predict_proba(X[:20])
    b = c.fit(X, y).predict_proba(X[:20])
    np.testing.assert_allclose(a, b, atol=1e-6)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(back.predict_proba(X[:20]), a, atol=1e-6)
    auto = FlatSoftmaxClassifier(tax)
    assert auto.get_params()["device"] == "auto" and clone(auto).get_params()["device"] == "auto"
    assert auto.device == ("cuda" if torch.cuda.is_available() else "cpu")


def test_grid_search_over_module_params(synth):
    X, y, tax = synth
    base = HCAMCLClassifier(tax, max_epochs=3, lr=5e-3, module__d_model=32, module__hidden_size=32, **CPU)
    gs = GridSearchCV(base, {"module__n_attention_layers": [0, 2]}, cv=2,
                      scoring=get_hierarchical_scorer("hierarchical_f1", tax)).fit(X, y)
    assert gs.best_params_["module__n_attention_layers"] in (0, 2)
    assert gs.cv_results_["mean_test_score"].min() > 0.3


def test_callbacks_and_pipeline(synth, tmp_path):
    X, y, tax = synth
    clf = FlatSoftmaxClassifier(
        tax, max_epochs=30, lr=5e-3, callbacks=[
            EarlyStopping(monitor="valid_hf1", lower_is_better=False, patience=2),
            Checkpoint(monitor="valid_hf1_best", dirname=str(tmp_path)),
            LRScheduler("StepLR", step_size=5),
        ], **CPU,
    ).fit(X, y)
    assert len(clf.history) < 30  # early stopping fired
    assert (tmp_path / "params.pt").exists()
    pipe = make_pipeline(FlatSoftmaxClassifier(tax, max_epochs=3, **CPU), DiffusionRefiner(tax, alpha=0.2)).fit(X, y)
    assert pipe.transform(X[:4]).shape == (4, tax.n_nodes)


def test_images_with_cnn_and_custom_backbone():
    tax = Taxonomy.from_paths([["a", "a1"], ["a", "a2"], ["b", "b1"]])
    rng = np.random.default_rng(0)
    X = rng.random((40, 1, 28, 28)).astype(np.float32)
    y = np.array(tax.leaf_names)[rng.integers(0, 3, 40)]
    clf = HCAMCLClassifier(tax, max_epochs=1, backbone__width=8, backbone__n_blocks=2, **CPU).fit(X, y)
    assert isinstance(clf.module_.backbone, SmallCNN) and clf.predict(X[:2]).shape == (2,)
    custom = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, stride=2), torch.nn.ReLU())
    clf2 = FlatSoftmaxClassifier(tax, backbone=custom, max_epochs=1, **CPU).fit(X, y)
    assert clf2.module_.backbone is not custom  # deep-copied, the user's module untouched
    with pytest.raises(ValueError, match="fitted on samples of shape"):
        clf2.predict(X[:2, :, :20, :20])


def test_bad_input(synth):
    X, y, tax = synth
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FlatSoftmaxClassifier(tax, **CPU).fit(Xn, y)
    with pytest.raises(ValueError, match=r"y\[0\]: unknown label"):
        FlatSoftmaxClassifier(tax, **CPU).fit(X, ["nope"] + list(y[1:]))
    with pytest.raises(ValueError, match="X has 300 samples but y has 299"):
        FlatSoftmaxClassifier(tax, **CPU).fit(X, y[1:])
    ind = np.zeros((len(y), tax.n_nodes), dtype=int)
    ind[:, [1, 5]] = 1
    with pytest.raises(ValueError, match="one path per sample"):
        FlatSoftmaxClassifier(tax, **CPU).fit(X, ind)
    with pytest.raises(ValueError, match="n_attention_layers"):
        HCAMCLClassifier(tax, module__n_attention_layers=3, **CPU).fit(X, y)


@pytest.mark.cuda
def test_cuda_training_loads_on_cpu(synth, tmp_path):
    X, y, tax = synth
    clf = HCAMCLClassifier(tax, max_epochs=2, device="cuda", mixed_precision="bf16", random_state=0).fit(X, y)
    assert next(clf.module_.parameters()).is_cuda
    expected = clf.predict_proba(X[:50])
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(clf))
    np.save(tmp_path / "X.npy", X[:50])
    code = (
        "import pickle, numpy as np, torch, warnings; warnings.simplefilter('ignore');"
        f"m = pickle.loads(open({str(path)!r}, 'rb').read());"
        "assert not torch.cuda.is_available() and str(m.device) == 'cpu';"
        f"np.save({str(tmp_path / 'cpu.npy')!r}, m.predict_proba(np.load({str(tmp_path / 'X.npy')!r})))"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    np.testing.assert_allclose(np.load(tmp_path / "cpu.npy"), expected, atol=2e-2)


def test_partial_fit_and_warm_start(synth):
    X, y, tax = synth
    clf = FlatSoftmaxClassifier(tax, max_epochs=1, lr=5e-3, **CPU)
    clf.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert len(clf.history) == 2 and clf.score(X, y) > 0.3
    Y = node_indices_to_paths([tax.index(v) for v in y], tax)
    warm = FlatSoftmaxClassifier(tax, max_epochs=1, warm_start=True, **CPU).fit(X, y)
    warm.fit(X, y)
    assert len(warm.history) == 2
    with pytest.raises(
        ValueError, match="X has 4 features, but FlatSoftmaxClassifier is expecting .* features as input"
    ):
        clf.partial_fit(X[:, :4], y)
    refit = FlatSoftmaxClassifier(tax, max_epochs=1, **CPU).fit(X, y).fit(X, Y)  # cold refit: new format
    assert refit.predict(X[:2]).shape == (2, 2)


def test_more_bad_input(synth):
    from skhier.neural.data import HierarchicalValidSplit, NodeDataset

    X, y, tax = synth
    with pytest.raises(ValueError, match="mixed_precision must be one of None, 'bf16'"):
        FlatSoftmaxClassifier(tax, mixed_precision="fp16", **CPU).fit(X, y)  # refused on CPU too
    with pytest.raises(ValueError, match="single node"):
        HCAMCLModule(MLP(3, 4), (4,), parent=[-1])
    with pytest.raises(ValueError, match="backbone must be"):
        FlatSoftmaxClassifier(tax, backbone="resnet", **CPU).fit(X, y)
    with pytest.raises(ValueError, match="needs \\(C, H, W\\) images"):
        FlatSoftmaxClassifier(tax, backbone="cnn", **CPU).fit(X, y)
    ds = NodeDataset(torch.zeros(10, 2), torch.zeros(10), strata=np.zeros(10, int))
    with pytest.raises(ValueError, match="cv must be a float"):
        HierarchicalValidSplit(cv=3)(ds)


def test_token_attention_backward_passes_gradcheck():
    # the hand-written backward of HCAM-CL's attention (one product for both paths to the
    # tokens) against finite differences, with and without score offsets (no dropout:
    # gradcheck re-runs the forward)
    from skhier.neural._hcam import _TokenAttention

    torch.manual_seed(0)
    q = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    tokens = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    offset = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: _TokenAttention.apply(a, b, None, 0.0), (q, tokens))
    assert torch.autograd.gradcheck(lambda a, b, c: _TokenAttention.apply(a, b, c, 0.0), (q, tokens, offset))


def _chmcnn_data():
    from skhier.labels import node_indices_to_indicator

    tax = Taxonomy.from_edges(["r/a", "r/b", "a/c", "a/d", "b/e", "b/f"])
    rng = np.random.default_rng(0)
    leaves = rng.choice([tax.index(v) for v in "cdef"], 160)
    X = rng.normal(scale=0.5, size=(160, 4)).astype(np.float32)
    X[np.arange(160), leaves % 4] += 1.5
    return tax, X, node_indices_to_indicator(leaves, tax)


def test_chmcnn_refit_trains_on_every_sample_for_the_epochs_early_stopping_chose():
    from skhier.neural import CHMCNNClassifier

    tax, X, Y = _chmcnn_data()
    kw = dict(device="cpu", random_state=0, module__hidden=16, max_epochs=60, patience=3, lr=3e-2)
    stopped = CHMCNNClassifier(tax, refit=False, **kw).fit(X, Y)
    chosen = int(np.argmax(stopped.history_[:, "valid_ap"])) + 1  # the first best epoch
    assert stopped.refit_epochs_ is None and stopped.selection_history_ is None
    clf = CHMCNNClassifier(tax, **kw).fit(X, Y)
    assert clf.refit_epochs_ == chosen and len(clf.history_) == chosen
    assert len(stopped.history_) == chosen + 3 < 60  # it did stop early: 3 epochs without a better AP
    assert "valid_ap" not in clf.history_[-1] and len(clf.selection_history_) == len(stopped.history_)
    assert clf.selection_history_[:, "valid_ap"] == stopped.history_[:, "valid_ap"]  # kept, not cleared by the refit
    assert clf.train_split is not None and clf.max_epochs == 60  # the parameters are the user's again
    # the refit is exactly a fit on every sample for that many epochs
    manual = CHMCNNClassifier(tax, **dict(kw, max_epochs=chosen, train_split=None)).fit(X, Y)
    np.testing.assert_array_equal(clf.predict_proba(X), manual.predict_proba(X))


@pytest.mark.parametrize("kw", [{"train_split": None}, {"patience": None}, {"refit": False}, {"warm_start": True}])
def test_chmcnn_refits_only_after_early_stopping(kw):
    from skhier.neural import CHMCNNClassifier

    tax, X, Y = _chmcnn_data()
    clf = CHMCNNClassifier(tax, device="cpu", random_state=0, module__hidden=8, max_epochs=3, **kw).fit(X, Y)
    assert clf.refit_epochs_ is None and len(clf.history_) == 3


@pytest.mark.parametrize("n_features, width", [(4, 500), (299, 500), (300, 1000), (784, 1000)])
def test_chmcnn_auto_width_is_500_below_300_inputs_and_1000_from_there(n_features, width):
    import torch

    from skhier.neural import CHMCNNClassifier
    from skhier.neural.modules import CHMCNNModule, auto_hidden

    tax = Taxonomy.from_edges(["r/a", "r/b", "a/c"])
    assert auto_hidden(n_features) == width
    m = CHMCNNModule(torch.nn.Identity(), (n_features,), tax)
    assert m.hidden_ == width and [lyr.out_features for lyr in m.net if isinstance(lyr, torch.nn.Linear)] == [
        width, width, 3]
    # a (C, H, W) backbone output counts its flattened size; a width given is kept
    assert CHMCNNModule(torch.nn.Identity(), (3, 10, 10), tax).hidden_ == 1000
    assert CHMCNNModule(torch.nn.Identity(), (n_features,), tax, hidden=7).hidden_ == 7
    # the classifier's default reaches the module
    Y = np.zeros((8, 4), dtype=int)
    Y[:, 0], Y[:4, [1, 3]], Y[4:, 2] = 1, 1, 1
    X = np.random.default_rng(0).normal(size=(8, n_features)).astype(np.float32)
    clf = CHMCNNClassifier(tax, max_epochs=1, train_split=None, device="cpu", random_state=0).fit(X, Y)
    assert clf.module_.hidden_ == width
