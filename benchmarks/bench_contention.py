"""Contention: each workload alone and beside k CPU-bound processes, with and without
skhier's thread policy, against its fair share of the machine.

Workloads (each in a fresh Python process, so the policy's environment applies):

* ``neural``: ``FlatSoftmaxClassifier`` (the small CNN), 2 epochs on 3,000 Fashion-MNIST
  images;
* ``grid``: a ``GridSearchCV`` (4 candidates × 3 folds, ``n_jobs=2``) over
  ``FlatClassifier(LogisticRegression) → DiffusionRefiner`` on 3,000 PCA-reduced images,
  alone in its process;
* ``neural+grid``: the neural fit, then the same grid search in the same process: the
  "grid search after a neural fit" case of the speed issue (the grid's own time is
  printed, to compare with ``grid``);
* ``demo``: the README demo (``python -m skhier.demo``) on 6,000 training images, 2
  epochs. Since 2026-12-06 the demo runs torch with a fixed single thread on a CPU (its
  own policy, run under every policy but ``off``); ``off`` gives it ``--threads N`` with N
  the machine's CPUs, torch's own behaviour.

Policies: ``budget`` adds skhier's ``ThreadBudget`` callback (opt-in, OpenMP's default
waiting); ``budget+passive`` adds ``OMP_WAIT_POLICY=PASSIVE`` too; ``off`` is torch's own
behaviour (the default). The load is k busy-looping processes.
Fair share: with k other runnable threads beside the workload's t threads (t = the
machine's CPUs) the scheduler owes it t / (k + t) of the machine, a fair slowdown of
(k + t) / t; the table gives the measured slowdown over the fair one (goal: ≤ 2 at k = 8).

    python benchmarks/bench_contention.py --loads 0,2,8 --out docs/results/bench_contention.log
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, report  # noqa: E402

WORKLOAD = r'''
import os, sys, time
import skhier
import numpy as np
from skhier.datasets import load_fashion_mnist
from skhier.neural import FlatSoftmaxClassifier
from skhier.neural.callbacks import ThreadBudget
off = sys.argv[1] == "off"
workload = sys.argv[2]
t0 = time.perf_counter()
if workload == "demo":
    from skhier.demo import main
    main(sys.argv[3:])  # demo_argv(policy), built by the parent
    print(f"{time.perf_counter() - t0:.3f}")
    raise SystemExit
X, y, tax = load_fashion_mnist(n_samples=3000, return_X_y=True)
t0 = time.perf_counter()
if workload != "grid":
    kw = {} if off else {"callbacks": [("thread_budget", ThreadBudget())]}
    FlatSoftmaxClassifier(tax, max_epochs=2, device="cpu", random_state=0, batch_size=128, **kw).fit(X, y)
if workload in ("grid", "neural+grid"):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from skhier import DiffusionRefiner, FlatClassifier
    from skhier.metrics import get_hierarchical_scorer
    t1 = time.perf_counter()
    Z = PCA(30, random_state=0).fit_transform(X.reshape(len(X), -1))
    pipe = make_pipeline(FlatClassifier(LogisticRegression(max_iter=300), tax), DiffusionRefiner(tax))
    GridSearchCV(pipe, {"diffusionrefiner__alpha": [0.1, 0.3], "flatclassifier__estimator__C": [0.1, 1.0]},
                 scoring=get_hierarchical_scorer("hierarchical_f1", tax), cv=3, n_jobs=2).fit(Z, y)
    print(f"grid {time.perf_counter() - t1:.3f}")
print(f"{time.perf_counter() - t0:.3f}")
'''


def demo_argv(policy) -> list[str]:
    """The demo's command line in the ``demo`` workload: 6,000 training images, 2 epochs, the
    figure in the temporary folder; ``off`` adds ``--threads N`` (the machine's CPUs, torch's
    own count) to the demo's fixed single thread."""
    figure = str(Path(tempfile.gettempdir()) / "skhier_contention_demo.png")
    threads = ["--threads", str(os.cpu_count())] if policy == "off" else []
    return ["--n-train", "6000", "--n-test", "2000", "--epochs", "2", "--figure", figure, *threads]


def _spin(stop):
    x = 0
    while not stop.is_set():
        x += 1


def run_once(policy, workload, timeout):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy == "budget+passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        extra = demo_argv(policy) if workload == "demo" else []
        out = subprocess.run([sys.executable, "-c", WORKLOAD, policy, workload, *extra], env=env,
                             capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return float("inf"), None
    lines = out.stdout.strip().splitlines()
    grid = next((float(line.split()[1]) for line in lines if line.startswith("grid ")), None)
    return float(lines[-1]), grid


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--loads", default="0,2,8")
    p.add_argument("--workloads", default="neural,grid,neural+grid,demo")
    p.add_argument("--policies", default="budget,budget+passive,off")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    header = machine() + f" | {cpus} CPUs | load before: {os.getloadavg()[0]:.2f}"
    print(header, flush=True)
    loads = [int(k) for k in args.loads.split(",")]
    times, grids = {}, {}
    for k in loads:
        stop = mp.Event()
        hogs = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(k)]
        for h in hogs:
            h.start()
        time.sleep(1.0 if k else 0.0)
        try:
            for workload in args.workloads.split(","):
                for policy in args.policies.split(","):
                    runs = [run_once(policy, workload, args.timeout) for _ in range(args.repeat)]
                    best, grid = min(runs)
                    times[workload, policy, k] = best
                    if grid is not None:
                        grids[workload, policy, k] = grid
                    print(f"{workload} | policy {policy} | load {k} | {best:.1f} s"
                          + (f" (of which the grid search {grid:.1f} s)" if grid is not None else ""), flush=True)
        finally:
            stop.set()
            for h in hogs:
                h.join()
    lines = [header, "",
             "| workload | policy | load k | time s | slowdown vs alone | fair slowdown (k+t)/t | over fair |",
             "|---|---|---|---|---|---|---|"]
    for workload in args.workloads.split(","):
        for policy in args.policies.split(","):
            alone = times.get((workload, policy, 0))
            for k in loads:
                t = times[workload, policy, k]
                fair = (k + cpus) / cpus
                slow = t / alone if alone else float("nan")
                lines.append(f"| {workload} | {policy} | {k} | {t:.1f} | {slow:.2f}x | {fair:.1f}x | "
                             f"{slow / fair:.2f} |")
    if any(key[0] == "grid" for key in grids):
        lines += ["", "The grid search alone in a fresh process and after a neural fit in the same process:", "",
                  "| policy | load k | grid alone s | grid after the neural fit s | ratio |", "|---|---|---|---|---|"]
        for policy in args.policies.split(","):
            for k in loads:
                a, b = grids.get(("grid", policy, k)), grids.get(("neural+grid", policy, k))
                if a and b:
                    lines.append(f"| {policy} | {k} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
    report(lines, args.out)


if __name__ == "__main__":
    main()
