"""Fashion-MNIST (H-CNN hierarchy): neural estimators and inference refiners, every metric.

Trains FlatSoftmaxClassifier and HCAMCLClassifier with 0 / 1 / 2 attention layers on the
60,000 training images with the same backbone (a 3-block CNN), budget and recipe (AdamW,
cosine learning rate, random shifts and flips on the GPU, bf16 autocast), evaluates on
the 10,000 test images and prints a markdown table: per-level accuracy (2 coarse / 6
medium / 10 fine classes), exact-path accuracy, hierarchical F1, Valmadre's
operating-curve metrics and mistake severity. Then refines the flat model's test scores
with bottom-up, diffusion and learned diffusion (2-fold cross-fitted on the test scores).

    python benchmarks/fashion_mnist.py --epochs 30 --out results.md   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from skhier.datasets import load_fashion_mnist  # noqa: E402
from skhier.inference import BottomUpRefiner, DifferentiableDiffusionRefiner, DiffusionRefiner  # noqa: E402
from skhier.metrics import (  # noqa: E402
    hierarchical_average_correct,
    hierarchical_average_precision,
    hierarchical_f1_score,
    leaf_f1_score,
    leaf_top1_accuracy,
    level_accuracy_score,
    majority_f1_score,
    mistake_severity,
    path_accuracy_score,
    recall_at_correct,
)
from skhier.neural import FlatSoftmaxClassifier, HCAMCLClassifier  # noqa: E402
from skhier.neural.augment import RandomCropFlip  # noqa: E402

COLUMNS = ["coarse", "medium", "fine", "exact", "hF1", "AP", "AC", "R@90C", "R@95C", "Maj F1", "Leaf F1",
           "Leaf Top1", "severity"]


def evaluate(y, pred, scores, tax):
    lv = level_accuracy_score(y, pred, taxonomy=tax)
    kw = dict(taxonomy=tax)
    vals = [*lv, path_accuracy_score(y, pred, **kw), hierarchical_f1_score(y, pred, **kw),
            hierarchical_average_precision(y, scores, **kw), hierarchical_average_correct(y, scores, **kw),
            recall_at_correct(y, scores, min_correct=0.9, **kw), recall_at_correct(y, scores, min_correct=0.95, **kw),
            majority_f1_score(y, scores, **kw), leaf_f1_score(y, scores, **kw), leaf_top1_accuracy(y, scores, **kw)]
    return [100 * v for v in vals] + [mistake_severity(y, pred, **kw)]


def fmt_row(name, vals, extra=""):
    cells = [f"{v:.2f}" for v in vals[:-1]] + [f"{vals[-1]:.3f}"]
    return f"| {name} | " + " | ".join(cells) + f" | {extra} |"


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--models", default="flat,hcam0,hcam1,hcam2")
    p.add_argument("--data-home", default=None)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-refiners", action="store_true")
    args = p.parse_args(argv)
    header = machine()
    print(header)
    X, y, tax = load_fashion_mnist(subset="train", return_X_y=True, data_home=args.data_home)
    Xt, yt, _ = load_fashion_mnist(subset="test", return_X_y=True, data_home=args.data_home)
    if args.n_train:
        X, y = X[: args.n_train], y[: args.n_train]
    from skorch.callbacks import LRScheduler

    common = dict(
        backbone="cnn", backbone__width=args.width, backbone__n_blocks=3, backbone__dropout=0.1,
        max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer__weight_decay=5e-4,
        train_split=None, mixed_precision="bf16", channels_last=True, train_transform=RandomCropFlip(2),
        callbacks=[("cosine", LRScheduler("CosineAnnealingLR", T_max=args.epochs))], random_state=args.seed, verbose=0,
    )
    specs = {
        "flat": ("FlatSoftmaxClassifier", lambda: FlatSoftmaxClassifier(tax, module__dropout=0.3, **common)),
        "hcam0": (
            "HCAMCLClassifier, 0 attention layers",
            lambda: HCAMCLClassifier(tax, module__n_attention_layers=0, **common),
        ),
        "hcam1": (
            "HCAMCLClassifier, 1 attention layer",
            lambda: HCAMCLClassifier(tax, module__n_attention_layers=1, **common),
        ),
        "hcam2": (
            "HCAMCLClassifier, 2 attention layers",
            lambda: HCAMCLClassifier(tax, module__n_attention_layers=2, **common),
        ),
    }
    lines = [f"Machine: {header}", "",
             f"Training: {len(X)} images, {args.epochs} epochs, batch {args.batch_size}, AdamW lr {args.lr} cosine, "
             f"CNN width {args.width}, shifts+flips, bf16, seed {args.seed}. Test: {len(Xt)} images.", "",
             "| model | " + " | ".join(COLUMNS) + " | train s |", "|---" * (len(COLUMNS) + 2) + "|"]
    results = {}
    flat_scores = None
    for key in args.models.split(","):
        name, make = specs[key]
        clf = make()
        t0 = time.perf_counter()
        clf.fit(X, y)
        secs = time.perf_counter() - t0
        scores = clf.transform(Xt)  # node marginals (predict_proba is over classes_)
        pred = clf.predict(Xt)
        vals = evaluate(yt, pred, scores, tax)
        results[key] = {"name": name, "values": vals, "seconds": secs}
        lines.append(fmt_row(name, vals, f"{secs:.0f}"))
        print(lines[-1], flush=True)
        if key == "flat":
            flat_scores = scores
    if flat_scores is not None and not args.no_refiners:
        lines += ["", "Inference refiners on the FlatSoftmaxClassifier's test scores (same model):", "",
                  "| inference | " + " | ".join(COLUMNS) + " | note |", "|---" * (len(COLUMNS) + 2) + "|"]
        from skhier.inference import decide
        from skhier.labels import decode_labels, encode_labels

        fmt = encode_labels(yt[:1], tax)[1]

        def as_pred(s, rule="leaf"):
            return decode_labels(decide(s, tax, rule), tax, fmt)

        bu = BottomUpRefiner(tax).fit(flat_scores).transform(flat_scores)
        lines.append(fmt_row("bottom-up", evaluate(yt, as_pred(bu), bu, tax), "leaf softmax summed up"))
        for alpha in (0.1, 0.2, 0.3, 0.5):
            d = DiffusionRefiner(tax, alpha=alpha).fit(flat_scores).transform(flat_scores)
            lines.append(fmt_row(f"diffusion α={alpha}", evaluate(yt, as_pred(d), d, tax), "closed form"))
        # learned diffusion: 2-fold cross-fitting on the test scores
        rng = np.random.default_rng(0)
        fold = rng.permutation(len(yt)) % 2
        learned = np.zeros_like(flat_scores)
        for f in (0, 1):
            tr, te = fold != f, fold == f
            ref = DifferentiableDiffusionRefiner(tax, alpha=0.2, lr=1e-2, max_epochs=100, patience=5,
                                                 random_state=0).fit(flat_scores[tr], yt[tr])
            learned[te] = ref.transform(flat_scores[te])
        lines.append(fmt_row("learned diffusion α₀=0.2", evaluate(yt, as_pred(learned), learned, tax),
                             "2-fold cross-fitted on test scores"))
        for ln in lines[-6:]:
            print(ln)
    text = "\n".join(lines)
    if args.out:
        Path(args.out).write_text(text + "\n")
        Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
