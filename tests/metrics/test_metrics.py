"""Metrics against slow, obviously-correct per-sample references written here."""

import math
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from skhier import Taxonomy
from skhier.metrics import (
    _mistakes,
    hierarchical_average_correct,
    hierarchical_average_precision,
    hierarchical_correct_score,
    hierarchical_distance_at_k,
    hierarchical_f1_score,
    hierarchical_precision_at_k,
    hierarchical_precision_recall_fscore,
    hierarchical_set_precision_at_k,
    info_f1_score,
    leaf_f1_score,
    leaf_prediction,
    leaf_top1_accuracy,
    level_accuracy_score,
    majority_f1_score,
    majority_prediction,
    mean_average_precision,
    mistake_severity,
    multilabel_precision_recall_f1,
    operating_curve,
    path_accuracy_score,
    recall_at_correct,
    specificity_precision_recall_fscore,
)
from skhier.testing import leaf_labels, node_labels, node_scores, taxonomies

# ----------------------------------------------------------------- slow references


def ancestors(tax, v):
    out = []
    while v >= 0:
        out.append(v)
        v = int(tax.parent[v])
    return out  # v first, root last


def ref_lca(tax, a, b):
    sa = set(ancestors(tax, a))
    for v in ancestors(tax, b):
        if v in sa:
            return v


def leaves_under(tax, v):
    return sum(1 for leaf in tax.leaves if v in ancestors(tax, int(leaf)))


def info(tax, v):
    return math.log2(tax.n_leaves / leaves_under(tax, v))


def ratio(a, b):
    if a == 0 and b == 0:
        return 1.0
    return a / b if b else 0.0


def ref_example(tax, t, p, spec="info"):
    f = (lambda v: info(tax, v)) if spec == "info" else (lambda v: len(ancestors(tax, v)) - 1)
    if t in ancestors(tax, p):  # prediction below the truth: truncate
        p = t
    a = ref_lca(tax, t, p)
    prec, rec = ratio(f(a), f(p)), ratio(f(a), f(t))
    f1 = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
    return {"exact": float(p == t), "correct": float(a in (t, p)), "precision": prec, "recall": rec, "f1": f1}


def chain_end(tax):
    """The first node from the root down that does not have exactly one child."""
    v = 0
    while len(tax.children[v]) == 1:
        v = tax.children[v][0]
    return v


def ref_pareto_prediction(tax, scores, tau):
    # Valmadre (2022): specificity = number of leaf descendants alone (fewer is more
    # specific); nodes with exactly one child are never predicted, the root included;
    # the least specific predictable node (the root, or the end of its single-child
    # chain) always is
    n_leaves = lambda v: sum(1 for l in tax.leaves if v in ancestors(tax, l))
    spec = lambda v: -n_leaves(v)
    top = chain_end(tax)
    s = list(scores)
    s[top] = math.inf
    candidates = [v for v in range(len(s)) if len(tax.children[v]) != 1]
    order = sorted(candidates, key=lambda v: (-s[v], -spec(v), v))
    kept, best = [], None
    for v in order:
        if best is None or spec(v) > best:
            kept.append(v)
            best = spec(v)
    pred = top
    for v in kept:
        if s[v] >= tau:
            pred = v
    return pred


def ref_curve_points(tax, y, S, spec="info"):
    taus = sorted({math.inf} | {float(x) for x in S.ravel()}, reverse=True)
    pts = []
    for tau in taus:
        ms = [ref_example(tax, y[i], ref_pareto_prediction(tax, S[i], tau), spec) for i in range(len(y))]
        pts.append({k: np.mean([m[k] for m in ms]) for k in ms[0]})
    return pts


def ref_pareto_area(a, b):
    pairs = sorted(zip(a, b))
    area, prev = 0.0, 0.0
    for r, _ in pairs:
        best = max(bb for aa, bb in pairs if aa >= r)
        area += (r - prev) * best
        prev = r
    return area


# ----------------------------------------------------------------- worked example


