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


# ---------------------------------------------------------------- Valmadre's losses (2022)
# root -> {A -> {a1, a2}, b}: leaves a1, a2, b; nodes root, A, a1, a2, b
SMALL = Taxonomy.from_parent_mapping({"A": "root", "b": "root", "a1": "A", "a2": "A"})


def node_logits(tax, values):
    """A (1, n_nodes) float64 logit row from a {name: value} dict (others 0)."""
    row = torch.zeros(1, tax.n_nodes, dtype=torch.float64)
    for name, v in values.items():
        row[0, tax.index(name)] = v
    return row


def target(tax, name):
    return torch.tensor([tax.index(name)])


def test_flat_softmax_is_the_subtree_nll():
    from skhier.neural.losses import FlatSoftmaxLoss

    zero = torch.zeros(1, 3, dtype=torch.float64)
    assert float(FlatSoftmaxLoss(SMALL)(zero, target(SMALL, "a1"))) == pytest.approx(math.log(3))
    # an internal label: -log P(A) = -log(2/3)
    assert float(FlatSoftmaxLoss(SMALL)(zero, target(SMALL, "A"))) == pytest.approx(math.log(3 / 2))


def test_ps_softmax_sums_node_scores_along_paths():
    from skhier.neural.losses import ParameterSharingSoftmaxLoss

    # θ_A = log 2: leaf scores a1 = a2 = log 2, b = 0 -> p = (2/5, 2/5, 1/5); truth b: log 5
    x = node_logits(SMALL, {"A": math.log(2)})
    assert float(ParameterSharingSoftmaxLoss(SMALL)(x, target(SMALL, "b"))) == pytest.approx(math.log(5))


def test_conditional_softmax_multiplies_sibling_softmaxes():
    from skhier.neural.losses import ConditionalSoftmaxLoss

    # P(A | root) = 2 / (2 + 1), P(a1 | A) = 1/2: -log(2/3) - log(1/2) = log 3
    x = node_logits(SMALL, {"A": math.log(2)})
    assert float(ConditionalSoftmaxLoss(SMALL)(x, target(SMALL, "a1"))) == pytest.approx(math.log(3))


def test_sigmoid_losses_count_their_terms():
    from skhier.neural.losses import ConditionalSigmoidLoss, MultiLabelSigmoidLoss

    zero = torch.zeros(1, SMALL.n_nodes, dtype=torch.float64)
    # conditional sigmoid (Brust & Denzler): positives A, a1; negatives the path's siblings b, a2
    assert float(ConditionalSigmoidLoss(SMALL)(zero, target(SMALL, "a1"))) == pytest.approx(4 * math.log(2))
    # multi-label sigmoid: every non-root node is a positive or a negative
    assert float(MultiLabelSigmoidLoss(SMALL)(zero, target(SMALL, "a1"))) == pytest.approx(4 * math.log(2))


def test_soft_max_descendant_and_margin():
    from skhier.neural.losses import SoftMaxDescendantLoss, SoftMaxMarginLoss

    zero = torch.zeros(1, SMALL.n_nodes, dtype=torch.float64)
    # descendant softmax, truth a1: A against its non-relative b (log 2, over A's 2 leaves),
    # a1 against a2 and b (log 3, one leaf); the root has no non-relative
    got = float(SoftMaxDescendantLoss(SMALL)(zero, target(SMALL, "a1")))
    assert got == pytest.approx(math.log(2) / 2 + math.log(3))
    assert float(SoftMaxDescendantLoss(SMALL, node_weight=None)(zero, target(SMALL, "a1"))) == pytest.approx(
        math.log(6))
    # soft-max-margin, "incorrect" margin τ = 5: root, A, a1 at margin 0, a2 and b at 5
    got = float(SoftMaxMarginLoss(SMALL)(zero, target(SMALL, "a1")))
    assert got == pytest.approx(math.log(3 + 2 * math.exp(5)))


# ---------------------------------------------------------------- inference rules


def test_bottom_up_top_down_and_diffusion_by_hand():
    from skhier.inference import BottomUpRefiner, DiffusionRefiner, TopDownRefiner

    i = {n: SMALL.index(n) for n in SMALL.nodes}
    leaf = np.zeros((1, SMALL.n_nodes))
    leaf[0, [i["a1"], i["a2"], i["b"]]] = [0.5, 0.2, 0.3]
    up = BottomUpRefiner(SMALL).fit_transform(leaf)[0]  # Valmadre's bottom-up: subtree sums
    assert (up[i["root"]], up[i["A"]], up[i["b"]]) == pytest.approx((1.0, 0.7, 0.3))
    cond = np.zeros((1, SMALL.n_nodes))
    cond[0, [i["root"], i["A"], i["a1"], i["a2"], i["b"]]] = [1, 0.6, 0.5, 0.5, 0.4]
    down = TopDownRefiner(SMALL).fit_transform(cond)[0]  # YOLO9000: products along the path
    assert (down[i["a1"]], down[i["b"]]) == pytest.approx((0.3, 0.4))
    # diffusion eq. 6 against the paper's definition: W from parent-child pairs,
    # W_n = D^-1/2 W D^-1/2, f* = (1 - α)(I - α W_n)^-1 f0
    W = np.zeros((5, 5))
    for child, parent in [("A", "root"), ("b", "root"), ("a1", "A"), ("a2", "A")]:
        W[i[child], i[parent]] = W[i[parent], i[child]] = 1
    d = W.sum(1) ** -0.5
    Wn = d[:, None] * W * d[None, :]
    want = 0.4 * np.linalg.solve(np.eye(5) - 0.6 * Wn, up)
    got = DiffusionRefiner(SMALL, alpha=0.6).fit(up[None]).transform(up[None])[0]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_leaf_rule_metrics_and_recall_at_correct():
    from skhier.metrics import leaf_f1_score, leaf_top1_accuracy, recall_at_correct

    s = node_scores(BAL, {"A": .7, "a1": .3, "a2": .4, "B": .3, "b1": .2, "b2": .1})
    # the leaf rule picks a2; truth a1: info F1 of a2 vs a1 (LCA A): f(A)/f(a2) = 1/2
    assert leaf_top1_accuracy(["a1"], s, taxonomy=BAL) == 0.0
    assert leaf_f1_score(["a1"], s, taxonomy=BAL) == pytest.approx(0.5)
    # R@90C: the largest recall at which every kept prediction is correct: A (recall 1/2)
    assert recall_at_correct(["a1"], s, taxonomy=BAL, min_correct=0.9) == pytest.approx(0.5)


