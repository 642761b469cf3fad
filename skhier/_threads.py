"""skhier's thread policy: degrade in proportion on a busy machine, not in cliffs.

Measured causes of the cliffs (``docs/benchmarks/speed.md``, "Contention"): torch's intra-op
pool uses every core, so each parallel operator waits at a barrier for a thread the OS
has given to another process, and OpenMP spins the waiting threads, burning the share
the machine has left. The policy:

* **Threads for the cores that are free.** :class:`~skhier.neural.callbacks.ThreadBudget` (opt in:
  ``callbacks=[ThreadBudget()]``) sets torch's intra-op threads at the start of every
  epoch to the cores not taken by other runnable processes (:func:`free_cpus`), never
  more than torch had, and restores them after training. Beside busy processes a fit
  then runs on the cores it can have, without barriers waiting for the others. Not a
  default: the thread count changes float rounding, and a fixed ``random_state`` must
  give the same model whatever the load.
* **Waiting threads** keep OpenMP's default (a short spin, then sleep): passive waiting
  (``OMP_WAIT_POLICY=PASSIVE``, set before torch is imported) helps when the machine's
  load changes within an epoch but cost 25 % on a quiet machine, so it is documented as
  an option (``docs/scaling.md``), not set by skhier.
* **BLAS in workers**: joblib's loky workers already cap their BLAS/OpenMP threads to
  ``cpu_count // n_jobs``; skhier adds nothing there.
"""

from __future__ import annotations

import os

__all__ = ["free_cpus"]


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _running_threads_of_this_process() -> int:
    """Threads of this process in state R (its own OpenMP workers may still be spinning)."""
    count = 0
    try:
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    count += f.read().rsplit(")", 1)[1].split()[0] == "R"
            except (OSError, IndexError):
                continue
    except OSError:
        return 1
    return max(count, 1)


def _others(loadavg: str, own_running: int) -> int:
    """Runnable threads outside this process, from a /proc/loadavg line ("0.5 0.4 0.3 3/79 1234").

    >>> _others("0.50 0.40 0.30 3/79 1234", own_running=2)
    1
    """
    return max(int(loadavg.split()[3].split("/")[0]) - own_running, 0)


def _runnable_others() -> float:
    """Runnable threads of the machine outside this process: /proc/loadavg's instantaneous
    count minus this process's own running threads (Linux), else the 1-minute load average."""
    try:
        with open("/proc/loadavg") as f:
            return _others(f.read(), _running_threads_of_this_process())
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
