"""benchmarks/bench_flop_floor.py counts what a default CMSG step costs: linear in the labels,
at the hand-counted rate per label (nothing quadratic in the taxonomy on the path)."""

import pytest

from skhier.datasets import make_taxonomy


@pytest.fixture
def floor(benchmark_module):
    return benchmark_module("bench_flop_floor")


def test_cmsg_step_flops_are_affine_in_the_labels_at_the_hand_counted_rate(floor):
    counts = []
    for branching in (4, 6, 8):  # 20, 42 and 72 labels
        tax = make_taxonomy(2, branching)
        counts.append((tax.n_nodes - 1, floor.cmsg_step_flops(tax)))
    (l1, f1), (l2, f2), (l3, f3) = counts
    slope = (f2 - f1) / (l2 - l1)
    assert (f3 - f2) == slope * (l3 - l2)  # exactly affine: no label-pair term anywhere
    # per label and sample, the default width d = 128: the products of SGA (in-projection 6d²,
    # out-projection 2d², FFN 8d²) and SAA (query 2d², out 2d², FFN 8d²) are 28d² forward, and
    # the backward takes two products per forward one (the inputs' and the weights' gradients):
    # 84d²; what is left (12d) are the products with the single token (spatial scores, pooling,
    # cross-attention)
    d = 128
    assert slope == pytest.approx(84 * d**2, rel=2e-3)
    assert slope - 84 * d**2 == 12 * d

