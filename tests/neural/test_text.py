"""Label-text embeddings computed once (issue 40): the in-process cache is hit by refits,
clones in a grid search and the other text-reading estimator; ``memory=`` caches across
processes; the semantic correlation keeps a bounded number of labels per label. Counted
with a stand-in encoder (MiniLM's cost is the benchmark's business)."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV

from skhier.datasets import make_taxonomy
from skhier.labels import fill_ancestors
from skhier.neural import CMSGClassifier, HCCFClassifier
from skhier.neural import text as text_module
from skhier.neural.modules import embedding_correlation

KW = dict(max_epochs=1, device="cpu", random_state=0, backbone__hidden=(8,))


@pytest.fixture
def encoder(monkeypatch):
    """A deterministic stand-in for MiniLM that counts its calls (and the texts it encoded)."""
    calls = []

    def fake(texts, batch_size=512, verbose=0, needed_by=None):
        calls.append(len(texts))
        rng = np.random.default_rng(len(texts))
        return rng.normal(size=(len(texts), 16)).astype(np.float32)

    monkeypatch.setattr(text_module, "_minilm_encode", fake)
    monkeypatch.setattr(text_module, "_CACHE", text_module.OrderedDict())
    return calls


@pytest.fixture(scope="module")
def data():
    tax = make_taxonomy(2, 3, random_state=0)
    rng = np.random.default_rng(0)
    leaves = np.flatnonzero(tax.is_leaf)
    Y = np.zeros((60, tax.n_nodes), int)
    Y[np.arange(60), rng.choice(leaves, 60)] = 1
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.array([tax.nodes[v] for v in rng.choice(leaves, 60)], dtype=object)
    return X, fill_ancestors(Y, tax), y, tax


def test_refits_clones_in_a_grid_search_and_the_other_estimator_reuse_the_embeddings(encoder, data):
    X, Y, y, tax = data
    clf = CMSGClassifier(tax, module__dim=8, module__heads=2, **KW)
    clf.fit(X, Y)
    clf.fit(X, Y)  # a refit
    GridSearchCV(CMSGClassifier(tax, module__dim=8, module__heads=2, **KW), {"p": [0.2, 0.3]}, cv=2,
                 scoring=lambda est, X, Y: 0.0).fit(X, Y)  # 4 fits and the refit, all clones
    assert encoder == [tax.n_nodes]  # encoded once
    # HCCF reads the same prompts of the same taxonomy: no new encoding either
    HCCFClassifier(tax, embed_dim=8, **KW).fit(X, y)
    assert encoder == [tax.n_nodes]
    # another taxonomy's texts are encoded (once)
    other = make_taxonomy(2, 2, random_state=1)
    HCCFClassifier(other, embed_dim=8, **KW).fit(X, [other.leaf_names[0], other.leaf_names[1]] * 30)
    assert encoder == [tax.n_nodes, other.n_nodes]


def test_memory_caches_across_processes(encoder, data, tmp_path):
    X, Y, _, tax = data
    CMSGClassifier(tax, memory=str(tmp_path), module__dim=8, module__heads=2, **KW).fit(X, Y)
    text_module._CACHE.clear()  # a new process: nothing in memory, the folder holds them
    clf = CMSGClassifier(tax, memory=str(tmp_path), module__dim=8, module__heads=2, **KW).fit(X, Y)
    assert encoder == [tax.n_nodes] and clf.correlation_.nnz > 0


def test_the_in_process_cache_is_bounded(encoder):
    for i in range(text_module.CACHE_SIZE + 3):
        text_module.cached_minilm_embeddings([f"label {i}", "other"])
    assert len(text_module._CACHE) == text_module.CACHE_SIZE
    text_module.cached_minilm_embeddings(["label 0", "other"])  # evicted: encoded again
    assert len(encoder) == text_module.CACHE_SIZE + 4


@pytest.mark.parametrize("n, k", [(50, 3), (300, 10), (1000, 1)])
def test_top_k_correlation_keeps_at_most_k_per_label_and_equals_brute_force(n, k):
    E = np.random.default_rng(n).normal(size=(n, 12))
    A = embedding_correlation(E, n_neighbors=k)
    assert sp.issparse(A) and (np.diff(A.indptr) == k + 1).all()  # itself and k others, every row
    Z = E / np.linalg.norm(E, axis=1, keepdims=True)
    S = Z @ Z.T
    np.fill_diagonal(S, -np.inf)
    want = np.argsort(-S, axis=1)[:, :k]
    got = [set(A.indices[A.indptr[i]:A.indptr[i + 1]]) - {i} for i in range(n)]
    recall = np.mean([len(got[i] & set(want[i])) / k for i in range(n)])
    assert recall == 1.0  # exact top-k: the brute-force neighbours, every one
    np.testing.assert_allclose(A[0, want[0]].toarray().ravel(), (Z[0] @ Z[want[0]].T), rtol=1e-5)


def test_faiss_neighbours_agree_with_the_exact_top_k():
    pytest.importorskip("faiss", reason="needs the skhier[ann] extra: pip install 'skhier[ann]'")
    rng = np.random.default_rng(0)
    E = np.repeat(rng.normal(size=(60, 24)), 50, axis=0) + 0.5 * rng.normal(size=(3000, 24))  # 60 clusters
    exact = embedding_correlation(E, n_neighbors=10, method="exact")
    approx = embedding_correlation(E, n_neighbors=10, method="faiss")
    assert (np.diff(approx.indptr) <= 11).all()
    hits = exact.multiply(approx > 0).nnz - 3000  # shared off-diagonal pairs
    recall = hits / (exact.nnz - 3000)
    print(f"faiss HNSW top-10 recall against the exact top-10 on 3,000 clustered vectors: {recall:.4f}")
    assert recall >= 0.98
    # the pairs it keeps carry their exact cosine
    r, c = approx.nonzero()
    Z = E / np.linalg.norm(E, axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(approx[r, c]).ravel(), np.einsum("ij,ij->i", Z[r], Z[c]), atol=1e-6)


def test_the_auto_rule_bounds_the_kept_pairs(encoder, data):
    X, Y, _, tax = data
    n = tax.n_nodes - 1  # 12 labels: k = min(10, ceil(sqrt(12))) = 4
    kept = {}
    for rule in ("auto", None):
        clf = CMSGClassifier(tax, tau=0.01, n_neighbors=rule, module__dim=8, module__heads=2, **KW).fit(X, Y)
        kept[rule] = clf.correlation_.nnz - n  # off the diagonal
    assert kept["auto"] <= n * 4 < kept[None]
