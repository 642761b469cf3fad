"""save_model / load_model: round trips answer exactly as the saved estimator, and a file
that is damaged, truncated, edited or crafted fails with a message instead of loading, and
runs nothing (the hostile-file table)."""

import hashlib
import json
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
import safetensors.torch
import skorch
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
from skhier.neural.data import HierarchicalValidSplit
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
    # the file holds JSON and safetensors only
    with zipfile.ZipFile(tmp_path / "m.skhier") as z:
        assert sorted(z.namelist()) == ["criterion.safetensors", "module.safetensors", HEADER, SHA]
        assert set(safetensors.torch.load(z.read("module.safetensors"))) == set(est.module_.state_dict())


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


HEADER, SHA = "skhier_model.json", "skhier_model.sha256"


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(path, members, *, fix=True):
    """A crafted archive; ``fix`` recomputes the header's checksum, as a deliberate editor would."""
    if fix and HEADER in members and SHA in members:
        members = dict(members, **{SHA: hashlib.sha256(members[HEADER]).hexdigest().encode()})
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)


def _meta(edit, *, fix=True, text=None):
    """A damage that edits the header as JSON (``edit(meta)``) or as text (``text(str)``)."""
    def damage(path, members):
        raw = members[HEADER].decode()
        raw = text(raw) if text else json.dumps(edit(json.loads(raw)))
        _write(path, dict(members, **{HEADER: raw.encode()}), fix=fix)
    return damage


def _param(value):
    """The header with one more parameter (a fitted FlatSoftmaxClassifier takes ``**kwargs``)."""
    def edit(meta):
        meta["params"]["lr"] = value
        return meta
    return _meta(edit)


