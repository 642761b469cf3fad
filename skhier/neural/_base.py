"""The skorch base shared by every neural method in skhier.

:class:`HierarchicalNet` is a thin subclass of ``skorch.NeuralNet``: it reads ``y`` in
every label format, builds the module from the taxonomy and the input shape, feeds whole
tensors to the device, and answers in node probabilities and in the fitted label format.
The training loop is skorch's; we override only documented extension points
(``get_params_for``, ``infer``, ``train_step_single``, ``validation_step``,
``evaluation_step``, ``get_loss``, ``initialize_module``) and wrap ``fit`` to encode
``y`` before skorch sees it, as skorch's own classifier wraps it.
"""

from __future__ import annotations

import contextlib
import copy
import math

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import Callback, ProgressBar
from skorch.utils import to_device

from ..inference._base import NodeScoresMixin, NodeScores, node_classes
from ..labels import HierarchicalLabelEncoder, _check_taxonomy, decode_labels
from ..metrics import HierarchicalMetricAccumulator
from ..metrics._base import bottom_up
from .backbones import MLP, SmallCNN, feature_shape
from ._data import HierarchicalValidSplit, NodeDataset, TensorBatchIterator, _base_and_indices, as_float_tensor

__all__ = ["HierarchicalNet", "HierarchicalValidScoring", "resolve_device"]


def resolve_device(device) -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is available, else ``"cpu"``; others unchanged.

    Parameters
    ----------
    device : str, torch.device or None

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


class HierarchicalValidScoring(Callback):
    """Record hierarchical scores of the validation split after every epoch.

    Adds ``valid_exact`` (exact-path accuracy) and ``valid_hf1`` (set-based hierarchical
    F1) to the history, with ``valid_exact_best`` / ``valid_hf1_best`` flags, in place of
    skorch's flat ``valid_acc``. Monitor them with skorch's ``EarlyStopping(monitor=
    "valid_hf1", lower_is_better=False)`` or ``Checkpoint(monitor="valid_hf1_best")``.

    Examples
    --------
    >>> from skhier.neural import HierarchicalValidScoring
    >>> HierarchicalValidScoring()
    <skhier.neural._base.HierarchicalValidScoring object at ...>
    """

    def on_train_begin(self, net, **kwargs):
        self.best_ = {"valid_exact": -math.inf, "valid_hf1": -math.inf}

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        if dataset_valid is None or len(dataset_valid) == 0:
            return
        base, idx = _base_and_indices(dataset_valid)
        strata = base.strata if idx is None else base.strata[idx.numpy()]
        logp = net._end_log_probs(dataset_valid)
        pred = logp.argmax(dim=1)
        true = torch.as_tensor(strata, device=pred.device)
        acc = HierarchicalMetricAccumulator(net.taxonomy)
        acc.update(true, pred)
        computed = acc.compute()
        scores = {"valid_exact": computed["path_accuracy"], "valid_hf1": computed["hierarchical_f1"]}
        for name, value in scores.items():
            net.history.record(name, value)
            best = value > self.best_[name]
            if best:
                self.best_[name] = value
            net.history.record(name + "_best", bool(best))


