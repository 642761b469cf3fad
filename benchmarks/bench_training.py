"""Training throughput: our skorch estimator against a hand-written PyTorch loop.

The same module (a 4-conv CNN and a linear head over the Fashion-MNIST leaves) is trained
for the same epochs on the same data, by ``FlatSoftmaxClassifier`` and by a plain loop
that keeps the data on the device and slices shuffled batches. Prints images/s of both
and their ratio (goal >= 0.95), for a plain fp32 setting and, on CUDA, a fast setting
(batch 1024, bf16 autocast, channels_last, torch.compile).

    python benchmarks/bench_training.py                 # CPU (10k images)
    python benchmarks/bench_training.py --device cuda   # both settings, 60k images
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

from skhier.datasets import load_fashion_mnist  # noqa: E402
from skhier.neural import FlatSoftmaxClassifier
from skhier.neural.backbones import SmallCNN, feature_shape  # noqa: E402
from skhier.neural.losses import FlatSoftmaxLoss  # noqa: E402
from skhier.neural.modules import HierarchicalHeadModule  # noqa: E402


def data(n, data_home=None):
    try:
        X, y, tax = load_fashion_mnist(return_X_y=True, label_format="leaf", data_home=data_home)
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        from skhier import Taxonomy
        from skhier.datasets._fashion_mnist import FASHION_MNIST_HIERARCHIES

        tax = Taxonomy.from_nested_dict(FASHION_MNIST_HIERARCHIES["hcnn"])
        X = rng.random((60000, 1, 28, 28), dtype=np.float32)
        y = np.array(tax.leaf_names)[rng.integers(0, 10, 60000)]
        print("(Fashion-MNIST not found: random images)")
    return X[:n], y[:n], tax


def hand_loop(X, nodes, tax, *, device, batch_size, epochs, bf16, channels_last, compile, lr=1e-3):
    torch.manual_seed(0)
    backbone = SmallCNN(n_blocks=2)
    crit = FlatSoftmaxLoss(tax)
    module = HierarchicalHeadModule(backbone, feature_shape(backbone, X.shape[1:]), crit).to(device)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(module.parameters(), lr=lr)
    fwd = torch.compile(module) if compile else module
    Xd = torch.as_tensor(X).to(device)
    yd = torch.as_tensor(nodes).to(device)
    n = len(Xd)
    times = []
    for epoch in range(epochs):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=device)
        module.train()
        for s in range(0, n, batch_size):
            idx = perm[s : s + batch_size]
            xb, yb = Xd[idx], yd[idx]
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                out, _ = fwd(xb)
            loss = crit(out.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def ours(X, y, tax, *, device, batch_size, epochs, bf16, channels_last, compile, lr=1e-3):
    torch.manual_seed(0)
    clf = FlatSoftmaxClassifier(
        tax, backbone="cnn", backbone__n_blocks=2, module__dropout=0.2, batch_size=batch_size, max_epochs=epochs,
        lr=lr, train_split=None, device=device, mixed_precision="bf16" if bf16 else None,
        channels_last=channels_last, compile=compile, random_state=0,
    )
    clf.fit(X, y)
    return [h["dur"] for h in clf.history]


def hcam(X, y, tax, *, device, batch_size, epochs, bf16, channels_last, compile, lr=1e-3):
    """HCAM-CL on the same backbone and budget (epoch durations)."""
    from skhier.neural import HCAMCLClassifier

    torch.manual_seed(0)
    clf = HCAMCLClassifier(
        tax, backbone="cnn", backbone__n_blocks=2, batch_size=batch_size, max_epochs=epochs, lr=lr,
        train_split=None, device=device, mixed_precision="bf16" if bf16 else None, channels_last=channels_last,
        compile=compile, random_state=0,
    )
    clf.fit(X, y)
    return [h["dur"] for h in clf.history]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=1, help="interleaved (hand loop, skhier) pairs")
    p.add_argument("--hcam", action="store_true", help="also time HCAM-CL against the flat softmax")
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--data-home", default=None)
    args = p.parse_args(argv)
    cuda = args.device == "cuda"
    n = args.n or (60000 if cuda else 10000)
    epochs = args.epochs or (6 if cuda else 3)
    print(machine())
    X, y, tax = data(n, args.data_home)
    nodes = np.array([tax.index(v) for v in y])
    settings = [("plain fp32, batch 256", dict(batch_size=256, bf16=False, channels_last=False, compile=False))]
    if cuda:
        settings.append(("fast: batch 1024, bf16, channels_last, compile",
                         dict(batch_size=1024, bf16=True, channels_last=True, compile=True)))
    print(f"{n} images 1x28x28, {epochs} epochs (the first is warm-up and not counted), device {args.device}")
    ips = lambda t: n * (epochs - 1) / sum(t[1:])  # noqa: E731
    for name, kw in settings:
        hand, skh, ratios = [], [], []
        for _ in range(args.repeat):  # interleaved pairs: both under the same machine state
            hand.append(ips(hand_loop(X, nodes, tax, device=args.device, epochs=epochs, **kw)))
            skh.append(ips(ours(X, y, tax, device=args.device, epochs=epochs, **kw)))
            ratios.append(skh[-1] / hand[-1])
        print(f"  {name:<48s} hand loop {np.median(hand):10,.0f} img/s | skhier {np.median(skh):10,.0f} img/s | "
              f"ratio median {np.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f} "
              f"({args.repeat} pairs)")
        if args.hcam:
            flat, seq = [], []
            for _ in range(args.repeat):
                flat.append(ips(ours(X, y, tax, device=args.device, epochs=epochs, **kw)))
                seq.append(ips(hcam(X, y, tax, device=args.device, epochs=epochs, **kw)))
            r = np.array(flat) / np.array(seq)
            print(f"  {'':<48s} HCAM-CL {np.median(seq):10,.0f} img/s | flat softmax {np.median(flat):10,.0f} img/s"
                  f" | HCAM-CL time / flat time: median {np.median(r):.2f}, min {r.min():.2f}, max {r.max():.2f} "
                  f"({args.repeat} pairs)")


if __name__ == "__main__":
    main()
