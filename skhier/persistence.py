"""Model files that hold data, not code: :func:`save_model` and :func:`load_model`.

A pickle (``joblib.dump``, ``torch.save`` of a whole estimator) runs whatever code the
file names when it is loaded, so a model file from elsewhere is a program. A skhier model
file (format ``skhier-model/2``) is a zip archive of

* ``skhier_model.json``, the header: the format, the estimator's class (a key of the
  allow-list below), its parameters that differ from the class defaults, its fitted
  attributes (taxonomy, classes, label format, input shape ...), its training history,
  and the size and SHA-256 of every weight member;
* ``skhier_model.sha256``: the SHA-256 of the header (so that the header is covered by a
  checksum too);
* ``module.safetensors`` and ``criterion.safetensors`` (neural estimators): the network's
  and the loss's ``state_dict`` in the `safetensors <https://huggingface.co/docs/safetensors>`_
  format, a JSON header and raw tensor buffers, which no loader can make run code.

What loading guarantees, and how:

* **Nothing named in the file is imported or executed.** Every class the header names
  (the estimator, a class-valued parameter such as ``optimizer``, a small parameter
  object such as ``train_split``) is looked up, by its text, in an allow-list of the
  classes skhier writes: skhier's own exported classes, torch's optimisers, learning-rate
  schedulers and ``torch.nn`` layers, and skorch's dataset, split and callback classes that
  touch no file. The lookup is a dictionary built from the resolved class objects
  (``cls.__module__:cls.__qualname__``); the file's text is never imported or walked with
  ``getattr``, and no constructor outside the list is ever called. Functions are never
  named. Pickles are never read.
* **A damaged, truncated or edited file fails with a message.** Every member is covered
  by a SHA-256 (the header by ``skhier_model.sha256``); after loading, the estimator's
  classes and their node indices are checked against its taxonomy (an edit that renames
  a node and fixes the checksums still fails there: the class order would change).
* **Memory is bounded by the declared sizes.** Member names are checked before anything
  is read (only the members above; no paths, no unknown or duplicate members, no nested
  archives); each member is read through a bounded stream and refused if it expands
  beyond the size its entry declares (a zip bomb), or beyond 200 times its compressed size.
  The header is at most 64 MiB; JSON nested deeper than 64 levels is refused.

What it does not guarantee: a file does not prove who wrote it (anyone can write a valid
file, with weights that predict whatever they like); load files from people you trust as
you would their data.

The skorch neural estimators of :mod:`skhier.neural` and the refiners of
:mod:`skhier.inference` without learned weights are supported; estimators that wrap
arbitrary scikit-learn models (the local classifiers, ``FlatClassifier``) are refused:
their fitted state is other libraries' objects, which ``skops.io`` persists safely.
``skops.io`` cannot hold the neural estimators (their modules and tensors would need
torch's own rebuild functions on its trusted list, which is what this format avoids),
hence this format for them (``docs/user_guide.md``, "Saving models safely").
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import math
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._taxonomy import Taxonomy, sorted_classes
from .labels import LabelFormat

__all__ = ["save_model", "load_model", "allowed_classes"]

FORMAT = "skhier-model/2"
HEADER = "skhier_model.json"
HEADER_SHA = "skhier_model.sha256"
WEIGHTS = ("module.safetensors", "criterion.safetensors")
#: The header's largest size (bytes): a 10⁵-node taxonomy and its classes take a few MiB.
MAX_HEADER_BYTES = 64 * 2**20
#: How much a member may expand from its compressed size (trained weights barely compress).
MAX_RATIO = 200
#: The deepest JSON nesting a header may have (a real one is under 10).
MAX_DEPTH = 64
#: skorch's own state, rebuilt by ``initialize`` (or not needed for inference)
_SKORCH_STATE = {
    "callbacks_", "criterion_", "cuda_dependent_attributes_", "history_", "init_context_", "initialized_",
    "module_", "optimizer_", "prefixes_", "virtual_params_", "train_transform_", "_modules", "_criteria",
    "_optimizers",
}
#: skorch's callbacks that a model file may hold: none of them reads or writes a file or
#: talks to a service (Checkpoint, LoadInitState, the loggers are left out), none takes a function.
_SKORCH_CALLBACKS = ("BatchScoring", "EarlyStopping", "EpochScoring", "EpochTimer", "GradientNormClipping",
                     "LRScheduler", "PassthroughScoring", "PrintLog", "ProgressBar", "WarmRestartLR")
_PICKLE = "skhier model files never hold a pickle, and loading one would execute the code it names"


class _Unsupported(TypeError):
    pass


class _Refused(ValueError):
    """A file that is not what it says: re-raised with the file's path in front."""


