"""CUDA code paths against their CPU results (skipped without a GPU)."""

import numpy as np
import pytest
import torch

from skhier.datasets import make_hierarchical_classification
from skhier.inference import BottomUpRefiner, DifferentiableDiffusionRefiner, TopDownRefiner, decide
from skhier.metrics import (
    hierarchical_average_precision,
    hierarchical_distance_at_k,
    hierarchical_f1_score,
    level_accuracy_score,
    majority_f1_score,
    mean_average_precision,
    recall_at_correct,
)
from skhier.neural import FlatSoftmaxClassifier
from skhier.neural.augment import RandomCropFlip
from skhier.neural.backbones import MLP
from skhier.neural.data import NodeDataset, TensorBatchIterator
from skhier.neural.modules import HCAMCLModule

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def data():
    X, y, tax = make_hierarchical_classification(400, 8, n_levels=3, branching=3, random_state=0)
    rng = np.random.default_rng(0)
    S = rng.dirichlet(np.ones(tax.n_leaves), 400) @ tax.leaf_ancestor_matrix
    t = np.array([tax.index(v) for v in y])
    return X, y, tax, np.asarray(S), t


def test_metrics_on_cuda_match_cpu(data):
    _, y, tax, S, t = data
    tc, Sc = torch.as_tensor(t).cuda(), torch.as_tensor(S).cuda()
    for fn in (hierarchical_average_precision, recall_at_correct, majority_f1_score, hierarchical_distance_at_k):
        got = fn(tc, Sc, taxonomy=tax)
        assert got.device.type == "cuda"
        assert float(got) == pytest.approx(float(fn(torch.as_tensor(t), torch.as_tensor(S), taxonomy=tax)), abs=1e-5)
    pred = decide(Sc, tax, "top_down")
    assert pred.device.type == "cuda"
    np.testing.assert_array_equal(pred.cpu().numpy(), decide(S, tax, "top_down"))
    assert float(hierarchical_f1_score(tc, pred, taxonomy=tax)) == pytest.approx(
        float(hierarchical_f1_score(torch.as_tensor(t), pred.cpu(), taxonomy=tax)))
    np.testing.assert_allclose(level_accuracy_score(tc, pred, taxonomy=tax).cpu().numpy(),
                               level_accuracy_score(torch.as_tensor(t), pred.cpu(), taxonomy=tax).numpy())
    assert float(mean_average_precision(tc, Sc, taxonomy=tax)) == pytest.approx(
        mean_average_precision(y, S, taxonomy=tax), abs=1e-6)


def test_refiners_on_cuda(data):
    _, y, tax, S, _ = data
    for ref in (BottomUpRefiner(tax), TopDownRefiner(tax, normalize=True)):
        ref.fit(S)
        out = ref.transform(torch.as_tensor(S).cuda())
        assert out.device.type == "cuda"
        np.testing.assert_allclose(out.cpu().numpy(), ref.transform(S), atol=1e-10)
    learned = DifferentiableDiffusionRefiner(tax, max_epochs=3, device="cuda", random_state=0).fit(S, y)
    assert learned.net_.device == "cuda" and np.isfinite(learned.operator_).all()


def test_hcamcl_beam_matches_exact_on_cuda(data):
    _, _, tax, _, _ = data
    torch.manual_seed(0)
    m = HCAMCLModule(MLP(5, 16), (16,), tax.parent.tolist(), d_model=16, n_heads=2, hidden_size=16).cuda().eval()
    x = torch.randn(9, 5, device="cuda")
    with torch.no_grad():
        exact = m.end_log_probs(x).exp()
        m.decoding, m.beam_width = "beam", tax.n_leaves
        beam = m.end_log_probs(x).exp()
    torch.testing.assert_close(beam, exact, atol=1e-5, rtol=1e-4)


