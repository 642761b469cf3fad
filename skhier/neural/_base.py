"""The skorch bases shared by every neural method in skhier.

One base per kind of output (see :mod:`skhier.neural._protocols`):
:class:`HierarchicalNet` (a distribution over end nodes: single-label classifiers),
:class:`MultiLabelHierarchicalNet` (independent per-node probabilities) and
:class:`HierarchicalEncoderNet` (embeddings). They share everything else through
``_HierarchicalNetBase``, a thin subclass of ``skorch.NeuralNet``: it reads ``y`` in every
label format, builds the backbone and the module once per initialisation from the
taxonomy and the input shape (checking the module against its kind's protocol), feeds
whole tensors to the device, and validates with hierarchical scores. skorch's own step
bodies run unchanged: the batch iterators put the targets in ``X`` as skorch's dict
``{"x": ..., "targets": ...}`` (merged into ``forward(x, targets)`` by skorch's
``infer``) and apply ``train_transform``. We override ten skorch members (counted by
``tests/test_neural_base.py``): ``__init__``, ``prefixes_``, ``get_params`` (``device="auto"``),
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
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import ClassifierMixin, TransformerMixin
from sklearn.utils.metaestimators import available_if
from skorch import NeuralNet
from skorch.callbacks import Callback, ProgressBar
from skorch.exceptions import NotInitializedError
from skorch.utils import to_device

from .._threads import free_cpus
from .._tree import check_taxonomy, greedy_descent, with_all_ancestors
from ..base import HierarchicalClassifierMixin, NodeScores, NodeScoresMixin
from ..labels import HierarchicalLabelEncoder, decode_labels, infer_taxonomy
from ..metrics import HierarchicalMetricAccumulator
from ..utils.validation import Boolean, Interval, Options, RandomState, seed_from, validate_params
from ._data import (
    HierarchicalValidSplit,
    NodeDataset,
    SparseRows,
    TensorBatchIterator,
    _base_and_indices,
    as_float_tensor,
)
from ._protocols import EncoderModule, EndDistributionModule, NodeProbabilityModule
from .backbones import MLP, SmallCNN, feature_shape
from .losses import get_criterion

__all__ = [
    "HierarchicalNet",
    "MultiLabelHierarchicalNet",
    "HierarchicalEncoderNet",
    "HierarchicalValidScoring",
    "resolve_device",
    "auto_batch_size",
]


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


def resolve_device(device) -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is available, else ``"cpu"``; others unchanged.

    Parameters
    ----------
    device : str, torch.device or None
        Where tensors go (``"cpu"``, ``"cuda"``); ``"auto"`` picks CUDA when available.

    Returns
    -------
    device : str or torch.device

    Examples
    --------
    >>> from skhier.neural import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def auto_batch_size(n_samples: int) -> int:
    """The batch size of ``batch_size="auto"``: about 64 steps an epoch, 16 to 256.

    Small data sets get small batches so that a first fit of ``max_epochs`` epochs takes
    enough optimiser steps to learn; large ones the usual 256.

    Parameters
    ----------
    n_samples : int
        Number of samples.

    Returns
    -------
    batch_size : int

    Examples
    --------
    >>> from skhier.neural import auto_batch_size
    >>> auto_batch_size(1800), auto_batch_size(60000)
    (32, 256)
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an int, got {n_samples!r}")
    return int(np.clip(2 ** round(math.log2(max(n_samples, 1) / 64)), 16, 256))


class HierarchicalValidScoring(Callback):
    """Record the net's hierarchical validation scores after every epoch.

    Asks the net for its validation scores (a dict, by output kind: ``valid_exact`` and
    ``valid_hf1`` for single-label classifiers, ``valid_of1`` for multi-label ones,
    nothing for encoders) and records each with a ``<name>_best`` flag, in place of
    skorch's flat ``valid_acc``. Monitor them with skorch's ``EarlyStopping(monitor=
    "valid_hf1", lower_is_better=False)`` or ``Checkpoint(monitor="valid_hf1_best")``.

    Examples
    --------
    >>> from skhier.neural import HierarchicalValidScoring
    >>> HierarchicalValidScoring()
    <skhier.neural._base.HierarchicalValidScoring object at ...>
    """

    def on_train_begin(self, net, **kwargs):
        self.best_ = {}

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        if dataset_valid is None or len(dataset_valid) == 0:
            return
        for name, value in net._validation_scores(dataset_valid).items():
            net.history.record(name, value)
            best = value > self.best_.get(name, -math.inf)
            if best:
                self.best_[name] = value
            net.history.record(name + "_best", bool(best))


