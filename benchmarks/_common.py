"""Helpers shared by the benchmark scripts: machine description and timing."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch  # here, not at import: Dask's process workers re-import a script's main module

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{datetime.date.today()} | {cpu} x{os.cpu_count()} | {gpu} | torch {torch.__version__} "
            f"| threads {torch.get_num_threads()}")


def timeit(fn, repeat=3, warmup=1, sync=False) -> float:
    """Median wall time of ``fn()`` in seconds."""
    import torch

    for _ in range(warmup):
        fn()
        if sync:
            torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def mean_range_table(results, keys, first="model", seconds="fit s") -> list[str]:
    """Markdown table lines: every row's mean ± half its range over runs, and mean seconds.

    ``results`` maps a row name to its runs, each ``(values aligned with keys, seconds)``.
    """
    lines = [f"| {first} | " + " | ".join(keys) + f" | {seconds} |", "|---" * (len(keys) + 2) + "|"]
    for name, runs in results.items():
        arr = np.array([r[0] for r in runs], dtype=float)
        cells = [f"{m:.2f} ± {(hi - lo) / 2:.2f}" for m, lo, hi in zip(arr.mean(0), arr.min(0), arr.max(0))]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {np.mean([r[1] for r in runs]):.0f} |")
    return lines


def interleaved(fns: dict, repeat=5, warmup=1) -> dict:
    """Wall times of several callables run in turn, ``repeat`` rounds: ``{name: (min, median)}``.

    Interleaving puts every contender under the same machine state (caches, frequency,
    neighbours), so their ratio is fair even when single runs drift.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


def per_seed_lines(results, keys, seeds, show=None) -> list[str]:
    """Raw per-seed values: one line per row and seed, for the logs in ``docs/results``.

    ``results`` maps a row name to its runs (as :func:`mean_range_table`), in ``seeds``
    order; ``show`` restricts the keys printed.
    """
    idx = [keys.index(k) for k in (show or keys)]
    out = []
    for name, runs in results.items():
        for seed, (vals, secs) in zip(seeds, runs):
            out.append(f"{name} | seed {seed} | " + " ".join(f"{keys[i]} {vals[i]:.4f}" for i in idx)
                       + f" | {secs:.0f} s")
    return out


def verdict(a, b) -> str:
    """Whether row ``a`` beats row ``b`` beyond the seeds' noise.

    ``a`` and ``b`` are per-seed values of one metric (higher is better, same seeds).
    "holds" only when the difference of the means exceeds the spread (max - min) of
    each row over its seeds; "does not hold" when it exceeds them the other way;
    "within noise" otherwise. Needs at least 3 seeds to say anything but "within noise".
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a.mean() - b.mean()
    spread = max(np.ptp(a), np.ptp(b))
    text = f"{diff:+.2f} (spread {spread:.2f}, {len(a)} seeds)"
    if len(a) < 3 or abs(diff) <= spread:
        return f"within noise: {text}"
    return f"holds: {text}" if diff > 0 else f"does not hold: {text}"


def report(lines, out=None) -> str:
    """Print the report and, with ``out``, write it there (the raw log beside the docs)."""
    text = "\n".join(lines)
    print(text)
    if out:
        Path(out).write_text(text + "\n")
    return text
