"""Inference on Fashion-MNIST: bottom-up, top-down, diffusion and learned diffusion.

A ``FlatClassifier`` (PCA-100 + LogisticRegression) is trained on 54,000 training images;
its scores on the 6,000 held-out training images fit the learned diffusion; everything is
evaluated on the 10,000 test images with every metric of ``skhier.metrics``. Top-down
inference needs conditional scores, which a flat model does not give: its row uses a
``LocalClassifierPerParentNode`` on the same features (a different model, noted).

    python benchmarks/refiners_fashion_mnist.py --out docs/results/refiners_fashion_mnist.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402
from fashion_mnist import COLUMNS, evaluate, fmt_row  # noqa: E402

from skhier.datasets import load_fashion_mnist  # noqa: E402
from skhier.inference import (  # noqa: E402
    BottomUpRefiner,
    DifferentiableDiffusionRefiner,
    DiffusionRefiner,
    FlatClassifier,
    TopDownRefiner,
    decide,
)
from skhier.labels import decode_labels, encode_labels  # noqa: E402
from skhier.local import LocalClassifierPerParentNode  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    p.add_argument("--n-train", type=int, default=None)
    args = p.parse_args(argv)
    header = machine()
    X, y, tax = load_fashion_mnist(subset="train", return_X_y=True)
    Xt, yt, _ = load_fashion_mnist(subset="test", return_X_y=True)
    if args.n_train:
        X, y = X[: args.n_train], y[: args.n_train]
    X, Xt = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
    rng = np.random.default_rng(0)
    held = rng.permutation(len(X)) < len(X) // 10
    pca = PCA(100, whiten=True, random_state=0).fit(X[~held])
    F, Fh, Ft = pca.transform(X[~held]), pca.transform(X[held]), pca.transform(Xt)
    fmt = encode_labels(yt[:1], tax)[1]

    def as_pred(s, rule="leaf"):
        return decode_labels(decide(s, tax, rule), tax, fmt)

    t0 = time.perf_counter()
    flat = FlatClassifier(LogisticRegression(max_iter=1000), tax).fit(F, y[~held])
    fit_s = time.perf_counter() - t0
    s_test, s_held = flat.transform(Ft), flat.transform(Fh)
    lines = [f"Machine: {header}", "",
             f"FlatClassifier(PCA-100 whitened + LogisticRegression), trained on {int((~held).sum())} images "
             f"in {fit_s:.0f} s; learned diffusion fitted on the {int(held.sum())} held-out training images; "
             f"test: {len(Ft)} images. Decisions: the leaf rule.", "",
             "| inference | " + " | ".join(COLUMNS) + " | note |", "|---" * (len(COLUMNS) + 2) + "|"]

    def add(name, scores, note=""):
        lines.append(fmt_row(name, evaluate(yt, as_pred(scores), scores, tax), note))
        print(lines[-1], flush=True)

    add("bottom-up", BottomUpRefiner(tax).fit(s_test).transform(s_test), "flat model")
    for alpha in (0.1, 0.2, 0.3, 0.5, 0.7):
        add(f"diffusion α={alpha}", DiffusionRefiner(tax, alpha=alpha).fit(s_test).transform(s_test), "flat model")
    ref = DifferentiableDiffusionRefiner(tax, alpha=0.2, lr=1e-2, max_epochs=200, patience=10, device="cpu",
                                         random_state=0).fit(s_held, y[held])
    add("learned diffusion α₀=0.2", ref.transform(s_test), f"flat model; {ref.n_epochs_} epochs")
    lcppn = LocalClassifierPerParentNode(LogisticRegression(max_iter=1000), taxonomy=tax).fit(F, y[~held])
    cond = lcppn.conditional_proba(Ft)
    add("top-down", TopDownRefiner(tax).fit(cond).transform(cond), "LocalClassifierPerParentNode conditionals")
    d = DiffusionRefiner(tax, alpha=0.2).fit(lcppn.transform(Ft)).transform(lcppn.transform(Ft))
    add("top-down + diffusion α=0.2", d, "LocalClassifierPerParentNode")
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