class HierarchicalNet(NodeScoresMixin, ClassifierMixin, NeuralNet):
    """Base class of skhier's neural estimators: a skorch net over one Taxonomy.

    Subclasses name a module and a criterion and implement ``_targets(nodes)`` (training
    targets from node indices) and ``_module_defaults(backbone, feature_shape)`` (module
    sizes from the taxonomy). The module's ``forward(X, targets=None)`` gives what the
    criterion reads, and its ``end_log_probs(X)`` the log-probability that each sample's
    label path ends at each node, from which ``predict_proba`` (node marginals) and
    ``predict`` (the most probable end node) follow.

    Parameters
    ----------
    taxonomy : Taxonomy
        Labels' taxonomy; fixes the output sizes before any data is seen.
    module, criterion : torch module classes
        As in skorch; ``module__*`` and ``criterion__*`` parameters reach them.
    backbone : {"auto", "cnn", "mlp"}, nn.Module or callable, default="auto"
        Feature extractor. ``"auto"`` takes :class:`~skhier.neural.backbones.SmallCNN`
        for (C, H, W) images and :class:`~skhier.neural.backbones.MLP` for feature
        vectors. An ``nn.Module`` (a torchvision or timm model without its classifier)
        is deep-copied at every initialisation; a callable is called to build one.
        ``backbone__*`` parameters reach the built-in backbones.
    optimizer : torch optimizer class, default=torch.optim.AdamW
    lr : float, default=1e-3
    max_epochs : int, default=10
    batch_size : int, default=256
    train_split : callable or None, default=HierarchicalValidSplit(0.1)
        Internal validation split, stratified by node whatever the label format.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        ``"auto"`` trains on CUDA when available.
    mixed_precision : {None, "bf16"}, default=None
        bf16 autocast of forward passes on CUDA (ignored on CPU).
    channels_last : bool, default=False
        Channels-last memory format for image batches and the module (CUDA speed-up).
    train_transform : callable, default=None
        Applied to every training batch on the device, e.g.
        :class:`~skhier.neural.augment.RandomCropFlip`.
    compile : bool, default=False
        skorch's ``torch.compile`` of the module (``compile__*`` are its options).
    random_state : int or None, default=None
        Seeds torch, the validation split and the shuffling: CPU training is then
        reproducible.
    verbose : int, default=0
        skorch's epoch table when 1 or more, and a progress bar when 2 or more.
    **kwargs
        Any other skorch parameter: ``callbacks``, ``iterator_train__*``,
        ``optimizer__*``, ``callbacks__<name>__*``, ``warm_start``, ...

    Attributes
    ----------
    classes_ : ndarray of object
        Taxonomy nodes: the columns of ``predict_proba`` and ``transform``.
    label_format_ : LabelFormat
        Format of ``y`` at ``fit``; ``predict`` answers in it.
    input_shape_ : tuple of int
        Shape of one input sample.
    module_, criterion_, optimizer_, history_ : as in skorch

    Examples
    --------
    >>> from skhier.neural import FlatSoftmaxClassifier, HierarchicalNet
    >>> issubclass(FlatSoftmaxClassifier, HierarchicalNet)
    True
    """

    # "train_transform" may hold an nn.Module (skorch only lets known prefixes do that)
    prefixes_ = NeuralNet.prefixes_ + ["backbone", "train_transform"]

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
        batch_size=256,
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
    @property
    def device(self):
        return resolve_device(self.__dict__.get("device", "auto"))

    @device.setter
    def device(self, value):
        self.__dict__["device"] = value

    def get_params(self, deep=True, **kwargs):
        params = super().get_params(deep=deep, **kwargs)
        params["device"] = self.__dict__.get("device", "auto")
        return params

    def __getstate__(self):
        state = super().__getstate__()
        state["_device_param"] = state.get("device")
        state["device"] = self.device
        return state

    def __setstate__(self, state):
        raw = state.pop("_device_param", None)
        super().__setstate__(state)
        if raw == "auto":
            self.__dict__["device"] = "auto"

    # ------------------------------------------------------------ subclass hooks
    def _targets(self, nodes: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def _module_defaults(self, backbone, feat_shape) -> dict:
        raise NotImplementedError

    def _criterion_defaults(self) -> dict:
        return {}

    def _fit_labels(self, nodes: np.ndarray) -> None:
        """Learn what the module needs from the training labels (nothing by default)."""

    def _check_label_format(self, label_format):
        if label_format.multilabel:
            raise ValueError(
                f"{type(self).__name__} predicts one path per sample; got an indicator "
                "matrix (several paths per sample)"
            )

    # ------------------------------------------------------------ construction
    def _build_backbone(self):
        spec = self.backbone
        kwargs = super().get_params_for("backbone")
        shape = tuple(self.input_shape_)
        if isinstance(spec, torch.nn.Module):
            return copy.deepcopy(spec)
        if spec == "auto":
            spec = "cnn" if len(shape) == 3 else "mlp"
        if spec == "cnn":
            if len(shape) != 3:
                raise ValueError(f"backbone='cnn' needs (C, H, W) images, got samples of shape {shape}")
            return SmallCNN(in_channels=shape[0], **kwargs)
        if spec == "mlp":
            return MLP(int(np.prod(shape)), **kwargs)
        if callable(spec):
            built = spec(**kwargs)
            if not isinstance(built, torch.nn.Module):
                raise TypeError(f"backbone callable returned {type(built).__name__}, not an nn.Module")
            return built
        raise ValueError(f"backbone must be 'auto', 'cnn', 'mlp', an nn.Module or a callable, got {spec!r}")

    def get_params_for(self, prefix):
        params = super().get_params_for(prefix)
        if prefix == "module":
            backbone = self._build_backbone()
            params = {**self._module_defaults(backbone, feature_shape(backbone, self.input_shape_)), **params}
        elif prefix == "criterion":
            params = {**self._criterion_defaults(), **params}
        elif prefix in ("iterator_train", "iterator_valid"):
            params.setdefault("device", self.device)
            params.setdefault("channels_last", bool(self.channels_last) and self._on_cuda())
            if prefix == "iterator_train" and self.random_state is not None:
                params.setdefault("seed", int(self.random_state))
        return params

    def initialize_module(self):
        super().initialize_module()
        if self.channels_last and self._on_cuda():
            self.module_.to(memory_format=torch.channels_last)
        return self

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
    def _dataset(self, X, nodes=None):
        if isinstance(X, torch.utils.data.Dataset):
            return X
        t = as_float_tensor(X)
        shape = getattr(self, "input_shape_", None)
        if shape is not None and tuple(t.shape[1:]) != tuple(shape):
            raise ValueError(
                f"X has samples of shape {tuple(t.shape[1:])}, but {type(self).__name__} was "
                f"fitted on samples of shape {tuple(shape)}"
            )
        y = None if nodes is None else self._targets(nodes)
        return NodeDataset(t, y, nodes).place(self.device)

    def get_dataset(self, X, y=None):
        if y is not None and not isinstance(X, torch.utils.data.Dataset):
            raise TypeError(f"{type(self).__name__} builds its own dataset; call fit(X, y)")
        return self._dataset(X)

    # ------------------------------------------------------------ training
    def _prepare(self, X, y, *, reset):
        """Encode ``y``; with ``reset``, learn the label format and input shape anew.

        Returns the training dataset.
        """
        _check_taxonomy(self.taxonomy)
        if self.mixed_precision not in (None, "bf16"):
            raise ValueError(f"mixed_precision must be None or 'bf16', got {self.mixed_precision!r}")
        enc = HierarchicalLabelEncoder(self.taxonomy)
        nodes = enc.fit_transform(y)
        self._check_label_format(enc.format_)
        t = as_float_tensor(X)
        if t.shape[0] != nodes.shape[0]:
            raise ValueError(f"X has {t.shape[0]} samples but y has {nodes.shape[0]}")
        if not reset:
            if tuple(t.shape[1:]) != tuple(self.input_shape_):
                raise ValueError(
                    f"X has samples of shape {tuple(t.shape[1:])}, but {type(self).__name__} was "
                    f"fitted on samples of shape {tuple(self.input_shape_)}"
                )
            return self._dataset(t, nodes)
        self._fit_labels(nodes)
        self.label_format_ = enc.format_
        self.input_shape_ = tuple(t.shape[1:])
        if t.ndim == 2:
            self.n_features_in_ = int(t.shape[1])
        self.classes_ = node_classes(self.taxonomy)
        return self._dataset(t, nodes)

    def fit(self, X, y, **fit_params):
        """Fit the module on ``X`` and labels ``y`` in any single-label format.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
            Images (n, C, H, W) or feature vectors (n, n_features).
        y : array-like
            Labels in any single-label format of :mod:`skhier.labels`.
        **fit_params : dict
            Passed to skorch's ``fit``.

        Returns
        -------
        self : object
        """
        dataset = self._prepare(X, y, reset=not (self.warm_start and self.initialized_))
        if self.random_state is not None:
            torch.manual_seed(int(self.random_state))
        return super().fit(dataset, None, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising the module.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)
        y : array-like
            Labels in any single-label format (the same taxonomy).
        classes : ignored
            The taxonomy fixes the classes.
        **fit_params : dict

        Returns
        -------
        self : object
        """
        if not isinstance(X, torch.utils.data.Dataset):
            X = self._prepare(X, y, reset=not self.initialized_)
        return super().partial_fit(X, None, **fit_params)

    def get_split_datasets(self, X, y=None, **fit_params):
        split = self.train_split
        if not split:
            return self.get_dataset(X), None
        if isinstance(split, HierarchicalValidSplit) and split.random_state is None and self.random_state is not None:
            split = copy.copy(split)
            split.random_state = int(self.random_state)
        return split(self.get_dataset(X), **fit_params)

    def infer(self, x, **fit_params):
        with self._autocast():
            return super().infer(x, **fit_params)

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = batch
        if self.train_transform is not None:
            Xi = self.train_transform(Xi)
        y_pred = self.infer(Xi, targets=yi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        Xi, yi = batch
        with torch.no_grad():
            y_pred = self.infer(Xi, targets=yi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=False)
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_pred = y_pred.float() if isinstance(y_pred, torch.Tensor) else y_pred
        return super().get_loss(y_pred, y_true, X=X, training=training)

    # ------------------------------------------------------------ inference
    def evaluation_step(self, batch, training=False):
        self.check_is_fitted()
        Xi = batch[0] if isinstance(batch, (tuple, list)) else batch
        with torch.set_grad_enabled(training):
            self._set_training(training)
            with self._autocast():
                return self.module_.end_log_probs(to_device(Xi, self.device)).float()

    def _end_log_probs(self, X) -> torch.Tensor:
        """(n, n_nodes) log-probability that each sample's path ends at each node (on device)."""
        self.check_is_fitted()
        return self.forward(self._dataset(X), training=False, device=self.device)

    def predict_proba(self, X):
        """Node probabilities: the probability that each sample's path passes each node.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_nodes)
            Columns in taxonomy order (``classes_``); the root column is 1 and every
            node's probability is the sum of its children's and of ending there.
        """
        end = self._end_log_probs(X).exp()
        return bottom_up(end, self.taxonomy).cpu().numpy().astype(np.float64)

    def transform(self, X):
        """Node scores (``predict_proba``), so the net can start a refiner Pipeline.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes)
        """
        return NodeScores.wrap(self.predict_proba(X), self.taxonomy)

    def fit_transform(self, X, y, **fit_params):
        """Fit, then return node scores of ``X``.

        Parameters
        ----------
        X : array-like or tensor
        y : array-like
        **fit_params : dict

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes)
        """
        return self.fit(X, y, **fit_params).transform(X)

    def predict(self, X):
        """The most probable end node of every sample, in the label format of ``fit``.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, ...)

        Returns
        -------
        y : ndarray
        """
        nodes = self._end_log_probs(X).argmax(dim=1).cpu().numpy()
        return decode_labels(nodes, self.taxonomy, self.label_format_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
