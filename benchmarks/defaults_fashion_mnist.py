"""Every neural estimator with its defaults on Fashion-MNIST, beside FlatSoftmaxClassifier.

"Defaults" means the taxonomy, the data and an epoch budget only (``max_epochs``; plus
``device`` and ``random_state``): the images are given as 784-feature vectors, so every
``backbone="auto"`` picks the MLP (a CNN on a CPU trains at ~85 images/s). Scores on the
test images, mean (range) over seeds:

* ``exact``: exact-path accuracy of the single-label estimators' ``predict``;
* ``set hF1``: hierarchical F1 of predicted node sets against the true node sets — the
  single-label predictions as their paths' node sets, the multi-label estimators
  (MultiLabelNodeClassifier, CHMCNN, CMSG: fitted on node-set indicators) as predicted;
* HMLCEncoder is a transformer: a ``LogisticRegression`` on its embeddings (the HMLC
  papers' linear evaluation) gives its predictions.

Each row's verdict against FlatSoftmaxClassifier at the same budget follows the rule of
the benchmarks page (beyond both seed ranges, else within noise).

    python benchmarks/defaults_fashion_mnist.py --train 4000 --epochs 3 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from skhier.datasets import load_fashion_mnist  # noqa: E402
from skhier.labels import encode_labels, fill_ancestors  # noqa: E402
from skhier.metrics import hierarchical_precision_recall_fscore, path_accuracy_score  # noqa: E402

SINGLE = ("FlatSoftmaxClassifier", "HierarchicalLossClassifier", "KFRClassifier", "HCAMCLClassifier",
          "HCCFClassifier", "HMLCEncoder")
MULTI = ("MultiLabelNodeClassifier", "CHMCNNClassifier", "CMSGClassifier")


def _fit_predict(name, tax, X, y, Y, Xt, epochs, seed):
    import skhier.neural as neural

    cls = getattr(neural, name)
    kw = dict(max_epochs=epochs, device="cpu", random_state=seed)
    if name == "HMLCEncoder":  # linear evaluation: a logistic regression on the frozen embeddings
        from sklearn.linear_model import LogisticRegression

        enc = cls(tax, **kw).fit(X, y)
        nodes, _ = encode_labels(y, tax)
        lr = LogisticRegression(max_iter=1000).fit(enc.transform(X), nodes)
        return np.asarray(lr.predict(enc.transform(Xt))), None
    if name in MULTI:
        return None, cls(tax, **kw).fit(X, Y).predict(Xt)
    clf = cls(tax, **kw).fit(X, y)
    return clf.predict(Xt), None


def _cell(values):
    return f"{np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})" if values else "–"


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--train", type=int, default=4000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--only", default=None)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    print(machine(), flush=True)
    X, y, _ = load_fashion_mnist(subset="train", n_samples=args.train, return_X_y=True)
    Xt, yt, tax = load_fashion_mnist(subset="test", n_samples=args.test, return_X_y=True)
    X, Xt = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
    nodes, _ = encode_labels(y, tax)
    Y = fill_ancestors(np.eye(tax.n_nodes, dtype=np.int8)[nodes], tax)
    nodes_t, _ = encode_labels(yt, tax)
    Yt = fill_ancestors(np.eye(tax.n_nodes, dtype=np.int8)[nodes_t], tax)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"Fashion-MNIST: {args.train} training / {args.test} test images as 784-vectors, {args.epochs} epochs, "
          f"seeds {seeds}; defaults otherwise\n", flush=True)
    print("| estimator | exact | set hF1 | fit s |\n|---|---|---|---|", flush=True)
    names = args.only.split(",") if args.only else SINGLE + MULTI
    results = {}
    for name in names:
        exact, hf1, secs = [], [], []
        for seed in seeds:
            t0 = time.perf_counter()
            pred, sets = _fit_predict(name, tax, X, y, Y, Xt, args.epochs, seed)
            secs.append(time.perf_counter() - t0)
            if pred is not None:
                if name == "HMLCEncoder":  # node indices from the linear evaluation
                    pred_nodes = pred.astype(np.int64)
                    exact.append(float((pred_nodes == nodes_t).mean()))
                else:
                    exact.append(path_accuracy_score(yt, pred, taxonomy=tax))
                    pred_nodes, _ = encode_labels(pred, tax)
                sets = fill_ancestors(np.eye(tax.n_nodes, dtype=np.int8)[pred_nodes], tax)
            hf1.append(hierarchical_precision_recall_fscore(Yt, sets, taxonomy=tax)[2])
        results[name] = (exact, hf1)
        print(f"| {name} | {_cell(exact)} | {_cell(hf1)} | {np.mean(secs):.0f} |", flush=True)
    base = results.get("FlatSoftmaxClassifier")
    if base:
        print("\nagainst FlatSoftmaxClassifier at the same budget (set hF1; beyond both seed ranges, or within noise):")
        for name, (_, hf1) in results.items():
            if name == "FlatSoftmaxClassifier":
                continue
            verdict = "above" if min(hf1) > max(base[1]) else "below" if max(hf1) < min(base[1]) else "within noise"
            print(f"- {name}: {verdict} ({np.mean(hf1) - np.mean(base[1]):+.3f})")


if __name__ == "__main__":
    main()