def test_worked_example(tree):
    P = np.array([[0.5, 0.2, 0.1, 0.1, 0.1], [0.1, 0.1, 0.3, 0.3, 0.2]])
    S = np.asarray(P @ tree.leaf_ancestor_matrix)
    assert S[0].tolist() == pytest.approx([1, 0.7, 0.5, 0.2, 0.3, 0.1, 0.1, 0.1])
    y = ["A1", "B2"]
    kw = dict(taxonomy=tree)
    assert round(hierarchical_average_precision(y, S, **kw), 4) == 0.6587
    assert round(hierarchical_average_correct(y, S, **kw), 4) == 0.6587
    assert round(recall_at_correct(y, S, min_correct=0.9, **kw), 4) == 0.6587
    assert round(leaf_f1_score(y, S, **kw), 4) == 0.6587
    assert round(majority_f1_score(y, S, **kw), 4) == 0.6037
    assert leaf_top1_accuracy(y, S, **kw) == 0.5
    # leaf scores are accepted too and summed bottom-up
    with pytest.raises(ValueError, match="one per leaf"):  # leaf scores are never guessed
        hierarchical_average_precision(y, P, **kw)


def test_hand_cases(tree):
    y = ["A1", "B2", "B3"]
    kw = dict(taxonomy=tree)
    assert path_accuracy_score(y, y, **kw) == 1.0
    assert hierarchical_precision_recall_fscore(y, y, **kw) == (1.0, 1.0, 1.0)
    assert specificity_precision_recall_fscore(y, y, **kw) == (1.0, 1.0, 1.0)
    # root-only prediction: precision 0/0 -> zero_division, recall 0
    p, r, f = hierarchical_precision_recall_fscore(y, ["root"] * 3, **kw)
    assert (p, r, f) == (0.0, 0.0, 0.0)
    assert hierarchical_precision_recall_fscore(y, ["root"] * 3, zero_division=1.0, **kw)[0] == 1.0
    assert hierarchical_correct_score(y, ["root"] * 3, **kw) == 1.0
    # info precision of a root prediction: 0/0 -> 1; recall 0
    assert specificity_precision_recall_fscore(y, ["root"] * 3, **kw)[:2] == (1.0, 0.0)
    # prediction deeper than the truth is truncated
    assert specificity_precision_recall_fscore(["A"], ["A1"], **kw) == (1.0, 1.0, 1.0)
    assert hierarchical_precision_recall_fscore(["A"], ["A1"], **kw) == (0.5, 1.0, 2 / 3)
    # sibling mistake: hP = hR = 1/2
    assert hierarchical_precision_recall_fscore(["A1"], ["A2"], **kw)[:2] == (0.5, 0.5)
    np.testing.assert_allclose(level_accuracy_score(["A1", "B2"], ["A2", "A1"], **kw), [0.5, 0.0])


def test_duplicate_names_under_different_parents(ragged):
    # ("Clothes","Tops","Other") vs ("Goods","Other"): same name, different nodes
    y_true = [["Clothes", "Tops", "Other"]]
    y_pred = [["Goods", "Other", ""]]
    assert path_accuracy_score(y_true, y_pred, taxonomy=ragged) == 0.0
    assert hierarchical_f1_score(y_true, y_pred, taxonomy=ragged) == 0.0
    assert hierarchical_correct_score(y_true, y_pred, taxonomy=ragged) == 0.0


def test_valmadre_single_child_counterexample():
    # r -> {a, b}, a -> {c}: a has one child (never predicted) and as many leaves as c
    # (no depth tie-break), so the Pareto set is r, b and the AP of truth c is 0
    tax = Taxonomy.from_edges([("r", "a"), ("r", "b"), ("a", "c")])
    scores = np.zeros((1, 4))
    scores[0, [tax.index(v) for v in "racb"]] = [1, 0.365, 0.365, 0.635]
    assert hierarchical_average_precision(["c"], scores, taxonomy=tax) == 0.0
    assert operating_curve(["c"], scores, taxonomy=tax).thresholds.tolist() == [np.inf, 0.635]
    # the majority and leaf rules are unchanged: c is the leaf, a is not above 0.5
    assert tax.nodes[int(leaf_prediction(scores, tax)[0])] == "b"


