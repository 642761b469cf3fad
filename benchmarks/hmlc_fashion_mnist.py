"""Fashion-MNIST (H-CNN hierarchy, 2 / 6 / 10 classes): linear evaluation of HMLC encoders.

The protocol of the HMLC paper: an encoder trained with each loss (SupCon, HMCE,
G-HMLC, A-HMLC; same backbone, optimiser, budget, views and hierarchical batches), frozen,
then a logistic regression on its standardised embeddings (``FlatClassifier`` over the
leaves, so node scores come out too). Reported: per-level accuracy, exact-path accuracy,
hierarchical F1 and AP, and two views of the embedding itself: the silhouette of each
level's classes (cosine, on 3,000 test images) and the Spearman correlation between
latent and taxonomy distances (``latent_distance_correlation``). Rows are means over
``--seeds`` (± half the range).

    python benchmarks/hmlc_fashion_mnist.py --epochs 10 --seeds 0,1            # CPU: MLP
    python benchmarks/hmlc_fashion_mnist.py --backbone cnn --epochs 100         # a GPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, mean_range_table, per_seed_lines, report, verdict  # noqa: E402
from fashion_mnist import evaluate  # noqa: E402

from skhier import FlatClassifier  # noqa: E402
from skhier.datasets import load_fashion_mnist  # noqa: E402
from skhier.metrics import latent_distance_correlation  # noqa: E402
from skhier.neural import HMLCEncoder  # noqa: E402

KEYS = ["coarse", "medium", "fine", "exact", "hF1", "AP", "sil L1", "sil L2", "sil L3", "latent ρ"]


def embedding_quality(Z, y, tax, seed):
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(Z), min(3000, len(Z)), replace=False)
    paths = np.asarray(tax.path_indices)[[tax.index(v) for v in y[rows]]]
    sil = [100 * silhouette_score(Z[rows], paths[:, h], metric="cosine") for h in range(1, tax.max_depth + 1)]
    rho = latent_distance_correlation(y[rows], Z[rows], taxonomy=tax, random_state=seed)
    return sil + [100 * rho]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--backbone", default="mlp")
    p.add_argument("--train", type=int, default=None, help="first N training images (default: all 60,000)")
    p.add_argument("--losses", default="supcon,hmce,g-hmlc,a-hmlc")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    header = machine()
    print(header, flush=True)
    X, y, tax = load_fashion_mnist(subset="train", n_samples=args.train, return_X_y=True, label_format="leaf")
    Xt, yt, _ = load_fashion_mnist(subset="test", return_X_y=True, label_format="leaf")
    if args.backbone == "mlp":
        X, Xt = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, list] = {}
    for seed in seeds:
        for loss in args.losses.split(","):
            t0 = time.perf_counter()
            enc = HMLCEncoder(tax, criterion=loss, backbone=args.backbone, max_epochs=args.epochs, lr=args.lr,
                              batch_size=args.batch_size, random_state=seed, train_split=None).fit(X, y)
            secs = time.perf_counter() - t0
            Z, Zt = enc.transform(X), enc.transform(Xt)
            scaler = StandardScaler().fit(Z)
            head = FlatClassifier(LogisticRegression(max_iter=300), tax).fit(scaler.transform(Z), y)
            S = np.asarray(head.transform(scaler.transform(Zt)))
            vals = evaluate(yt, head.predict(scaler.transform(Zt)), S, tax)
            row = vals[:6] + embedding_quality(Zt, yt, tax, seed)
            results.setdefault(loss, []).append((row, secs))
            print(f"seed {seed} {loss}: " + " ".join(f"{k} {v:.2f}" for k, v in zip(KEYS, row)) + f" ({secs:.0f} s)",
                  flush=True)
    lines = [header, "",
             f"Fashion-MNIST, {len(X)} train / {len(Xt)} test, {args.backbone} backbone, {args.epochs} epochs, "
             f"batch {args.batch_size} (hierarchical batches, 2 views), lr {args.lr}; linear evaluation = "
             f"LogisticRegression on standardised embeddings; mean over seeds {seeds} (± half the range).", "",
             *mean_range_table(results, KEYS, first="loss", seconds="encoder fit s"), "",
             "Per seed:", "", *per_seed_lines(results, KEYS, seeds), "", "Verdicts:", ""]
    col = {k: {name: [r[0][KEYS.index(k)] for r in runs] for name, runs in results.items()} for k in KEYS}
    for claim, a, b in [("A-HMLC > G-HMLC", "a-hmlc", "g-hmlc"), ("G-HMLC > HMCE", "g-hmlc", "hmce"),
                        ("A-HMLC > HMCE", "a-hmlc", "hmce"), ("HMCE > SupCon", "hmce", "supcon")]:
        if a in results and b in results:
            lines.append(f"* {claim}: fine {verdict(col['fine'][a], col['fine'][b])}; "
                         f"AP {verdict(col['AP'][a], col['AP'][b])}")
    for k in ("sil L1", "latent ρ"):
        for a in ("hmce", "g-hmlc", "a-hmlc"):
            if a in results and "supcon" in results:
                lines.append(f"* {a} shapes the embedding ({k} over SupCon): {verdict(col[k][a], col[k]['supcon'])}")
    report(lines, args.out)


if __name__ == "__main__":
    main()
