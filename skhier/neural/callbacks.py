"""skorch callbacks of skhier: hierarchical validation scores and a CPU thread budget.

Everything else a training loop needs (progress bar, early stopping, checkpoints,
learning-rate schedules) is skorch's own: pass ``skorch.callbacks`` instances in
``callbacks=``.
"""

from __future__ import annotations

import math

import torch
from skorch.callbacks import Callback

from .._threads import free_cpus

__all__ = ["HierarchicalValidScoring", "ThreadBudget"]


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