def test_pinned_memory_path_and_augmentation_on_cuda(data):
    X, y, tax, _, _ = data
    ds = NodeDataset(torch.as_tensor(X), torch.arange(len(X)), None).place("cuda", max_fraction=0.0)
    assert ds.X.is_pinned() and not ds.X.is_cuda
    seen = torch.cat([yb for _, yb in TensorBatchIterator(ds, batch_size=64, shuffle=True, device="cuda", seed=0)])
    assert seen.is_cuda and sorted(seen.tolist()) == list(range(len(X)))
    img = torch.rand(8, 1, 28, 28, device="cuda")
    out = RandomCropFlip(2)(img)
    assert out.shape == img.shape and out.is_cuda
    clf = FlatSoftmaxClassifier(tax, device="cuda", channels_last=True, mixed_precision="bf16", max_epochs=2,
                                random_state=0).fit(X, y)
    assert next(clf.module_.parameters()).is_cuda
    assert clf.score(X, y) > 2 / tax.n_leaves  # 27 leaves: chance is 1/27


def test_every_loss_on_cuda_matches_cpu(data):
    """Values, gradients and read-outs of every hierarchical loss: CUDA = CPU (float64)."""
    from skhier.neural.losses import LOSSES, sample_triplets

    _, _, tax, _, t = data
    targets = torch.as_tensor(t[:64])
    targets[::5] = torch.as_tensor(tax.parent)[targets[::5]]  # internal labels too
    for name, cls in LOSSES.items():
        loss = cls(tax)
        g = torch.Generator().manual_seed(0)
        logits = torch.randn(64, loss.n_outputs, generator=g, dtype=torch.float64)
        kw = {}
        if loss.uses_features:
            kw = {"features": torch.randn(64, 16, generator=g, dtype=torch.float64),
                  "triplets": sample_triplets(64, generator=torch.Generator().manual_seed(1))}
        out = {}
        for dev in ("cpu", "cuda"):
            x = logits.to(dev).requires_grad_()
            dkw = {k: (v.to(dev) if torch.is_tensor(v) else tuple(u.to(dev) for u in v)) for k, v in kw.items()}
            value = loss(x, targets.to(dev), **dkw)
            value.backward()
            out[dev] = (value.item(), x.grad.cpu(), loss.end_log_probs(x.detach()).exp().cpu())
        assert out["cuda"][0] == pytest.approx(out["cpu"][0], rel=1e-6), name
        torch.testing.assert_close(out["cuda"][1], out["cpu"][1], rtol=1e-6, atol=1e-9)
        torch.testing.assert_close(out["cuda"][2], out["cpu"][2], rtol=1e-6, atol=1e-9)


def test_loss_classifier_trains_on_cuda(data):
    from skhier.neural import HierarchicalLossClassifier

    X, y, tax, _, _ = data
    for name in ("soft_max_margin", "conditional_softmax", "quantitative_relativity"):
        clf = HierarchicalLossClassifier(tax, criterion=name, device="cuda", mixed_precision="bf16", max_epochs=2,
                                         random_state=0).fit(X, y)
        assert clf.module_.head.weight.device.type == "cuda"
        np.testing.assert_allclose(clf.predict_proba(X[:10]).sum(1), 1.0)
        assert np.isfinite(clf.history_[-1, "train_loss"])


def test_hccf_on_cuda_matches_its_loss_and_loads_on_cpu(data, tmp_path):
    import pickle

    from skhier.neural import HCCFClassifier
    from skhier.neural.modules import HCCFLoss

    X, y, tax, _, t = data
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(32, tax.max_depth, 8, generator=g, dtype=torch.float64), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(tax.n_nodes, 8, generator=g, dtype=torch.float64), dim=-1)
    loss = HCCFLoss(tax, list(range(1, tax.max_depth + 1)))
    cpu = loss((img, txt, torch.tensor(5.0, dtype=torch.float64)), torch.as_tensor(t[:32]))
    gpu = loss((img.cuda(), txt.cuda(), torch.tensor(5.0, dtype=torch.float64).cuda()), torch.as_tensor(t[:32]).cuda())
    assert gpu.item() == pytest.approx(cpu.item(), rel=1e-9)
    clf = HCCFClassifier(tax, text_encoder="learned", device="cuda", mixed_precision="bf16", max_epochs=2,
                         random_state=0).fit(X, y)
    S = np.asarray(clf.transform(X[:20]))
    path = tmp_path / "hccf.pkl"
    path.write_bytes(pickle.dumps(clf))
    back = pickle.loads(path.read_bytes())
    back.set_params(device="cpu")
    back.module_.to("cpu")
    np.testing.assert_allclose(np.asarray(back.transform(X[:20])), S, atol=2e-2)  # bf16 on the GPU, fp32 here