def test_level_and_path_accuracy():
    from skhier.metrics import level_accuracy_score, path_accuracy_score

    # HCAM-CL's per-level ("coarse / fine") and exact-path accuracy
    got = level_accuracy_score(["a1", "b1", "b2"], ["a2", "b1", "a1"], taxonomy=BAL)
    np.testing.assert_allclose(got, [2 / 3, 1 / 3])
    assert path_accuracy_score(["a1", "b1", "b2"], ["a2", "b1", "a1"], taxonomy=BAL) == pytest.approx(1 / 3)


# ---------------------------------------------------------------- representation losses


def test_supcon_on_orthogonal_features():
    from skhier.neural.losses import SupConLoss

    # z = e1, e1, e2 at τ = τ_base = 1; anchor 0: A = {1, 2}, P = {1}:
    # -(1 - log(e + 1)) = log(e + 1) - 1; anchor 1 the same; anchor 2 has no positive
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    got = SupConLoss(temperature=1.0, base_temperature=1.0)(z, torch.tensor([0, 0, 1]))
    assert float(got) == pytest.approx(math.log(math.e + 1) - 1)


def test_kfr_quantitative_relativity_eq6():
    from skhier.neural.losses import QuantitativeRelativityLoss

    # (a1, a2, b1): standardised z (-1, 0, 1), (-1, 0, 1), (1, 0, -1); L1 d(a,b) = 0,
    # d(a,c) = 4; edge distances D(a,b) = 2, D(a,c) = 4: |0·4 − 4·2| = 8
    loss = QuantitativeRelativityLoss(BAL)
    z = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [2.0, 1.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([BAL.index(n) for n in ["a1", "a2", "b1"]])
    trip = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    assert float(loss.relativity(z, y, trip)) == pytest.approx(8.0)


def test_asymmetric_loss_eq_by_hand():
    from skhier.neural.losses import AsymmetricLoss

    # ASL defaults (γ− = 4, γ+ = 0, m = 0.05): a positive at p = 1/2 costs log 2; a negative
    # at p = 1/2 is shifted to 0.45 and costs 0.45^4 · -log(0.55)
    x = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    got = AsymmetricLoss(reduction="sum")(x, y)
    assert float(got) == pytest.approx(math.log(2) - 0.45**4 * math.log(0.55))


def test_hccf_eq2_with_equal_embeddings():
    from skhier.neural.modules import HCCFLoss

    # every similarity equal: each softmax over a batch of 2 costs log 2; two levels, two
    # directions: 4 log 2 (eq. 2 with its sums averaged over the batch)
    img = torch.nn.functional.normalize(torch.ones(2, 2, 4, dtype=torch.float64), dim=-1)
    txt = torch.nn.functional.normalize(torch.ones(BAL.n_nodes, 4, dtype=torch.float64), dim=-1)
    y = torch.tensor([BAL.index("a1"), BAL.index("b1")])
    got = HCCFLoss(BAL, levels=[1, 2])((img, txt, torch.tensor(1.0, dtype=torch.float64)), y)
    assert float(got) == pytest.approx(4 * math.log(2))


def test_hmce_normalised_by_levels_plus_one():
    from skhier.neural.losses import HMCELoss, SupConLoss

    # two samples of the same leaf: at level 2 (l = 1) and level 1 (l = 2) the positives
    # are the same, but after level 2 one sample per leaf is kept, so level 1 has no
    # positive pair. The total is λ_1 L_1 / (L + 1) with L = 2 and λ_1 = exp(1)
    z = torch.nn.functional.normalize(torch.tensor([[[1.0, 0.2]], [[0.3, 1.0]]], dtype=torch.float64), dim=-1)
    y = torch.tensor([BAL.index("a1"), BAL.index("a1")])
    sup = SupConLoss()(z, torch.tensor([0, 0]))
    got = HMCELoss(BAL)(z, y)
    assert float(got) == pytest.approx(math.exp(1) * float(sup) / 3)