def test_sample_weight_equals_repetition(tree):
    y, p = ["A1", "B2", "B3"], ["A2", "B2", "A1"]
    rep_y, rep_p = ["A1", "A1", "B2", "B3"], ["A2", "A2", "B2", "A1"]
    w = [2, 1, 1]
    for fn in (path_accuracy_score, hierarchical_f1_score, info_f1_score, mistake_severity):
        assert fn(y, p, taxonomy=tree, sample_weight=w) == pytest.approx(fn(rep_y, rep_p, taxonomy=tree))
    S = np.random.default_rng(0).dirichlet(np.ones(5), 3) @ tree.leaf_ancestor_matrix
    S_rep = S[[0, 0, 1, 2]]
    for fn in (hierarchical_average_precision, hierarchical_average_correct, leaf_f1_score):
        assert fn(y, S, taxonomy=tree, sample_weight=w) == pytest.approx(fn(rep_y, S_rep, taxonomy=tree))


def test_multilabel_hierarchical_prf(tree):
    ind_true = np.zeros((1, 8), int)
    ind_true[0, [2, 6]] = 1  # A1 and B2 -> {A, A1, B, B2}
    ind_pred = np.zeros((1, 8), int)
    ind_pred[0, [3]] = 1  # A2 -> {A, A2}
    assert hierarchical_precision_recall_fscore(ind_true, ind_pred, taxonomy=tree)[:2] == (0.5, 0.25)
    assert hierarchical_precision_recall_fscore(sp.csr_matrix(ind_true), ind_pred, taxonomy=tree)[0] == 0.5


def test_errors(tree):
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        path_accuracy_score(["A1"], ["A1", "A2"], taxonomy=tree)
    with pytest.raises(ValueError, match="unknown label 'Q'"):
        path_accuracy_score(["Q"], ["A1"], taxonomy=tree)
    with pytest.raises(ValueError, match="columns but the taxonomy has 8"):
        leaf_f1_score(["A1"], np.ones((1, 4)), taxonomy=tree)
    with pytest.raises(ValueError, match="NaN"):
        leaf_f1_score(["A1"], np.full((1, 8), np.nan), taxonomy=tree)
    with pytest.raises(TypeError, match="Taxonomy"):
        path_accuracy_score(["A1"], ["A1"], taxonomy={"A1": "A"})
    with pytest.raises(ValueError, match="k must be in"):
        hierarchical_distance_at_k(["A1"], np.ones((1, 8)), taxonomy=tree, k=9)


def _int_named(tax):
    """The same tree with every node named by an int (100, 101, ...)."""
    name = {n: 100 + i for i, n in enumerate(tax.nodes)}
    return Taxonomy([name[n] for n in tax.nodes], [None if p < 0 else name[tax.nodes[p]] for p in tax.parent])


def _labels(tax, idx):
    """Node indices as an int tensor of the (int) node identifiers."""
    return torch.as_tensor([tax.nodes[int(i)] for i in idx], dtype=torch.long)


def test_torch_inputs_match_numpy(tree):
    # a tensor holds labels, as an array does (regression: tensors were read as node indices)
    itree = _int_named(tree)
    rng = np.random.default_rng(1)
    S = np.asarray(rng.dirichlet(np.ones(5), 6) @ itree.leaf_ancestor_matrix)
    y = itree.leaves[rng.integers(0, 5, 6)]
    labels = np.array([itree.nodes[i] for i in y])
    for fn in (hierarchical_average_precision, recall_at_correct, majority_f1_score, leaf_top1_accuracy):
        out = fn(torch.as_tensor(labels), torch.as_tensor(S), taxonomy=itree)
        assert isinstance(out, torch.Tensor)
        assert float(out) == pytest.approx(fn(labels, S, taxonomy=itree))
    pred = leaf_prediction(S, itree)
    assert float(hierarchical_f1_score(torch.as_tensor(labels), _labels(itree, pred), taxonomy=itree)) == (
        pytest.approx(hierarchical_f1_score(labels, [itree.nodes[i] for i in pred], taxonomy=itree)))
    # the same call means the same thing: node indices in a tensor are not labels
    with pytest.raises(ValueError, match="unknown label 1"):
        path_accuracy_score(torch.as_tensor([1]), torch.as_tensor([100]), taxonomy=itree)
    with pytest.raises(TypeError, match="names nodes by strings"):
        path_accuracy_score(torch.as_tensor([1]), ["A1"], taxonomy=tree)


