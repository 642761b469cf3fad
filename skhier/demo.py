"""A two-minute tour of skhier: ``python -m skhier.demo``.

Fits hierarchical models on all of Fashion-MNIST (60,000 training and 10,000 test images;
H-CNN hierarchy: 2 coarse, 6 medium, 10 fine classes) when the data are installed
(``apt-get install dataset-fashion-mnist``), else on a synthetic taxonomy, prints a
per-level table and draws the operating curves of the three models (``skhier_demo.png``,
with matplotlib):

- a flat scikit-learn classifier (PCA + logistic regression) wrapped by ``FlatClassifier``,
- the same scores refined by ``DiffusionRefiner`` in a Pipeline,
- ``HCAMCLClassifier`` (hierarchical cross-attention + LSTM path decoder) on skorch: over
  the paper's kind of backbone, a CNN, for 3 epochs on a GPU; over an MLP for 5 epochs on
  a CPU, where the CNN trains at ~85 images/s on two cores and would take half an hour.

Every step says what it does and how long it took on a quiet 2-core CPU. On a CPU torch
runs with a fixed number of threads (1 by default, ``--threads``): the same seed then
gives the same numbers on the same machine, and no epoch stalls beside busy processes
(a thread count that follows the load changes float rounding, hence the numbers).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

#: What each step took on a quiet 2-core CPU (AMD EPYC, 2026-12-06, the full data, 1 thread;
#: the whole demo 1 min 47 s): announced before it runs.
EXPECTED = {"flat": 4, "diffusion": 1, "hcam_epoch": 19}


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


def _parser() -> argparse.ArgumentParser:
    """The demo's command line (tests and benchmarks check their arguments against it)."""
    parser = argparse.ArgumentParser(prog="python -m skhier.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 on a GPU, 5 on a CPU")
    parser.add_argument("--backbone", default=None, help="default: 'cnn' on a GPU, 'mlp' on a CPU")
    parser.add_argument("--quick", action="store_true", help="tiny run, for smoke tests")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads on a CPU (fixed, so that the same seed gives the same numbers)")
    parser.add_argument("--figure", default="skhier_demo.png", help="where the operating-curve figure goes")
    return parser


def main(argv=None):
    """Run the demo.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments (``--n-train``, ``--epochs``, ``--quick``, ``--threads``, ``--figure``).

    Returns
    -------
    rows : list of list
        One row per model: its name, the table's values and its seconds.
    """
    args = _parser().parse_args(argv)
    if args.quick:
        args.n_train, args.n_test, args.epochs = 1500, 500, 1
    import torch

    gpu = torch.cuda.is_available()
    epochs = args.epochs if args.epochs is not None else (3 if gpu else 5)
    scale = args.n_train / 60000
    if not gpu:
        torch.set_num_threads(max(1, args.threads))
        print(f"[demo] CPU, torch threads: {torch.get_num_threads()} (fixed: the same seed gives the same numbers, "
              "and no epoch stalls beside busy processes; --threads N for more)")

    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from .inference import DiffusionRefiner, FlatClassifier
    from .neural import HCAMCLClassifier

    name, X, y, Xt, yt, tax = _load(args.n_train, args.n_test, args.seed)
    print(f"data: {name}: {len(X)} train / {len(Xt)} test samples, input {X.shape[1:]}")
    print(tax, "\n")
    rows, scores = [], {}
    flat2d = X.reshape(len(X), -1)
    flat2d_t = Xt.reshape(len(Xt), -1)

    print(f"[demo] 1/3 PCA + logistic regression under FlatClassifier (about {EXPECTED['flat'] * scale:.0f} s)",
          flush=True)
    t0 = time.perf_counter()
    flat = make_pipeline(
        PCA(50, whiten=True, random_state=args.seed), FlatClassifier(LogisticRegression(max_iter=500), tax)
    )
    flat.fit(flat2d, y)
    s = flat.transform(flat2d_t)
    rows.append(_row("PCA+LogReg (bottom-up)", yt, flat.predict(flat2d_t), s, tax, time.perf_counter() - t0))
    scores[rows[-1][0].strip()] = s

    print(f"[demo] 2/3 DiffusionRefiner on those scores (about {EXPECTED['diffusion']} s)", flush=True)
    t0 = time.perf_counter()
    # a refiner learns nothing but the label format from (training scores, y)
    diff = DiffusionRefiner(tax, alpha=0.2).fit(flat.transform(flat2d), y)
    rows.append(_row("  + DiffusionRefiner", yt, diff.predict(s), diff.transform(s), tax, time.perf_counter() - t0))
    scores["+ DiffusionRefiner"] = diff.transform(s)

    t0 = time.perf_counter()
    backbone = args.backbone or ("cnn" if X.ndim == 4 and gpu else "mlp")
    Xn, Xnt = (X, Xt) if backbone == "cnn" else (flat2d, flat2d_t)
    why = ("the paper's kind of backbone" if backbone == "cnn" else
           "an MLP instead of the paper's CNN, which trains at ~85 images/s on two CPU cores" if not gpu else
           "an MLP, as asked")
    hcam = HCAMCLClassifier(tax, backbone=backbone, max_epochs=epochs, lr=2e-3, random_state=args.seed, verbose=1)
    about = f"about {EXPECTED['hcam_epoch'] * scale * epochs:.0f} s" if not gpu else "a minute on a GPU"
    print(f"[demo] 3/3 HCAMCLClassifier, backbone {backbone!r} ({why}), device {hcam.device}, {epochs} epochs "
          f"({about}); skorch prints each epoch:", flush=True)
    hcam.fit(Xn, y)
    rows.append(_row(f"HCAMCLClassifier ({backbone}, {hcam.device})", yt, hcam.predict(Xnt), hcam.transform(Xnt),
                     tax, time.perf_counter() - t0))
    scores[f"HCAMCLClassifier ({backbone})"] = hcam.transform(Xnt)

    n_levels = tax.max_depth
    head = ["model", *(f"L{d} acc" for d in range(1, n_levels + 1)), "exact", "hF1", "AP", "leaf top1", "sec"]
    widths = [max(24, max(len(r[0]) for r in rows))] + [9] * (len(head) - 1)
    print("\n" + " ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [f"{v:{w}.2f}" for v, w in zip(r[1:], widths[1:])]
        print(" ".join(cells))
    print("\nlevel accuracies, exact-path accuracy, hierarchical F1, Valmadre's AP (info) and leaf top-1, in %.")
    _figure(args.figure, yt, scores, tax)
    return rows


def _figure(path, y_true, scores, tax):
    """The three models' operating curves (Valmadre's correct vs exact precision), with matplotlib."""
    try:
        import matplotlib
    except ImportError:
        print("[demo] no figure: matplotlib is not installed (pip install 'skhier[plot]')")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import plot_operating_curve

    axes, _ = plot_operating_curve(y_true, scores, taxonomy=tax)
    fig = axes[0].figure
    fig.suptitle("skhier demo: operating curves on the test set")
    path = Path(path).resolve()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"[demo] figure: the operating curves of the three models, written to {path}")
    return path


if __name__ == "__main__":  # pragma: no cover
    main()
