"""Local classifiers' predict against HiClass on wide synthetic trees, same run.

A 1,111-node (10 x 10 x 10 leaves) and an 11,111-node (10 x 10 x 10 x 10) taxonomy,
``make_hierarchical_classification`` data (32 features), one local estimator class for
both libraries. Both fit the same local problems; ``predict`` is timed in interleaved
repeats (min / median) and the predictions are compared path by path (goal: skhier's
predict time <= HiClass's, same predictions). HiClass is installed only where this runs::

    pip install --no-deps --target /tmp/hiclass_pkg hiclass
    PYTHONPATH=/tmp/hiclass_pkg python benchmarks/bench_local_predict.py
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved, machine  # noqa: E402

import skhier.local as ours  # noqa: E402
from skhier.datasets import make_hierarchical_classification, make_taxonomy  # noqa: E402

CASES = {  # name: (levels, local classifiers, n_train, n_test)
    "1,111 nodes": (3, ["LocalClassifierPerParentNode", "LocalClassifierPerNode", "LocalClassifierPerLevel"],
                    20_000, 20_000),
    "11,111 nodes": (4, ["LocalClassifierPerParentNode", "LocalClassifierPerNode"], 40_000, 20_000),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--estimator", choices=["tree", "logistic"], default="tree")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    import hiclass

    print(machine(), f"| hiclass {getattr(hiclass, '__version__', '?')}")
    base = (DecisionTreeClassifier(max_depth=6, random_state=0) if args.estimator == "tree"
            else LogisticRegression(max_iter=200))
    print(f"local estimator: {base!r}")
    print("| taxonomy | classifier | fit s skhier | fit s HiClass | predict s skhier (min / median) "
          "| predict s HiClass (min / median) | predict speed-up | same predictions |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for case in args.cases:
        levels, names, n_train, n_test = CASES[case]
        tax = make_taxonomy(levels, 10)
        X, y, _ = make_hierarchical_classification(n_train + n_test, 32, taxonomy=tax, class_sep=3.0,
                                                   label_format="path", random_state=0)
        y = np.asarray(y).astype(str)
        X, Xt = X[:n_train], X[n_train:]
        y = y[:n_train]
        for name in names:
            models, fit_s = {}, {}
            for lib, make in (("skhier", lambda: getattr(ours, name)(base, taxonomy=tax)),
                              ("hiclass", lambda: getattr(hiclass, name)(local_classifier=base))):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    models[lib] = make().fit(X, y)
                    fit_s[lib] = time.perf_counter() - t0
            preds = {lib: np.asarray(m.predict(Xt)).astype(str) for lib, m in models.items()}
            same = np.mean([tuple(a) == tuple(b) for a, b in zip(preds["skhier"], preds["hiclass"])])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = interleaved({lib: (lambda m=m: m.predict(Xt)) for lib, m in models.items()},
                                repeat=args.repeat, warmup=0)
            print(f"| {case} | {name} | {fit_s['skhier']:.1f} | {fit_s['hiclass']:.1f} "
                  f"| {t['skhier'][0]:.2f} / {t['skhier'][1]:.2f} | {t['hiclass'][0]:.2f} / {t['hiclass'][1]:.2f} "
                  f"| {t['hiclass'][1] / t['skhier'][1]:.1f}x | {100 * same:.2f}% |", flush=True)


if __name__ == "__main__":
    main()