# ----------------------------------------------------------------- properties


@given(st.data())
def test_label_metrics_match_reference(data):
    tax = data.draw(taxonomies(min_nodes=2, max_nodes=18, min_leaves=2, names="int"))
    t = data.draw(node_labels(tax, min_size=1, max_size=12))
    p = data.draw(node_labels(tax, min_size=len(t), max_size=len(t), include_root=True))
    T, P_ = _labels(tax, t), _labels(tax, p)  # tensors of labels
    # set-based hP/hR/hF, micro and macro
    inter = [len(set(ancestors(tax, a)) & set(ancestors(tax, b))) - 1 for a, b in zip(t, p)]
    npred = [len(ancestors(tax, b)) - 1 for b in p]
    ntrue = [len(ancestors(tax, a)) - 1 for a in t]
    P, R, F = hierarchical_precision_recall_fscore(T, P_, taxonomy=tax)
    rp = sum(inter) / sum(npred) if sum(npred) else 0.0
    rr = sum(inter) / sum(ntrue)
    assert float(P) == pytest.approx(rp) and float(R) == pytest.approx(rr)
    assert float(F) == pytest.approx(0 if rp + rr == 0 else 2 * rp * rr / (rp + rr))
    Pm, Rm, Fm = hierarchical_precision_recall_fscore(T, P_, taxonomy=tax, average="macro")
    ps = [i / n if n else 0.0 for i, n in zip(inter, npred)]
    rs = [i / n for i, n in zip(inter, ntrue)]
    assert float(Pm) == pytest.approx(np.mean(ps))
    assert float(Rm) == pytest.approx(np.mean(rs))
    # macro F is the mean of the per-sample F (HiClass), not the F of the means
    assert float(Fm) == pytest.approx(np.mean([0.0 if a + b == 0 else 2 * a * b / (a + b) for a, b in zip(ps, rs)]))
    # numpy labels are counted in numpy (micro: summed in Python floats): bit for bit the tensor path
    t_np, p_np = np.array([tax.nodes[i] for i in t]), np.array([tax.nodes[i] for i in p])
    for kw in ({}, {"average": "macro"}, {"beta": 0.5, "zero_division": 1.0}, {"beta": 2.0, "average": "macro"}):
        want = tuple(float(v) for v in hierarchical_precision_recall_fscore(T, P_, taxonomy=tax, **kw))
        assert hierarchical_precision_recall_fscore(t_np, p_np, taxonomy=tax, **kw) == want
    # Valmadre per-example metrics, both specificities
    for spec in ("info", "depth"):
        ref = [ref_example(tax, int(a), int(b), spec) for a, b in zip(t, p)]
        got = specificity_precision_recall_fscore(T, P_, taxonomy=tax, specificity=spec)
        for g, k in zip(got, ("precision", "recall", "f1")):
            assert float(g) == pytest.approx(np.mean([r[k] for r in ref]))
    assert float(hierarchical_correct_score(T, P_, taxonomy=tax)) == pytest.approx(
        np.mean([ref_example(tax, int(a), int(b))["correct"] for a, b in zip(t, p)])
    )
    # per-level accuracy
    depth = lambda v: len(ancestors(tax, v)) - 1
    at = lambda v, d: ancestors(tax, v)[::-1][d] if depth(v) >= d else None
    got = level_accuracy_score(T, P_, taxonomy=tax).numpy()
    for d in range(1, tax.max_depth + 1):
        rows = [(a, b) for a, b in zip(t, p) if depth(a) >= d]
        if rows:
            assert got[d - 1] == pytest.approx(np.mean([at(a, d) == at(b, d) for a, b in rows]))
        else:
            assert np.isnan(got[d - 1])
    # mistake severity
    mist = [tax.height[ref_lca(tax, int(a), int(b))] for a, b in zip(t, p) if ref_lca(tax, int(a), int(b)) != a]
    assert float(mistake_severity(T, P_, taxonomy=tax)) == pytest.approx(
        np.mean(mist) if mist else 0.0
    )