class ThreadBudget(Callback):
    """Use the cores other processes leave free: torch's intra-op threads, set per epoch.

    At the start of every epoch, torch's intra-op threads become the CPUs that no other
    runnable process is using (:func:`skhier._threads.free_cpus`), never more than torch
    had when training began; they are restored when training ends. On a quiet machine
    nothing changes; beside busy processes an epoch no longer waits at every operator
    for a thread the OS gave away (skhier's thread policy: ``docs/scaling.md``). Opt in
    with ``callbacks=[ThreadBudget()]`` on shared machines: it is not a default because
    torch's results depend on the thread count at float rounding, so a fixed
    ``random_state`` would no longer give the same model whatever the machine's load.

    Parameters
    ----------
    max_threads : int, default=None
        An upper bound besides torch's own setting.

    Examples
    --------
    >>> from skhier.neural import ThreadBudget
    >>> ThreadBudget(max_threads=4).max_threads
    4
    """

    def __init__(self, max_threads=None):
        self.max_threads = max_threads

    def on_train_begin(self, net, **kwargs):
        self.threads_before_ = torch.get_num_threads()

    def on_epoch_begin(self, net, **kwargs):
        cap = self.threads_before_ if self.max_threads is None else min(self.threads_before_, int(self.max_threads))
        want = max(1, min(cap, free_cpus()))
        if want != torch.get_num_threads():
            torch.set_num_threads(want)

    def on_train_end(self, net, **kwargs):
        if torch.get_num_threads() != self.threads_before_:
            torch.set_num_threads(self.threads_before_)


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

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising the module.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).
        y : array-like
            Labels in a format it takes (the same taxonomy).
        classes : ignored
            The taxonomy fixes the classes.
        **fit_params : dict

        Returns
        -------
        self : object
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


