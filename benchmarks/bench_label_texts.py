"""Label texts at ontology scale: MiniLM encoding once, cached fits, and the semantic top-k.

Three measurements, printed as markdown tables:

1. ``--fits``: ``CMSGClassifier`` and ``HCCFClassifier`` with their defaults (taxonomy,
   data and one epoch) on synthetic taxonomies of ``--nodes`` nodes: the first fit (MiniLM
   encodes every node's prompt), the second fit of a clone (the in-process cache), and
   a 5-fold grid search over 2 candidates (11 fits, one encoding); seconds and peak RSS.
2. ``--topk``: CMSG's semantic correlation, each label's k = 10 most similar labels, at
   10⁴ and 10⁵ labels: the exact blocked top-k of :func:`skhier.neural.modules.embedding_correlation`
   against the approximate nearest-neighbour libraries that are installed (faiss-cpu's
   HNSW, usearch), time and recall against the exact answer. Embeddings are synthetic
   (a child is its parent's vector plus noise, like root-path prompts), 384-dimensional
   as MiniLM's.
3. the MiniLM encoding rate by batch size (``--batch``).

    python benchmarks/bench_label_texts.py --topk --sizes 10000,100000
    python benchmarks/bench_label_texts.py --fits --nodes 11111
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tree_embeddings(n, dim=384, seed=0):
    """Vectors of a random tree's nodes: a child is its parent's vector plus noise (normalised)."""
    rng = np.random.default_rng(seed)
    E = np.empty((n, dim), np.float32)
    E[0] = rng.normal(size=dim)
    parents = np.concatenate([[0], rng.integers(0, np.maximum(1, np.arange(1, n) // 10 + 1))])
    for i in range(1, n):
        E[i] = E[parents[i]] + 0.7 * rng.normal(size=dim)
    return E / np.linalg.norm(E, axis=1, keepdims=True)


def exact_topk(E, k):
    from skhier.neural.modules import embedding_correlation

    A = embedding_correlation(E, n_neighbors=k)
    return [set(A.indices[A.indptr[i]:A.indptr[i + 1]]) - {i} for i in range(len(E))]


def faiss_topk(E, k):
    import faiss

    index = faiss.IndexHNSWFlat(E.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(E)
    index.hnsw.efSearch = 64
    _, idx = index.search(E, k + 1)
    return [set(row.tolist()) - {i, -1} for i, row in enumerate(idx)]


def usearch_topk(E, k):
    from usearch.index import Index

    index = Index(ndim=E.shape[1], metric="cos", connectivity=16, expansion_add=80, expansion_search=64)
    index.add(np.arange(len(E)), E)
    matches = index.search(E, k + 1)
    return [set(matches.keys[i].tolist()) - {i} for i in range(len(E))]


def topk_table(sizes, k=10):
    rows = ["| labels | method | seconds | recall@10 vs exact |", "|---|---|---|---|"]
    for n in sizes:
        E = tree_embeddings(n)
        t0 = time.perf_counter()
        exact = exact_topk(E, k)
        rows.append(f"| {n:,} | exact blocked top-k (numpy) | {time.perf_counter() - t0:.1f} | 1.000 |")
        print(rows[-1], flush=True)
        for name, fn in (("faiss HNSW (M=32, efSearch=64)", faiss_topk), ("usearch HNSW", usearch_topk)):
            try:
                t0 = time.perf_counter()
                got = fn(E, k)
            except ImportError:
                rows.append(f"| {n:,} | {name} | not installed | – |")
                continue
            secs = time.perf_counter() - t0
            recall = np.mean([len(g & e) / max(len(e), 1) for g, e in zip(got, exact)])
            rows.append(f"| {n:,} | {name} | {secs:.1f} | {recall:.3f} |")
            print(rows[-1], flush=True)
    return rows


def fits_table(n_nodes, samples=300):
    from sklearn.model_selection import GridSearchCV

    from skhier.datasets import make_taxonomy
    from skhier.labels import fill_ancestors
    from skhier.neural import CMSGClassifier, HCCFClassifier
    from skhier.neural import text as text_module

    levels = max(1, int(round(np.log(n_nodes) / np.log(10))))
    tax = make_taxonomy(levels, 10, random_state=0)
    rng = np.random.default_rng(0)
    leaves = np.flatnonzero(tax.is_leaf)
    X = rng.normal(size=(samples, 16)).astype(np.float32)
    Y = np.zeros((samples, tax.n_nodes), np.int8)
    Y[np.arange(samples), rng.choice(leaves, samples)] = 1
    Y = fill_ancestors(__import__("scipy.sparse").sparse.csr_matrix(Y), tax)
    y = np.array([tax.nodes[v] for v in rng.choice(leaves, samples)], dtype=object)
    rows = [f"taxonomy: {tax.n_nodes:,} nodes ({levels} levels x 10), {samples} samples of 16 features, 1 epoch",
            "", "| estimator | first fit s | cached fit s | 5-fold grid, 2 candidates (11 fits) s | peak RSS MB |",
            "|---|---|---|---|---|"]
    for name, make, target in (("CMSGClassifier", lambda: CMSGClassifier(tax, max_epochs=1, device="cpu"), Y),
                               ("HCCFClassifier", lambda: HCCFClassifier(tax, max_epochs=1, device="cpu"), y)):
        text_module._CACHE.clear()
        t0 = time.perf_counter()
        make().fit(X, target)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        make().fit(X, target)
        cached = time.perf_counter() - t0
        t0 = time.perf_counter()
        GridSearchCV(make(), {"lr": [1e-3, 3e-3]}, cv=5, scoring=lambda e, X, y: 0.0).fit(X, target)
        grid = time.perf_counter() - t0
        rows.append(f"| {name} | {first:.1f} | {cached:.1f} | {grid:.1f} | {_peak_mb():.0f} |")
        print(rows[-1], flush=True)
    return rows


def batch_table(n=4000):
    from skhier.datasets import make_taxonomy
    from skhier.neural.text import label_prompts, load_minilm

    texts = label_prompts(make_taxonomy(4, 9, random_state=0))[:n]
    model = load_minilm()
    rows = ["| MiniLM batch size | seconds for 4,000 prompts | prompts / s |", "|---|---|---|"]
    for bs in (32, 128, 512):
        t0 = time.perf_counter()
        model.encode(texts, batch_size=bs, convert_to_numpy=True, normalize_embeddings=True)
        secs = time.perf_counter() - t0
        rows.append(f"| {bs} | {secs:.1f} | {n / secs:.0f} |")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--topk", action="store_true")
    p.add_argument("--fits", action="store_true")
    p.add_argument("--batch", action="store_true")
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--nodes", type=int, default=11111)
    args = p.parse_args(argv)
    print(machine(), flush=True)
    out = []
    if args.batch:
        out += batch_table() + [""]
    if args.topk:
        out += topk_table([int(s) for s in args.sizes.split(",")]) + [""]
    if args.fits:
        out += fits_table(args.nodes) + [""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
