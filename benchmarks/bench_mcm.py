"""C-HMCNN's max-constraint module and loss: the sparse segment max vs the paper's dense form.

The reference code computes MCM(h)_k = max_d R[k, d] h_d with a dense (B, n, n) tensor;
skhier's :func:`skhier._tree.max_over_descendants` reads the (descendant, ancestor)
pairs only. Both on the same random logits, forward and backward of MCLoss (the training
step's cost) and of the MCM alone (inference), interleaved repeats, on the Gene Ontology
DAG of cellcycle_GO (4,126 nodes) when ``SKHIER_HMC_DATA`` points at the benchmark, else
on a random DAG of the same size. Prints min / median seconds and the ratio.

    python benchmarks/bench_mcm.py --out docs/results/bench_mcm_cpu.log
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved, machine, report  # noqa: E402

from skhier import Taxonomy  # noqa: E402
from skhier._tree import max_over_descendants  # noqa: E402
from skhier.neural.modules import MaxConstraintLoss  # noqa: E402


def go_taxonomy():
    if os.environ.get("SKHIER_HMC_DATA"):
        from skhier.datasets import load_hmc

        return load_hmc("cellcycle_GO", "train").taxonomy, "cellcycle_GO"
    rng = np.random.default_rng(0)
    edges = [(f"n{p}", f"n{i}") for i in range(1, 4126)
             for p in set(rng.integers(max(0, i - 400), i, size=rng.integers(1, 3)).tolist())]
    return Taxonomy.from_edges(edges), "random DAG"


def dense_mcm(h, R):
    return torch.max(R[None] * h[:, None, :], dim=2).values


def dense_mcloss(x, y, R):
    h = torch.sigmoid(x)
    out = (1 - y) * dense_mcm(h, R) + y * dense_mcm(y * h, R)
    return torch.nn.functional.binary_cross_entropy(out[:, 1:], y[:, 1:])


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--batch", default="4,64")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    tax, source = go_taxonomy()
    lines = [
        machine(),
        f"taxonomy: {source}, {tax.n_nodes} nodes, {tax.ancestor_matrix.nnz} (node, ancestor) pairs, "
        f"DAG: {not tax.is_tree}",
        "",
        "| batch | what | dense min / median s | sparse min / median s | ratio (median) |",
        "|---|---|---|---|---|",
    ]
    R = torch.as_tensor(tax.ancestor_matrix.toarray().T, dtype=torch.float32)  # R[k, d]
    loss = MaxConstraintLoss(tax)
    for b in [int(v) for v in args.batch.split(",")]:
        g = torch.Generator().manual_seed(b)
        x = torch.randn(b, tax.n_nodes, generator=g)
        y = torch.as_tensor((tax.ancestor_matrix[np.random.default_rng(b).integers(1, tax.n_nodes, b)] > 0).toarray(),
                            dtype=torch.float32)
        assert torch.allclose(dense_mcloss(x, y, R), loss(x[:, 1:], y[:, 1:]), atol=1e-5)

        def step(fn):
            def run():
                xi = x.clone().requires_grad_()
                fn(xi).backward()
            return run

        for what, dense, sparse in [
            ("MCLoss forward + backward", step(lambda xi: dense_mcloss(xi, y, R)),
             step(lambda xi: loss(xi[:, 1:], y[:, 1:]))),
            ("MCM forward (inference)", lambda: dense_mcm(torch.sigmoid(x), R),
             lambda: max_over_descendants(torch.sigmoid(x), tax)),
        ]:
            t = interleaved({"dense": dense, "sparse": sparse}, repeat=args.repeat)
            line = (f"| {b} | {what} | {t['dense'][0]:.4f} / {t['dense'][1]:.4f} | {t['sparse'][0]:.5f} / "
                    f"{t['sparse'][1]:.5f} | {t['dense'][1] / t['sparse'][1]:.0f}x |")
            lines.append(line)
            print(line, flush=True)
    report(lines, args.out)


if __name__ == "__main__":
    main()