class HierarchicalNet(HierarchicalClassifierMixin, ClassifierMixin, TransformerMixin, _HierarchicalNetBase):
    """Base of the single-label neural classifiers: a distribution over end nodes.

    The module is an :class:`~skhier.neural.EndDistributionModule`: its
    ``end_log_probs(X)`` gives the log-probability that each sample's label path ends at
    each node. From it alone this base answers ``predict`` (the most probable end node,
    in the label format of ``fit``), ``predict_proba`` (over ``classes_``, rows summing to
    1), ``transform`` (node marginals for refiners) and the validation scores
    ``valid_exact`` / ``valid_hf1``. A subclass names a module and a criterion and
    implements ``_module_defaults`` (and ``_targets`` when its criterion wants more than
    node indices).

    Parameters
    ----------
    taxonomy : Taxonomy or None
        Labels' taxonomy; fixes the output sizes. ``None`` infers it from ``y`` at ``fit``
        (:func:`skhier.labels.infer_taxonomy`).
    module, criterion : torch module classes
        As in skorch; ``module__*`` and ``criterion__*`` parameters reach them.
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
        Feature extractor, built once per initialisation. ``"auto"`` takes
        :class:`~skhier.neural.backbones.SmallCNN` for (C, H, W) images and
        :class:`~skhier.neural.backbones.MLP` for feature vectors. An ``nn.Module`` (a
        torchvision or timm model without its classifier) is deep-copied at every
        initialisation; a callable is called to build one. ``backbone__*`` parameters
        reach the built-in backbones.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        The torch optimizer class (``optimizer__*`` parameters reach it).
    lr : float, default=1e-3
        Learning rate of the optimizer.
    max_epochs : int, default=10
        Number of training epochs.
    batch_size : int or "auto", default="auto"
        ``"auto"`` takes about 64 steps an epoch, from 16 to 256 samples a batch
        (:func:`~skhier.neural.auto_batch_size`), so small data sets still learn.
    train_split : callable or None, default=HierarchicalValidSplit(0.1)
        Internal validation split, stratified by node whatever the label format.
    iterator_train, iterator_valid : class, default=TensorBatchIterator
        skorch's batch iterators; skhier's feed whole tensors to the device and bring
        the targets to ``forward`` (``iterator_train__*`` parameters reach them).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        ``"auto"`` trains on CUDA when available.
    mixed_precision : {None, "bf16"}, default=None
        bf16 autocast of forward passes on CUDA (ignored on CPU).
    channels_last : bool, default=False
        Channels-last memory format for image batches and the module (CUDA speed-up).
    train_transform : callable, default=None
        Applied to every training batch on the device, e.g.
        :class:`~skhier.neural.augment.RandomCropFlip`.
    random_state : int or None, default=None
        Seeds torch, the validation split and the shuffling: CPU training is then
        reproducible.
    verbose : int, default=0
        skorch's epoch table when 1 or more, and a progress bar when 2 or more.
    **kwargs
        Any other skorch parameter: ``callbacks``, ``iterator_train__*``,
        ``optimizer__*``, ``callbacks__<name>__*``, ``warm_start``, ``compile``, ...

    Attributes
    ----------
    taxonomy_ : Taxonomy
        The taxonomy at ``fit``.
    classes_ : ndarray
        End nodes the model can predict, sorted: the columns of ``predict_proba``.
    class_nodes_ : ndarray of int
        Taxonomy index of every class.
    label_format_ : LabelFormat
        Format of ``y`` at ``fit``; ``predict`` answers in it.
    input_shape_ : tuple of int
        Shape of one input sample.
    batch_size_ : int
        The batch size used (``batch_size`` resolved).
    module_, criterion_, optimizer_, history_ : as in skorch

    Examples
    --------
    >>> from skhier.neural import FlatSoftmaxClassifier, HierarchicalNet
    >>> issubclass(FlatSoftmaxClassifier, HierarchicalNet)
    True
    """

    _kind = _OutputKind("end", EndDistributionModule, "end_log_probs")

    def _end_nodes(self) -> np.ndarray:
        """Nodes where the fitted module's paths can end (default: the leaves)."""
        return np.asarray(self.taxonomy_.leaves)

    def _prepare(self, X, y, *, reset):
        dataset = super()._prepare(X, y, reset=reset)
        if reset:
            self._set_classes(self.taxonomy_, self._end_nodes())
        return dataset

    def _end_proba(self, X):
        return self._outputs(X).exp()

    def predict(self, X):
        """The most probable end node of every sample, in the label format of ``fit``.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).

        Returns
        -------
        y : ndarray
        """
        nodes = self._outputs(X).argmax(dim=1).cpu().numpy()
        return decode_labels(nodes, self.taxonomy_, self.label_format_)

    def _validation_scores(self, dataset_valid):
        base, idx, _ = self._valid_targets(dataset_valid)
        strata = base.strata if idx is None else base.strata[idx.numpy()]
        pred = self._valid_outputs(dataset_valid).argmax(dim=1)
        acc = HierarchicalMetricAccumulator(self.taxonomy_)
        acc.update_indices(torch.as_tensor(strata, device=pred.device), pred)
        computed = acc.compute()
        return {"valid_exact": computed["path_accuracy"], "valid_hf1": computed["hierarchical_f1"]}