def _key(cls) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


@functools.cache
def _allow_list() -> dict:
    import importlib

    import skorch.callbacks
    import skorch.dataset
    import torch

    found = {}
    for ns in ("skhier", "skhier.inference", "skhier.neural", "skhier.neural.losses", "skhier.neural.backbones",
               "skhier.neural.data", "skhier.neural.callbacks", "skhier.neural.modules", "skhier.neural.text"):
        module = importlib.import_module(ns)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and obj.__module__.split(".")[0] == "skhier":
                found[_key(obj)] = obj
    for name in torch.optim.__all__:
        obj = getattr(torch.optim, name)
        if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer):
            found[_key(obj)] = obj
    for name in torch.optim.lr_scheduler.__all__:
        obj = getattr(torch.optim.lr_scheduler, name)
        if inspect.isclass(obj) and issubclass(obj, torch.optim.lr_scheduler.LRScheduler):
            found[_key(obj)] = obj
    for name in torch.nn.modules.__all__:
        obj = getattr(torch.nn.modules, name)
        if inspect.isclass(obj) and issubclass(obj, torch.nn.Module):
            found[_key(obj)] = obj
    for obj in (skorch.dataset.Dataset, skorch.dataset.ValidSplit,
                *(getattr(skorch.callbacks, n) for n in _SKORCH_CALLBACKS)):
        found[_key(obj)] = obj
    for old, new in _MOVED_CLASSES.items():  # files written before the layout by role
        found[old] = found[new]
    return found


# class keys of files written before neural/ was laid out by role -> today's keys
_MOVED_CLASSES = {
    "skhier.neural._data:HierarchicalValidSplit": "skhier.neural.data:HierarchicalValidSplit",
    "skhier.neural._data:NodeDataset": "skhier.neural.data:NodeDataset",
    "skhier.neural._data:TensorBatchIterator": "skhier.neural.data:TensorBatchIterator",
    "skhier.neural._data:HierarchicalBatchIterator": "skhier.neural.data:HierarchicalBatchIterator",
    "skhier.neural._base:HierarchicalValidScoring": "skhier.neural.callbacks:HierarchicalValidScoring",
    "skhier.neural._base:ThreadBudget": "skhier.neural.callbacks:ThreadBudget",
    "skhier.neural._flat:HierarchicalHeadModule": "skhier.neural._generic:HierarchicalHeadModule",
    "skhier.neural._flat:HierarchicalLossClassifier": "skhier.neural._generic:HierarchicalLossClassifier",
    "skhier.neural._flat:FlatSoftmaxClassifier": "skhier.neural._generic:FlatSoftmaxClassifier",
    "skhier.neural._flat:KFRClassifier": "skhier.neural._kfr:KFRClassifier",
    "skhier.neural._cmsg:MultiLabelHeadModule": "skhier.neural._generic:MultiLabelHeadModule",
    "skhier.neural._cmsg:MultiLabelNodeClassifier": "skhier.neural._generic:MultiLabelNodeClassifier",
}


def allowed_classes() -> list[str]:
    """The classes a model file may name, as ``"module:qualname"`` keys.

    The allow-list of :func:`load_model`: skhier's own exported classes, torch's
    optimisers, learning-rate schedulers and ``torch.nn`` layers, and skorch's dataset,
    split and file-free callback classes. Anything else named in a file is refused
    before it is constructed.

    Returns
    -------
    keys : list of str
        Sorted ``"module:qualname"`` keys.

    Examples
    --------
    >>> from skhier.persistence import allowed_classes
    >>> keys = allowed_classes()
    >>> "torch.optim.adamw:AdamW" in keys, "subprocess:Popen" in keys
    (True, False)
    """
    return sorted(_allow_list())


def _lookup(name, what):
    cls = _allow_list().get(name) if isinstance(name, str) else None
    if cls is None:
        raise _Refused(f"refusing {what} {name!r}: a skhier model file may only name the classes skhier writes "
                       "(skhier.persistence.allowed_classes()); nothing else is imported or constructed")
    return cls


