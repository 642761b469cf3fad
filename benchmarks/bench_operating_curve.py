"""Valmadre's operating-curve metrics (AP and AC) against his own reference code, same run.

100,000 samples x a 1,111-node taxonomy (10 x 10 x 10 leaves), node scores summed
bottom-up from a softmax over the leaves. The reference is ``hier.py``, ``infer.py`` and
``metrics.py`` of github.com/jvlmdr/hiercls (no licence, so not vendored: pass a folder
holding those three files), run exactly as his evaluation notebook runs them: a Pareto
sequence per example (``infer.pareto_optimal_predictions``), the per-step metrics,
``metrics.operating_curve`` and ``metrics.pareto_integrate``::

    git clone https://github.com/jvlmdr/hiercls /tmp/hiercls
    python benchmarks/bench_operating_curve.py --hiercls /tmp/hiercls

Prints both libraries' AP and AC (they must agree), and min / median seconds over
interleaved repeats of: the reference; skhier's two functions (one curve each); one
skhier ``operating_curve`` shared by both metrics; and the ratios (goal: >= 5x).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved, machine  # noqa: E402

from skhier.datasets import make_taxonomy  # noqa: E402
from skhier.metrics import (  # noqa: E402
    hierarchical_average_correct,
    hierarchical_average_precision,
    operating_curve,
)


def make_scores(tax, n, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, tax.n_leaves, n)
    logits = rng.normal(size=(n, tax.n_leaves))
    logits[np.arange(n), truth] += 5.0  # a classifier that is right about a quarter of the time
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return tax.leaves[truth], np.asarray(p @ tax.leaf_ancestor_matrix)


def reference(path, tax):
    """Valmadre's pipeline over his own modules, as a function of (truth, scores)."""
    sys.path.insert(0, str(path))
    import hier
    import infer
    import metrics

    tree = hier.Hierarchy(np.asarray(tax.parent))
    specificity = -tree.num_leaf_descendants()
    not_trivial = tree.num_children() != 1
    info = metrics.UniformLeafInfoMetric(tree)
    fields = {"correct": metrics.IsCorrect(tree), "info_recall": info.recall, "info_precision": info.precision}
    find_lca = hier.FindLCA(tree)

    def run(gt, prob):
        seqs = [infer.pareto_optimal_predictions(specificity, p, None, not_trivial) for p in prob]
        probs = [prob[i, s] for i, s in enumerate(seqs)]
        seqs = [hier.truncate_given_lca(g, s, find_lca(g, s)) for g, s in zip(gt, seqs)]
        values = {k: [fn(g, s) for g, s in zip(gt, seqs)] for k, fn in fields.items()}
        _, totals = metrics.operating_curve(probs, values)
        means = {k: v / len(gt) for k, v in totals.items()}
        return (metrics.pareto_integrate(means["info_recall"], means["info_precision"]),
                metrics.pareto_integrate(means["info_recall"], means["correct"]))

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hiercls", type=Path, help="folder with hier.py, infer.py and metrics.py of jvlmdr/hiercls")
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    tax = make_taxonomy(3, 10)
    gt, S = make_scores(tax, args.n_samples)
    y = np.array(tax.nodes, dtype=object)[gt]  # skhier reads the node names (encoding included in its time)
    print(machine())
    print(f"{args.n_samples:,} samples x {tax.n_nodes:,} nodes")

    def ours_separate():
        return (hierarchical_average_precision(y, S, taxonomy=tax), hierarchical_average_correct(y, S, taxonomy=tax))

    def ours_shared():
        curve = operating_curve(y, S, taxonomy=tax)
        return curve.average_precision(), curve.average_correct()

    fns = {"skhier, two functions": ours_separate, "skhier, one shared curve": ours_shared}
    if args.hiercls is not None:
        ref = reference(args.hiercls, tax)
        fns = {"Valmadre reference": lambda: ref(gt, S), **fns}
    values = {name: fn() for name, fn in fns.items()}
    for name, (ap, ac) in values.items():
        print(f"{name:28s} AP {ap:.12f}  AC {ac:.12f}")
    if args.hiercls is not None:
        want = np.array(values["Valmadre reference"])
        for name, got in values.items():
            print(f"max |difference| {name}: {np.abs(np.array(got) - want).max():.2e}")
    times = interleaved(fns, repeat=args.repeat, warmup=0)
    base = times.get("Valmadre reference")
    print("| run | min s | median s | speed-up (median) |")
    print("|---|---:|---:|---:|")
    for name, (lo, med) in times.items():
        ratio = f"{base[1] / med:.1f}x" if base else "-"
        print(f"| {name} | {lo:.2f} | {med:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
