"""Fashion mosaics (multi-label, H-CNN hierarchy): the CMSG paper's ablation (its Table 4).

One backbone (SmallCNN), optimiser, budget and seed for every row: the per-node sigmoid
baseline with BCE, the same with the asymmetric loss (ASL), CMSG with SAA only (no SGA),
CMSG with SGA only (no SAA), full CMSG (SGA + SAA) with the paper's semantic correlation
(label-text embeddings, the default; needs ``skhier[text]``), full CMSG with SGA left
unguided (``correlation=None``: plain self-attention, the paper's "w/o correlation
matrix"), and full CMSG with ML-GCN's co-occurrence correlation instead.
Train and test mosaics come from Fashion-MNIST's train and test splits. Rows are means
over ``--seeds``; mAP, CP, CR, CF1, OP, OR, OF1 (threshold 0.5), hierarchical F1 of the
predicted node sets, and the share of test images whose thresholded probabilities break
the hierarchy (a node at ≥ 0.5 whose parent is below 0.5; ``predict`` itself fills such
ancestors in).

    python benchmarks/cmsg_mosaics.py --train 4000 --test 2000 --epochs 5   # CPU (2 cores), seeds 0,1,2
    python benchmarks/cmsg_mosaics.py --train 60000 --epochs 20             # a GPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, mean_range_table, per_seed_lines, report, verdict  # noqa: E402

from skhier.datasets import make_fashion_mosaics  # noqa: E402
from skhier.metrics import hierarchical_f1_score, mean_average_precision, multilabel_precision_recall_f1  # noqa: E402
from skhier.neural import CMSGClassifier, MultiLabelNodeClassifier  # noqa: E402

KEYS = ("mAP", "CP", "CR", "CF1", "OP", "OR", "OF1", "hF1", "violations")


def evaluate(Y, P, pred, tax):
    out = {"mAP": mean_average_precision(Y, P, taxonomy=tax)}
    out.update(multilabel_precision_recall_f1(Y, P, taxonomy=tax))
    out["hF1"] = hierarchical_f1_score(Y, pred, taxonomy=tax)
    hit = P >= 0.5
    out["violations"] = float((hit[:, 1:] & ~hit[:, tax.parent[1:]]).any(axis=1).mean())
    return out


def rows(tax, common, dim):
    cmsg = dict(module__dim=dim, **common)
    return [
        ("baseline (BCE)", MultiLabelNodeClassifier(tax, criterion="bce", **common)),
        ("baseline + ASL", MultiLabelNodeClassifier(tax, criterion="asl", **common)),
        ("ASL + SAA (CMSG w/o SGA)", CMSGClassifier(tax, module__sga_layers=0, **cmsg)),
        ("ASL + SGA (CMSG w/o SAA)", CMSGClassifier(tax, module__saa_layers=0, **cmsg)),
        ("CMSG (ASL + SGA + SAA)", CMSGClassifier(tax, **cmsg)),
        ("CMSG w/o correlation", CMSGClassifier(tax, correlation=None, **cmsg)),
        ("CMSG, co-occurrence correlation", CMSGClassifier(tax, correlation="cooccurrence", **cmsg)),
    ]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--train", type=int, default=6000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", default=None)
    p.add_argument("--only", default=None, help="rows to run, by name, separated by ';'")
    args = p.parse_args(argv)
    only = None if args.only is None else set(args.only.split(";"))
    header = machine()
    print(header, flush=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, list] = {}
    for seed in seeds:
        X, Y, tax = make_fashion_mosaics(args.train, subset="train", random_state=seed, return_X_y=True)
        Xt, Yt, _ = make_fashion_mosaics(args.test, subset="test", random_state=100 + seed, return_X_y=True)
        common = dict(max_epochs=args.epochs, lr=args.lr, random_state=seed, backbone="cnn")
        for name, est in rows(tax, common, args.dim):
            if only is not None and name not in only:
                continue
            t0 = time.perf_counter()
            est.fit(X, Y)
            secs = time.perf_counter() - t0
            vals = evaluate(Yt, est.predict_proba(Xt), est.predict(Xt), tax)
            results.setdefault(name, []).append(([100 * vals[k] for k in KEYS], secs))
            print(f"seed {seed} {name}: " + " ".join(f"{k} {vals[k]:.4f}" for k in KEYS) + f" ({secs:.0f} s)",
                  flush=True)
    lines = [header, "",
             f"Fashion mosaics 2x2 (outfits), {args.train} train / {args.test} test canvases, SmallCNN, "
             f"{args.epochs} epochs, lr {args.lr}, CMSG dim {args.dim}, mean over seeds {seeds} "
             "(± half the range). Percentages.", "", *mean_range_table(results, KEYS), "",
             "Per seed:", "", *per_seed_lines(results, list(KEYS), seeds), "", "Verdicts on mAP:", ""]
    mAP = {name: [r[0][0] for r in runs] for name, runs in results.items()}
    for claim, a, b in [("ASL adds mAP over BCE", "baseline + ASL", "baseline (BCE)"),
                        ("SAA adds mAP over ASL", "ASL + SAA (CMSG w/o SGA)", "baseline + ASL"),
                        ("SGA adds mAP over ASL", "ASL + SGA (CMSG w/o SAA)", "baseline + ASL"),
                        ("SAA matters more than SGA", "ASL + SAA (CMSG w/o SGA)", "ASL + SGA (CMSG w/o SAA)"),
                        ("full CMSG beats SGA alone", "CMSG (ASL + SGA + SAA)", "ASL + SGA (CMSG w/o SAA)"),
                        ("full CMSG beats SAA alone", "CMSG (ASL + SGA + SAA)", "ASL + SAA (CMSG w/o SGA)"),
                        ("the correlation helps", "CMSG (ASL + SGA + SAA)", "CMSG w/o correlation"),
                        ("semantic beats co-occurrence", "CMSG (ASL + SGA + SAA)",
                         "CMSG, co-occurrence correlation")]:
        if a in mAP and b in mAP:
            lines.append(f"* {claim}: {verdict(mAP[a], mAP[b])}")
    report(lines, args.out)


if __name__ == "__main__":
    main()