class MultiLabelHierarchicalNet(NodeScoresMixin, ClassifierMixin, TransformerMixin, _HierarchicalNetBase):
    """Base of the neural classifiers with independent per-node probabilities.

    The module is a :class:`~skhier.neural.NodeProbabilityModule`: ``node_logits(X)``
    gives one logit per taxonomy node, whose sigmoid is the probability that the node is
    in the sample's label set. ``y`` may hold several paths per sample (a node-indicator
    matrix, ancestors filled in) or one (any single-label format). The targets are the
    ancestor-closed indicator rows, as float tensors.

    - ``predict_proba`` / ``transform``: per-node probabilities, one column per taxonomy
      node in taxonomy order (= ``classes_``), as scikit-learn's multi-label classifiers;
    - ``predict``: for multi-label ``y``, the nodes scoring at least ``threshold`` and
      their ancestors, as an indicator in the format of ``y``; for single-label ``y``,
      the greedy top-down path (stopping where no child reaches ``threshold``);
    - validation: ``valid_of1``, the overall F1 of the thresholded nodes.

    Parameters
    ----------
    taxonomy, module, criterion
        As in :class:`HierarchicalNet`.
    threshold : float, default=0.5
        Probability a node needs to be predicted.
    consistency : {"fill", "prune"}, default="fill"
        How a multi-label ``predict`` keeps its label sets closed under ancestors:
        ``"fill"`` adds the ancestors of every node that passes ``threshold``;
        ``"prune"`` keeps a node only when all its ancestors pass too. (The raw
        thresholded probabilities may violate the hierarchy; ``predict`` never does.)
    **kwargs
        Every other parameter of :class:`HierarchicalNet`.

    Attributes
    ----------
    taxonomy_ : Taxonomy
    classes_ : ndarray
        Every taxonomy node, in taxonomy order (the indicator columns).
    label_format_ : LabelFormat
    input_shape_ : tuple of int
    module_, criterion_, optimizer_, history_ : as in skorch

    Examples
    --------
    >>> from skhier.neural import MultiLabelHierarchicalNet
    >>> MultiLabelHierarchicalNet._kind.read_out
    'node_logits'
    """

    _kind = _OutputKind("multilabel", NodeProbabilityModule, "node_logits", multilabel=True)
    _parameter_rules = {"threshold": Interval(0, 1), "consistency": Options("fill", "prune")}

    def __init__(self, taxonomy, module, criterion, *, threshold=0.5, consistency="fill", **kwargs):
        super().__init__(taxonomy, module, criterion, **kwargs)
        self.threshold = threshold
        self.consistency = consistency

    def _targets(self, encoded):
        # an encoded indicator has its ancestors filled already; a node's ancestor row too
        rows = encoded if sp.issparse(encoded) else self.taxonomy_.ancestor_matrix[encoded]
        return torch.as_tensor(rows.toarray(), dtype=torch.float32)

    def _check_encoded(self, y, encoded, label_format):
        """Refuse samples without a label; warn when an indicator ``y`` was not closed under
        ancestors (label sets name their most specific nodes: filling is what they mean)."""
        if not sp.issparse(encoded):
            return
        below_root = encoded[:, 1:]
        empty = np.flatnonzero(below_root.getnnz(axis=1) == 0)
        if empty.size:
            raise ValueError(
                f"y has {empty.size} row(s) without any label below the root (rows {empty[:5].tolist()}"
                f"{', ...' if empty.size > 5 else ''}); every sample needs at least one node: drop those rows"
            )
        if label_format.sets:
            return
        given = sp.csr_matrix(y)[:, 1:]
        given.eliminate_zeros()
        opened = np.flatnonzero(below_root.getnnz(axis=1) > given.getnnz(axis=1))
        if opened.size:
            warnings.warn(
                f"{opened.size} row(s) of y were not closed under ancestors (rows {opened[:5].tolist()}"
                f"{', ...' if opened.size > 5 else ''}); their ancestors were set, as a node implies its "
                "ancestors in a hierarchical label set",
                UserWarning,
                stacklevel=5,  # the user's fit: _check_encoded < _prepare (x2) < fit
            )

    def _prepare(self, X, y, *, reset):
        dataset = super()._prepare(X, y, reset=reset)
        if reset:
            self.classes_ = np.empty(self.taxonomy_.n_nodes, dtype=object)
            self.classes_[:] = list(self.taxonomy_.nodes)
        return dataset

    def predict_proba(self, X):
        """Per-node probabilities, one column per taxonomy node (``classes_``).

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_nodes)
        """
        return self._probabilities(self._outputs(X)).double().cpu().numpy()

    def _probabilities(self, node_logits):
        """Per-node probabilities from the module's node logits (a hook for subclasses)."""
        return torch.sigmoid(node_logits)

    def transform(self, X):
        """Per-node probabilities as node scores, the input of refiners and metrics.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes)
        """
        return NodeScores.wrap(self.predict_proba(X), self.taxonomy_)

    def predict(self, X):
        """Label sets (multi-label ``y``) or paths (single-label ``y``), as fitted.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).

        Returns
        -------
        y : ndarray or sparse matrix
        """
        p = self._probabilities(self._outputs(X))
        tax = self.taxonomy_
        if self.label_format_.multilabel:
            hit = p >= self.threshold
            if self.consistency == "prune":
                hit[:, 0] = True
                hit = with_all_ancestors(hit, tax)  # no missing ancestor (trees and DAGs)
            hit = sp.csr_matrix(hit.cpu().numpy())
            return decode_labels(hit, tax, self.label_format_)  # fills ancestors and the root
        nodes = greedy_descent(p, tax, threshold=self.threshold).cpu().numpy()
        return decode_labels(nodes, tax, self.label_format_)

    def _validation_scores(self, dataset_valid):
        _, _, y = self._valid_targets(dataset_valid)
        p = self._probabilities(self._valid_outputs(dataset_valid))
        hit = (p >= self.threshold)[:, 1:]
        true = y.to(p.device)[:, 1:] > 0.5
        tp = (hit & true).sum()
        den = hit.sum() + true.sum()
        return {"valid_of1": float(2 * tp / den) if int(den) else 1.0}


