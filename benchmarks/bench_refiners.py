"""Speed of DiffusionRefiner against a bare matmul of the same shapes and naive iteration.

Refines (n_samples × n_nodes) node-score matrices and prints, in the same run, the time
of: our closed form (``DiffusionRefiner.transform``, which picks the linear-time tree
solver for large taxonomies), our dense-operator closed form, one bare dense matmul
``(n × N) @ (N × N)`` (the cost of applying any precomputed N × N operator), and naive
iteration of eq. 4 until convergence. Ratios < 1 mean faster than the bare matmul.

    python benchmarks/bench_refiners.py            # CPU, both shapes
    python benchmarks/bench_refiners.py --device cuda
    python benchmarks/bench_refiners.py --quick    # small shapes, smoke test
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, timeit  # noqa: E402

from skhier.datasets import make_taxonomy  # noqa: E402
from skhier.inference import DiffusionRefiner  # noqa: E402
from skhier.inference._diffusion import _iterate  # noqa: E402


def run(n_samples, n_levels, branching, device, alpha=0.5, dense_max=20000, repeat=3):
    tax = make_taxonomy(n_levels, branching, random_state=0)
    N = tax.n_nodes
    gen = torch.Generator().manual_seed(0)
    leaf_p = torch.rand(n_samples, tax.n_leaves, generator=gen)
    leaf_p /= leaf_p.sum(1, keepdim=True)
    anc = torch.as_tensor(tax.leaf_ancestor_matrix.toarray(), dtype=torch.float32)
    scores = (leaf_p @ anc).to(device)
    sync = scores.is_cuda
    ref = DiffusionRefiner(tax, alpha=alpha).fit(scores[:2])
    t_ours = timeit(lambda: ref.transform(scores), repeat=repeat, sync=sync)
    rows = {"ours (closed form, auto solver)": t_ours}
    op = torch.rand(N, N, generator=gen).to(device)
    big_on_cpu = N > 4096 and not sync  # a dense N x N product takes minutes on a laptop CPU
    reps, warm = (1, 0) if big_on_cpu else (repeat, 1)
    if N <= dense_max:
        t_mm = timeit(lambda op=op: scores @ op, repeat=reps, warmup=warm, sync=sync)
        rows["bare matmul (n x N) @ (N x N)"] = t_mm
        if not big_on_cpu:  # inverting I - a W_n densely is itself minutes of CPU there
            dense = DiffusionRefiner(tax, alpha=alpha, solver="dense").fit(scores[:2])
            rows["ours, dense operator"] = timeit(lambda: dense.transform(scores), repeat=repeat, sync=sync)
    del op
    f0 = scores
    it_holder = {}

    def naive():
        f, it = _iterate(f0, tax, alpha, max_iter=10000, tol=1e-6)
        it_holder["it"] = it

    rows["naive iteration of eq. 4 (tol 1e-6)"] = timeit(naive, repeat=1, warmup=0, sync=sync)
    # accuracy of ours against the iteration limit
    exact = ref.transform(scores[:256])
    f_it, _ = _iterate(scores[:256].double(), tax, alpha, max_iter=10000, tol=1e-12)
    err = float((exact.double() - f_it).abs().max())
    base = rows.get("bare matmul (n x N) @ (N x N)")
    print(f"\n{n_samples:,} x {N:,} node scores ({tax.n_leaves:,} leaves, depth {tax.max_depth}) on {device}, "
          f"alpha={alpha}; naive iteration took {it_holder['it']} steps; max |ours - limit| = {err:.1e}")
    for name, t in rows.items():
        ratio = f"{t / base:8.3f}x bare matmul" if base else ""
        print(f"  {name:<40s} {t * 1e3:10.1f} ms  {ratio}")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    print(machine())
    torch.manual_seed(0)
    if args.quick:
        run(2000, 3, (8, 12), args.device)
        return
    run(100_000, 3, (8, 12), args.device)   # ~1,000 nodes
    run(10_000, 4, (10, 13), args.device)   # ~20,000 nodes


if __name__ == "__main__":
    main()
