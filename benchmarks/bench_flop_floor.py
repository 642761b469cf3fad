"""The least time the text-reading defaults can take at 10⁵ nodes: their FLOPs over this CPU's best GEMM rate.

Issue 40 asks every family to fit with its defaults in at most 3 minutes at 10⁵ nodes on two
cores. ``bench_families.py`` times the fits; this script says how far below the measured times
any implementation of the same computation could go on the same machine. It counts, with
torch's own ``FlopCounterMode`` (matrix products only, so the count is a floor: element-wise
work, gathers and softmaxes are left out):

* **the label texts**: MiniLM (the bundled all-MiniLM-L6-v2) over every node's default prompt
  (``label_prompts``, the root path) of ``make_taxonomy(5, 10)`` (111,111 nodes), each prompt at
  its own token length (no padding, the most favourable batching); and, for comparison, over
  the node names alone, a shorter prompt that is not the default;
* **one CMSG epoch**: the default ``CMSGModule`` at 111,110 labels, one training step
  (forward, the asymmetric loss, backward) per sample, times 300 samples (the issue's
  setting). The correlation's edges do not change the count (their attention is element-wise
  work); the correlation here comes from a hash encoder in MiniLM's shape.

and divides them by the best rate of a large float32 matrix product (``--gemm``) on the same
threads, which no network layer exceeds; and, for a reading in lower precision, by the rate of
the same product in bfloat16. Run it on a quiet machine: a busy core lowers the rate and
raises the floor.

    python benchmarks/bench_flop_floor.py
    python benchmarks/bench_flop_floor.py --levels 4          # 11,111 nodes
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402
from bench_families import _data, _stand_in_encoder  # noqa: E402


def gemm_rate(n=4096, repeat=5, dtype=torch.float32) -> float:
    """The best GFLOP/s of an ``n × n`` by ``n × n`` product in ``dtype`` on torch's threads."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm-up: the library picks its kernel
    best = min(_seconds(lambda: a @ b) for _ in range(repeat))
    return 2 * n**3 / best / 1e9


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _flops(fn) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def minilm_flops(texts) -> tuple[int, int]:
    """Matrix-product FLOPs of MiniLM over ``texts`` (each at its own length) and their tokens."""
    from skhier.neural.text import load_minilm

    model = load_minilm()
    lengths = collections.Counter(len(ids) for ids in model.tokenizer(list(texts))["input_ids"])
    total = 0
    for length, count in lengths.items():
        ids = torch.full((1, length), 1000)
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
        with torch.no_grad():
            total += count * _flops(lambda: model(batch))
    return total, sum(n * c for n, c in lengths.items())


def cmsg_step_flops(tax, n_fit=2) -> int:
    """Matrix-product FLOPs of one default CMSG training step on one sample at ``tax``'s size."""
    from skhier.neural import CMSGClassifier, text

    encode, text._minilm_encode = text._minilm_encode, _stand_in_encoder  # the edges, not their texts
    try:
        X, _, Y = _data(tax, n_fit)
        clf = CMSGClassifier(tax, max_epochs=1, device="cpu", random_state=0).fit(X, Y)
    finally:
        text._minilm_encode = encode
    module, criterion = clf.module_, clf.criterion_
    x, y = torch.as_tensor(X[:1]), torch.as_tensor(np.asarray(Y[:1].todense() if hasattr(Y, "todense") else Y[:1]))

    def step():
        logits = module(x)
        criterion(logits, y[:, 1:].to(logits.dtype)).backward()

    return _flops(step)


def main(argv=None):
    from skhier.datasets import make_taxonomy
    from skhier.neural.text import label_prompts

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--levels", type=int, default=5, help="make_taxonomy(levels, 10): 5 -> 111,111 nodes")
    p.add_argument("--samples", type=int, default=300, help="samples of the CMSG epoch")
    p.add_argument("--gemm", type=int, default=4096, help="side of the square product that measures the rate")
    p.add_argument("--budget", type=float, default=180.0, help="the goal's seconds per first fit")
    args = p.parse_args(argv)
    print(machine(), flush=True)
    rate, rate16 = gemm_rate(args.gemm), gemm_rate(args.gemm, dtype=torch.bfloat16)
    print(f"GEMM {args.gemm}², best of 5: float32 {rate:.0f} GFLOP/s, bfloat16 {rate16:.0f} GFLOP/s", flush=True)
    tax = make_taxonomy(args.levels, 10)
    text_flops, tokens = minilm_flops(label_prompts(tax))
    name_flops, name_tokens = minilm_flops([str(n) for n in tax.names])
    step = cmsg_step_flops(tax)
    epoch = step * args.samples
    rows = [("MiniLM over every node's prompt", text_flops, f"{tax.n_nodes:,} prompts, {tokens:,} word pieces"),
            ("MiniLM over every node's name alone (not the default)", name_flops,
             f"{name_tokens:,} word pieces"),
            (f"one CMSG epoch ({args.samples} samples)", epoch, f"{step / 1e9:.2f} GFLOP a sample"),
            ("HCCF first fit: the texts", text_flops, ""),
            ("CMSG first fit: the texts and one epoch", text_flops + epoch, "")]
    print(f"\n{tax.n_nodes:,} nodes: matrix-product FLOPs and the least time at the float32 rate "
          f"({rate:.0f} GFLOP/s) and the bfloat16 rate ({rate16:.0f} GFLOP/s); goal: {args.budget:.0f} s\n")
    print("| work | TFLOP | floor s, float32 | floor s, bfloat16 | floor / goal (float32, bfloat16) | note |\n"
          "|---|---:|---:|---:|---:|---|")
    for name, flops, note in rows:
        floor, floor16 = flops / rate / 1e9, flops / rate16 / 1e9
        print(f"| {name} | {flops / 1e12:.1f} | {floor:.0f} | {floor16:.0f} | "
              f"{floor / args.budget:.2f}, {floor16 / args.budget:.2f} | {note} |", flush=True)


if __name__ == "__main__":
    main()
