"""Reference parity: every metric, loss and inference rule that cites a paper, on a case
whose expected value is computed by hand from the paper's definition.

The numbers in the comments are worked out from the definitions (never taken from the
peers' code, which has no usable licence). The disagreements found by comparing skhier
with HiClass, Valmadre's hiercls and making-better-mistakes are here as regression tests,
each on its smallest example.
"""

import math

import numpy as np
import pytest
import torch

from skhier import Taxonomy
from skhier.metrics import (
    hierarchical_average_correct,
    hierarchical_average_precision,
    hierarchical_distance_at_k,
    hierarchical_f1_score,
    hierarchical_precision_at_k,
    hierarchical_precision_recall_fscore,
    hierarchical_set_precision_at_k,
    info_precision_score,
    majority_prediction,
    mistake_severity,
    operating_curve,
    specificity_precision_recall_fscore,
)
from skhier.neural.losses import HierarchicalCrossEntropyLoss, SoftLabelsLoss

# root -> {A -> {a1, a2}, B -> {b1, b2}}
BAL = Taxonomy.from_paths([["A", "a1"], ["A", "a2"], ["B", "b1"], ["B", "b2"]])


def leaf_logits(tax, probs):
    """Log-probabilities over ``tax``'s leaves, in its leaf order, from a {name: p} dict."""
    return torch.log(torch.tensor([[probs[tax.nodes[v]] for v in tax.leaves]], dtype=torch.float64))


def node_scores(tax, scores):
    """A (1, n_nodes) score row from a {name: score} dict (other nodes 0, the root 1)."""
    row = np.zeros((1, tax.n_nodes))
    row[0, 0] = 1.0
    for name, value in scores.items():
        row[0, tax.index(name)] = value
    return row


# ---------------------------------------------------------------- Bertinetto et al. (2020)


def test_hxe_weights_edges_by_depth():
    # p = (.05, .05, .45, .45), truth a1, alpha = 1. Edges root->A (depth 1) and A->a1
    # (depth 2): L = e^-1 * -log(P(A)/1) + e^-2 * -log(P(a1)/P(A))
    #             = e^-1 * log 10 + e^-2 * log 2 = 0.8471 + 0.0938 = 0.9409
    loss = HierarchicalCrossEntropyLoss(BAL, alpha=1.0)
    x = leaf_logits(BAL, {"a1": .05, "a2": .05, "b1": .45, "b2": .45})
    value = float(loss(x, torch.tensor([BAL.index("a1")])))
    assert value == pytest.approx(math.exp(-1) * math.log(10) + math.exp(-2) * math.log(2), abs=1e-12)
    assert round(value, 4) == 0.9409  # the reference's value, its normaliser undone
    # the height-weighted form this replaces gave 1.5402
    assert round(value, 4) != 1.5402


def test_hxe_alpha_zero_is_cross_entropy():
    x = leaf_logits(BAL, {"a1": .1, "a2": .2, "b1": .3, "b2": .4})
    value = float(HierarchicalCrossEntropyLoss(BAL, alpha=0.0)(x, torch.tensor([BAL.index("b1")])))
    assert value == pytest.approx(-math.log(.3), abs=1e-12)


def test_soft_labels_targets_and_scale():
    # truth a1, beta = 2: LCA heights a1 0, a2 1, b1 2, b2 2; d_max = 2 (the root's height)
    # q ∝ (1, e^-1, e^-2, e^-2); with uniform p the loss is the cross-entropy log 4
    loss = SoftLabelsLoss(BAL, beta=2.0)
    y = torch.tensor([BAL.index("a1")])
    w = [1.0, math.exp(-1), math.exp(-2), math.exp(-2)]
    q = [x / sum(w) for x in w]
    got = loss.soft_targets(y)[0].tolist()
    order = [BAL.nodes[v] for v in BAL.leaves]
    assert dict(zip(order, got)) == pytest.approx(dict(zip(["a1", "a2", "b1", "b2"], q)), abs=1e-12)
    assert float(loss(torch.zeros(1, 4, dtype=torch.float64), y)) == pytest.approx(math.log(4), abs=1e-12)
    # documented scale: ours = KL(q || p) + H(q); the reference's KLDivLoss mean = KL / n_leaves
    x = leaf_logits(BAL, {"a1": .4, "a2": .3, "b1": .2, "b2": .1})
    p = dict(zip(["a1", "a2", "b1", "b2"], [.4, .3, .2, .1]))
    qd = dict(zip(["a1", "a2", "b1", "b2"], q))
    kl = sum(qd[c] * math.log(qd[c] / p[c]) for c in qd)
    entropy = -sum(v * math.log(v) for v in q)
    assert float(loss(x, y)) == pytest.approx(kl + entropy, abs=1e-12)


def test_mistake_severity_and_distance_at_k():
    # truth a1; predictions a1 (no mistake), a2 (LCA A, height 1), b1 (LCA root, height 2)
    assert mistake_severity(["a1", "a1", "a1"], ["a1", "a2", "b1"], taxonomy=BAL) == pytest.approx(1.5)
    # top-2 leaves a2 (height 1) and b1 (height 2): mean 1.5
    s = node_scores(BAL, {"A": .6, "a1": .1, "a2": .5, "B": .4, "b1": .4, "b2": 0})
    assert hierarchical_distance_at_k(["a1"], s, taxonomy=BAL, k=2) == pytest.approx(1.5)


