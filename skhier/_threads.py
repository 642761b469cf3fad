"""skhier's thread policy: degrade in proportion on a busy machine, not in cliffs.

Two measured causes of the cliffs (``docs/benchmarks.md``, "Contention"): torch's
intra-op pool uses every core, so each parallel operator waits at a barrier for a thread
the OS has given to another process; and OpenMP's default wait policy spins those waiting
threads, burning the share the machine has left. The policy:

* **Passive waiting.** ``import skhier`` sets ``OMP_WAIT_POLICY=PASSIVE`` unless the
  variable is already set (so a user's choice wins). OpenMP reads it when its runtime
  loads, so it holds when skhier is imported before torch (and in every worker process
  started afterwards, which inherit the environment); import torch first and it has no
  effect in this process.
* **Threads for the cores that are free.** :class:`~skhier.neural.ThreadBudget`, a
  default callback of every neural estimator, sets torch's intra-op threads at the start
  of every epoch to the cores not taken by other runnable processes
  (:func:`free_cpus`), never more than torch had, and restores them after training.
* **BLAS in workers**: joblib's loky workers already cap their BLAS/OpenMP threads to
  ``cpu_count // n_jobs``; skhier adds nothing there.
"""

from __future__ import annotations

import os

__all__ = ["free_cpus", "set_passive_wait_policy"]


def set_passive_wait_policy() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` unless set (effective before the OpenMP runtime loads)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _runnable_others() -> float:
    """Runnable threads of the machine other than the caller: /proc/loadavg's instantaneous
    count where there is one (Linux), else the 1-minute load average."""
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        return max(running - 1, 0)  # the reader itself is running
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0


def free_cpus() -> int:
    """The CPUs this process may use that no other runnable process is using (≥ 1).

    The machine's runnable threads are spread over its CPUs in proportion: a process
    pinned to 2 of 64 CPUs counts 2/64 of the others against its own.

    Examples
    --------
    >>> from skhier._threads import free_cpus
    >>> 1 <= free_cpus() <= __import__("os").cpu_count()
    True
    """
    mine = _available_cpus()
    others = _runnable_others() * mine / max(os.cpu_count() or mine, mine)
    return max(1, min(mine, int(round(mine - others))))
