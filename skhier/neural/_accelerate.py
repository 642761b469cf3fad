"""Multi-process and multi-GPU training through Hugging Face ``accelerate``.

skorch's :class:`skorch.hf.AccelerateMixin` runs skorch's training step under
``accelerator.autocast()`` with ``accelerator.backward``, and gathers every evaluation
batch across processes. skhier's estimators keep skorch's step bodies (targets and
``train_transform`` come with the batches), so that step serves them as it is; but
skhier's tensor batch iterators are not ``DataLoader`` objects accelerate could shard,
and gathering every evaluation batch would duplicate predictions.
:class:`AccelerateMixin` keeps skorch's mixin (the accelerator prepares module and
optimizer, DDP-wraps them, unwraps after training, prints on the main process only,
saves and loads parameters) and changes what it must:

* steps of the estimator's own (HMLC's multi-view step) back-propagate with
  ``accelerator.backward`` and autocast with ``accelerator.autocast()``;
* the training iterator is sharded: every process takes its own batches of one shared
  permutation (a seed broadcast from the main process when ``random_state`` is None),
  so ``n`` processes with ``batch_size=b`` step like one process with batch ``n * b``;
* validation: every process runs skorch's validation loop over the whole split, so
  ``valid_loss``, early stopping and checkpoints decide alike everywhere; the
  hierarchical validation scores are computed from predictions made on one shard per
  process and gathered across processes;
* a criterion without trainable parameters is not handed to ``accelerator.prepare``
  (accelerate would wrap it in ``DistributedDataParallel``, which refuses a module with
  no parameter that requires a gradient);
* with ``device=None`` (the default) tensors go to ``accelerator.device``.
"""

from __future__ import annotations

import torch
from skorch import NeuralNet
from skorch.hf import AccelerateMixin as _SkorchAccelerateMixin  # imports accelerate only when used

from .data import _base_and_indices

__all__ = ["AccelerateMixin"]

_EXTRA = "pip install 'skhier[accelerate]'"


def _require_accelerate():
    try:
        import accelerate  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "skhier.neural.AccelerateMixin needs Hugging Face accelerate, the skhier[accelerate] "
            f"extra: {_EXTRA}"
        ) from err