def _member(name, data, *, declare=True):
    """Replace (or add) a weight member, its header entry made to match."""
    def damage(path, members):
        meta = json.loads(members[HEADER])
        if declare:
            meta["members"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        _write(path, dict(members, **{name: data, HEADER: json.dumps(meta).encode()}))
    return damage


def _extra(name, data=b"x"):
    def damage(path, members):
        _write(path, dict(members, **{name: data}))
    return damage


def _raw(data):
    def damage(path, members):
        path.write_bytes(data(path.read_bytes()) if callable(data) else data)
    return damage


def _popen(marker):
    return {"__object__": "torch.utils.collect_env:subprocess.Popen", "kwargs": {"args": ["touch", str(marker)]}}


def _nested(depth):
    value = 0.1
    for _ in range(depth):
        value = [value]
    return value


def _bomb(path, members):
    """A weight member of 64 MiB of zeros (honestly declared): it compresses ~1000-fold."""
    meta = json.loads(members[HEADER])
    size = 64 * 2**20
    meta["members"]["module.safetensors"] = {"size": size, "sha256": "0" * 64}
    members = dict(members, **{HEADER: json.dumps(meta).encode()})
    members[SHA] = hashlib.sha256(members[HEADER]).hexdigest().encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            if n == "module.safetensors":
                with z.open(n, "w", force_zip64=True) as f:
                    chunk = bytes(2**20)
                    for _ in range(size // len(chunk)):
                        f.write(chunk)
            else:
                z.writestr(n, b)


def _renamed_leaf(raw):
    return raw.replace("n0.0", "z9")  # in the taxonomy and classes_ alike: the sorted class order changes


def _swapped_classes(meta):
    c = meta["fitted"]["classes_"]["__ndarray__"]
    c[0], c[1] = c[1], c[0]
    return meta


def _safetensors_of(shape):
    from safetensors.torch import save

    return save({"head.weight": torch.zeros(shape)})


def _lying_safetensors():
    """A safetensors header that declares a 10⁹-element tensor over 16 bytes of data."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [1000000000], "data_offsets": [0, 4000000000]}}).encode()
    return len(header).to_bytes(8, "little") + header + bytes(16)


def _set(key, value, where="fitted"):
    def edit(meta):
        (meta if where is None else meta[where])[key] = value
        return meta
    return edit


def _old_format(meta):
    meta["format"] = "skhier-model/1"
    return meta


#: The hostile-file table: (id, damage(path, members), message). Every crafted file fails with a
#: ValueError whose message matches, and runs nothing (the Popen rows would create the marker).
HOSTILE = [
    # a class reached through the file's text: never imported, never constructed
    ("popen via a re-exported module", lambda m: _param(_popen(m)), "refusing class 'torch.utils.collect_env:subp"),
    ("popen directly", lambda m: _param(dict(_popen(m), __object__="subprocess:Popen")), "refusing class 'subprocess"),
    ("popen as a nested attribute", lambda m: _param(dict(_popen(m), __object__="skhier:neural.torch.utils."
                                                                                  "collect_env.subprocess.Popen")),
     "refusing class 'skhier:neural.torch"),
    ("a function instead of a class", lambda m: _param({"__object__": "os:system", "kwargs": {"command": "true"}}),
     "refusing class 'os:system'"),
    ("a skhier function", lambda m: _param({"__object__": "skhier.datasets._hmc:load_hmc", "kwargs": {}}),
     "refusing class 'skhier.datasets._hmc:load_hmc'"),
    ("builtins eval", lambda m: _param({"__object__": "builtins:eval", "kwargs": {"source": "1"}}),
     "refusing class 'builtins:eval'"),
    ("a class reference to Popen", lambda m: _param({"__class__": "subprocess:Popen"}), "refusing class 'subprocess"),
    ("a file-writing skorch callback", lambda m: _param({"__object__": "skorch.callbacks.training:Checkpoint",
                                                         "kwargs": {"dirname": str(m.parent)}}),
     "refusing class 'skorch.callbacks.training:Checkpoint'"),
    ("a tag that is not a string", lambda m: _param({"__object__": ["subprocess", "Popen"], "kwargs": {}}),
     "refusing class \\['subprocess'"),
    ("estimator class os.system", lambda m: _meta(_set("class", "os:system", None)), "refusing estimator class"),
    ("estimator class a torch layer", lambda m: _meta(_set("class", "torch.nn.modules.linear:Linear", None)),
     "not a skhier estimator"),
    ("an unknown tag", lambda m: _param({"__import__": "os"}), "unknown tag '__import__'"),
    ("a fitted attribute that is skorch's module", lambda m: _meta(_set("module_", 1)), "'module_' is not a fitted"),
    ("a dunder fitted attribute", lambda m: _meta(_set("__class__", 1)), "'__class__' is not a fitted"),
    # edited headers
    ("a leaf renamed, checksum not fixed", lambda m: _meta(None, text=_renamed_leaf, fix=False),
     "checksum of skhier_model.json does not match"),
    ("a leaf renamed, checksum fixed", lambda m: _meta(None, text=_renamed_leaf), "classes_ do not match its taxonomy"),
    ("two classes swapped", lambda m: _meta(_swapped_classes), "classes_ do not match its taxonomy"),
    ("class nodes out of range", lambda m: _meta(_set("class_nodes_", {"__ndarray__": [2, 3, 5, 60], "dtype": "<i8",
                                                                      "shape": [4]})), "class_nodes_ are not node"),
    ("an array's shape edited", lambda m: _meta(_set("class_nodes_", {"__ndarray__": [2, 3], "dtype": "<i8",
                                                                     "shape": [4]})), "declares shape \\[4\\] but"),
    ("a huge array declared small", lambda m: _meta(_set("class_nodes_", {"__ndarray__": [2], "dtype": "<i8",
                                                                         "shape": [10**12]})), "declares shape"),
    ("a dtype edited to datetimes", lambda m: _meta(_set("class_nodes_", {"__ndarray__": [2], "dtype": "<M8[ns]",
                                                                         "shape": [1]})), "numbers and strings only"),
    ("a dtype that is not one", lambda m: _meta(_set("class_nodes_", {"__ndarray__": [2], "dtype": "no such",
                                                                     "shape": [1]})), "dtype is 'no such'"),
    ("a float that is not nan or inf", lambda m: _param({"__float__": "__import__('os')"}), "not nan, inf or -inf"),
    ("JSON nested 100 levels", lambda m: _param(_nested(100)), "nested more than 64 levels"),
    ("JSON nested 100,000 levels", lambda m: _meta(None, text=lambda r: r.replace('"lr": 0.001', '"lr": '
                                                                                  + "[" * 100000 + "]" * 100000)),
     "nested too deeply"),
    ("an older format with pickled weights", lambda m: _meta(_old_format), "re-save them with this version"),
    ("not JSON", lambda m: _meta(None, text=lambda r: r[:-3]), "is not JSON"),
    # damaged, truncated and hostile members
    ("truncated", lambda m: _raw(lambda b: b[: len(b) // 2]), "not a readable skhier model file"),
    ("empty", lambda m: _raw(b""), "not a readable skhier model file"),
    ("a pickle, not a zip", lambda m: _raw(b"\x80\x04\x95 a pickle, say"), "not a readable skhier model file"),
    ("weights corrupted", lambda m: lambda p, mem: _write(p, dict(mem, **{"module.safetensors":
                                                                           mem["module.safetensors"][:-8] + bytes(8)})),
     "damaged: the checksum of module.safetensors does not match"),
    ("weights of another shape", lambda m: _member("module.safetensors", _safetensors_of((3, 3))),
     "module.safetensors does not fit the estimator"),
    ("a tensor declared huge over a few bytes", lambda m: _member("module.safetensors", _lying_safetensors()),
     "not a valid safetensors member"),
    ("a pickle inside a .pt member", lambda m: _extra("module.pt", b"\x80\x04cos\nsystem\n."),
     "'module.pt', a pickle: skhier model files never hold a pickle"),
    ("a pickle as the weights", lambda m: _member("module.safetensors", b"\x80\x04cos\nsystem\n."),
     "module.safetensors is a pickle, not safetensors: skhier model files never hold a pickle"),
    ("a nested archive as the weights", lambda m: _member("module.safetensors", b"PK\x03\x04" + bytes(40)),
     "module.safetensors is an archive"),
    ("path traversal", lambda m: _extra("../../evil.py"), "a member is named '../../evil.py': model files hold no"),
    ("an absolute path", lambda m: _extra("/etc/passwd"), "a member is named '/etc/passwd'"),
    ("a member in a folder", lambda m: _extra("sub/module.safetensors"), "a member is named 'sub/module"),
    ("an unknown member", lambda m: _extra("notes.txt"), "unknown member 'notes.txt'"),
    ("a member the header does not list", lambda m: _member("module.safetensors", _safetensors_of(2), declare=False),
     "module.safetensors declares 80 bytes where the header says"),
    ("no header checksum", lambda m: lambda p, mem: _write(p, {k: v for k, v in mem.items() if k != SHA}),
     "no skhier_model.sha256"),
    ("a zip bomb", lambda m: _bomb, "expands .*-fold \\(a zip bomb\\?\\)"),
    ("a member larger than its header says", lambda m: _member("criterion.safetensors", bytes(64), declare=False),
     "declares 64 bytes where the header says 16"),
]


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    X, y, _, tax = data
    path = tmp_path_factory.mktemp("saved") / "m.skhier"
    return save_model(FlatSoftmaxClassifier(tax, **KW).fit(X, y), path)


@pytest.mark.parametrize("name, make, match", HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_files_fail_with_a_message_and_run_nothing(saved, tmp_path, name, make, match):
    marker = tmp_path / "marker"
    path = tmp_path / "hostile.skhier"
    path.write_bytes(saved.read_bytes())
    make(marker)(path, _members(saved))
    with pytest.raises(ValueError, match=match) as info:
        load_model(path)
    assert str(info.value).startswith(str(path))  # the message names the file
    assert not marker.exists()


def test_the_hostile_table_is_complete():
    assert len(HOSTILE) >= 25
    print(f"hostile-file table: {len(HOSTILE)} crafted files, every one refused with a message")


def test_a_zip_bomb_fails_before_memory_grows(saved, tmp_path):
    path = tmp_path / "bomb.skhier"
    _bomb(path, _members(saved))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="zip bomb"):
            load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, peak  # 64 MiB declared; nothing of it was inflated


def test_an_entry_that_lies_about_its_size_is_read_no_further_than_declared(saved, tmp_path):
    """A member whose zip entry declares 16 bytes but inflates to 64 MiB: at most 17 bytes are held."""
    path = tmp_path / "liar.skhier"
    _write(path, _members(saved))
    big = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = big.compress(bytes(64 * 2**20)) + big.flush()
    members = _members(saved)
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            if n != "criterion.safetensors":
                z.writestr(n, b)
        zi = zipfile.ZipInfo("criterion.safetensors")
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, members["criterion.safetensors"])
    # splice the bomb's deflate stream in place of the honest one (the entry keeps its small sizes)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("criterion.safetensors")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start:start + info.compress_size] = payload[:info.compress_size]
    path.write_bytes(bytes(raw))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="Bad CRC-32 for file .criterion|criterion.safetensors holds more"):
            load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, peak


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


def test_allowed_classes_are_exactly_what_they_say():
    """Each key of the allow-list names, by its own module and qualname, a class (no alias
    but the old places of moved classes, no function); only torch's optimisers, schedulers
    and layers, skorch's file-free callbacks, datasets and splits, and skhier's own
    classes; every public skhier estimator is there."""
    import importlib
    import inspect

    import skhier.inference
    import skhier.local
    import skhier.neural
    from skhier.persistence import _MOVED_CLASSES, allowed_classes

    keys = allowed_classes()
    assert keys == sorted(set(keys)) and set(_MOVED_CLASSES) <= set(keys)
    for key in keys:
        # a file written before the layout by role names a class's old place: it means today's class
        module, _, qualname = _MOVED_CLASSES.get(key, key).partition(":")
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        assert inspect.isclass(obj) and (obj.__module__, obj.__qualname__) == (module, qualname), key
        assert module.split(".")[0] in ("skhier", "torch", "skorch"), key
        if module.startswith("torch"):
            assert module.startswith(("torch.optim", "torch.nn")), key
        if module.startswith("skorch.callbacks"):  # nothing that reads or writes files
            assert not issubclass(obj, (skorch.callbacks.Checkpoint, skorch.callbacks.LoadInitState)), key
            assert qualname not in ("TrainEndCheckpoint", "TensorBoard", "WandbLogger", "MlflowLogger"), key
    estimators = {f"{c.__module__}:{c.__qualname__}" for mod in (skhier.neural, skhier.local, skhier.inference)
                  for c in map(lambda n, m=mod: getattr(m, n), mod.__all__)
                  if inspect.isclass(c) and hasattr(c, "fit")}
    assert len(estimators) > 15 and estimators <= set(keys), sorted(estimators - set(keys))
