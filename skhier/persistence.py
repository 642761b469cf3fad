"""Model files that hold data, not code: :func:`save_model` and :func:`load_model`.

A pickle (``joblib.dump``, ``torch.save`` of a whole estimator) runs whatever code the
file names when it is loaded, so a model file from elsewhere is a program. A skhier model
file is a zip archive of

* ``skhier_model.json``: the format version, the estimator's class (a skhier class, by
  import path), its parameters that differ from the class defaults, its fitted
  attributes (taxonomy, classes, label format, input shape ...), and the SHA-256 of every
  other member; the taxonomy is its JSON (:meth:`Taxonomy.to_json`);
* ``module.pt`` and ``criterion.pt``: the network's and the loss's ``state_dict``,
  written by :func:`torch.save` and read back with ``torch.load(weights_only=True)``
  (tensors and plain containers only, as skorch's ``save_params`` recommends).

Loading builds the estimator from its class and parameters, restores the fitted
attributes, lets skorch initialise the module with them and loads the weights: nothing
in the file is executed, classes are imported only from skhier, torch and skorch, and a
damaged, truncated or edited file fails with a message. The skorch neural estimators of
:mod:`skhier.neural` and the refiners of :mod:`skhier.inference` without learned weights
are supported; estimators that wrap arbitrary scikit-learn models (the local classifiers,
``FlatClassifier``) are refused: their fitted state is other libraries' objects (``skops.io``
persists those safely; ``joblib`` when the file is trusted).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import io
import json
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._taxonomy import Taxonomy
from .labels import LabelFormat

__all__ = ["save_model", "load_model"]

FORMAT = "skhier-model/1"
_TRUSTED_MODULES = ("skhier.", "torch.", "skorch.")
#: skorch's own state, rebuilt by ``initialize`` (or not needed for inference)
_SKORCH_STATE = {
    "callbacks_", "criterion_", "cuda_dependent_attributes_", "history_", "init_context_", "initialized_",
    "module_", "optimizer_", "prefixes_", "virtual_params_", "train_transform_", "_modules", "_criteria",
    "_optimizers",
}


class _Unsupported(TypeError):
    pass


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
        if value.dtype == object or value.dtype.kind == "U":
            return {"__ndarray__": [_encode(v, where) for v in value.ravel().tolist()], "dtype": value.dtype.str,
                    "shape": list(value.shape)}
    if sp.issparse(value):
        m = sp.csr_matrix(value)
        return {"__csr__": {"data": _encode(m.data, where), "indices": _encode(m.indices, where),
                            "indptr": _encode(m.indptr, where), "shape": list(m.shape)}}
    if inspect.isclass(value) and _trusted(value.__module__):
        return {"__class__": f"{value.__module__}:{value.__qualname__}"}
    kwargs = _init_kwargs(value)
    if kwargs is not None:  # a small object of a trusted class, rebuilt from its constructor arguments
        cls = type(value)
        return {"__object__": f"{cls.__module__}:{cls.__qualname__}",
                "kwargs": {k: _encode(v, f"{where}.{k}") for k, v in kwargs.items()}}
    raise _Unsupported(f"{where} = {value!r} ({type(value).__name__}) cannot be stored as data")


def _init_kwargs(obj):
    """The constructor arguments of ``obj`` when its class is trusted and keeps them all as attributes."""
    cls = type(obj)
    if not _trusted(cls.__module__) or not hasattr(obj, "__dict__"):
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


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    (tag, body), *rest = value.items()
    if tag == "__float__":
        return float(body)
    if tag == "__tuple__":
        return tuple(_decode(v) for v in body)
    if tag == "__dict__":
        return {k: _decode(v) for k, v in body.items()}
    if tag == "__taxonomy__":
        return Taxonomy.from_json(body)
    if tag == "__labelformat__":
        return LabelFormat(**{k: _decode(v) for k, v in body.items()})
    if tag == "__ndarray__":
        fields = dict(rest)
        dtype = np.dtype(fields["dtype"])
        if dtype.kind == "O":
            out = np.empty(len(body), dtype=object)
            out[:] = [_decode(v) for v in body]
            return out.reshape(fields["shape"])
        return np.asarray(body, dtype=dtype).reshape(fields["shape"])
    if tag == "__csr__":
        return sp.csr_matrix((_decode(body["data"]), _decode(body["indices"]), _decode(body["indptr"])),
                             shape=tuple(body["shape"]))
    if tag == "__class__":
        return _import_class(body)
    if tag == "__object__":
        return _import_class(body)(**{k: _decode(v) for k, v in dict(rest)["kwargs"].items()})
    raise ValueError(f"unknown tag {tag!r}")


def _trusted(module: str) -> bool:
    return module == "skhier" or module.startswith(_TRUSTED_MODULES)


def _import_class(path: str):
    module, _, qualname = path.partition(":")
    if not _trusted(module):
        raise ValueError(f"refusing to import {path!r}: a skhier model file names classes of skhier, torch or skorch")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not inspect.isclass(obj):
        raise ValueError(f"{path!r} is not a class")
    return obj


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


# ---------------------------------------------------------------- public API
def save_model(estimator, path) -> Path:
    """Write a fitted skhier estimator to a model file that holds data, not code.

    Parameters
    ----------
    estimator : fitted skhier neural estimator or refiner
        Its parameters that differ from the defaults must be data (numbers, strings,
        taxonomies, arrays, classes of skhier/torch/skorch): a ``backbone`` given as a
        module instance or a callback object is refused, naming the parameter.
    path : str or path-like
        The file to write (a zip archive; ``.skhier`` is a good suffix).

    Returns
    -------
    path : pathlib.Path

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
        import torch

        for name in ("module", "criterion"):
            buf = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in getattr(estimator, f"{name}_").state_dict().items()}, buf)
            members[f"{name}.pt"] = buf.getvalue()
    cls = type(estimator)
    meta = {
        "format": FORMAT,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "params": params,
        "fitted": fitted,
        "history": json.loads(json.dumps(list(getattr(estimator, "history_", [])), default=_plain)),
        "sha256": {k: hashlib.sha256(v).hexdigest() for k, v in members.items()},
    }
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("skhier_model.json", json.dumps(meta))
        for k, v in members.items():
            z.writestr(k, v)
    return path