class HierarchicalEncoderNet(TransformerMixin, _HierarchicalNetBase):
    """Base of the neural representation learners: ``transform`` gives embeddings.

    The module is an :class:`~skhier.neural.EncoderModule`: ``embed(X)`` gives one
    (D,)-vector per sample. ``fit`` reads single-label ``y`` in any format (the criterion
    gets node indices unless ``_targets`` says otherwise), so
    ``make_pipeline(encoder, LogisticRegression())`` is a linear evaluation.

    Parameters
    ----------
    taxonomy, module, criterion
        As in :class:`HierarchicalNet`.
    backbone, optimizer, lr, max_epochs, batch_size, train_split, iterator_train, iterator_valid
        As in :class:`HierarchicalNet`.
    device, mixed_precision, channels_last, train_transform, random_state, verbose
        As in :class:`HierarchicalNet`.
    **kwargs
        Every other skorch parameter.

    Attributes
    ----------
    taxonomy_ : Taxonomy
    label_format_ : LabelFormat
    input_shape_ : tuple of int
    n_features_out_ : int
        Width of the embeddings.
    module_, criterion_, optimizer_, history_ : as in skorch

    Examples
    --------
    >>> from skhier.neural import HierarchicalEncoderNet
    >>> HierarchicalEncoderNet._kind.read_out
    'embed'
    """

    _kind = _OutputKind("encoder", EncoderModule, "embed")
    # an encoder predicts nothing: hide skorch's predict / predict_proba
    predict = available_if(lambda self: False)(NeuralNet.predict)
    predict_proba = available_if(lambda self: False)(NeuralNet.predict_proba)

    def transform(self, X):
        """Embeddings of ``X``.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features_out_)
        """
        return self._outputs(X).double().cpu().numpy()

    @property
    def n_features_out_(self) -> int:
        """Width of the embeddings (one forward pass of a zero sample)."""
        self._check_fitted()
        return int(self._outputs(torch.zeros((1, *self.input_shape_))).shape[1])

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then return the embeddings of ``X``.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).
        y : array-like
            Labels in any label format of :mod:`skhier.labels`.
        **fit_params : dict
            Passed to ``fit``.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features_out_)
        """
        return self.fit(X, y, **fit_params).transform(X)

    def get_feature_names_out(self, input_features=None):
        """``embedding0``, ``embedding1``, ...

        Parameters
        ----------
        input_features : ignored
            Ignored: embeddings have no input counterpart.

        Returns
        -------
        names : ndarray of str objects
        """
        return np.array([f"embedding{i}" for i in range(self.n_features_out_)], dtype=object)