def ref_pareto_kept(tax, scores):
    """The kept nodes of one example, by the definition: visit by (-score, -spec, index)."""
    n_leaves = lambda v: sum(1 for l in tax.leaves if v in ancestors(tax, l))
    s = list(scores)
    s[chain_end(tax)] = math.inf
    candidates = [v for v in range(len(s)) if len(tax.children[v]) != 1]
    kept, best = [], None
    for v in sorted(candidates, key=lambda v: (-s[v], n_leaves(v), v)):
        if best is None or -n_leaves(v) > best:
            kept.append(v)
            best = -n_leaves(v)
    return kept


@given(st.data())
def test_pareto_sets_without_sorting_match_the_definition_on_ties(data):
    # arbitrary (not monotone) scores on a 5-value grid: ties in score and in specificity
    from skhier._tree import taxonomy_tensors
    from skhier.metrics._operating_curve import _pareto_sets

    tax = data.draw(taxonomies(min_nodes=2, max_nodes=14, max_depth=4, min_leaves=1))
    n = data.draw(st.integers(1, 6))
    S = np.array(data.draw(st.lists(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=tax.n_nodes,
                                             max_size=tax.n_nodes), min_size=n, max_size=n)))
    chunk = data.draw(st.sampled_from([1, 1 << 22]))  # one row per block, or all at once
    tt = taxonomy_tensors(tax, "cpu")
    rows, nodes, scores = _pareto_sets(torch.as_tensor(S), tt.specificity, tt.top, chunk=chunk)
    for i in range(n):
        mine = nodes[rows == i].tolist()
        assert mine == ref_pareto_kept(tax, S[i]), (i, S[i])
        assert scores[rows == i].tolist() == [math.inf] + [S[i][v] for v in mine[1:]]


@given(st.data())
def test_operating_curve_matches_brute_force(data):
    tax = data.draw(taxonomies(min_nodes=3, max_nodes=12, max_depth=4, min_leaves=2))
    n = data.draw(st.integers(1, 5))
    S = data.draw(node_scores(tax, n))
    y = data.draw(leaf_labels(tax, min_size=n, max_size=n))
    t = [tax.index(v) for v in y]
    pts = ref_curve_points(tax, t, S)
    kw = dict(taxonomy=tax)
    rec = [q["recall"] for q in pts]
    assert hierarchical_average_precision(y, S, **kw) == pytest.approx(
        ref_pareto_area(rec, [q["precision"] for q in pts])
    )
    assert hierarchical_average_correct(y, S, **kw) == pytest.approx(ref_pareto_area(rec, [q["correct"] for q in pts]))
    ok = [q["recall"] for q in pts if q["correct"] >= 0.9 - 1e-12]
    assert recall_at_correct(y, S, **kw) == pytest.approx(max(ok) if ok else 0.0)
    curve = operating_curve(y, S, **kw)
    for thr, r, c in zip(curve.thresholds, curve.recall, curve.correct):
        ms = [ref_example(tax, t[i], ref_pareto_prediction(tax, S[i], thr)) for i in range(n)]
        assert r == pytest.approx(np.mean([m["recall"] for m in ms]))
        assert c == pytest.approx(np.mean([m["correct"] for m in ms]))
    # inference rules
    leaf = [int(tax.leaves[np.argmax(S[i][tax.leaves])]) for i in range(n)]
    assert leaf_prediction(S, tax).tolist() == leaf
    assert leaf_f1_score(y, S, **kw) == pytest.approx(
        np.mean([ref_example(tax, t[i], leaf[i])["f1"] for i in range(n)])
    )
    maj = []
    for i in range(n):
        # Valmadre's majority rule: fewest leaves below, then the higher score; never a
        # node with one child (the root included)
        cand = [v for v in range(tax.n_nodes) if S[i][v] > 0.5 and len(tax.children[v]) != 1]
        key = lambda v: (-leaves_under(tax, v), S[i][v])
        maj.append(max(cand, key=key) if cand else chain_end(tax))
    got_maj = majority_prediction(S, tax)
    assert [S[i][v] for i, v in enumerate(got_maj)] == [S[i][v] for i, v in enumerate(maj)]
    assert majority_f1_score(y, S, **kw) == pytest.approx(
        np.mean([ref_example(tax, t[i], maj[i])["f1"] for i in range(n)])
    )


