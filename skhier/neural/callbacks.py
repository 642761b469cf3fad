"""skorch callbacks of skhier: hierarchical validation scores, weight averaging, a CPU thread budget.

Everything else a training loop needs (progress bar, early stopping, checkpoints,
learning-rate schedules) is skorch's own: pass ``skorch.callbacks`` instances in
``callbacks=``.
"""

from __future__ import annotations

import functools
import math

import torch
from skorch.callbacks import Callback

from .._threads import free_cpus

__all__ = ["HierarchicalValidScoring", "ThreadBudget", "WeightAveraging"]


class HierarchicalValidScoring(Callback):
    """Record the net's hierarchical validation scores after every epoch.

    Asks the net for its validation scores (a dict, by output kind: ``valid_exact`` and
    ``valid_hf1`` for single-label classifiers, ``valid_of1`` and ``valid_ap`` (micro
    average precision over the nodes) for multi-label ones,
    nothing for encoders) and records each with a ``<name>_best`` flag, in place of
    skorch's flat ``valid_acc``. Monitor them with skorch's ``EarlyStopping(monitor=
    "valid_hf1", lower_is_better=False)`` or ``Checkpoint(monitor="valid_hf1_best")``.

    Examples
    --------
    >>> from skhier.neural.callbacks import HierarchicalValidScoring
    >>> HierarchicalValidScoring()
    <skhier.neural.callbacks.HierarchicalValidScoring object at ...>
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
    >>> from skhier.neural.callbacks import ThreadBudget
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


class WeightAveraging(Callback):
    """Validate, early-stop on and keep an exponential moving average of the weights.

    After every training step the average ``w_avg <- d_t * w_avg + (1 - d_t) * w`` is
    updated (torch's :class:`~torch.optim.swa_utils.AveragedModel`; the first step copies
    ``w``), with ``d_t = min(decay, (1 + t) / (warmup + t))`` at the ``t``-th update: the
    ramp of TensorFlow's ``ExponentialMovingAverage(num_updates=...)``. With the defaults
    the average spans roughly the last tenth of the steps taken so far (``d_t ~ 1 - 9 / t``)
    until ``decay`` caps it at ~1,000 steps, so short and long fits are both averaged over
    their own recent past, not over their first, untrained weights. The validation pass of
    every epoch runs on the average, so ``valid_loss``, the hierarchical scores, early
    stopping and its restored best weights are all the average's; training resumes from
    the raw weights at the next epoch. When training ends the module holds the average:
    the last one, or early stopping's best. Without a validation split the last average is
    loaded at the end. Averaging a net's recent weights is an ensemble's smoothing at one
    net's cost (Polyak averaging); where the weights still move a lot from step to step
    (small data, a constant step size) it scores higher than the last step's weights.

    Parameters
    ----------
    decay : float, default=0.999
        The most weight the old average keeps at a step, in [0, 1): 0 keeps the last
        step's weights (no averaging).
    warmup : int or None, default=10
        ``k`` of the ramp ``min(decay, (1 + t) / (k + t))`` (TensorFlow's 10); None:
        ``decay`` from the first step.

    Attributes
    ----------
    average_ : torch.optim.swa_utils.AveragedModel or None
        The running average while training; None once training ended (the module then
        holds it), so a fitted net pickles without it.
    raw_weights_ : dict or None
        The raw weights set aside while an epoch's validation runs on the average; None
        outside validation.

    Examples
    --------
    >>> import numpy as np
    >>> from skhier import Taxonomy
    >>> from skhier.neural import MultiLabelNodeClassifier
    >>> from skhier.neural.callbacks import WeightAveraging
    >>> tax = Taxonomy.from_edges([("r", "a"), ("r", "b")])
    >>> X = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    >>> y = [["a"] if x[0] > 0 else ["b"] for x in X]
    >>> clf = MultiLabelNodeClassifier(tax, max_epochs=2, device="cpu", random_state=0,
    ...                                callbacks=[("ema", WeightAveraging())]).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    def __init__(self, decay=0.999, warmup=10):
        self.decay = decay
        self.warmup = warmup

    def initialize(self):
        from ..utils.validation import check_number

        check_number(self.decay, "decay", low=0.0, high=1.0, high_open=True)
        check_number(self.warmup, "warmup", low=1, integer=True, allow_none=True)
        self.average_, self.raw_weights_ = None, None
        return self

    def on_train_begin(self, net, **kwargs):
        from torch.optim.swa_utils import AveragedModel

        step = functools.partial(_moving_average_step, decay=float(self.decay), warmup=self.warmup)
        self.average_ = AveragedModel(net.module_, multi_avg_fn=step, use_buffers=True)
        self.raw_weights_ = None

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.average_.update_parameters(net.module_)

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training and self.raw_weights_ is None and self.average_.n_averaged.item() > 0:
            # the first validation batch of the epoch: keep the raw weights aside, validate the average
            self.raw_weights_ = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
            net.module_.load_state_dict(self.average_.module.state_dict())

    def on_epoch_begin(self, net, **kwargs):
        if self.raw_weights_ is not None:  # back to the raw weights to train on
            net.module_.load_state_dict(self.raw_weights_)
            self.raw_weights_ = None

    def on_train_end(self, net, **kwargs):
        # validated: the module holds the average (early stopping may load its best average after this)
        if self.raw_weights_ is None and self.average_ is not None and self.average_.n_averaged.item() > 0:
            net.module_.load_state_dict(self.average_.module.state_dict())
        self.average_, self.raw_weights_ = None, None


def _moving_average_step(averaged, current, n_averaged, *, decay, warmup):
    """One update of :class:`WeightAveraging`'s average, in place (``n_averaged`` >= 1 updates so far).

    The ramp is computed on ``n_averaged``'s device, so a CUDA step never waits for the host.
    """
    with torch.no_grad():
        if warmup is None:
            weight = torch.tensor(1.0 - decay, dtype=torch.float64, device=n_averaged.device)
        else:
            n = n_averaged.to(torch.float64)
            weight = 1.0 - torch.clamp((1 + n) / (warmup + n), max=decay)
        for avg, cur in zip(averaged, current):
            avg.lerp_(cur, weight.to(avg.dtype))
