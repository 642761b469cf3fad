"""Valmadre's operating-curve metrics (AP and AC) against his own reference code, same run.

100,000 samples x about 1,000 nodes in three tree shapes (``--shapes``): ``balanced``
(10 x 10 x 10 leaves, 1,111 nodes), ``uneven`` (fan-out from 4 to 200: 20 top nodes
with 200 / (i + 1) children each, every tenth of those with 4 more; 1,060 nodes) and
``chains`` (10 x 10, then a single-child chain of 4 under each of the 100, then 5
leaves; 1,011 nodes). Node scores are summed bottom-up from a softmax over the leaves.
The reference is ``hier.py``, ``infer.py`` and
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


def make_shape(shape):
    """One of the benchmark's tree shapes (about 1,000 nodes), as a Taxonomy."""
    from skhier import Taxonomy

    if shape == "balanced":
        return make_taxonomy(3, 10)
    edges = []
    if shape == "uneven":
        for i in range(20):
            edges.append(("root", f"a{i}"))
            for j in range(int(round(200 / (i + 1)))):
                edges.append((f"a{i}", f"a{i}.{j}"))
                if j % 10 == 0:
                    edges += [(f"a{i}.{j}", f"a{i}.{j}.{k}") for k in range(4)]
    elif shape == "chains":
        for i in range(10):
            edges.append(("root", f"c{i}"))
            for j in range(10):
                prev = f"c{i}.{j}"
                edges.append((f"c{i}", prev))
                for k in range(4):  # a single-child chain
                    edges.append((prev, f"{prev}-{k}"))
                    prev = f"{prev}-{k}"
                edges += [(prev, f"{prev}.{m}") for m in range(5)]
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return Taxonomy.from_edges(edges)


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
    parser.add_argument("--shapes", default="balanced,uneven,chains")
    args = parser.parse_args(argv)
    print(machine())
    for shape in args.shapes.split(","):
        run_shape(shape, args)


def run_shape(shape, args):
    tax = make_shape(shape)
    gt, S = make_scores(tax, args.n_samples)
    y = np.array(tax.nodes, dtype=object)[gt]  # skhier reads the node names (encoding included in its time)
    print(f"\n### {shape}: {args.n_samples:,} samples x {tax.n_nodes:,} nodes ({tax.n_leaves:,} leaves, "
          f"{int((np.bincount(tax.parent[1:], minlength=tax.n_nodes) == 1).sum())} "
          "single-child nodes)")

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
    print("| shape | run | min s | median s | speed-up (median) |")
    print("|---|---|---:|---:|---:|")
    for name, (lo, med) in times.items():
        ratio = f"{base[1] / med:.1f}x" if base else "-"
        print(f"| {shape} | {name} | {lo:.2f} | {med:.2f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