@given(st.data())
def test_bertinetto_topk_match_reference(data):
    tax = data.draw(taxonomies(min_nodes=3, max_nodes=15, min_leaves=2))
    n = data.draw(st.integers(1, 5))
    S = data.draw(node_scores(tax, n))
    # true nodes may be internal; a one-leaf sorting block exercises the row blocks
    y = data.draw(st.one_of(leaf_labels(tax, min_size=n, max_size=n),
                            node_labels(tax, min_size=n, max_size=n).map(lambda i: np.array(tax.nodes, object)[i])))
    block = data.draw(st.sampled_from([1, _mistakes._CHUNK_CELLS]))
    k = data.draw(st.integers(1, tax.n_leaves))
    t = [tax.index(v) for v in y]
    leaves = [int(v) for v in tax.leaves]
    # Bertinetto et al.'s similarity 1 - d / d_max, d_max the largest LCA height of two leaves
    d_max = max(tax.height[ref_lca(tax, a, b)] for a in leaves for b in leaves) or 1
    dists, precs, sims = [], [], []
    for i in range(n):
        top = sorted(leaves, key=lambda v: (-S[i][v], leaves.index(v)))[:k]
        h = lambda v: tax.height[ref_lca(tax, t[i], v)]
        dists.append(np.mean([h(v) for v in top]))
        hk = sorted(h(v) for v in leaves)[k - 1]
        precs.append(np.mean([h(v) <= hk for v in top]))
        best = sorted((1 - h(v) / d_max for v in leaves), reverse=True)[:k]
        sims.append(sum(1 - h(v) / d_max for v in top) / sum(best) if sum(best) > 0 else 1.0)
    with mock.patch.object(_mistakes, "_CHUNK_CELLS", block):
        assert hierarchical_distance_at_k(y, S, taxonomy=tax, k=k) == pytest.approx(np.mean(dists))
        assert hierarchical_set_precision_at_k(y, S, taxonomy=tax, k=k) == pytest.approx(np.mean(precs))
        assert hierarchical_precision_at_k(y, S, taxonomy=tax, k=k) == pytest.approx(np.mean(sims))


@given(
    st.integers(2, 12).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.integers(0, 1), min_size=4, max_size=4), min_size=n, max_size=n),
            st.lists(
                st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0]), min_size=4, max_size=4), min_size=n, max_size=n
            ),
        )
    )
)
def test_multilabel_metrics_match_sklearn(data):
    Y, S = np.array(data[0]), np.array(data[1])
    cols = [c for c in range(4) if Y[:, c].any()]
    got = mean_average_precision(Y, S)
    if not cols:
        assert np.isnan(got)
    else:
        assert got == pytest.approx(np.mean([average_precision_score(Y[:, c], S[:, c]) for c in cols]))
    out = multilabel_precision_recall_f1(Y, S, threshold=0.5)
    pred = S >= 0.5
    tp, npred, npos = (pred & (Y == 1)).sum(0), pred.sum(0), Y.sum(0)
    cp = np.mean([a / b if b else 0.0 for a, b in zip(tp, npred)])
    cr = np.mean([a / b if b else 0.0 for a, b in zip(tp, npos)])
    assert out["CP"] == pytest.approx(cp) and out["CR"] == pytest.approx(cr)
    assert out["OP"] == pytest.approx(tp.sum() / npred.sum() if npred.sum() else 0.0)
    assert out["OF1"] == pytest.approx(
        0.0 if tp.sum() == 0 else 2 * tp.sum() / (npred.sum() + npos.sum())
    )