# ---------------------------------------------------------------- values as JSON data
def _encode(value, where):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return {"__float__": repr(v)} if not math.isfinite(v) else v
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v, f"{where}[{k!r}]") for k, v in value.items()}}
    if isinstance(value, Taxonomy):
        return {"__taxonomy__": value.to_json()}
    if isinstance(value, LabelFormat):
        return {"__labelformat__": {f.name: _encode(getattr(value, f.name), where) for f in dataclasses.fields(value)}}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return {"__ndarray__": value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
        if value.dtype.kind in "OU":
            return {"__ndarray__": [_encode(v, where) for v in value.ravel().tolist()], "dtype": value.dtype.str,
                    "shape": list(value.shape)}
    if sp.issparse(value):
        m = sp.csr_matrix(value)
        return {"__csr__": {"data": _encode(m.data, where), "indices": _encode(m.indices, where),
                            "indptr": _encode(m.indptr, where), "shape": list(m.shape)}}
    if inspect.isclass(value) and _key(value) in _allow_list():
        return {"__class__": _key(value)}
    kwargs = _init_kwargs(value)
    if kwargs is not None:  # a small object of an allowed class, rebuilt from its constructor arguments
        return {"__object__": _key(type(value)),
                "kwargs": {k: _encode(v, f"{where}.{k}") for k, v in kwargs.items()}}
    raise _Unsupported(f"{where} = {value!r} ({type(value).__name__}) cannot be stored as data")


_ARRAY_KINDS = "biufOU"


def _init_kwargs(obj):
    """The constructor arguments of ``obj`` when its class is allowed and keeps them all as attributes."""
    cls = type(obj)
    if _key(cls) not in _allow_list() or not hasattr(obj, "__dict__"):
        return None
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return None
    names = [k for k, p in params.items() if k != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params.values()) or not all(
            n in vars(obj) for n in names):
        return None
    return {n: vars(obj)[n] for n in names}


def _decode(value, depth=0):
    """The value a header entry describes; only allow-listed classes are constructed."""
    if depth > MAX_DEPTH:
        raise _Refused(f"the header is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, list):
        return [_decode(v, depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    if not value:
        raise _Refused("the header holds an empty object where a tagged value belongs")
    (tag, body), *rest = value.items()
    rest = dict(rest)
    if tag == "__float__":
        if body not in ("nan", "inf", "-inf"):
            raise _Refused(f"__float__ holds {body!r}, not nan, inf or -inf")
        return float(body)
    if tag == "__tuple__":
        return tuple(_decode(_typed(body, list, tag), depth + 1))
    if tag == "__dict__":
        return {k: _decode(v, depth + 1) for k, v in _typed(body, dict, tag).items()}
    if tag == "__taxonomy__":
        return Taxonomy.from_json(body)
    if tag == "__labelformat__":
        return LabelFormat(**{k: _decode(v, depth + 1) for k, v in _typed(body, dict, tag).items()})
    if tag == "__ndarray__":
        return _decode_array(_typed(body, list, tag), rest, depth)
    if tag == "__csr__":
        body = _typed(body, dict, tag)
        shape = _shape(body.get("shape"), 2)
        data, indices, indptr = (_decode(body.get(k), depth + 1) for k in ("data", "indices", "indptr"))
        m = sp.csr_matrix((data, indices, indptr), shape=shape)
        m.check_format(full_check=True)
        return m
    if tag == "__class__":
        return _lookup(body, "class")
    if tag == "__object__":
        cls = _lookup(body, "class")
        return cls(**{k: _decode(v, depth + 1) for k, v in _typed(rest.get("kwargs"), dict, "kwargs").items()})
    raise _Refused(f"unknown tag {tag!r}")


def _typed(body, kind, tag):
    if not isinstance(body, kind):
        raise _Refused(f"{tag} holds a {type(body).__name__}, not a {kind.__name__}")
    return body


def _shape(shape, ndim=None):
    if (not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                               for s in shape) or (ndim is not None and len(shape) != ndim)):
        raise _Refused(f"an array's shape is {shape!r}, not a list of non-negative ints")
    return tuple(shape)


def _decode_array(body, fields, depth):
    try:
        dtype = np.dtype(fields.get("dtype"))
    except TypeError:
        raise _Refused(f"an array's dtype is {fields.get('dtype')!r}") from None
    if dtype.kind not in _ARRAY_KINDS:
        raise _Refused(f"an array's dtype is {dtype.str!r}; model files hold numbers and strings only")
    shape = _shape(fields.get("shape"))
    if math.prod(shape) != len(body):
        raise _Refused(f"an array declares shape {list(shape)} but holds {len(body)} values")
    if dtype.kind == "O":
        out = np.empty(len(body), dtype=object)
        out[:] = [_decode(v, depth + 1) for v in body]
        return out.reshape(shape)
    if not all(isinstance(v, (int, float, str, bool)) for v in body):
        raise _Refused(f"an array of dtype {dtype.str!r} holds a value that is not a number or a string")
    return np.asarray(body, dtype=dtype).reshape(shape)


# ---------------------------------------------------------------- the estimator's parts
def _changed_params(est):
    """Parameters that differ from the class defaults (the rest the constructor rebuilds)."""
    defaults = {k: p.default for k, p in inspect.signature(type(est).__init__).parameters.items()}
    out = {}
    for k, v in est.get_params(deep=False).items():
        if k.startswith("_"):  # skorch's bookkeeping, rebuilt by the constructor
            continue
        d = defaults.get(k, inspect.Parameter.empty)
        if d is not inspect.Parameter.empty and (v is d or (type(v) is type(d) and _same(v, d))):
            continue
        out[k] = v
    return out


def _same(a, b):
    try:
        if bool(a == b):
            return True
    except Exception:  # arrays, tensors
        return False
    ka, kb = _init_kwargs(a), _init_kwargs(b)  # two equal small objects (a default train_split)
    return ka is not None and ka == kb


def _fitted_attributes(est):
    return {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_") and k not in _SKORCH_STATE}


def _is_neural(est) -> bool:
    from skorch import NeuralNet

    return isinstance(est, NeuralNet)


def _check_supported(est):
    from sklearn.utils.validation import check_is_fitted

    module = type(est).__module__
    if not module.startswith("skhier."):
        raise TypeError(f"save_model stores skhier estimators; got {type(est).__name__} from {module}")
    if module.startswith(("skhier.local", "skhier.inference._flat")):
        raise TypeError(
            f"save_model does not store {type(est).__name__}: its fitted state is the scikit-learn estimators it "
            "wraps, which only pickle-based formats hold. Use skops.io (safe loading of scikit-learn objects), "
            "or joblib for files you trust"
        )
    if _is_neural(est):
        if not getattr(est, "initialized_", False) or not hasattr(est, "taxonomy_"):
            raise ValueError(f"save_model needs a fitted estimator: call {type(est).__name__}.fit first")
    else:
        check_is_fitted(est)


def _check_classes(est):
    """The fitted classes and their node indices agree with the fitted taxonomy."""
    tax = getattr(est, "taxonomy_", None)
    if tax is None or not hasattr(est, "classes_"):
        return
    if not isinstance(tax, Taxonomy):
        raise _Refused(f"taxonomy_ is a {type(tax).__name__}, not a Taxonomy")
    classes = np.asarray(est.classes_)
    if hasattr(est, "class_nodes_"):
        nodes = np.asarray(est.class_nodes_)
        if (nodes.ndim != 1 or nodes.dtype.kind not in "iu" or len(nodes) != len(classes)
                or (nodes.size and (nodes.min() < 0 or nodes.max() >= tax.n_nodes))):
            raise _Refused("class_nodes_ are not node indices of the taxonomy, one per class")
        want, want_nodes = sorted_classes(tax, nodes)
    else:  # a node-set estimator answers over every taxonomy node, in taxonomy order
        want, want_nodes, nodes = np.asarray(tax.nodes, dtype=object), None, None
    same = len(want) == len(classes) and all(a == b for a, b in zip(want.tolist(), classes.tolist()))
    if not same or (want_nodes is not None and not np.array_equal(want_nodes, nodes)):
        raise _Refused("its classes_ do not match its taxonomy (an edited file: the classes, their order or the "
                       "node names were changed)")


# ---------------------------------------------------------------- public API
def save_model(estimator, path) -> Path:
    """Write a fitted skhier estimator to a model file that holds data, not code.

    Parameters
    ----------
    estimator : fitted skhier neural estimator or refiner
        Its parameters that differ from the defaults must be data (numbers, strings,
        taxonomies, arrays, allowed classes, see :func:`allowed_classes`): a ``backbone``
        given as a module instance or a callback object is refused, naming the parameter.
    path : str or path-like
        The file to write (a zip archive; ``.skhier`` is a good suffix).

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        For an estimator or a parameter that cannot be stored as data.
    ValueError
        For an estimator that is not fitted.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.neural import FlatSoftmaxClassifier
    >>> from skhier.persistence import save_model, load_model
    >>> X, y, tax = make_hierarchical_classification(60, 4, n_levels=2, branching=2, random_state=0)
    >>> clf = FlatSoftmaxClassifier(tax, max_epochs=1, device="cpu", random_state=0).fit(X, y)
    >>> path = save_model(clf, pathlib.Path(tempfile.mkdtemp()) / "clf.skhier")
    >>> back = load_model(path)
    >>> bool(np.array_equal(back.predict_proba(X), clf.predict_proba(X)))
    True
    """
    _check_supported(estimator)
    try:
        params = {k: _encode(v, f"parameter {k}") for k, v in _changed_params(estimator).items()}
        fitted = {k: _encode(v, f"fitted attribute {k}") for k, v in _fitted_attributes(estimator).items()}
    except _Unsupported as exc:
        raise TypeError(
            f"save_model cannot store this {type(estimator).__name__}: {exc}. A model file holds data, not code: "
            "set that parameter to data (a name, numbers) or use joblib for files you trust"
        ) from None
    members = {}
    if _is_neural(estimator):
        from safetensors.torch import save as save_tensors

        for name in WEIGHTS:
            state = getattr(estimator, f"{name.split('.')[0]}_").state_dict()
            # contiguous private copies: safetensors refuses views and tensors that share memory
            members[name] = save_tensors({k: v.detach().cpu().contiguous().clone() for k, v in state.items()})
    meta = {
        "format": FORMAT,
        "class": _key(type(estimator)),
        "params": params,
        "fitted": fitted,
        "history": json.loads(json.dumps(list(getattr(estimator, "history_", [])), default=_plain)),
        "members": {k: {"size": len(v), "sha256": hashlib.sha256(v).hexdigest()} for k, v in members.items()},
    }
    header = json.dumps(meta).encode()
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(HEADER, header)
        z.writestr(HEADER_SHA, hashlib.sha256(header).hexdigest())
        for k, v in members.items():
            z.writestr(k, v)
    return path


def _plain(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return repr(value)


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.]+$")


def _read(z, info, size):
    """The member's bytes, refused as soon as it expands beyond ``size`` (never more is held)."""
    if info.file_size != size:
        raise _Refused(f"{info.filename} declares {info.file_size} bytes where the header says {size} (edited?)")
    if size > MAX_RATIO * max(info.compress_size, 1) and size > 2**20:
        raise _Refused(f"{info.filename} expands {size // max(info.compress_size, 1)}-fold (a zip bomb?)")
    with z.open(info) as f:
        data = f.read(size + 1)
    if len(data) != size:
        raise _Refused(f"{info.filename} holds {'more' if len(data) > size else 'fewer'} bytes than its entry "
                       f"declares ({size}): damaged, or a zip bomb")
    return data


def _open(path):
    """(header dict, {member: bytes}) after every check on names, sizes and checksums."""
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise _Refused(f"not a readable skhier model file (truncated or damaged?): {exc}") from None
    with z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        for name in names:
            if not _SAFE_NAME.match(name) or name.startswith("."):
                raise _Refused(f"a member is named {name!r}: model files hold no paths")
        if len(set(names)) != len(names):
            raise _Refused("a member name appears twice")
        for name in names:
            if name.endswith((".pt", ".pth", ".pkl", ".pickle", ".joblib", ".bin")):
                raise _Refused(f"it holds {name!r}, a pickle: {_PICKLE}; this is not a skhier-model/2 file")
            if name not in (HEADER, HEADER_SHA, *WEIGHTS):
                raise _Refused(f"it holds an unknown member {name!r}")
        if HEADER not in names or HEADER_SHA not in names:
            raise _Refused(f"not a skhier model file: no {HEADER if HEADER not in names else HEADER_SHA}")
        info = {i.filename: i for i in infos}
        try:
            if info[HEADER_SHA].file_size > 128:
                raise _Refused(f"{HEADER_SHA} declares {info[HEADER_SHA].file_size} bytes, not a checksum")
            digest = _read(z, info[HEADER_SHA], info[HEADER_SHA].file_size).decode("ascii", "replace").strip()
            if info[HEADER].file_size > MAX_HEADER_BYTES:
                raise _Refused(f"its header declares {info[HEADER].file_size} bytes, more than {MAX_HEADER_BYTES}")
            raw = _read(z, info[HEADER], info[HEADER].file_size)
            if hashlib.sha256(raw).hexdigest() != digest:
                raise _Refused(f"the checksum of {HEADER} does not match (edited or damaged)")
            try:
                meta = json.loads(raw)
            except RecursionError:
                raise _Refused(f"{HEADER} is nested too deeply") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise _Refused(f"{HEADER} is not JSON: {exc}") from None
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
                raise _Refused(f"not a skhier model file of format {FORMAT!r} (got {got!r})"
                               + ("; files of skhier-model/1 held pickled weights: re-save them with this version"
                                  if got == "skhier-model/1" else ""))
            declared = meta.get("members")
            if not isinstance(declared, dict) or set(declared) != set(names) - {HEADER, HEADER_SHA}:
                raise _Refused("its members are not the ones its header lists")
            members = {}
            for name, entry in declared.items():
                if (not isinstance(entry, dict) or not isinstance(entry.get("size"), int)
                        or not isinstance(entry.get("sha256"), str)):
                    raise _Refused(f"the header's entry for {name} is not a size and a checksum")
                data = _read(z, info[name], entry["size"])
                if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                    raise _Refused(f"damaged: the checksum of {name} does not match")
                members[name] = data
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError) as exc:
            raise _Refused(f"not a readable skhier model file (truncated or damaged?): {exc}") from None
    return meta, members


def _load_tensors(name, data, device):
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    # safetensors: an 8-byte header length, then the JSON header; a pickle starts with PROTO, a zip with PK
    kind = "" if data[8:9] == b"{" else ("a pickle" if data[:1] == b"\x80" else
                                         "an archive (torch.save's pickle zip?)" if data[:2] == b"PK" else "")
    if kind:
        raise _Refused(f"{name} is {kind}, not safetensors: {_PICKLE}")
    try:
        state = load_tensors(data)
    except (SafetensorError, ValueError, OverflowError) as exc:
        raise _Refused(f"{name} is not a valid safetensors member: {exc}") from None
    return {k: v.to(device) for k, v in state.items()}


def load_model(path, *, device="cpu"):
    """Read a model file written by :func:`save_model`; nothing in it is executed.

    Parameters
    ----------
    path : str or path-like
        The model file.
    device : str, default="cpu"
        Where a neural estimator's weights go (``"cuda"`` to use a GPU; a model saved on
        one loads on a machine without).

    Returns
    -------
    estimator : object
        The fitted estimator, answering as the saved one did.

    Raises
    ------
    ValueError
        If the file is not a skhier model file, is truncated, damaged or edited (a
        checksum or a consistency check fails), expands beyond its declared sizes, or
        names a class outside :func:`allowed_classes`.

    Examples
    --------
    See :func:`save_model`.
    """
    path = Path(path)
    try:
        meta, members = _open(path)
        cls = _lookup(meta.get("class"), "estimator class")
        from sklearn.base import BaseEstimator

        if not issubclass(cls, BaseEstimator) or cls.__module__.split(".")[0] != "skhier":
            raise _Refused(f"it names {meta.get('class')!r}, not a skhier estimator")
        params, fitted = (_typed(meta.get(k), dict, k) for k in ("params", "fitted"))
        try:
            est = cls(**{k: _decode(v) for k, v in params.items()})
            for k, v in fitted.items():
                if not (isinstance(k, str) and k.isidentifier() and k.endswith("_") and not k.startswith("_")
                        and k not in _SKORCH_STATE):
                    raise _Refused(f"{k!r} is not a fitted attribute a model file may set")
                setattr(est, k, _decode(v))
        except RecursionError:
            raise _Refused(f"{HEADER} is nested too deeply") from None
        except (TypeError, ValueError, KeyError) as exc:
            if isinstance(exc, _Refused):
                raise
            raise _Refused(f"its header does not describe a {cls.__name__}: {exc}") from None
        _check_classes(est)
        if _is_neural(est):
            if set(members) != set(WEIGHTS):
                raise _Refused(f"a neural estimator needs the members {', '.join(WEIGHTS)}")
            est.set_params(device=device)
            est.initialize()
            for name in WEIGHTS:
                state = _load_tensors(name, members[name], est.device)
                try:
                    getattr(est, f"{name.split('.')[0]}_").load_state_dict(state)
                except RuntimeError as exc:
                    raise _Refused(f"{name} does not fit the estimator it describes: "
                                   f"{str(exc).splitlines()[0]} ...") from None
            history = meta.get("history", [])
            est.history_.extend(_typed(history, list, "history"))
        elif members:
            raise _Refused(f"a {cls.__name__} holds no weights, but the file has {', '.join(members)}")
    except _Refused as exc:
        raise ValueError(f"{path}: {exc}") from None
    return est