def test_cmsg_on_cuda_matches_cpu_and_loads_on_cpu(tmp_path):
    import pickle

    from skhier.labels import fill_ancestors
    from skhier.neural import CMSGClassifier
    from skhier.neural.losses import AsymmetricLoss

    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 9, generator=g, dtype=torch.float64) * 3
    t = (torch.rand(16, 9, generator=g) < 0.3).double()
    loss = AsymmetricLoss()
    assert loss(x.cuda(), t.cuda()).item() == pytest.approx(loss(x, t).item(), rel=1e-9)
    X, y, tax = make_hierarchical_classification(300, 8, n_levels=2, branching=3, random_state=0)
    rng = np.random.default_rng(0)
    Y = np.zeros((len(y), tax.n_nodes), dtype=np.int8)
    Y[np.arange(len(y)), [tax.index(v) for v in y]] = 1
    Y[np.arange(len(y)), rng.choice(tax.leaves, len(y))] = 1
    Y = fill_ancestors(Y, tax)
    X = X.reshape(len(X), 2, 2, 2)  # a tiny "image" with a spatial map
    kw = dict(max_epochs=2, random_state=0, module__dim=16, module__heads=2, backbone__width=8, backbone__n_blocks=1)
    clf = CMSGClassifier(tax, correlation="cooccurrence", device="cuda", mixed_precision="bf16", **kw).fit(X, Y)
    assert clf.module_.attn_bias.is_cuda
    P = clf.predict_proba(X[:20])
    back = pickle.loads(pickle.dumps(clf))
    back.set_params(device="cpu")
    back.module_.to("cpu")
    np.testing.assert_allclose(back.predict_proba(X[:20]), P, atol=2e-2)  # bf16 on the GPU, fp32 here


def test_hmlc_losses_and_encoder_on_cuda(data):
    import pickle

    from skhier.neural import HMLCEncoder
    from skhier.neural.losses import HMCELoss, SupConLoss

    X, y, tax, _, t = data
    g = torch.Generator().manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(40, 2, tax.max_depth, 8, generator=g, dtype=torch.float64), dim=-1)
    nodes = torch.as_tensor(t[:40])
    for loss, args in ((HMCELoss(tax), (z, nodes)), (SupConLoss(), (z[:, :, 0], nodes))):
        cpu = loss(*args).item()
        assert loss(*(a.cuda() for a in args)).item() == pytest.approx(cpu, rel=1e-9)
    enc = HMLCEncoder(tax, criterion="g-hmlc", device="cuda", mixed_precision="bf16", max_epochs=2, random_state=0,
                      embed_dim=16).fit(X, y)
    assert enc.module_.level_masks.is_cuda and enc.history[-1]["level_mask_dims"]
    Z = enc.transform(X[:20])
    back = pickle.loads(pickle.dumps(enc))
    back.set_params(device="cpu")
    back.module_.to("cpu")
    np.testing.assert_allclose(back.transform(X[:20]), Z, atol=5e-2, rtol=5e-2)  # bf16 on the GPU, fp32 here


def test_weight_averaging_on_cuda_keeps_the_average_on_the_device_and_matches_cpu(data):
    from skhier.neural import CHMCNNClassifier

    X, y, tax, _, _ = data
    kw = {"averaging": 0.9, "max_epochs": 3, "patience": 1, "random_state": 0, "verbose": 0, "module__hidden": 16}
    gpu = CHMCNNClassifier(tax, device="cuda", **kw).fit(X, y)
    cpu = CHMCNNClassifier(tax, device="cpu", **kw).fit(X, y)
    assert next(gpu.module_.parameters()).is_cuda
    assert gpu.refit_epochs_ == cpu.refit_epochs_
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-3)