def test_multilabel_top3_and_taxonomy(tree):
    out = multilabel_precision_recall_f1(
        [[1, 0, 0, 1], [0, 1, 0, 0]], [[0.9, 0.1, 0.3, 0.2], [0.1, 0.8, 0.7, 0.6]], top_k=1
    )
    assert out["OP"] == 1.0 and out["OR"] == pytest.approx(2 / 3)
    S = np.asarray(np.array([[0.6, 0.4, 0, 0, 0]]) @ tree.leaf_ancestor_matrix)
    assert mean_average_precision(["A1"], S, taxonomy=tree) == 1.0


@given(st.data())
def test_accumulator_over_batches_equals_functions(data):
    from skhier.metrics import (
        HierarchicalMetricAccumulator,
        depth_f1_score,
        info_precision_score,
    )

    tax = data.draw(taxonomies(min_nodes=2, max_nodes=16, min_leaves=2, names="int"))
    t = data.draw(node_labels(tax, min_size=2, max_size=20))
    p = data.draw(node_labels(tax, min_size=len(t), max_size=len(t), include_root=True))
    w = np.asarray(data.draw(st.lists(st.integers(1, 3), min_size=len(t), max_size=len(t))), dtype=float)
    cut = data.draw(st.integers(1, len(t) - 1))
    acc = HierarchicalMetricAccumulator(tax)
    acc.update_indices(torch.as_tensor(t[:cut]), torch.as_tensor(p[:cut]), sample_weight=w[:cut])
    acc.update(_labels(tax, t[cut:]), [tax.nodes[i] for i in p[cut:]], sample_weight=w[cut:])
    got = acc.compute()
    T, P = _labels(tax, t), _labels(tax, p)
    kw = dict(taxonomy=tax, sample_weight=w)
    assert got["path_accuracy"] == pytest.approx(float(path_accuracy_score(T, P, **kw)))
    pr, rc, f = hierarchical_precision_recall_fscore(T, P, **kw)
    assert (got["hierarchical_precision"], got["hierarchical_recall"], got["hierarchical_f1"]) == pytest.approx(
        (float(pr), float(rc), float(f)))
    assert got["hierarchical_correct"] == pytest.approx(float(hierarchical_correct_score(T, P, **kw)))
    assert got["info_precision"] == pytest.approx(float(info_precision_score(T, P, **kw)))
    assert got["depth_f1"] == pytest.approx(float(depth_f1_score(T, P, **kw)))
    assert got["mistake_severity"] == pytest.approx(float(mistake_severity(T, P, **kw)))
    np.testing.assert_allclose(got["level_accuracy"], level_accuracy_score(T, P, **kw).numpy(), equal_nan=True)
    with pytest.raises(ValueError, match="no batch"):
        HierarchicalMetricAccumulator(tax).compute()


def test_accumulator_update_computes_one_lca_per_batch(monkeypatch):
    """The accumulator and the functions share the _update/_compute kernels; an update
    takes the LCA once for every metric (a spy counts)."""
    import skhier.metrics._hierarchical as H
    from skhier.metrics import HierarchicalMetricAccumulator

    tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    calls = []
    real = H.lca_and_depth
    monkeypatch.setattr(H, "lca_and_depth", lambda *a: calls.append(1) or real(*a))
    acc = HierarchicalMetricAccumulator(tax)
    acc.update(["A1", "B1", "A2"], ["A2", "B1", "A"])
    assert len(calls) == 1
    out = acc.compute()
    # T∩P, P, T per sample: (1, 2, 2), (2, 2, 2), (1, 1, 2) -> hP = 4 / 5, hR = 4 / 6
    assert out["hierarchical_precision"] == pytest.approx(4 / 5) and out["hierarchical_recall"] == pytest.approx(4 / 6)
    assert out["level_accuracy"] == pytest.approx([1.0, 1 / 3])


