"""The three kinds of neural output, each through the shared plumbing with a tiny model.

Every estimator below is a module, a criterion and ``_module_defaults``: no override of
prediction, probabilities, validation scoring or data handling (docs/contributing.md).
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from torch import nn

from skhier import Taxonomy
from skhier.labels import to_node_indices
from skhier.neural import (
    EncoderModule,
    EndDistributionModule,
    HierarchicalEncoderNet,
    HierarchicalNet,
    MultiLabelHierarchicalNet,
    NodeProbabilityModule,
)

TAX = Taxonomy.from_parent_mapping({"a1": "A", "a2": "A", "b1": "B", "b2": "B", "A": "r", "B": "r"})
KW = dict(max_epochs=3, lr=2e-2, device="cpu", random_state=0, backbone__hidden=(16,))


class TinyEnd(nn.Module):
    def __init__(self, backbone, width, leaf_nodes, n_nodes):
        super().__init__()
        self.backbone, self.head = backbone, nn.Linear(width, len(leaf_nodes))
        self.register_buffer("leaf_nodes", torch.as_tensor(leaf_nodes))
        self.n_nodes = n_nodes

    def forward(self, X, targets=None):
        return self.head(self.backbone(X))

    def end_log_probs(self, X):
        out = torch.full((X.shape[0], self.n_nodes), -torch.inf)
        out[:, self.leaf_nodes] = self.forward(X).log_softmax(1)
        return out


class LeafNLL(nn.Module):
    def __init__(self, leaf_position):
        super().__init__()
        self.register_buffer("pos", torch.as_tensor(leaf_position))

    def forward(self, logits, nodes):
        return nn.functional.cross_entropy(logits, self.pos[nodes])


class EndNet(HierarchicalNet):
    def __init__(self, taxonomy, *, module=TinyEnd, criterion=LeafNLL, backbone="mlp", **kwargs):
        super().__init__(taxonomy, module, criterion, backbone=backbone, **kwargs)

    def _module_defaults(self, backbone, feat_shape):
        t = self.taxonomy_
        return {"backbone": backbone, "width": feat_shape[0], "leaf_nodes": t.leaves.tolist(), "n_nodes": t.n_nodes}

    def _criterion_defaults(self):
        return {"leaf_position": self.taxonomy_.leaf_position.tolist()}


class TinyNodes(nn.Module):
    def __init__(self, backbone, width, n_nodes):
        super().__init__()
        self.backbone, self.head = backbone, nn.Linear(width, n_nodes)

    def forward(self, X, targets=None):
        return self.head(self.backbone(X))

    def node_logits(self, X):
        return self.forward(X)


class NodeNet(MultiLabelHierarchicalNet):
    def __init__(self, taxonomy, *, module=TinyNodes, criterion=nn.BCEWithLogitsLoss, backbone="mlp", **kwargs):
        super().__init__(taxonomy, module, criterion, backbone=backbone, **kwargs)

    def _module_defaults(self, backbone, feat_shape):
        return {"backbone": backbone, "width": feat_shape[0], "n_nodes": self.taxonomy_.n_nodes}


class TinyEncoder(nn.Module):
    def __init__(self, backbone, width, dim=4):
        super().__init__()
        self.backbone, self.proj = backbone, nn.Linear(width, dim)

    def forward(self, X, targets=None):
        return nn.functional.normalize(self.proj(self.backbone(X)), dim=1)

    def embed(self, X):
        return self.forward(X)


class SameLabelLoss(nn.Module):
    """A small supervised contrastive loss: pull same-label samples together."""

    def forward(self, z, nodes):
        sim = (z @ z.T / 0.2).fill_diagonal_(-1e4)
        pos = (nodes[:, None] == nodes[None, :]).float().fill_diagonal_(0)
        has = pos.sum(1) > 0
        logp = sim.log_softmax(dim=1)
        return -((logp * pos).sum(1)[has] / pos.sum(1)[has]).mean()


class EncNet(HierarchicalEncoderNet):
    def __init__(self, taxonomy, *, module=TinyEncoder, criterion=SameLabelLoss, backbone="mlp", **kwargs):
        super().__init__(taxonomy, module, criterion, backbone=backbone, **kwargs)

    def _module_defaults(self, backbone, feat_shape):
        return {"backbone": backbone, "width": feat_shape[0]}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    leaves = np.array(["a1", "a2", "b1", "b2"])
    k = np.tile(np.arange(4), 60)
    centers = rng.normal(scale=3.0, size=(4, 5))
    return (centers[k] + rng.normal(size=(len(k), 5))).astype(np.float32), leaves[k]


def test_modules_satisfy_their_protocols():
    from skhier.neural.backbones import MLP

    assert isinstance(TinyEnd(MLP(2, 4), 4, [1], 2), EndDistributionModule)
    assert isinstance(TinyNodes(MLP(2, 4), 4, 3), NodeProbabilityModule)
    assert isinstance(TinyEncoder(MLP(2, 4), 4), EncoderModule)
    assert not isinstance(TinyEncoder(MLP(2, 4), 4), EndDistributionModule)


def test_end_distribution_kind(data):
    X, y = data
    clf = EndNet(TAX, **KW).fit(X, y)
    assert list(clf.classes_) == ["a1", "a2", "b1", "b2"]
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-6)
    assert clf.score(X, y) > 0.9
    marg = clf.transform(X)
    np.testing.assert_allclose(np.asarray(marg)[:, TAX.index("A")], proba[:, :2].sum(1), atol=1e-5)
    assert {"valid_exact", "valid_hf1", "valid_hf1_best"} <= set(clf.history[-1])
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(back.predict_proba(X), proba)
    assert clone(clf).get_params()["taxonomy"] is TAX


def test_node_probability_kind(data):
    X, y = data
    # several paths per sample: each sample's leaf and, for "a" leaves, also "b1"
    rows = [[TAX.index(v)] + ([TAX.index("b1")] if v.startswith("a") else []) for v in y]
    Y = sp.lil_matrix((len(y), TAX.n_nodes), dtype=np.int8)
    for i, cols in enumerate(rows):
        Y[i, cols] = 1
    Y = Y.tocsr()
    with pytest.warns(UserWarning, match="240 row.*not closed under ancestors"):
        clf = NodeNet(TAX, **KW).fit(X, Y)  # leaves only: their ancestors are implied
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), TAX.n_nodes) and list(clf.classes_) == list(TAX.nodes)
    pred = clf.predict(X)
    assert sp.issparse(pred) and pred.shape == Y.shape
    P = pred.toarray()
    for v in range(1, TAX.n_nodes):  # predictions are closed under ancestors
        assert (P[:, v] <= P[:, TAX.parent[v]]).all()
    truth = Y.toarray().copy()
    truth[:, [0, TAX.index("A"), TAX.index("B")]] = 1  # ancestors filled
    assert (P == truth).mean() > 0.9
    assert "valid_of1" in clf.history[-1]
    # the same base fitted on single-label y predicts single paths
    single = NodeNet(TAX, **KW).fit(X, y)
    assert set(single.predict(X)) <= set(TAX.nodes) and single.score(X, y) > 0.8


def test_encoder_kind(data):
    X, y = data
    enc = EncNet(TAX, **KW).fit(X, y)
    Z = enc.transform(X)
    assert Z.shape == (len(X), 4)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1, atol=1e-5)
    assert list(enc.get_feature_names_out()) == ["embedding0", "embedding1", "embedding2", "embedding3"]
    assert not hasattr(enc, "predict_proba") and not hasattr(enc, "predict")
    # linear evaluation is a Pipeline
    pipe = make_pipeline(EncNet(TAX, **KW), LogisticRegression()).fit(X, y)
    assert pipe.score(X, y) > 0.9


def test_backbone_is_built_once_per_initialisation(data, monkeypatch):
    X, y = data
    calls = []
    clf = EndNet(TAX, **KW)
    original = type(clf)._build_backbone

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(type(clf), "_build_backbone", counted)
    clf.fit(X, y)
    assert len(calls) == 1


def test_thread_budget_uses_the_free_cores_per_epoch_and_restores(monkeypatch):
    # issue 25: with the budget, on a busy machine the epoch runs on the cores other processes leave free
    from skorch.callbacks import Callback

    import skhier.neural.callbacks as base
    from skhier.datasets import make_hierarchical_classification
    from skhier.neural import FlatSoftmaxClassifier
    from skhier.neural.callbacks import ThreadBudget

    seen = []

    class Spy(Callback):
        def on_batch_begin(self, net, **kwargs):
            seen.append(torch.get_num_threads())

    X, y, tax = make_hierarchical_classification(40, 4, n_levels=2, branching=2, random_state=0)
    before = torch.get_num_threads()
    free = iter([1, 2, 1])
    monkeypatch.setattr(base, "free_cpus", lambda: next(free))
    torch.set_num_threads(2)
    try:
        FlatSoftmaxClassifier(tax, max_epochs=3, device="cpu", batch_size=40, train_split=None,
                              callbacks=[("thread_budget", ThreadBudget()), ("spy", Spy())]).fit(X, y)
        assert seen == [1, 2, 1] and torch.get_num_threads() == 2  # per epoch, then restored
        seen.clear()
        monkeypatch.setattr(base, "free_cpus", lambda: 8)  # never more than torch had
        FlatSoftmaxClassifier(tax, max_epochs=1, device="cpu", batch_size=40, train_split=None,
                              callbacks=[("thread_budget", ThreadBudget()), ("spy", Spy())]).fit(X, y)
        assert seen == [2]
        seen.clear()
        FlatSoftmaxClassifier(tax, max_epochs=1, device="cpu", batch_size=40, train_split=None,
                              callbacks=[("spy", Spy())]).fit(X, y)  # not a default: torch's threads stay
        assert seen == [2]
        seen.clear()
        FlatSoftmaxClassifier(tax, max_epochs=1, device="cpu", batch_size=40, train_split=None,
                              callbacks=[("thread_budget", ThreadBudget(max_threads=1)), ("spy", Spy())]).fit(X, y)
        assert seen == [1]
    finally:
        torch.set_num_threads(before)


def test_free_cpus_does_not_count_this_process_own_threads(monkeypatch):
    # regression: right after an epoch torch's OpenMP workers still spin (state R); counted as
    # other processes they made ThreadBudget drop to 1 thread on a quiet machine (25 % slower)
    import skhier._threads as th

    assert th._others("0.50 0.40 0.30 3/79 1234", own_running=2) == 1
    assert th._others("0.50 0.40 0.30 2/79 1234", own_running=3) == 0
    monkeypatch.setattr(th, "_available_cpus", lambda: 2)
    monkeypatch.setattr(th.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(th, "_runnable_others", lambda: 0)
    assert th.free_cpus() == 2
    monkeypatch.setattr(th, "_runnable_others", lambda: 1)
    assert th.free_cpus() == 1
    monkeypatch.setattr(th, "_runnable_others", lambda: 9)
    assert th.free_cpus() == 1
    assert th._running_threads_of_this_process() >= 1  # the caller itself is running


# ---------------------------------------------------------------- a thin skorch wing
def _skorch_members_overridden(cls):
    """Names defined by ``cls`` and its bases below skorch's NeuralNet that NeuralNet (or
    its own bases) also defines: the skorch members the class overrides. ``device`` is
    an instance attribute in skorch, not a class member, so it is not counted: our
    property over it is the one documented extra."""
    from skorch import NeuralNet

    ours = [
        k for k in cls.__mro__ if issubclass(k, NeuralNet) and k is not NeuralNet and k.__module__.startswith("skhier")
    ]
    names = {n for k in ours for n in vars(k)} - {"__module__", "__doc__", "__dict__", "__weakref__"}
    return sorted(n for n in names if hasattr(NeuralNet, n))


def test_the_base_overrides_at_most_eleven_skorch_members():
    from skhier.neural._base import _HierarchicalNetBase

    overridden = _skorch_members_overridden(_HierarchicalNetBase)
    assert overridden == sorted([
        "__init__", "prefixes_", "get_params", "initialize_module", "initialize_criterion", "get_params_for",
        "get_default_callbacks", "infer", "fit", "partial_fit",
        "__sklearn_tags__",  # sparse X is taken (densified per batch): scikit-learn's checks read the tag
    ])
    # the kind bases add only their predictions (as skorch's NeuralNetClassifier does)
    assert set(_skorch_members_overridden(HierarchicalNet)) - set(overridden) == {"predict"}
    assert set(_skorch_members_overridden(MultiLabelHierarchicalNet)) - set(overridden) == {"predict", "predict_proba"}


def test_no_copy_of_skorch_step_bodies():
    from skorch import NeuralNet

    from skhier.neural import CHMCNNClassifier, CMSGClassifier, FlatSoftmaxClassifier, HCAMCLClassifier

    for cls in (EndNet, NodeNet, EncNet, FlatSoftmaxClassifier, HCAMCLClassifier, CMSGClassifier, CHMCNNClassifier):
        for name in ("train_step_single", "validation_step", "evaluation_step", "get_dataset", "get_split_datasets"):
            assert getattr(cls, name) is getattr(NeuralNet, name), (cls.__name__, name)
    for cls in (EndNet, NodeNet, EncNet):  # a method may read more in get_loss; the bases do not
        assert cls.get_loss is NeuralNet.get_loss


class NoReadOut(nn.Module):
    def __init__(self, backbone, width, n_nodes):
        super().__init__()
        self.backbone, self.head = backbone, nn.Linear(width, n_nodes)

    def forward(self, x, targets=None):
        return self.head(self.backbone(x))


class NoTargets(TinyNodes):
    def forward(self, X):
        return self.head(self.backbone(X))


@pytest.mark.parametrize("module, match", [
    (NoReadOut, r"NodeNet needs a module with forward\(x, targets=None\) and node_logits\(x\) \(the "
                r"NodeProbabilityModule protocol.*NoReadOut has no node_logits"),
    (NoTargets, r"forward\(<inputs>, targets=<targets>\).*NoTargets.forward\(X\) takes no 'targets'"),
])
def test_module_without_its_protocol_fails_at_initialisation_naming_it(data, module, match):
    X, y = data
    with pytest.raises(TypeError, match=match):
        NodeNet(TAX, module=module, **KW).fit(X, y)


class Recorder(TinyEnd):
    """TinyEnd that records the targets forward receives and the inputs it sees."""

    seen = []

    def forward(self, X, targets=None):
        Recorder.seen.append((self.training, None if targets is None else targets.clone(), X.detach().clone()))
        return super().forward(X, targets)


def test_targets_reach_forward_in_training_and_validation_only(data):
    X, y = data
    Recorder.seen.clear()
    shift = lambda x: x + 100.0  # noqa: E731  (a visible train_transform)
    clf = EndNet(TAX, module=Recorder, train_transform=shift, **dict(KW, max_epochs=1)).fit(X, y)
    train = [s for s in Recorder.seen if s[0]]
    valid = [s for s in Recorder.seen if not s[0] and s[1] is not None]
    assert train and valid
    # training batches: node indices of their samples, transformed inputs
    enc = to_node_indices(y, clf.taxonomy_)
    for _, t, xb in train:
        assert t.dtype == torch.long and set(t.tolist()) <= set(enc.tolist())
        assert float(xb.mean()) > 50  # the transform ran (inputs are ~N(0, 3))
    for _, t, xb in valid:  # validation: targets, no transform
        assert float(xb.abs().mean()) < 20
    Recorder.seen.clear()
    clf.predict_proba(X[:7])  # predictions use end_log_probs, never forward with targets
    assert all(t is None and not training for training, t, _ in Recorder.seen)


def test_validation_split_is_seeded_by_random_state_across_partial_fit(data):
    X, y = data
    a = EndNet(TAX, **dict(KW, max_epochs=1)).fit(X, y)
    b = EndNet(TAX, **dict(KW, max_epochs=1)).fit(X, y)
    np.testing.assert_array_equal(a.history[:, "valid_loss"], b.history[:, "valid_loss"])
    ds = a._prepare(X, y, reset=False)
    first = a.train_split(ds)[1].indices
    second = a.train_split(ds)[1].indices
    np.testing.assert_array_equal(first, second)  # same held-out samples at every partial_fit


def test_device_auto_is_kept_by_get_params_and_resolved_for_skorch():
    net = EndNet(TAX, device="auto")
    assert net.get_params()["device"] == "auto"
    assert net.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert clone(net).get_params()["device"] == "auto"
    net.set_params(device="cpu")
    assert net.get_params()["device"] == net.device == "cpu"
    back = pickle.loads(pickle.dumps(EndNet(TAX, device="auto")))
    assert back.get_params()["device"] == "auto" and back.device in ("cpu", "cuda")
