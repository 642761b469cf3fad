"""Scale-out, measured on this machine: serial vs joblib processes vs a Dask LocalCluster.

1. ``LocalClassifierPerParentNode`` on a synthetic 4-level tree of branching 10 (1,111
   parent nodes, 10,000 leaves): serial, joblib's loky processes (``n_jobs``), and a Dask
   ``LocalCluster`` of process workers through ``joblib.parallel_backend("dask")``. The
   first parallel fit includes starting the workers (cold); the next reuses them (warm).
   Predictions must be identical to the serial ones.
2. ``GridSearchCV`` over a FlatClassifier + DiffusionRefiner pipeline, 24 candidates x 3
   folds: serial vs the same Dask cluster; identical ``cv_results_``.
3. Neural training throughput (samples/s) of ``FlatSoftmaxClassifier`` on 28x28 images:
   the plain estimator vs the same one through :class:`skhier.neural.AccelerateMixin` in
   one process (the mixin's overhead) and, with ``--torchrun``, two CPU processes of one
   thread each under ``torchrun`` against one process of two threads.

Every row prints its ratio to the serial run of the same table. Run::

    python benchmarks/bench_distributed.py --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def local_classifiers(workers, n_samples):
    from sklearn.linear_model import LogisticRegression

    from skhier import LocalClassifierPerParentNode
    from skhier.datasets import make_hierarchical_classification, make_taxonomy

    tax = make_taxonomy(4, 10, random_state=0)
    X, y, _ = make_hierarchical_classification(n_samples, 32, taxonomy=tax, class_sep=3.0, random_state=0)
    n_parents = int((~tax.is_leaf).sum())
    print(f"\n## LocalClassifierPerParentNode: {tax.n_nodes} nodes, {n_parents} parent nodes, "
          f"{X.shape[0]} x {X.shape[1]}, LogisticRegression(max_iter=200)\n")

    def make(n_jobs):
        return LocalClassifierPerParentNode(LogisticRegression(max_iter=200), taxonomy=tax, n_jobs=n_jobs)

    rows = []
    t_serial, ref = _timed(lambda: make(None).fit(X, y))
    pred = ref.predict(X[:2000])
    rows.append(("serial", t_serial, True))
    for label in ("cold", "warm"):
        t, clf = _timed(lambda: make(workers).fit(X, y))
        rows.append((f"joblib loky, n_jobs={workers} ({label})", t, bool((clf.predict(X[:2000]) == pred).all())))
    with joblib.parallel_backend("dask"):
        for label in ("first", "second"):
            t, clf = _timed(lambda: make(-1).fit(X, y))
            rows.append(
                (f"Dask LocalCluster, {workers} workers ({label})", t, bool((clf.predict(X[:2000]) == pred).all()))
            )
    _table(rows, t_serial)


def grid_search(n_samples):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.pipeline import make_pipeline

    from skhier import DiffusionRefiner, FlatClassifier
    from skhier.datasets import make_hierarchical_classification
    from skhier.metrics import get_hierarchical_scorer

    X, y, tax = make_hierarchical_classification(n_samples, 20, n_levels=3, branching=4, random_state=0)
    pipe = make_pipeline(FlatClassifier(LogisticRegression(max_iter=300), tax), DiffusionRefiner(tax))
    grid = {
        "flatclassifier__estimator__C": [0.1, 1.0, 10.0],
        "diffusionrefiner__alpha": [0.0, 0.2, 0.5, 0.8],
        "diffusionrefiner__decision": ["leaf", "threshold"],
    }
    n_cand = int(np.prod([len(v) for v in grid.values()]))
    print(f"\n## GridSearchCV: FlatClassifier + DiffusionRefiner, {n_cand} candidates x 3 folds, "
          f"{X.shape[0]} x {X.shape[1]}, {tax.n_nodes} nodes\n")

    def search(n_jobs):
        return GridSearchCV(pipe, grid, cv=KFold(3, shuffle=True, random_state=0), n_jobs=n_jobs,
                            scoring=get_hierarchical_scorer("hierarchical_f1", tax)).fit(X, y)

    t_serial, ref = _timed(lambda: search(None))
    rows = [("serial", t_serial, True)]
    with joblib.parallel_backend("dask"):
        t, gs = _timed(lambda: search(-1))
    delta = float(np.abs(gs.cv_results_["mean_test_score"] - ref.cv_results_["mean_test_score"]).max())
    rows.append(("Dask LocalCluster", t, delta == 0))
    _table(rows, t_serial)
    same_best = gs.best_params_ == ref.best_params_
    print(f"\nmax |mean_test_score difference| = {delta:.2e}; best candidate the same: {same_best}. "
          "Process workers run BLAS and torch on 1 thread, the serial run on all cores: their "
          "floating-point sums may differ in the last bits. The threaded-cluster test shows "
          "exact equality.")


_TRAIN = r"""
import json, sys, time, numpy as np, torch
from skhier.datasets import make_hierarchical_classification
from skhier.neural import AccelerateMixin, FlatSoftmaxClassifier
class Acc(AccelerateMixin, FlatSoftmaxClassifier):
    pass