def test_column_major_scores_are_read_without_a_copy_and_score_the_same():
    # a sparse product (scores summed over leaf ancestors) is column-major: the score
    # adapter reads it in place (no copy of a matrix that can be GBs) with the same values
    from skhier import DiffusionRefiner
    from skhier._tree import as_score_tensor
    from skhier.datasets import make_taxonomy
    from skhier.metrics import hierarchical_average_precision, operating_curve

    tax = make_taxonomy(2, 3)
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(tax.n_leaves), size=40)
    S_f = np.asarray(tax.leaf_ancestor_matrix.T @ p.T).T  # Fortran order, as the product gives it
    S_f = np.asfortranarray(S_f)
    S_c = np.ascontiguousarray(S_f)
    assert S_f.flags.f_contiguous and not S_f.flags.c_contiguous
    t, _ = as_score_tensor(S_f, tax)
    assert np.shares_memory(t.numpy(), S_f)
    y = np.array(tax.nodes, dtype=object)[np.asarray(tax.leaves)[rng.integers(0, tax.n_leaves, 40)]]
    assert hierarchical_average_precision(y, S_f, taxonomy=tax) == hierarchical_average_precision(y, S_c, taxonomy=tax)
    a, b = operating_curve(y, S_f, taxonomy=tax), operating_curve(y, S_c, taxonomy=tax)
    np.testing.assert_array_equal(a.precision, b.precision)
    np.testing.assert_allclose(np.asarray(DiffusionRefiner(tax).fit(S_f, y).transform(S_f)),
                               np.asarray(DiffusionRefiner(tax).fit(S_c, y).transform(S_c)), rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_lca_and_depth_agree_with_the_ancestor_sets(seed):
    """lca_and_depth (a count of agreeing path positions) against the ancestor sets: the LCA is
    the deepest common ancestor, its depth the size of the common non-root ancestor set."""
    from skhier._tree import lca_and_depth, taxonomy_tensors
    from skhier.datasets import make_taxonomy

    rng = np.random.default_rng(seed)
    tax = make_taxonomy(int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    a, b = rng.integers(0, tax.n_nodes, 20), rng.integers(0, tax.n_nodes, 20)
    got, depth = lca_and_depth(torch.as_tensor(a), torch.as_tensor(b), taxonomy_tensors(tax, "cpu").paths)
    anc = tax.ancestor_matrix.toarray().astype(bool)
    for i in range(20):
        common = np.flatnonzero(anc[a[i]] & anc[b[i]])
        deepest = common[np.argmax(tax.depth[common])]
        assert got[i] == deepest and depth[i] == tax.depth[deepest] == len(common) - 1


@pytest.mark.parametrize("spec", ["info", "depth"])
def test_single_specificity_scores_are_the_triples_entries(spec):
    """Each of the six ``{info,depth}_{precision,recall,f1}_score`` is its entry of
    ``specificity_precision_recall_fscore``, on a case where the three differ."""
    import skhier.metrics as M

    tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"], ["B", "B2"], ["B", "B3"]])
    y_true, y_pred = ["A1", "B1", "A", "B2"], ["A", "B1", "A2", "B"]
    triple = specificity_precision_recall_fscore(y_true, y_pred, taxonomy=tax, specificity=spec)
    assert len({round(float(v), 9) for v in triple}) == 3  # precision, recall and F differ here
    for which, value in zip(("precision", "recall", "f1"), triple):
        assert float(getattr(M, f"{spec}_{which}_score")(y_true, y_pred, taxonomy=tax)) == pytest.approx(float(value))
