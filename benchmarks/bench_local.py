"""Local classifiers against HiClass on Fashion-MNIST: accuracy and fit time, same run.

PCA-100 features of the standard 60,000 / 10,000 split, LogisticRegression as the local
estimator for both libraries, the same n_jobs. Prints per-level accuracy and hierarchical
F1 (both libraries' predictions scored by skhier's metrics) and the fit-time ratio
skhier / HiClass (goal <= 1.0). HiClass is installed only where this runs:

    python -m venv --system-site-packages /tmp/hcenv && /tmp/hcenv/bin/pip install hiclass
    /tmp/hcenv/bin/python benchmarks/bench_local.py --n-jobs 1
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

import skhier.local as ours  # noqa: E402
from skhier.datasets import load_fashion_mnist  # noqa: E402
from skhier.metrics import hierarchical_f1_score, level_accuracy_score  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--max-iter", type=int, default=1000)
    args = p.parse_args(argv)
    import hiclass

    print(machine(), f"| hiclass {getattr(hiclass, '__version__', '?')}")
    X, Y, tax = load_fashion_mnist(subset="train", return_X_y=True)
    Xt, Yt, _ = load_fashion_mnist(subset="test", return_X_y=True)
    if args.n_train:
        X, Y = X[: args.n_train], Y[: args.n_train]
    pca = PCA(100, random_state=0).fit(X.reshape(len(X), -1))
    F, Ft = pca.transform(X.reshape(len(X), -1)), pca.transform(Xt.reshape(len(Xt), -1))
    Y, Yt = Y.astype(str), Yt.astype(str)
    lr = LogisticRegression(max_iter=args.max_iter)
    print(
        f"{len(F)} train / {len(Ft)} test, PCA-100, LogisticRegression(max_iter={args.max_iter}), n_jobs={args.n_jobs}"
    )
    head = f"{'model':<30s} {'library':<8s} {'coarse':>7s} {'medium':>7s} {'fine':>7s} {'hF1':>7s} {'fit s':>8s}"
    print(head)
    for name in ("LocalClassifierPerNode", "LocalClassifierPerParentNode", "LocalClassifierPerLevel"):
        times = {}
        for lib, make in (
            ("hiclass", lambda: getattr(hiclass, name)(local_classifier=lr, n_jobs=args.n_jobs)),
            ("skhier", lambda: getattr(ours, name)(lr, taxonomy=tax, n_jobs=args.n_jobs)),
        ):
            clf = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                clf.fit(F, Y)
                times[lib] = time.perf_counter() - t0
                pred = np.asarray(clf.predict(Ft)).astype(str)
            lv = level_accuracy_score(Yt, pred, taxonomy=tax)
            hf1 = hierarchical_f1_score(Yt, pred, taxonomy=tax)
            print(
                f"{name:<30s} {lib:<8s} "
                + " ".join(f"{100 * v:7.2f}" for v in lv)
                + f" {100 * hf1:7.2f} {times[lib]:8.1f}"
            )
        print(f"{'':<30s} fit-time ratio skhier / hiclass: {times['skhier'] / times['hiclass']:.3f}")


if __name__ == "__main__":
    main()
