"""A three-minute tour of skhier: ``python -m skhier.demo``.

Fits hierarchical models on all of Fashion-MNIST (60,000 training and 10,000 test images;
H-CNN hierarchy: 2 coarse, 6 medium, 10 fine classes) when the data are installed
(``apt-get install dataset-fashion-mnist``), else on a synthetic taxonomy, and prints a
per-level table:

- a flat scikit-learn classifier (PCA + logistic regression) wrapped by ``FlatClassifier``,
- the same scores refined by ``DiffusionRefiner`` in a Pipeline,
- ``HCAMCLClassifier`` (hierarchical cross-attention + LSTM path decoder) on skorch: over
  a CNN for 3 epochs on a GPU; over an MLP for 5 epochs on a CPU, which keeps the whole
  demo near one minute on two cores (the CNN trains at ~85 images/s there).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _load(n_train: int, n_test: int, seed: int):
    from .datasets import load_fashion_mnist, make_hierarchical_classification

    try:
        X, y, tax = load_fashion_mnist(subset="train", return_X_y=True)
        Xt, yt, _ = load_fashion_mnist(subset="test", return_X_y=True)
        rng = np.random.default_rng(seed)
        tr = rng.permutation(len(X))[:n_train]
        return "Fashion-MNIST (H-CNN hierarchy)", X[tr], y[tr], Xt[:n_test], yt[:n_test], tax
    except FileNotFoundError as exc:
        print(f"[demo] {exc}\n[demo] falling back to synthetic hierarchical data.\n")
        X, y, tax = make_hierarchical_classification(
            n_train + n_test, 64, n_levels=3, branching=(2, 4), class_sep=1.5, label_format="path", random_state=seed
        )
        return "synthetic (3 levels)", X[:n_train], y[:n_train], X[n_train:], y[n_train:], tax


def _row(name, y_true, pred, scores, tax, seconds):
    from .metrics import (
        hierarchical_average_precision,
        hierarchical_f1_score,
        leaf_top1_accuracy,
        level_accuracy_score,
        path_accuracy_score,
    )

    levels = level_accuracy_score(y_true, pred, taxonomy=tax)
    return [name, *(100 * levels), 100 * path_accuracy_score(y_true, pred, taxonomy=tax),
            100 * hierarchical_f1_score(y_true, pred, taxonomy=tax),
            100 * hierarchical_average_precision(y_true, scores, taxonomy=tax),
            100 * leaf_top1_accuracy(y_true, scores, taxonomy=tax), seconds]


def main(argv=None):
    """Run the demo.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments (``--n-train``, ``--epochs``, ``--quick``, ``--no-thread-budget``).
    """
    parser = argparse.ArgumentParser(prog="python -m skhier.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 on a GPU, 5 on a CPU")
    parser.add_argument("--backbone", default=None, help="default: 'cnn' on a GPU, 'mlp' on a CPU")
    parser.add_argument("--quick", action="store_true", help="tiny run, for smoke tests")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-thread-budget", action="store_true",
                        help="train with every core even beside busy processes (see ThreadBudget)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test, args.epochs = 1500, 500, 1
    import torch

    gpu = torch.cuda.is_available()
    epochs = args.epochs if args.epochs is not None else (3 if gpu else 5)

    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from .inference import DiffusionRefiner, FlatClassifier
    from .neural import HCAMCLClassifier, ThreadBudget

    name, X, y, Xt, yt, tax = _load(args.n_train, args.n_test, args.seed)
    print(f"data: {name}: {len(X)} train / {len(Xt)} test samples, input {X.shape[1:]}")
    print(tax, "\n")
    rows = []
    flat2d = X.reshape(len(X), -1)
    flat2d_t = Xt.reshape(len(Xt), -1)

    t0 = time.perf_counter()
    flat = make_pipeline(
        PCA(50, whiten=True, random_state=args.seed), FlatClassifier(LogisticRegression(max_iter=500), tax)
    )
    flat.fit(flat2d, y)
    s = flat.transform(flat2d_t)
    rows.append(_row("PCA+LogReg (bottom-up)", yt, flat.predict(flat2d_t), s, tax, time.perf_counter() - t0))

    t0 = time.perf_counter()
    # a refiner learns nothing but the label format from (training scores, y)
    diff = DiffusionRefiner(tax, alpha=0.2).fit(flat.transform(flat2d), y)
    rows.append(_row("  + DiffusionRefiner", yt, diff.predict(s), diff.transform(s), tax, time.perf_counter() - t0))

    t0 = time.perf_counter()
    backbone = args.backbone or ("cnn" if X.ndim == 4 and gpu else "mlp")
    Xn, Xnt = (X, Xt) if backbone == "cnn" else (flat2d, flat2d_t)
    # on a shared machine, torch's threads follow the free cores (skhier's thread policy)
    callbacks = [] if args.no_thread_budget else [("thread_budget", ThreadBudget())]
    hcam = HCAMCLClassifier(tax, backbone=backbone, max_epochs=epochs, lr=2e-3, random_state=args.seed, verbose=1,
                            callbacks=callbacks)
    hcam.fit(Xn, y)
    rows.append(_row(f"HCAMCLClassifier ({backbone}, {hcam.device})", yt, hcam.predict(Xnt), hcam.transform(Xnt),
                     tax, time.perf_counter() - t0))

    n_levels = tax.max_depth
    head = ["model", *(f"L{d} acc" for d in range(1, n_levels + 1)), "exact", "hF1", "AP", "leaf top1", "sec"]
    widths = [max(24, max(len(r[0]) for r in rows))] + [9] * (len(head) - 1)
    print("\n" + " ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [f"{v:{w}.2f}" for v, w in zip(r[1:], widths[1:])]
        print(" ".join(cells))
    print("\nlevel accuracies, exact-path accuracy, hierarchical F1, Valmadre's AP (info) and leaf top-1, in %.")
    return rows


if __name__ == "__main__":  # pragma: no cover
    main()
