"""The skorch base shared by every neural method in skhier.

The three kinds of output (:mod:`._kinds`: :class:`HierarchicalNet`,
:class:`MultiLabelHierarchicalNet`, :class:`HierarchicalEncoderNet`) share everything
else through ``_HierarchicalNetBase``, a thin subclass of ``skorch.NeuralNet``: it reads ``y`` in every
label format, builds the backbone and the module once per initialisation from the
taxonomy and the input shape (checking the module against its kind's protocol), feeds
whole tensors to the device, and validates with hierarchical scores. skorch's own step
bodies run unchanged: the batch iterators put the targets in ``X`` as skorch's dict
``{"x": ..., "targets": ...}`` (merged into ``forward(x, targets)`` by skorch's
``infer``) and apply ``train_transform``. We override ten skorch members (counted by
``tests/neural/test_base.py``): ``__init__``, ``prefixes_``, ``get_params`` (``device="auto"``),
``initialize_module`` (the backbone, then the module, checked against its kind's protocol),
``initialize_criterion`` (the one registry of named criteria), ``get_params_for``,
``get_default_callbacks``, ``infer`` (autocast; inputs alone go to the read-out method),
and ``fit`` / ``partial_fit``, which encode ``y`` before skorch sees it, as skorch's own
classifier wraps ``fit``. A new method subclasses one base and writes its module,
its criterion and two hooks; ``docs/contributing.md`` walks through it.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.callbacks import ProgressBar
from skorch.exceptions import NotInitializedError
from skorch.utils import to_device

from .._docs import fill_doc
from ..labels import HierarchicalLabelEncoder, infer_taxonomy
from ..utils.device import resolve_device
from ..utils.validation import (
    Boolean,
    Device,
    HasMethods,
    InstanceOf,
    Interval,
    IsTaxonomy,
    OneOf,
    Options,
    RandomState,
    check_taxonomy,
    seed_from,
    validate_params,
)
from .backbones import MLP, SmallCNN, feature_shape
from .callbacks import HierarchicalValidScoring
from .data import (
    HierarchicalValidSplit,
    NodeDataset,
    SparseRows,
    TensorBatchIterator,
    _base_and_indices,
    as_float_tensor,
    auto_batch_size,
)
from .losses import get_criterion

__all__ = ["_HierarchicalNetBase"]


@dataclass(frozen=True)
class _OutputKind:
    """What a kind base reads from its module: the protocol, the read-out method, and
    whether labels may be sets of paths (multi-label, DAG taxonomies)."""

    name: str  # the kind's criteria in skhier.neural.losses.CRITERIA
    protocol: type
    read_out: str
    multilabel: bool = False

    def check(self, module, owner: str) -> None:
        """Refuse a module that lacks the read-out or a ``forward(x, targets)``, naming it."""
        if not isinstance(module, self.protocol):
            missing = [m for m in ("forward", self.read_out) if not callable(getattr(module, m, None))]
            raise TypeError(
                f"{owner} needs a module with forward(x, targets=None) and {self.read_out}(x) (the "
                f"{self.protocol.__name__} protocol of skhier.neural); {type(module).__name__} has no "
                + " and no ".join(missing)
            )
        self.input_name(module, owner)

    @staticmethod
    def input_name(module, owner: str = "the estimator") -> str:
        """The name of ``forward``'s inputs parameter: the batch dict's key for them."""
        params = inspect.signature(module.forward).parameters
        named = [n for n, p in params.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
        if not named or not ("targets" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())):
            raise TypeError(
                f"{owner} calls its module as forward(<inputs>, targets=<targets>) (skorch merges the batch "
                f"dict into keywords); {type(module).__name__}.forward{inspect.signature(module.forward)} "
                "takes no " + ("inputs" if not named else "'targets'")
            )
        return named[0]


def _sparse_rows(X):
    """Sparse X (a TfidfVectorizer's) as :class:`SparseRows`: checked here, densified per batch."""
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got a sparse matrix of shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric, got a sparse matrix of dtype {X.dtype}")
    data = X.tocsr().data
    if data.size and not np.isfinite(data).all():
        raise ValueError("X contains NaN or infinity")
    if data.size and np.abs(data).max() > np.finfo(np.float32).max:
        raise ValueError("X has values beyond float32's range: rescale X (e.g. MaxAbsScaler)")
    return SparseRows(X)


def _check_batch_size(value, name):
    """skorch's ``batch_size`` (a positive int, or -1 for the whole set) or our ``"auto"``."""
    if isinstance(value, str) and value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (value < 1 and value != -1):
        raise ValueError(f"{name} must be a positive int, -1 or 'auto', got {value!r}")
    return value


class _HierarchicalNetBase(NeuralNet):
    """What every skhier neural estimator shares, whatever its output (see the module doc).

    Subclasses (one of the three kind bases, then a method) set ``_output_method``, the
    module method predictions read, and implement ``_targets(encoded)`` (training
    targets from the encoded labels) and ``_module_defaults(backbone, feature_shape)``
    (module arguments from the taxonomy).
    """

    # "train_transform" may hold an nn.Module (skorch only lets known prefixes do that)
    prefixes_ = NeuralNet.prefixes_ + ["backbone", "train_transform"]
    _kind = None  # an _OutputKind, set by each of the three kind bases
    #: the parameters' rules (skhier.utils.validation), checked once per fit; methods add theirs
    _parameter_rules = {
        "mixed_precision": Options(None, "bf16"), "channels_last": Boolean(),
        # skorch's own parameters, checked before y is encoded (skorch checks none of them)
        "lr": Interval(0, low_open=True), "max_epochs": Interval(1, integer=True),
        "batch_size": _check_batch_size, "warm_start": Boolean(),
        "verbose": Boolean(allow_int=True), "random_state": RandomState(),
        "taxonomy": IsTaxonomy(), "device": Device(),
        "module": HasMethods("__call__"), "optimizer": HasMethods("__call__"),
        "criterion": OneOf(InstanceOf(str, what="a criterion name"), HasMethods("__call__")),
        "backbone": OneOf(Options("auto", "cnn", "mlp", "identity"),
                          HasMethods("__call__", what="an nn.Module or a callable")),
        "callbacks": OneOf(Options(None, "disable"), InstanceOf(list, tuple, what="a list of skorch callbacks")),
        "dataset": HasMethods("__call__"), "iterator_train": HasMethods("__call__"),
        "iterator_valid": HasMethods("__call__"), "train_split": HasMethods("__call__", allow_none=True),
        "predict_nonlinearity": OneOf(Options("auto", None), HasMethods("__call__")),
        "torch_load_kwargs": InstanceOf(dict, allow_none=True, what="a dict"),
        "use_caching": OneOf(Options("auto"), Boolean()), "compile": Boolean(),
        "train_transform": OneOf(Options("auto", None), HasMethods("__call__")),
    }

    def __init__(
        self,
        taxonomy,
        module,
        criterion,
        *,
        backbone="auto",
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        max_epochs=10,
        batch_size="auto",
        train_split=HierarchicalValidSplit(0.1),
        iterator_train=TensorBatchIterator,
        iterator_valid=TensorBatchIterator,
        device="auto",
        mixed_precision=None,
        channels_last=False,
        train_transform=None,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(
            module,
            criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            iterator_train=iterator_train,
            iterator_valid=iterator_valid,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.taxonomy = taxonomy
        self.backbone = backbone
        self.mixed_precision = mixed_precision
        self.channels_last = channels_last
        self.train_transform = train_transform
        self.random_state = random_state

    # ------------------------------------------------------------ device="auto"
    # skorch reads ``self.device`` wherever it places tensors, so the property answers
    # with a real device, while get_params, clone and pickling keep the user's "auto".
    # skorch reads ``self.device`` (an instance attribute) wherever it places tensors and
    # pickles it with the weights, so the attribute holds a real device, resolved when set;
    # get_params (hence clone) gives back what the user set.
    @property
    def device(self):
        return self.__dict__["device"]

    @device.setter
    def device(self, value):
        self.__dict__["_device_param"] = value
        self.__dict__["device"] = resolve_device(value)

    def get_params(self, deep=True, **kwargs):
        params = super().get_params(deep=deep, **kwargs)
        params["device"] = self.__dict__.get("_device_param", params.get("device"))
        # skorch lists every attribute not ending in "_": keep its (and our) private ones out
        return {k: v for k, v in params.items() if not k.startswith("_")}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR X is densified one batch at a time (SparseRows)
        return tags

    # ------------------------------------------------------------ subclass hooks
    def _targets(self, encoded) -> torch.Tensor:
        """Training targets from node indices (or a CSR indicator for multi-label y)."""
        return torch.as_tensor(encoded, dtype=torch.long)

    def _module_defaults(self, backbone, feat_shape) -> dict:
        raise NotImplementedError

    def _criterion_defaults(self) -> dict:
        return {}

    def _check_encoded(self, y, encoded, label_format) -> None:
        """Check the encoded labels beyond their format (nothing by default)."""

    def _fit_labels(self, encoded) -> None:
        """Learn what the module needs from the training labels (nothing by default)."""

    def _validation_scores(self, dataset_valid) -> dict:
        """Scores of the validation split recorded after every epoch (none by default)."""
        return {}

    # ------------------------------------------------------------ construction
    def _build_backbone(self):
        spec = self.backbone
        kwargs = super().get_params_for("backbone")
        if not hasattr(self, "input_shape_"):
            raise NotInitializedError(
                f"{type(self).__name__} builds its module from the shape of X: call fit(X, y) (initialize() "
                "alone cannot, before any X is seen)"
            )
        shape = tuple(self.input_shape_)
        if isinstance(spec, torch.nn.Module):
            return copy.deepcopy(spec)
        if isinstance(spec, str):
            if spec == "auto":
                spec = "cnn" if len(shape) == 3 else "mlp"
            if spec == "cnn" and len(shape) != 3:
                raise ValueError(f"backbone='cnn' needs (C, H, W) images, got samples of shape {shape}")
            if spec in ("cnn", "mlp"):
                try:
                    return SmallCNN(in_channels=shape[0], **kwargs) if spec == "cnn" else MLP(int(np.prod(shape)),
                                                                                            **kwargs)
                except ValueError as exc:  # "hidden must be ...": the user set backbone__hidden
                    raise ValueError(f"backbone__{exc}") from None
            if spec == "identity":  # the inputs are the features
                return torch.nn.Flatten()
        elif callable(spec):
            built = spec(**kwargs)
            if not isinstance(built, torch.nn.Module):
                raise TypeError(f"backbone callable returned {type(built).__name__}, not an nn.Module")
            return built
        raise ValueError(f"backbone must be 'auto', 'cnn', 'mlp', 'identity', an nn.Module or a callable, got {spec!r}")

    def initialize_module(self):
        """Build the backbone once, then the module around it (skorch's extension point)."""
        kwargs = self.get_params_for("module")
        backbone = self._build_backbone()
        kwargs = {**self._module_defaults(backbone, feature_shape(backbone, self.input_shape_)), **kwargs}
        self.module_ = self.initialized_instance(self.module, kwargs)
        self._kind.check(self.module_, type(self).__name__)
        if self.channels_last and self._on_cuda():
            self.module_.to(memory_format=torch.channels_last)
        return self

    def initialize_criterion(self):
        """The criterion from ``criterion`` and ``criterion__*`` (see ``_make_criterion``)."""
        self.criterion_ = self._make_criterion()
        return self

    def _make_criterion(self) -> torch.nn.Module:
        """A name of the one registry (:data:`skhier.neural.losses.CRITERIA`, this kind's
        part) or a class, built with ``_criterion_defaults`` and the ``criterion__*``
        parameters; a module instance as it is (one built on another taxonomy is refused)."""
        spec = get_criterion(self.criterion, self._kind.name)
        if not isinstance(spec, torch.nn.Module):
            return spec(**self.get_params_for("criterion"))
        other = getattr(spec, "taxonomy", None)
        if other is not None and other != self.taxonomy_:
            raise ValueError(
                f"criterion {type(spec).__name__} was built on another taxonomy ({other!r}) than the "
                f"estimator's ({self.taxonomy_!r})"
            )
        return spec

    def _check_fitted(self):
        """Raise scikit-learn's ``NotFittedError`` (skorch's ``NotInitializedError`` is one)
        in scikit-learn's words when the estimator is used before ``fit``."""
        try:
            self.check_is_fitted()
        except NotInitializedError:
            raise NotInitializedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments "
                "before using this estimator."
            ) from None

    def get_params_for(self, prefix):
        params = super().get_params_for(prefix)
        if prefix == "criterion" and not isinstance(self.criterion, torch.nn.Module):
            params = {**self._criterion_defaults(), **params}
        elif prefix in ("iterator_train", "iterator_valid"):
            params.setdefault("device", self.device)
            params.setdefault("channels_last", bool(self.channels_last) and self._on_cuda())
            params.setdefault("batch_size", getattr(self, "batch_size_", None) or self._resolve_batch_size(256))
            if getattr(self, "module_", None) is not None:  # forward(x, targets): skorch merges the dict
                params.setdefault("x_key", self._kind.input_name(self._plain_module()))
            if prefix == "iterator_train":
                params.setdefault("transform", self.train_transform)
                if self._seed() is not None:
                    params.setdefault("seed", self._seed())
        return params

    def _resolve_batch_size(self, n_samples: int) -> int:
        bs = _check_batch_size(self.batch_size, "batch_size")
        if isinstance(bs, str):
            return auto_batch_size(n_samples)
        return int(bs)

    def get_default_callbacks(self):
        callbacks = list(super().get_default_callbacks())
        # after the losses, before the printed log
        at = next((i for i, (name, _) in enumerate(callbacks) if name == "print_log"), len(callbacks))
        callbacks.insert(at, ("valid_hierarchical", HierarchicalValidScoring()))
        if self.verbose and self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _on_cuda(self) -> bool:
        return torch.device(self.device).type == "cuda"

    def _autocast(self):
        if self.mixed_precision is None or not self._on_cuda():
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=torch.bfloat16)

    # ------------------------------------------------------------ data
    def _as_input(self, X, *, check_shape=True) -> torch.Tensor:
        """``X`` as a checked float tensor; with ``check_shape``, of the fitted sample shape."""
        t = _sparse_rows(X) if sp.issparse(X) else as_float_tensor(X)
        if t.ndim == 0 or t.shape[0] == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={tuple(t.shape)}) while a minimum of 1 is required by "
                f"{type(self).__name__}."
            )
        if t.ndim == 2 and t.shape[1] == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={tuple(t.shape)}) while a minimum of 1 is required by "
                f"{type(self).__name__}."
            )
        shape = getattr(self, "input_shape_", None) if check_shape else None
        if shape is not None and t.ndim == 2 and len(shape) == 1 and t.shape[1] != shape[0]:
            raise ValueError(
                f"X has {t.shape[1]} features, but {type(self).__name__} is expecting {shape[0]} features as input."
            )
        if shape is not None and tuple(t.shape[1:]) != tuple(shape):
            raise ValueError(
                f"X has samples of shape {tuple(t.shape[1:])}, but {type(self).__name__} was "
                f"fitted on samples of shape {tuple(shape)}"
            )
        return t

    def _dataset(self, X):
        """The prediction dataset of ``X`` (checked), or ``X`` if it is a Dataset already."""
        if isinstance(X, torch.utils.data.Dataset):
            return X
        return NodeDataset(self._as_input(X)).place(self.device)

    # ------------------------------------------------------------ training
    def _prepare(self, X, y, *, reset):
        """Encode ``y``; with ``reset``, learn the taxonomy, label format and input shape anew.

        Returns the training dataset.
        """
        t = self._as_input(X, check_shape=not reset)  # X first: its errors do not depend on y
        tax = self.taxonomy if reset else self.taxonomy_
        if tax is None:
            if y is None:
                raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
            tax = infer_taxonomy(y)  # taxonomy=None: the tree the paths (or flat labels) define
        tax = check_taxonomy(tax, allow_dag=self._kind.multilabel, what=type(self).__name__)
        validate_params(self)  # every rule this estimator's classes declare, once per fit
        self.__dict__["_fit_seed"] = seed_from(self.random_state)  # one draw from a RandomState per fit
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        enc = HierarchicalLabelEncoder(tax)
        encoded = enc.fit_transform(y)
        if not sp.issparse(encoded):  # one path per sample needs a tree
            check_taxonomy(tax, what=f"{type(self).__name__} with single-label y (one path per sample)")
        self._check_encoded(y, encoded, enc.format_)
        if enc.format_.multilabel and not self._kind.multilabel:
            raise ValueError(
                f"{type(self).__name__} predicts one path per sample; got an indicator matrix "
                "(several paths per sample): use a multi-label estimator"
            )
        if t.shape[0] != encoded.shape[0]:
            raise ValueError(f"X has {t.shape[0]} samples but y has {encoded.shape[0]}")
        if reset:
            self.taxonomy_ = tax
            self.label_format_ = enc.format_
            self.input_shape_ = tuple(t.shape[1:])
            if t.ndim == 2:
                self.n_features_in_ = int(t.shape[1])
            split = 1 - (self.train_split.cv if isinstance(self.train_split, HierarchicalValidSplit) else 0)
            self.batch_size_ = self._resolve_batch_size(int(t.shape[0] * split))
            self._fit_labels(encoded)
        strata = None if sp.issparse(encoded) else encoded
        return NodeDataset(t, self._targets(encoded), strata, split_seed=self._seed()).place(self.device)

    def _seed(self):
        """This fit's int seed (``None`` without ``random_state``): drawn once per fit from a RandomState."""
        if "_fit_seed" in self.__dict__:
            return self.__dict__["_fit_seed"]
        return None if isinstance(self.random_state, np.random.RandomState) else seed_from(self.random_state)

    def fit(self, X, y, **fit_params):
        """Fit the module on ``X`` and labels ``y`` in any label format it takes.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
            Images (n, C, H, W) or feature vectors (n, n_features); dense.
        y : array-like
            Labels in a format of :mod:`skhier.labels`.
        **fit_params : dict
            Passed to skorch's ``fit``. ``sample_weight`` is refused with a message: the
            training losses average over each batch without per-sample weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._refuse_sample_weight(fit_params)
        dataset = self._prepare(X, y, reset=not (self.warm_start and self.initialized_))
        seed = self._seed()
        if seed is None:
            return super().fit(dataset, None, **fit_params)
        # seeded: the draws come from torch's global generator, restored afterwards, so that the
        # caller's random stream is the same after fit as before
        devices = [torch.device(self.device).index or 0] if self._on_cuda() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            return super().fit(dataset, None, **fit_params)

    @fill_doc
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising the module.

        Parameters
        ----------
        %(X_tensor)s
        y : array-like
            Labels in a format it takes (the same taxonomy).
        classes : ignored
            The taxonomy fixes the classes.
        **fit_params : dict

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._refuse_sample_weight(fit_params)
        if not isinstance(X, torch.utils.data.Dataset):
            X = self._prepare(X, y, reset=not self.initialized_)
        return super().partial_fit(X, None, **fit_params)

    def _refuse_sample_weight(self, fit_params):
        if fit_params.get("sample_weight") is not None:
            raise TypeError(
                f"{type(self).__name__}.fit does not take sample_weight: its training losses average over "
                "each batch without per-sample weights. Resample the training set in proportion to the "
                "weights instead (e.g. numpy.random.Generator.choice(n, size=n, p=w / w.sum()))"
            )
        fit_params.pop("sample_weight", None)

    def infer(self, x, **fit_params):
        """skorch's ``infer`` under autocast; inputs alone (no targets, not training) go to
        the kind's read-out method instead of ``forward``, so that skorch's ``forward`` /
        ``predict`` loops give what predictions read. Floating outputs come back as float32.
        """
        with self._autocast():
            if isinstance(x, Mapping) or self.module_.training:
                out = super().infer(x, **fit_params)
            else:
                out = getattr(self._plain_module(), self._kind.read_out)(to_device(x, self.device), **fit_params)
        return out.float() if isinstance(out, torch.Tensor) and out.is_floating_point() else out

    def _backward(self, loss) -> None:
        """Back-propagate ``loss`` in a step of our own (HMLC's; accelerate's mixin scales it)."""
        loss.backward()

    # ------------------------------------------------------------ inference
    def _plain_module(self) -> torch.nn.Module:
        """``module_`` itself, for calling its methods (a data-parallel wrapper has none)."""
        return self.module_

    def _valid_outputs(self, dataset_valid) -> torch.Tensor:
        """The module's read-out on the validation split, in its order, for scoring."""
        base, idx = _base_and_indices(dataset_valid)
        return self.forward(base.inputs(idx), training=False, device=self.device)

    def _outputs(self, X) -> torch.Tensor:
        """The module's read-out over all of ``X``, on the device."""
        self._check_fitted()
        return self.forward(self._dataset(X), training=False, device=self.device)

    def _collect(self, X, method: str) -> torch.Tensor:
        """``module_.<method>`` over all of ``X`` in evaluation batches, concatenated (float)."""
        self._check_fitted()
        self._set_training(False)
        fn = getattr(self._plain_module(), method)
        out = []
        with torch.no_grad(), self._autocast():
            for batch in self.get_iterator(self._dataset(X), training=False):
                Xi = batch[0] if isinstance(batch, (tuple, list)) else batch
                out.append(fn(to_device(Xi, self.device)).float())
        return torch.cat(out)

    def _valid_targets(self, dataset_valid):
        base, idx = _base_and_indices(dataset_valid)
        y = base.y if idx is None else base.y[idx.to(base.y.device)]
        return base, idx, y