class AccelerateMixin(_SkorchAccelerateMixin):
    """Train any skhier neural estimator with Hugging Face ``accelerate``.

    Put it first among the bases of a skhier estimator and pass an
    ``accelerate.Accelerator``; launch the script with ``accelerate launch`` or
    ``torchrun`` for several processes (one per GPU, or CPU processes with gloo), or run
    it plainly for one process (mixed precision, say). See the module doc for what
    changes from skorch's own :class:`skorch.hf.AccelerateMixin`.

    Parameters
    ----------
    *args
        The estimator's own positional parameters (its ``taxonomy``).
    accelerator : accelerate.Accelerator
        Its ``mixed_precision`` ("bf16", "fp16") replaces the estimator's own
        ``mixed_precision``, which must then be None.
    device : None or str, default=None
        None lets the accelerator place tensors (one device per process).
    unwrap_after_train : bool, default=True
        Unwrap the module after ``fit`` so the estimator pickles and predicts as a
        plain one.
    **kwargs
        The estimator's own parameters.

    Notes
    -----
    With ``criterion="g-hmlc"``, :class:`~skhier.neural.HMLCEncoder` refits its GMM masks in
    every process from the same rows; set ``random_state`` so that they agree.

    Examples
    --------
    >>> import numpy as np
    >>> from accelerate import Accelerator
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.neural import AccelerateMixin, FlatSoftmaxClassifier
    >>> class AcceleratedFlatSoftmax(AccelerateMixin, FlatSoftmaxClassifier):
    ...     '''FlatSoftmaxClassifier trained through accelerate.'''
    >>> X, y, tax = make_hierarchical_classification(128, 8, random_state=0)
    >>> clf = AcceleratedFlatSoftmax(tax, accelerator=Accelerator(cpu=True), max_epochs=1,
    ...                              random_state=0).fit(X.astype(np.float32), y)
    >>> clf.predict(X[:2].astype(np.float32)).shape
    (2,)
    """

    def __init__(self, *args, accelerator, device=None, unwrap_after_train=True, **kwargs):
        _require_accelerate()
        super().__init__(*args, accelerator=accelerator, device=device, unwrap_after_train=unwrap_after_train, **kwargs)

    # ------------------------------------------------------------ set-up
    # device="auto" and the user's value are the base's; None means the accelerator's
    @property
    def device(self):
        if self.__dict__.get("_device_param") is None and "accelerator" in self.__dict__:
            return self.accelerator.device
        return self.__dict__["device"]

    @device.setter
    def device(self, value):
        super(AccelerateMixin, type(self)).device.__set__(self, value)

    def _initialize_callbacks(self):
        # skorch's "auto" sink, accelerator.print, prints whatever the verbosity; with
        # verbose=0 keep plain print, which PrintLog then silences
        if self.callbacks__print_log__sink == "auto" and not self.verbose:
            self.callbacks__print_log__sink = print
        return super()._initialize_callbacks()

    def _validate_params(self):
        super(_SkorchAccelerateMixin, self)._validate_params()
        if self.accelerator.device_placement and self.__dict__.get("_device_param") is not None:
            raise ValueError(
                f"device={self.__dict__['_device_param']!r}: when the accelerator places tensors, set device=None"
            )
        if self.mixed_precision is not None:
            raise ValueError(
                f"mixed_precision={self.mixed_precision!r}: with an accelerator, set mixed precision on it "
                "(Accelerator(mixed_precision='bf16')) and leave the estimator's mixed_precision=None"
            )

    def _initialize_accelerator(self):
        """skorch's preparation, minus criteria without trainable parameters."""
        if self._wrapped_with_accelerator:
            return self
        kept = {}
        for name in self._criteria:
            crit = getattr(self, name + "_")
            if isinstance(crit, torch.nn.Module) and not any(p.requires_grad for p in crit.parameters()):
                kept[name] = crit
                setattr(self, name + "_", None)  # skorch's loop skips what is not a Module
        try:
            super()._initialize_accelerator()
        finally:
            for name, crit in kept.items():
                setattr(self, name + "_", crit)
        if self.__dict__.get("_device_param") is None:  # skorch pickles the attribute: a real device
            self.__dict__["device"] = self.accelerator.device
        return self

    # ------------------------------------------------------------ training
    def train_step_single(self, batch, **fit_params):
        # skorch's accelerate step (autocast, accelerator.backward) serves every estimator
        # that keeps skorch's step; one with a step of its own (HMLC's views) runs that,
        # which back-propagates through _backward below
        own = super(_SkorchAccelerateMixin, self).train_step_single
        if getattr(own, "__func__", None) is not NeuralNet.train_step_single:
            return own(batch, **fit_params)
        return super().train_step_single(batch, **fit_params)

    def _backward(self, loss):
        self.accelerator.backward(loss)

    def _autocast(self):
        return self.accelerator.autocast()

    def _plain_module(self):
        return self.accelerator.unwrap_model(self.module_, keep_fp32_wrapper=False)

    def get_params_for(self, prefix):
        params = super().get_params_for(prefix)
        if prefix == "iterator_train":
            state = self.accelerator.state
            params.setdefault("num_shards", state.num_processes)
            params.setdefault("shard", state.process_index)
            if params.get("seed") is None and state.num_processes > 1:
                params["seed"] = self._shared_seed()
        return params

    def _shared_seed(self) -> int:
        """A random seed drawn by the main process and broadcast to every process."""
        from accelerate.utils import broadcast_object_list

        seed = [int(torch.randint(0, 2**31 - 1, ()).item())]
        return int(broadcast_object_list(seed, from_process=0)[0])

    def get_iterator(self, dataset, training=False):
        # skhier's iterators shard themselves (get_params_for); accelerate's prepare
        # would return them unchanged, as they are not DataLoaders
        return super(_SkorchAccelerateMixin, self).get_iterator(dataset, training=training)

    # ------------------------------------------------------------ validation
    def evaluation_step(self, batch, training=False):
        # no gather: every process evaluates whole batches (see _valid_outputs)
        return super(_SkorchAccelerateMixin, self).evaluation_step(batch, training=training)

    def _valid_outputs(self, dataset_valid):
        """Predict on rows ``rank, rank + n_processes, ...`` and gather them in order."""
        k = self.accelerator.num_processes
        if k == 1:
            return super()._valid_outputs(dataset_valid)
        n, rank = len(dataset_valid), self.accelerator.process_index
        per = -(-n // k)
        rows = torch.arange(rank, rank + per * k, k) % n  # equal shares: the last rows wrap round
        base, idx = _base_and_indices(dataset_valid)
        rows = rows if idx is None else idx[rows]
        out = self.forward(base.inputs(rows), training=False, device=self.device)
        gathered = self.accelerator.gather(out.contiguous())  # (k * per, ...), process-major
        return gathered.view(k, per, *out.shape[1:]).transpose(0, 1).reshape(k * per, *out.shape[1:])[:n]