mode, n, epochs, bs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
X, y, tax = make_hierarchical_classification(n, 784, n_levels=2, branching=5, random_state=0)
X = X.astype(np.float32).reshape(n, 1, 28, 28)
kw = dict(max_epochs=epochs, batch_size=bs, train_split=None, random_state=0, backbone="cnn")
if mode == "plain":
    clf = FlatSoftmaxClassifier(tax, device="cpu", **kw)
else:
    from accelerate import Accelerator
    acc = Accelerator(cpu=True)
    clf = Acc(tax, accelerator=acc, **kw)
clf.fit(X[:bs * 2], y[:bs * 2])  # warm-up: allocations, thread pools
t0 = time.perf_counter()
clf.fit(X, y)
dt = time.perf_counter() - t0
if mode == "plain" or acc.is_main_process:
    print(json.dumps({"seconds": dt, "samples_per_s": n * epochs / dt}))
"""


def training(n_samples, epochs, use_torchrun):
    print(f"\n## Training throughput: FlatSoftmaxClassifier, SmallCNN on {n_samples} 1x28x28 images, "
          f"{epochs} epochs, batch 128 (global), CPU\n")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "train.py"
        script.write_text(_TRAIN)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

        def run(cmd, threads):
            out = subprocess.run(cmd, env={**env, "OMP_NUM_THREADS": str(threads)}, capture_output=True,
                                 text=True, check=True)
            return json.loads(out.stdout.strip().splitlines()[-1])

        args = [str(n_samples), str(epochs)]
        plain = run([sys.executable, str(script), "plain", *args, "128"], 2)
        rows = [
            ("plain estimator, 1 process x 2 threads", plain["samples_per_s"]),
            (
                "AccelerateMixin, 1 process x 2 threads",
                run([sys.executable, str(script), "acc", *args, "128"], 2)["samples_per_s"],
            ),
        ]
        if use_torchrun:
            torchrun = str(Path(sys.executable).with_name("torchrun"))
            two = run([torchrun, "--standalone", "--nproc_per_node", "2", str(script), "acc", *args, "64"], 1)
            rows.append(("AccelerateMixin, torchrun 2 processes x 1 thread (gloo)", two["samples_per_s"]))
    print("| run | samples/s | ratio to plain |\n|---|---:|---:|")
    for name, sps in rows:
        print(f"| {name} | {sps:,.0f} | {sps / plain['samples_per_s']:.2f} |")


def _table(rows, t_serial):
    print("| run | fit s | speed-up over serial | same results |\n|---|---:|---:|---|")
    for name, t, same in rows:
        print(f"| {name} | {t:.2f} | {t_serial / t:.2f}x | {'yes' if same else 'NO'} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--n-samples", type=int, default=40000)
    p.add_argument("--grid-samples", type=int, default=3000)
    p.add_argument("--train-samples", type=int, default=8192)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--torchrun", action="store_true", help="also train with two torchrun processes")
    p.add_argument("--skip", nargs="*", default=[], choices=["local", "grid", "training"])
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # max_iter=200 on the tiny deep nodes
    print(machine(), f"| joblib {joblib.__version__}")
    if "training" not in args.skip:
        training(args.train_samples, args.epochs, args.torchrun)
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=40) as cluster, Client(cluster):
        if "local" not in args.skip:
            local_classifiers(args.workers, args.n_samples)
        if "grid" not in args.skip:
            grid_search(args.grid_samples)
    print("\nNo GPU on this machine: images/s of one GPU process vs accelerate on an H100 not measured.")


if __name__ == "__main__":
    main()
