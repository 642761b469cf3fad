"""How skhier's operations grow with the taxonomy and the data: time, peak memory, exponent.

Two tables, printed as markdown:

1. **Operation x taxonomy size.** n_nodes of about 1k / 10k / 100k in two shapes:
   ``deep`` (branching 10, leaves at depth 3 / 4 / 5) and ``wide`` (one node whose
   children are all the leaves). Every (operation, size) runs in a fresh process, so its
   peak resident memory (``ru_maxrss`` above the process's resident size before the
   operation) is its own. The growth exponent is the slope of log(time) against
   log(n_nodes); 1 is linear.
2. **Label metrics x n_samples** (10k / 100k / 1M, 1,111-node taxonomy): hierarchical
   precision, recall and F1, micro and macro, on skhier's three input formats (2-D object
   paths -- the HiClass format --, 1-D leaf names, a CSR node indicator) against
   ``hiclass.metrics`` on the paths when HiClass is importable (same values checked), with
   the ratio.
   Install it where this runs: ``pip install --no-deps --target /tmp/hiclass_pkg
   hiclass`` and ``PYTHONPATH=/tmp/hiclass_pkg``.

    python benchmarks/bench_scaling.py            # both tables
    python benchmarks/bench_scaling.py --skip metrics
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SIZES = {"deep": [3, 4, 5], "wide": [1_000, 10_000, 100_000]}
N_SCORED = 1_000  # samples scored by the score-based operations


def _taxonomy(shape, size):
    from skhier import Taxonomy
    from skhier.datasets import make_taxonomy

    if shape == "deep":
        return make_taxonomy(size, 10)
    return Taxonomy(["root", "hub"] + [f"w{i}" for i in range(size)], [None, "root"] + ["hub"] * size)


def _operations():
    """name -> setup(tax) returning a thunk; only the thunk is timed."""
    from sklearn.tree import DecisionTreeClassifier

    from skhier import DiffusionRefiner, LocalClassifierPerParentNode, Taxonomy
    from skhier.inference import decide
    from skhier.metrics import hierarchical_precision_at_k, operating_curve
    from skhier.neural import FlatSoftmaxClassifier, HCAMCLClassifier

    def scores(tax, n=N_SCORED, seed=0):
        rng = np.random.default_rng(seed)
        leaf = rng.random((n, tax.n_leaves)) ** 8
        leaf /= leaf.sum(axis=1, keepdims=True)
        y = np.array(tax.nodes, dtype=object)[rng.choice(tax.leaves, n)]
        return y, np.asarray(leaf @ tax.leaf_ancestor_matrix)

    def data(tax, n=512, seed=0):
        rng = np.random.default_rng(seed)
        leaves = rng.choice(tax.leaves, n)
        X = rng.normal(size=(n, 16)).astype(np.float32)
        X[:, 0] += leaves % 13
        return X, np.array(tax.nodes, dtype=object)[leaves]

    def taxonomy_build(tax):
        nodes, parents = tax.nodes, [None] + [tax.nodes[p] for p in tax.parent[1:]]
        return lambda: Taxonomy(nodes, parents).ancestor_matrix

    def diffusion(tax):
        _, S = scores(tax)
        ref = DiffusionRefiner(tax, alpha=0.5).fit(S)
        return lambda: ref.transform(S)

    def rule(name):
        def setup(tax):
            _, S = scores(tax)
            return lambda: decide(S, tax, name)
        return setup

    def curve(tax):
        y, S = scores(tax)
        return lambda: operating_curve(y, S, taxonomy=tax).average_precision()

    def precision_at_k(tax):
        y, S = scores(tax)
        return lambda: hierarchical_precision_at_k(y, S, taxonomy=tax, k=5)

    def local(tax):
        X, y = data(tax, 2_000)
        est = LocalClassifierPerParentNode(DecisionTreeClassifier(max_depth=3, random_state=0), taxonomy=tax)
        return lambda: est.fit(X, y).predict(X)

    def neural(cls, **kw):
        def setup(tax):
            X, y = data(tax)
            est = cls(tax, max_epochs=1, batch_size=128, device="cpu", random_state=0, train_split=None,
                      backbone="mlp", backbone__hidden=(32,), **kw)
            return lambda: est.fit(X, y).predict(X)
        return setup

    return {
        "Taxonomy + ancestor_matrix": taxonomy_build,
        "DiffusionRefiner.transform (closed form)": diffusion,
        "decide top_down": rule("top_down"),
        "decide majority": rule("majority"),
        "operating_curve + AP": curve,
        "hierarchical_precision_at_k": precision_at_k,
        "LocalClassifierPerParentNode fit + predict": local,
        "FlatSoftmaxClassifier fit + predict": neural(FlatSoftmaxClassifier),
        "HCAMCLClassifier fit + predict": neural(HCAMCLClassifier, module__d_model=16, module__hidden_size=16,
                                                  module__fc_hidden=16, module__n_heads=2),
    }


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _measure(op, shape, size, queue):
    tax = _taxonomy(shape, size)
    run = _operations()[op](tax)
    run()  # warm: caches derived from the taxonomy are built once per taxonomy
    before = _rss_bytes()
    t0 = time.perf_counter()
    run()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    queue.put({"n_nodes": tax.n_nodes, "seconds": seconds, "peak_mb": max(peak, 0) / 2**20})


def taxonomy_table(ops):
    ctx = mp.get_context("spawn")
    lines = ["| operation | shape | " + " | ".join(["n_nodes", "s", "peak MB"] * 3) + " | exponent |",
             "|---|---|" + "---:|" * 10]
    print("\n".join(lines), flush=True)
    for op in ops:
        for shape, sizes in SIZES.items():
            cells, xs, ts = [], [], []
            for size in sizes:
                q = ctx.Queue()
                p = ctx.Process(target=_measure, args=(op, shape, size, q))
                p.start()
                p.join()
                if p.exitcode != 0:
                    cells += ["?", "failed", "-"]
                    continue
                r = q.get()
                cells += [f"{r['n_nodes']:,}", f"{r['seconds']:.3f}", f"{r['peak_mb']:.0f}"]
                xs.append(r["n_nodes"])
                ts.append(r["seconds"])
            slope = np.polyfit(np.log(xs), np.log(ts), 1)[0] if len(xs) >= 2 else float("nan")
            lines.append(f"| {op} | {shape} | " + " | ".join(cells) + f" | {slope:.2f} |")
            print(lines[-1], flush=True)
    return lines


def metrics_table(sizes, repeat, formats=("path", "labels", "indicator"), averages=("micro", "macro"),
                  macro_f1_max=100_000):
    """hP / hR / hF1 against ``hiclass.metrics`` on the same labels, in each of skhier's input
    formats: ``path`` (2-D object paths, HiClass's own format), ``labels`` (1-D leaf names)
    and ``indicator`` (a CSR node indicator). HiClass always reads the paths; every
    contender of a row runs interleaved with it, and the values must agree."""
    from _common import interleaved
    from sklearn.exceptions import UndefinedMetricWarning

    from skhier.datasets import make_taxonomy
    from skhier.labels import node_indices_to_indicator
    from skhier.metrics import hierarchical_f1_score, hierarchical_precision_score, hierarchical_recall_score

    try:
        from hiclass import metrics as hm
    except ImportError:
        hm = None
    # HiClass's macro F1 warns once per sample whose F is 0/0 (72,000 lines in one run's log)
    warnings.filterwarnings("ignore", category=UndefinedMetricWarning)
    tax = make_taxonomy(3, 10)
    leaves = np.asarray(tax.leaves)
    paths = np.array(tax.nodes, dtype=object)[tax.path_indices[leaves][:, 1:]]
    names = np.array(tax.names, dtype=object)[leaves]
    rng = np.random.default_rng(0)
    hierarchical_f1_score(paths[:2], paths[:2], taxonomy=tax)  # the taxonomy's caches
    lines = ["| metric | average | n_samples | input | skhier s (min / median) | HiClass s (min / median) | speed-up "
             "| same value |", "|---|---|---:|---|---:|---:|---:|---|"]
    print("\n".join(lines), flush=True)
    pairs = [(hierarchical_precision_score, "precision"), (hierarchical_recall_score, "recall"),
             (hierarchical_f1_score, "f1")]
    grow = {}
    for n in sizes:
        it = rng.integers(0, len(leaves), n)
        ip = np.where(rng.random(n) < 0.5, it, rng.integers(0, len(leaves), n))
        inputs = {"path": (paths[it], paths[ip]), "labels": (names[it], names[ip]),
                  "indicator": (node_indices_to_indicator(leaves[it], tax), node_indices_to_indicator(leaves[ip], tax))}
        yt, yp = inputs["path"]
        for average in averages:
            for ours, theirs in pairs:
                fns = {fmt: (lambda f=ours, a=inputs[fmt]: f(*a, taxonomy=tax, average=average)) for fmt in formats}
                if hm is not None and not (average == "macro" and theirs == "f1" and n > macro_f1_max):
                    fns["hiclass"] = lambda f=getattr(hm, theirs): f(yt, yp, average=average)
                t = interleaved(fns, repeat=repeat if n < 1_000_000 else 1, warmup=0)
                ref = "hiclass" in fns
                for fmt in formats:
                    same = "-" if not ref else str(bool(np.isclose(fns[fmt](), fns["hiclass"](), rtol=0,
                                                                      atol=1e-12)))
                    ratio = f"{t['hiclass'][1] / t[fmt][1]:.0f}x" if ref else "-"
                    theirs_s = f"{t['hiclass'][0]:.3f} / {t['hiclass'][1]:.3f}" if ref else "(not run)"
                    lines.append(f"| {theirs} | {average} | {n:,} | {fmt} | {t[fmt][0]:.4f} / {t[fmt][1]:.4f} | "
                                 f"{theirs_s} | {ratio} | {same} |")
                    print(lines[-1], flush=True)
                    grow.setdefault((theirs, average, fmt), []).append((n, t[fmt][1]))
    for (name, average, fmt), pts in grow.items():
        if len(pts) > 1:
            x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
            lines.append(f"growth exponent of skhier's {name} ({average}, {fmt}): {np.polyfit(x, y, 1)[0]:.2f}")
            print(lines[-1], flush=True)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", nargs="*", default=[], choices=["taxonomy", "metrics"])
    parser.add_argument("--ops", nargs="*", default=None, help="operation names (default: all)")
    parser.add_argument("--samples", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", nargs="*", default=["path", "labels", "indicator"])
    parser.add_argument("--averages", nargs="*", default=["micro", "macro"])
    parser.add_argument("--macro-f1-max", type=int, default=100_000, help="largest n for HiClass's macro F1")
    args = parser.parse_args(argv)
    from _common import machine

    print(machine())
    if "taxonomy" not in args.skip:
        taxonomy_table(args.ops or list(_operations()))
    if "metrics" not in args.skip:
        metrics_table(args.samples, args.repeat, args.formats, args.averages, args.macro_f1_max)


if __name__ == "__main__":
    main()
