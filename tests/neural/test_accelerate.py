"""skhier's AccelerateMixin: every neural estimator trains through accelerate with its own
step intact, one process like the plain estimator, two torchrun processes (gloo, CPU)
like one process at twice the batch size. Skips without the ``skhier[accelerate]`` extra.
"""

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skhier.datasets import make_hierarchical_classification
from skhier.neural import (
    AccelerateMixin,
    CMSGClassifier,
    FlatSoftmaxClassifier,
    HCAMCLClassifier,
    HCCFClassifier,
    HMLCEncoder,
    KFRClassifier,
    MultiLabelNodeClassifier,
)
from skhier.neural.data import NodeDataset, TensorBatchIterator

accelerate = pytest.importorskip(
    "accelerate", reason="needs the skhier[accelerate] extra: pip install 'skhier[accelerate]'"
)

HERE = Path(__file__).resolve().parent


class AccFlatSoftmax(AccelerateMixin, FlatSoftmaxClassifier):
    pass


class AccHCAMCL(AccelerateMixin, HCAMCLClassifier):
    pass


class AccHCCF(AccelerateMixin, HCCFClassifier):
    pass


class AccKFR(AccelerateMixin, KFRClassifier):
    pass


class AccNodeSigmoid(AccelerateMixin, MultiLabelNodeClassifier):
    pass


class AccCMSG(AccelerateMixin, CMSGClassifier):
    pass


class AccHMLC(AccelerateMixin, HMLCEncoder):
    pass


PAIRS = [
    (AccFlatSoftmax, FlatSoftmaxClassifier, {}),
    (AccHCAMCL, HCAMCLClassifier, {}),
    (AccHCCF, HCCFClassifier, {"text_encoder": "learned"}),
    (AccKFR, KFRClassifier, {}),
    (AccNodeSigmoid, MultiLabelNodeClassifier, {}),
    (AccCMSG, CMSGClassifier, {"correlation": "cooccurrence"}),
    (AccHMLC, HMLCEncoder, {"criterion": "g-hmlc"}),  # multi-view step and a GMM callback
    (AccHMLC, HMLCEncoder, {"criterion": "a-hmlc"}),
]


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    """AcceleratorState is a process-wide singleton: start each test from none (as
    accelerate's own tests do), so that a test may choose its mixed precision."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)
    # the state is shared in place: restore the default (CPU, no mixed precision) for
    # Accelerator objects other modules built at collection (tests/conformance/test_contract.py)
    accelerate.Accelerator(cpu=True)


@pytest.fixture(scope="module")
def data():
    X, y, tax = make_hierarchical_classification(192, 8, n_levels=2, branching=3, random_state=0)
    return X.astype(np.float32), y, tax


def _outputs(est, X):
    return np.asarray(est.predict_proba(X) if hasattr(est, "predict_proba") else est.transform(X))


@pytest.mark.parametrize("acc_cls, plain_cls, extra", PAIRS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_one_process_trains_exactly_like_the_plain_estimator(data, acc_cls, plain_cls, extra):
    """The estimator's own step runs (teacher forcing, views, transforms): same outputs."""
    X, y, tax = data
    kw = dict(max_epochs=2, random_state=0, **extra)
    acc = acc_cls(tax, accelerator=accelerate.Accelerator(cpu=True), **kw).fit(X, y)
    plain = plain_cls(tax, device="cpu", **kw).fit(X, y)
    np.testing.assert_array_equal(_outputs(acc, X[:32]), _outputs(plain, X[:32]))
    np.testing.assert_array_equal(acc.history[:, "train_loss"], plain.history[:, "train_loss"])
    assert not isinstance(acc.module_, torch.nn.parallel.DistributedDataParallel)  # unwrapped after fit


def test_clone_pickle_and_params(data):
    X, y, tax = data
    clf = AccFlatSoftmax(tax, accelerator=accelerate.Accelerator(cpu=True), max_epochs=1, random_state=0)
    assert clf.get_params()["device"] is None and "accelerator" in clf.get_params()
    fitted = clf.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(X[:8]), fitted.predict_proba(X[:8]))
    assert again.get_params()["device"] is None  # regression: came back as torch.device("cpu")
    again.set_params(max_epochs=1).fit(X, y)  # and refits: device=None passes the mixin's check
    fresh = clone(clf).set_params(max_epochs=2)
    assert fresh.max_epochs == 2 and not hasattr(fresh, "module_")


