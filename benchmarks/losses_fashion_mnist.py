"""Fashion-MNIST (H-CNN hierarchy): every hierarchical loss on one backbone and budget.

Trains ``HierarchicalLossClassifier`` once per loss of ``skhier.neural.losses`` (and
``KFRClassifier`` at the α of the KFR paper's Fig. 3, on its scale — the L1 latent
distance — with its two-phase recipe: cross-entropy alone for the first half of the
epochs) with the same backbone, optimiser, epochs and seed, evaluates on the 10,000 test
images and prints a markdown table:
per-level and exact-path accuracy, hierarchical F1, Valmadre's operating-curve metrics,
mistake severity, the latent-distance correlation (Spearman of normalised-L1 backbone
feature distances vs tree distances, on 2,000 test images) and train time. Rows are
means over ``--seeds``, with the spread (max - min) of exact accuracy.

    python benchmarks/losses_fashion_mnist.py --epochs 10                    # CPU: MLP, seeds 0,1,2
    python benchmarks/losses_fashion_mnist.py --backbone cnn --epochs 15      # a GPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, verdict  # noqa: E402
from fashion_mnist import COLUMNS, evaluate  # noqa: E402

from skhier.datasets import load_fashion_mnist  # noqa: E402
from skhier.metrics import latent_distance_correlation  # noqa: E402
from skhier.neural import HierarchicalLossClassifier, KFRClassifier  # noqa: E402

LOSS_RUNS = [
    ("flat softmax", "flat_softmax", {}),
    ("PS softmax", "ps_softmax", {}),
    ("conditional softmax", "conditional_softmax", {}),
    ("conditional sigmoid", "conditional_sigmoid", {}),
    ("multi-label sigmoid", "multilabel_sigmoid", {}),
    ("soft-max-descendant", "soft_max_descendant", {}),
    ("soft-max-margin (τ=5)", "soft_max_margin", {}),
    ("HXE (α=0.1)", "hxe", {"criterion__alpha": 0.1}),
    ("HXE (α=0.5)", "hxe", {"criterion__alpha": 0.5}),
    ("soft labels (β=10)", "soft_labels", {}),
    ("soft labels (β=4)", "soft_labels", {"criterion__beta": 4.0}),
] + [(f"KFR α={a:g}", "quantitative_relativity", {"criterion__alpha": a}) for a in (0, 1, 3, 10, 30)]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--backbone", default="mlp")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--only", default=None, help="comma-separated row names to run")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    header = machine()
    print(header, flush=True)
    X, y, tax = load_fashion_mnist(subset="train", return_X_y=True)
    Xt, yt, _ = load_fashion_mnist(subset="test", return_X_y=True)
    if args.backbone == "mlp":
        X, Xt = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [r for r in LOSS_RUNS if args.only is None or r[0] in args.only.split(",")]
    lines = [f"| loss | {' | '.join(COLUMNS)} | latent ρ | exact spread | train s |",
             "|" + "---|" * (len(COLUMNS) + 4)]
    raw, per_row = [], {}
    for name, criterion, params in runs:
        vals, rhos, times, exact = [], [], [], []
        for seed in seeds:
            kw = dict(backbone=args.backbone, max_epochs=args.epochs, lr=args.lr, random_state=seed)
            if criterion == "quantitative_relativity":  # the KFR paper's recipe: CE alone for the first half
                clf = KFRClassifier(tax, alpha=params["criterion__alpha"], ce_epochs=args.epochs // 2, **kw)
            else:
                clf = HierarchicalLossClassifier(tax, criterion=criterion, **params, **kw)
            t0 = time.perf_counter()
            clf.fit(X, y)
            times.append(time.perf_counter() - t0)
            pred, scores = clf.predict(Xt), clf.transform(Xt)
            v = evaluate(yt, pred, np.asarray(scores), tax)
            vals.append(v)
            exact.append(v[3])
            rhos.append(latent_distance_correlation(yt[:2000], clf.embed(Xt[:2000]), taxonomy=tax))
            raw.append(f"{name} | seed {seed} | exact {v[3]:.2f} AP {v[5]:.2f} severity {v[-1]:.3f} "
                       f"latent rho {rhos[-1]:.3f} | {times[-1]:.0f} s")
            print(raw[-1], flush=True)
        per_row[name] = {"exact": [v[3] for v in vals], "AP": [v[5] for v in vals], "rho": rhos}
        m = np.mean(vals, axis=0)
        cells = [f"{x:.2f}" for x in m[:-1]] + [f"{m[-1]:.3f}"]
        line = (f"| {name} | " + " | ".join(cells) + f" | {np.mean(rhos):.3f} | {max(exact) - min(exact):.2f} | "
                f"{np.mean(times):.0f} |")
        lines.append(line)
        print(line, flush=True)
    lines += [
        "",
        "Per seed:",
        "",
        *raw,
        "",
        "Verdicts (against the flat softmax; AP and exact, percentage points):",
        "",
    ]
    base = per_row.get("flat softmax")
    for name, r in per_row.items():
        if base is not None and name != "flat softmax":
            lines.append(f"* {name}: AP {verdict(r['AP'], base['AP'])}; exact {verdict(r['exact'], base['exact'])}")
    kfr = [n for n in per_row if n.startswith("KFR")]
    for a, b in zip(kfr[1:], kfr[:-1]):  # the KFR paper's Fig. 3: accuracy rises with α
        lines.append(f"* KFR: {a} beats {b} (exact): {verdict(per_row[a]['exact'], per_row[b]['exact'])}")
    text = "\n".join([header, f"epochs={args.epochs} backbone={args.backbone} lr={args.lr} seeds={seeds}", *lines])
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
