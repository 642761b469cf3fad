"""Diffusion: the root's role in the graph, measured (``DiffusionRefiner(root=...)``).

The diffusion paper (§3.3) is silent on the root. Its score is the constant 1, so as a
node of the graph it pours mass into the top-level nodes and into leaves hanging
directly under it. This script compares ``root="node"`` with ``root="exclude"`` on the
scores of the same flat model (PCA + LogisticRegression, ``FlatClassifier``), with
three seeds each (the seed draws the training subsample and, for the synthetic tree,
the data):

* Fashion-MNIST (the 3-level tree, every leaf at depth 2), PCA-64 + logistic
  regression on a 6,000-image subsample, evaluated on the 10,000 test images;
* a synthetic variable-depth tree: three leaves directly under the root beside three
  subtrees of depth 2 (branching 3) — the case where the two roles disagree most.

Metrics: Valmadre's AP (information specificity) and leaf top-1 (the leaf rule).

    python benchmarks/diffusion_root.py --out docs/results/diffusion_root_cpu.log
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from skhier import Taxonomy  # noqa: E402
from skhier.datasets import load_fashion_mnist  # noqa: E402
from skhier.inference import DiffusionRefiner, FlatClassifier  # noqa: E402
from skhier.metrics import hierarchical_average_precision, leaf_top1_accuracy  # noqa: E402

ALPHAS = (0.3, 0.5)
ROLES = ("node", "exclude")


def variable_depth(seed, n=4000, dim=32):
    """Three top-level leaves beside three depth-2 subtrees; centroids add ancestor directions."""
    parents = {f"L{i}": "root" for i in range(3)}
    for a in range(3):
        parents[f"T{a}"] = "root"
        for b in range(3):
            parents[f"T{a}{b}"] = f"T{a}"
    tax = Taxonomy.from_parent_mapping(parents)
    rng = np.random.default_rng(seed)
    direction = {v: rng.normal(size=dim) for v in tax.nodes}
    leaves = [tax.nodes[v] for v in tax.leaves]
    centre = {}
    for leaf in leaves:
        v, c = tax.index(leaf), np.zeros(dim)
        while v != 0:
            c += direction[tax.nodes[v]]
            v = int(tax.parent[v])
        centre[leaf] = c
    y = np.array(leaves, dtype=object)[rng.integers(0, len(leaves), n)]
    X = np.stack([centre[v] for v in y]) + 2.0 * rng.normal(size=(n, dim))
    return X[: n // 2], y[: n // 2], X[n // 2 :], y[n // 2 :], tax


def fashion(seed, n_train=6000):
    X, y, tax = load_fashion_mnist(subset="train", return_X_y=True, label_format="leaf")
    Xt, yt, _ = load_fashion_mnist(subset="test", return_X_y=True, label_format="leaf")
    idx = np.random.default_rng(seed).permutation(len(X))[:n_train]
    return X[idx].reshape(n_train, -1), y[idx], Xt.reshape(len(Xt), -1), yt, tax


def run(name, make, seeds, log):
    rows = {}
    for seed in seeds:
        X, y, Xt, yt, tax = make(seed)
        flat = make_pipeline(PCA(min(64, X.shape[1]), random_state=seed),
                             FlatClassifier(LogisticRegression(max_iter=300), tax)).fit(X, y)
        s0 = np.asarray(flat.transform(Xt))
        base = {"AP": hierarchical_average_precision(yt, s0, taxonomy=tax),
                "top1": leaf_top1_accuracy(yt, s0, taxonomy=tax)}
        rows.setdefault(("none", "-"), []).append(base)
        for alpha in ALPHAS:
            for role in ROLES:
                s = np.asarray(DiffusionRefiner(tax, alpha=alpha, root=role).fit(s0, yt).transform(s0))
                rows.setdefault((role, alpha), []).append({
                    "AP": hierarchical_average_precision(yt, s, taxonomy=tax),
                    "top1": leaf_top1_accuracy(yt, s, taxonomy=tax)})
    log(f"\n## {name} (seeds {list(seeds)})\n")
    log("| root | alpha | AP per seed | AP mean | top-1 per seed | top-1 mean |")
    log("|---|---|---|---|---|---|")
    for (role, alpha), vals in rows.items():
        ap = [v["AP"] for v in vals]
        t1 = [v["top1"] for v in vals]
        log(f"| {role} | {alpha} | {', '.join(f'{a:.4f}' for a in ap)} | {np.mean(ap):.4f} | "
            f"{', '.join(f'{a:.4f}' for a in t1)} | {np.mean(t1):.4f} |")
    for alpha in ALPHAS:
        d_ap = [b["AP"] - a["AP"] for a, b in zip(rows[("node", alpha)], rows[("exclude", alpha)])]
        d_t1 = [b["top1"] - a["top1"] for a, b in zip(rows[("node", alpha)], rows[("exclude", alpha)])]
        log(f"\nalpha {alpha}: exclude - node, per seed: AP {', '.join(f'{d:+.4f}' for d in d_ap)}; "
            f"top-1 {', '.join(f'{d:+.4f}' for d in d_t1)}")


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    lines = []

    def log(line):
        print(line, flush=True)
        lines.append(line)

    log(f"# Diffusion: the root's role\n\n{machine()}")
    seeds = range(args.seeds)
    run("Synthetic variable-depth tree (3 leaves under the root, 3 depth-2 subtrees)", variable_depth, seeds, log)
    try:
        run("Fashion-MNIST, PCA-64 + logistic regression on 6,000 training images", fashion, seeds, log)
    except FileNotFoundError as exc:
        log(f"\nFashion-MNIST skipped: {exc}")
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