def test_precision_at_k_is_bertinetto_similarity():
    # truth a1, top-2 leaves a2 and b1: similarities 1 - 1/2 and 1 - 2/2 over the best
    # (a1 and a2): (0.5 + 0) / (1 + 0.5) = 1/3
    s = node_scores(BAL, {"A": .6, "a1": .1, "a2": .5, "B": .4, "b1": .4, "b2": 0})
    assert hierarchical_precision_at_k(["a1"], s, taxonomy=BAL, k=2) == pytest.approx(1 / 3, abs=1e-12)
    # Frome et al.'s set-based form: the 2 closest leaves are a1, a2; one of the top 2 is in
    assert hierarchical_set_precision_at_k(["a1"], s, taxonomy=BAL, k=2) == pytest.approx(0.5)


# ---------------------------------------------------------------- Valmadre (2022)


def test_majority_rule_ranks_by_leaf_count_alone():
    # root -> {A -> {A1, A2}, B}; scores root 1, A .7, A1 .6, A2 .1, B .9. Above .5: A (2
    # leaves), A1 (1), B (1); the fewest leaves tie A1 and B, the higher score wins: B
    tax = Taxonomy.from_parent_mapping({"A": "root", "B": "root", "A1": "A", "A2": "A"})
    s = node_scores(tax, {"A": .7, "A1": .6, "A2": .1, "B": .9})
    assert majority_prediction(s, tax).tolist() == [tax.index("B")]


def test_single_child_root_is_never_predicted():
    # root -> T -> {a, b}; scores a .6, b .4, truth b. The root has one child, so the
    # Pareto set is [T, a]. Depth specificity: T has precision 1/1 and recall 1/2, a has
    # precision 1/2 and recall 1/2, so AP = 0.5 * 1 = 0.5 (0.25 when the root was kept).
    tax = Taxonomy.from_paths([["T", "a"], ["T", "b"]])
    s = node_scores(tax, {"T": 1.0, "a": .6, "b": .4})
    curve = operating_curve(["b"], s, taxonomy=tax, specificity="depth")
    assert curve.thresholds.tolist() == [math.inf, .6]
    assert curve.precision.tolist() == [1.0, 0.5] and curve.recall.tolist() == [0.5, 0.5]
    assert hierarchical_average_precision(["b"], s, taxonomy=tax, specificity="depth") == pytest.approx(0.5)
    # the majority rule never answers the single-child root either: T when nothing else
    low = node_scores(tax, {"T": 1.0, "a": .4, "b": .4})
    assert majority_prediction(low, tax).tolist() == [tax.index("T")]


def test_operating_curve_worked_example():
    # root -> {A -> {A1, A2}, B -> {B1, B2, B3}}; leaf probabilities (.5, .2, .1, .1, .1),
    # truth A1. Pareto set: root, A (.7), A1 (.5). Info specificity (log2 5 / leaf count):
    # A: precision 1, recall log2(5/2)/log2 5 = 0.5693; A1: exact. AP = AC = 0.5693 * 1 +
    # (1 - 0.5693) * 1 = 1 for this example alone.
    tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"], ["B", "B2"], ["B", "B3"]])
    s = node_scores(tax, {"A": .7, "A1": .5, "A2": .2, "B": .3, "B1": .1, "B2": .1, "B3": .1})
    curve = operating_curve(["A1"], s, taxonomy=tax)
    assert curve.recall.tolist() == pytest.approx([0.0, math.log2(5 / 2) / math.log2(5), 1.0])
    assert hierarchical_average_precision(["A1"], s, taxonomy=tax) == pytest.approx(1.0)
    # truth A2: at A, recall log2(2.5)/log2(5) and correct 1; at A1, precision and recall
    # are those of A again (LCA A) and correct 0
    r = math.log2(5 / 2) / math.log2(5)
    assert hierarchical_average_correct(["A2"], s, taxonomy=tax) == pytest.approx(r)


def test_per_example_info_and_depth_metrics():
    # truth A1, prediction A2: LCA A. info: f(A) = log2(5/2), f(A2) = f(A1) = log2 5
    tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"], ["B", "B2"], ["B", "B3"]])
    assert info_precision_score(["A1"], ["A2"], taxonomy=tax) == pytest.approx(math.log2(2.5) / math.log2(5))
    # depth: 1/2 and 1/2
    p, r, f = specificity_precision_recall_fscore(["A1"], ["A2"], taxonomy=tax, specificity="depth")
    assert (p, r, f) == pytest.approx((0.5, 0.5, 0.5))


# ---------------------------------------------------------------- Kiritchenko et al. / HiClass


def test_macro_f1_is_mean_of_per_sample_f1():
    # truths A/A1 and B/B1, predictions A and B/B1: per sample (P, R) = (1, 1/2) and
    # (1, 1): F = 2/3 and 1, macro F1 = 5/6 = 0.8333 (the F of the means would be 0.8571)
    tax = Taxonomy.from_paths([["A", "A1"], ["B", "B1"]])
    y_true = [["A", "A1"], ["B", "B1"]]
    y_pred = ["A", "B1"]
    p, r, f = hierarchical_precision_recall_fscore(
        np.array(y_true, dtype=object)[:, -1], y_pred, taxonomy=tax, average="macro")
    assert (p, r) == pytest.approx((1.0, 0.75))
    assert f == pytest.approx(5 / 6, abs=1e-12)
    assert round(hierarchical_f1_score(["A1", "B1"], y_pred, taxonomy=tax, average="macro"), 4) == 0.8333
    # micro: |T ∩ P| = 3, |P| = 3, |T| = 4 -> F = 2 * 1 * .75 / 1.75
    assert hierarchical_f1_score(["A1", "B1"], y_pred, taxonomy=tax) == pytest.approx(1.5 / 1.75)