def test_bf16_through_the_accelerator(data):
    X, y, tax = data
    clf = AccHCAMCL(tax, accelerator=accelerate.Accelerator(cpu=True, mixed_precision="bf16"), max_epochs=1,
                    random_state=0).fit(X, y)
    proba = clf.predict_proba(X[:16])
    assert np.isfinite(clf.history[:, "train_loss"]).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_the_parameter_free_criterion_is_not_prepared(data, monkeypatch):
    """accelerate would DDP-wrap the loss module, and DDP refuses one with no parameters."""
    X, y, tax = data
    acc = accelerate.Accelerator(cpu=True)
    prepared = []
    real = acc.prepare
    monkeypatch.setattr(acc, "prepare", lambda *objs: (prepared.extend(objs), real(*objs))[1])
    clf = AccFlatSoftmax(tax, accelerator=acc, max_epochs=1, random_state=0).fit(X, y)
    assert not list(clf.criterion_.parameters())
    assert clf.criterion_ not in prepared
    assert any(isinstance(o, torch.optim.Optimizer) for o in prepared)


@pytest.mark.parametrize("kwargs, match", [
    ({"device": "cpu"}, "device='cpu'.*set device=None"),
    ({"mixed_precision": "bf16"}, "mixed_precision='bf16'.*Accelerator\\(mixed_precision='bf16'\\)"),
])
def test_bad_settings(data, kwargs, match):
    X, y, tax = data
    clf = AccFlatSoftmax(tax, accelerator=accelerate.Accelerator(cpu=True), max_epochs=1, **kwargs)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_missing_extra_names_it(monkeypatch, data):
    monkeypatch.setitem(sys.modules, "accelerate", None)
    with pytest.raises(ImportError, match=r"skhier\[accelerate\]"):
        AccFlatSoftmax(data[2], accelerator=object())


def test_sharded_iterators_split_one_permutation():
    ds = NodeDataset(torch.arange(20.0).reshape(10, 2), torch.arange(10))
    shards = [
        [b[1].tolist() for b in TensorBatchIterator(ds, batch_size=2, shuffle=True, seed=3, num_shards=3, shard=r)]
        for r in range(3)
    ]
    whole = [b[1].tolist() for b in TensorBatchIterator(ds, batch_size=2, shuffle=True, seed=3)]
    # global batches 0..4 dealt round-robin; shard 2 wraps round to batch 0
    assert shards == [[whole[0], whole[3]], [whole[1], whole[4]], [whole[2], whole[0]]]
    with pytest.raises(ValueError, match="shard must be in"):
        TensorBatchIterator(ds, num_shards=2, shard=2)


@pytest.mark.skipif(shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
                    reason="torchrun not found")
@pytest.mark.parametrize("estimator", ["flat", "hcam"])
def test_two_torchrun_processes_train_like_one(tmp_path, estimator):
    """torchrun --standalone --nproc_per_node 2 (gloo, CPU), 32 samples a process a step,
    against one process at 64: probabilities within 1e-4, the same predictions and the
    same gathered validation scores."""
    sys.path.insert(0, str(HERE))
    try:
        import accelerate_train as script
    finally:
        sys.path.remove(str(HERE))
    out = tmp_path / "out.npz"
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", str(HERE / "accelerate_train.py"),
           "--estimator", estimator, "--batch-size", "32", "--out", str(out)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = np.load(out)
    assert int(got["n_processes"]) == 2
    X, y, tax = script.data()
    single = script.ESTIMATORS[estimator][0](tax, device="cpu", **script.params(estimator, 64)).fit(X, y)
    np.testing.assert_array_equal(got["train_batches"], [h["train_batch_count"] for h in single.history])
    np.testing.assert_allclose(got["proba"], single.predict_proba(X), atol=1e-4)
    np.testing.assert_array_equal(got["proba"].argmax(1), single.predict_proba(X).argmax(1))
    np.testing.assert_array_equal(got["valid_hf1"], single.history[:, "valid_hf1"])
    np.testing.assert_allclose(got["valid_loss"], single.history[:, "valid_loss"], rtol=1e-5)