def _plain(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return repr(value)


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
    estimator : the fitted estimator, answering as the saved one did

    Raises
    ------
    ValueError
        If the file is not a skhier model file, is truncated or damaged (a checksum
        mismatch), or names a class outside skhier, torch and skorch.

    Examples
    --------
    See :func:`save_model`.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("skhier_model.json"))
            members = {name: z.read(name) for name in meta.get("sha256", {})}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{path} is not a readable skhier model file (truncated or damaged?): {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a skhier model file of format {FORMAT!r} (got {meta.get('format')!r})")
    for name, digest in meta["sha256"].items():
        if hashlib.sha256(members[name]).hexdigest() != digest:
            raise ValueError(f"{path} is damaged: the checksum of {name} does not match")
    cls = _import_class(meta["class"])
    if not cls.__module__.startswith("skhier."):
        raise ValueError(f"{path} names {meta['class']!r}, not a skhier estimator")
    params = {k: _decode(v) for k, v in meta["params"].items()}
    est = cls(**params)
    for k, v in meta["fitted"].items():
        setattr(est, k, _decode(v))
    if _is_neural(est):
        import torch

        est.set_params(device=device)
        est.initialize()
        for name in ("module", "criterion"):
            state = torch.load(io.BytesIO(members[f"{name}.pt"]), map_location=est.device, weights_only=True)
            getattr(est, f"{name}_").load_state_dict(state)
        est.history_.extend(meta.get("history", []))
    return est

