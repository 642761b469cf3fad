"""save_model / load_model: round trips answer exactly as the saved estimator, and a file
that is damaged, truncated or edited fails with a message instead of loading."""

import json
import zipfile

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from skhier import CoherenceRefiner, DiffusionRefiner, FlatClassifier, LocalClassifierPerNode
from skhier.datasets import make_hierarchical_classification
from skhier.neural import (
    CHMCNNClassifier,
    CMSGClassifier,
    FlatSoftmaxClassifier,
    HCAMCLClassifier,
    HCCFClassifier,
    HMLCEncoder,
)
from skhier.neural._data import HierarchicalValidSplit
from skhier.persistence import load_model, save_model

KW = dict(max_epochs=1, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y, tax = make_hierarchical_classification(60, 4, n_levels=2, branching=2, random_state=0)
    Y = tax.ancestor_matrix[[tax.index(v) for v in y]].toarray()
    return X, y, Y, tax


def _estimators(tax):
    return [
        (FlatSoftmaxClassifier(tax, lr=3e-3, train_split=HierarchicalValidSplit(0.2), **KW), False),
        (HCAMCLClassifier(tax, module__d_model=16, module__hidden_size=16, module__fc_hidden=16, module__n_heads=2,
                          **KW), False),
        (HCCFClassifier(tax, text_encoder="learned", embed_dim=8, **KW), False),
        (HMLCEncoder(tax, batch_size=20, embed_dim=8, **KW), False),
        (CMSGClassifier(tax, correlation="cooccurrence", module__dim=8, module__heads=2, **KW), True),
        (CHMCNNClassifier(tax, module__hidden=8, **KW), True),
    ]


@pytest.mark.parametrize("i", range(6), ids=lambda i: ["flat", "hcam", "hccf", "hmlc", "cmsg", "chmcnn"][i])
def test_neural_round_trip_is_exact(data, tmp_path, i):
    X, y, Y, tax = data
    est, multilabel = _estimators(tax)[i]
    est.fit(X, Y if multilabel else y)
    back = load_model(save_model(est, tmp_path / "m.skhier"))
    assert type(back) is type(est) and back.taxonomy_ == tax
    np.testing.assert_array_equal(np.asarray(back.transform(X)), np.asarray(est.transform(X)))
    if hasattr(est, "predict"):
        want, got = est.predict(X), back.predict(X)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
        np.testing.assert_array_equal(back.classes_, est.classes_)
    assert back.get_params()["lr"] == est.get_params()["lr"]
    assert len(back.history) == len(est.history) and back.history[-1]["epoch"] == 1
    # the weights load with weights_only=True: the file holds tensors and JSON only
    with zipfile.ZipFile(tmp_path / "m.skhier") as z:
        assert sorted(z.namelist()) == ["criterion.pt", "module.pt", "skhier_model.json"]
        torch.load(__import__("io").BytesIO(z.read("module.pt")), weights_only=True)


def test_refiners_round_trip(data, tmp_path):
    X, y, _, tax = data
    S = FlatClassifier(LogisticRegression(), tax).fit(X, y).transform(X)
    for ref in (DiffusionRefiner(tax, alpha=0.3, decision="threshold"), CoherenceRefiner(tax)):
        ref.fit(S, y)
        back = load_model(save_model(ref, tmp_path / "r.skhier"))
        assert back.get_params() == ref.get_params()
        np.testing.assert_array_equal(np.asarray(back.transform(S)), np.asarray(ref.transform(S)))
        np.testing.assert_array_equal(back.predict(S), ref.predict(S))


@pytest.mark.cuda
def test_cuda_model_loads_on_cpu(data, tmp_path):
    X, y, _, tax = data
    est = FlatSoftmaxClassifier(tax, max_epochs=1, device="cuda", random_state=0).fit(X, y)
    back = load_model(save_model(est, tmp_path / "m.skhier"), device="cpu")
    assert next(back.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(back.predict_proba(X), est.predict_proba(X), atol=1e-5)


def _rewrite(path, meta=None, member=None):
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    if meta is not None:
        files["skhier_model.json"] = json.dumps(meta(json.loads(files["skhier_model.json"]))).encode()
    if member is not None:
        files["module.pt"] = member(files["module.pt"])
    with zipfile.ZipFile(path, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)


def _edit(key, value):
    def edit(meta):
        meta[key] = value
        return meta
    return edit


def test_damaged_truncated_and_edited_files_fail_with_a_message(data, tmp_path):
    X, y, _, tax = data
    path = save_model(FlatSoftmaxClassifier(tax, **KW).fit(X, y), tmp_path / "m.skhier")
    raw = path.read_bytes()
    cases = [
        ("truncated", lambda p: p.write_bytes(raw[: len(raw) // 2]), "not a readable skhier model file"),
        ("not a zip", lambda p: p.write_bytes(b"\x80\x04 a pickle, say"), "not a readable skhier model file"),
        ("weights edited", lambda p: _rewrite(p, member=lambda b: b[:-8] + b"\0" * 8),
         "damaged: the checksum of module.pt does not match"),
        ("foreign class", lambda p: _rewrite(p, meta=_edit("class", "os:system")), "refusing to import 'os:system'"),
        ("other format", lambda p: _rewrite(p, meta=_edit("format", "joblib")), "not a skhier model file of format"),
    ]
    for name, damage, match in cases:
        p = tmp_path / f"{name}.skhier"
        p.write_bytes(raw)
        damage(p)
        with pytest.raises(ValueError, match=match):
            load_model(p)


@pytest.mark.parametrize("make, exc, match", [
    (lambda tax: LocalClassifierPerNode(taxonomy=tax), TypeError, "does not store LocalClassifierPerNode.*skops.io"),
    (lambda tax: FlatSoftmaxClassifier(tax, **KW), ValueError, "needs a fitted estimator"),
    (lambda tax: LogisticRegression(), TypeError, "stores skhier estimators; got LogisticRegression"),
    (lambda tax: FlatSoftmaxClassifier(tax, backbone=torch.nn.Sequential(torch.nn.Linear(4, 8)), **KW), TypeError,
     "(?s)parameter backbone = Sequential.* cannot be stored as data"),
])
def test_what_cannot_be_saved_says_so(data, tmp_path, make, exc, match):
    X, y, _, tax = data
    est = make(tax)
    if "fitted" not in match:
        est.fit(X, y)
    with pytest.raises(exc, match=match):
        save_model(est, tmp_path / "m.skhier")
