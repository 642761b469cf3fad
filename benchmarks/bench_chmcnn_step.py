"""C-HMCNN's paper-recipe training step (batch 4) in skhier against a raw torch loop.

The HMC benchmark's paper recipe trains at batch 4, so a step is a few milliseconds
and any per-batch Python work of the estimator (skorch's loop, callbacks, history,
our iterator) shows. This script measures, on the shape of cellcycle GO (77 features,
hidden 1,000, the GO DAG's 4,125 label logits; the real data when ``SKHIER_HMC_DATA``
is set, else a synthetic DAG of that size):

* the raw loop: the *same* module (``CHMCNNModule``), loss (``MaxConstraintLoss``) and
  fused Adam (lr 1e-4, weight decay 1e-5) on the same batches, timed per part
  (forward, loss, backward, optimiser step);
* ``CHMCNNClassifier.fit`` for one epoch over the same samples (``train_split=None``):
  its mean step is the epoch's time over its batches.

The two run interleaved (raw, skhier, raw, skhier, ...) with the same thread count, so
their ratio holds under whatever else the machine is doing. Prints the breakdown and
the ratio ``raw step / skhier step`` (the goal: >= 0.9).

    python benchmarks/bench_chmcnn_step.py --threads 1 --samples 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from skhier import Taxonomy  # noqa: E402
from skhier.labels import fill_ancestors  # noqa: E402
from skhier.neural import CHMCNNClassifier
from skhier.neural.modules import MaxConstraintLoss  # noqa: E402


def _data(n):
    if os.environ.get("SKHIER_HMC_DATA"):
        from skhier.datasets import load_hmc

        d = load_hmc("cellcycle_GO", "train")
        X = np.nan_to_num((d.data - np.nanmean(d.data, 0)) / (np.nanstd(d.data, 0) + 1e-8)).astype(np.float32)
        return X[:n], d.target[:n].toarray().astype(np.float32), d.taxonomy, "cellcycle GO (real data)"
    rng = np.random.default_rng(0)
    edges = [("root", "n0")] + [(f"n{rng.integers(0, i)}", f"n{i}") for i in range(1, 4125)]
    edges += [(f"n{rng.integers(0, i // 2)}", f"n{i}") for i in range(2000, 4125, 3)]  # second parents: a DAG
    tax = Taxonomy.from_edges(list(dict.fromkeys(edges)))
    X = rng.normal(size=(n, 77)).astype(np.float32)
    Y = np.zeros((n, tax.n_nodes), np.float32)
    Y[np.arange(n), rng.integers(1, tax.n_nodes, n)] = 1
    Y = fill_ancestors(Y, tax)  # through the sparse ancestor matrix: no n_nodes x n_nodes table
    Y = (Y.toarray() if hasattr(Y, "toarray") else np.asarray(Y)).astype(np.float32)
    return X, Y, tax, "synthetic DAG of cellcycle GO's size"


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--hidden", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    X, Y, tax, what = _data(args.samples)
    print(machine(), flush=True)
    print(f"{what}: {X.shape[0]} samples, {X.shape[1]} features, {tax.n_nodes} nodes, hidden {args.hidden}, "
          f"batch 4, device {args.device}", flush=True)

    def make():
        # the paper's recipe keeps its last weights (hmc_recipe sets averaging=None): no moving average per step
        return CHMCNNClassifier(tax, module__hidden=args.hidden, max_epochs=1, train_split=None, device=args.device,
                                random_state=0, verbose=0, averaging=None)

    clf = make().fit(X[:8], Y[:8])  # builds the module: the raw loop trains a copy of the same one
    labels = torch.as_tensor(Y[:, 1:], device=args.device)
    inputs = torch.as_tensor(X, device=args.device)
    n_batches = (X.shape[0] + 3) // 4
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def raw():
        module = type(clf.module_)(torch.nn.Identity(), (X.shape[1],), tax, hidden=args.hidden).to(args.device)
        loss_fn = MaxConstraintLoss(tax).to(args.device)
        opt = torch.optim.Adam(module.parameters(), lr=1e-4, weight_decay=1e-5, fused=True)
        module.train()
        parts = np.zeros(4)
        perm = torch.randperm(X.shape[0])
        sync()
        t_all = time.perf_counter()
        for b in range(n_batches):
            idx = perm[4 * b:4 * b + 4]
            t0 = time.perf_counter()
            out = module(inputs[idx])
            sync()
            t1 = time.perf_counter()
            loss = loss_fn(out, labels[idx])
            sync()
            t2 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            sync()
            t3 = time.perf_counter()
            opt.step()
            sync()
            t4 = time.perf_counter()
            parts += (t1 - t0, t2 - t1, t3 - t2, t4 - t3)
        return time.perf_counter() - t_all, parts

    def ours():
        est = make()
        sync()
        t0 = time.perf_counter()
        est.fit(X, Y)
        sync()
        return time.perf_counter() - t0, est

    raw()  # warm-up (allocator, kernels)
    ours()
    raw_t, ours_t, parts_all = [], [], []
    for _ in range(args.rounds):
        t, parts = raw()
        raw_t.append(t)
        parts_all.append(parts)
        t, est = ours()
        ours_t.append(t)
    epoch_in_fit = [h["dur"] for h in est.history]  # skorch's own epoch timer: the loop without set-up
    raw_step, ours_step = statistics.median(raw_t) / n_batches, statistics.median(ours_t) / n_batches
    parts = np.median(np.array(parts_all), axis=0) / n_batches
    print(f"\nmedian of {args.rounds} interleaved rounds, {n_batches} batches each, {args.threads} thread(s):")
    print("| part | ms per step |\n|---|---|")
    for name, v in zip(("forward", "MCLoss", "backward", "Adam step (fused)"), parts):
        print(f"| raw loop: {name} | {1000 * v:.3f} |")
    print(f"| raw loop: whole step | {1000 * raw_step:.3f} |")
    print(f"| skhier fit: whole step (fit time / batches) | {1000 * ours_step:.3f} |")
    print(f"| skhier: skorch's epoch (history 'dur') / batches | {1000 * epoch_in_fit[-1] / n_batches:.3f} |")
    print(f"| skhier's work beyond the raw step (per step) | {1000 * (ours_step - raw_step):.3f} |")
    print(f"\nratio raw step / skhier step: {raw_step / ours_step:.3f} (goal >= 0.9)")


if __name__ == "__main__":
    main()
