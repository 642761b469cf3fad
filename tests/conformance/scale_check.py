"""Fit and predict every estimator family, refiner and metric on one huge taxonomy.

``tests/conformance/test_scale.py`` runs this script in a subprocess under an address-space cap
(``resource.setrlimit``), so a structure quadratic in the taxonomy fails with a memory
error instead of swapping the machine::

    python tests/conformance/scale_check.py deep   # 111,111 nodes, 100,000 leaves at depth 5
    python tests/conformance/scale_check.py wide   # a node with 30,000 children

It prints one ``ok <name>`` line per check and exits non-zero at the first failure.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np


def build(shape):
    from skhier import Taxonomy
    from skhier.datasets import make_taxonomy

    if shape == "deep":
        return make_taxonomy(5, 10)  # 10^5 leaves
    # one node with 30,000 children beside a small ordinary subtree
    nodes = ["root", "wide", "small"] + [f"w{i}" for i in range(30_000)] + ["s0", "s1"]
    parents = [None, "root", "root"] + ["wide"] * 30_000 + ["small", "small"]
    return Taxonomy(nodes, parents)


def stand_in_encoder(texts, *args, **kwargs):
    """A sentence-encoder stand-in: 16 dimensions from a CRC of each text, L2-normalised, in
    O(len(texts)); what MiniLM does at this size is measured in ``benchmarks/``, not here."""
    import zlib

    codes = np.fromiter((zlib.crc32(t.encode()) for t in texts), dtype=np.uint32, count=len(texts))
    bits = ((codes[:, None] >> np.arange(16, dtype=np.uint32)) & 1).astype(np.float32) * 2 - 1
    return bits / 4.0


def checks(tax, n_samples=32):
    """(name, thunk) pairs; every thunk fits or computes and checks what it got."""
    from sklearn.pipeline import make_pipeline
    from sklearn.tree import DecisionTreeClassifier

    from skhier import (
        BottomUpRefiner,
        DifferentiableDiffusionRefiner,
        DiffusionRefiner,
        FlatClassifier,
        LocalClassifierPerLevel,
        LocalClassifierPerNode,
        LocalClassifierPerParentNode,
        TopDownRefiner,
        metrics,
        neural,
    )
    from skhier.inference import decide
    from skhier.labels import fill_ancestors

    rng = np.random.default_rng(0)
    leaves = rng.choice(tax.leaves, n_samples)
    y = np.array([tax.nodes[i] for i in leaves], dtype=object)
    X = rng.normal(size=(n_samples, 6)).astype(np.float32)
    X[:, 0] += leaves % 7  # some signal
    node_sets = fill_ancestors(tax.ancestor_matrix[leaves] > 0, tax)
    tiny = dict(max_epochs=1, batch_size=16, device="cpu", random_state=0, train_split=None, backbone="mlp",
                backbone__hidden=(8,))

    def single(est):
        est.fit(X, y)
        pred = est.predict(X)
        assert pred.shape == (n_samples,) and set(pred) <= set(tax.nodes), pred[:3]
        marg = np.asarray(est.transform(X[:4]))
        assert marg.shape == (4, tax.n_nodes) and np.isfinite(marg).all()
        return est

    def multi(est):
        est.fit(X, node_sets)
        assert est.predict(X).shape == (n_samples, tax.n_nodes)
        assert np.asarray(est.predict_proba(X[:4])).shape == (4, tax.n_nodes)

    def pipe(refiner):
        p = make_pipeline(FlatClassifier(DecisionTreeClassifier(max_depth=4, random_state=0), tax), refiner).fit(X, y)
        assert set(p.predict(X)) <= set(tax.nodes)

    def local(cls):
        est = cls(DecisionTreeClassifier(max_depth=2, random_state=0), taxonomy=tax).fit(X, y)
        assert set(est.predict(X)) <= set(tax.nodes)
        proba = est.predict_proba(X[:4])
        np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-6)

    N = neural
    out = [
        ("FlatSoftmaxClassifier", lambda: single(N.FlatSoftmaxClassifier(tax, **tiny))),
        (
            "HierarchicalLossClassifier",
            lambda: single(N.HierarchicalLossClassifier(tax, criterion="conditional_softmax", **tiny)),
        ),
        ("KFRClassifier", lambda: single(N.KFRClassifier(tax, **tiny))),
        ("HCCFClassifier", lambda: single(N.HCCFClassifier(tax, embed_dim=8, text_encoder="learned", **tiny))),
        # the default text path (label prompts, the encoder, the cache) with a stand-in encoder
        ("HCCFClassifier label texts",
         lambda: single(N.HCCFClassifier(tax, embed_dim=8, text_encoder=stand_in_encoder, **tiny))),
        (
            "HCAMCLClassifier",
            lambda: single(
                N.HCAMCLClassifier(
                    tax, module__d_model=8, module__hidden_size=8, module__fc_hidden=8, module__n_heads=2, **tiny
                )
            ),
        ),
        ("MultiLabelNodeClassifier", lambda: multi(N.MultiLabelNodeClassifier(tax, **tiny))),
        (
            "CMSGClassifier",
            lambda: multi(
                N.CMSGClassifier(
                    tax, correlation="cooccurrence", module__dim=4, module__heads=2, **{**tiny, "batch_size": 4}
                )
            ),
        ),
        # the default semantic correlation (prompts, encoder, bounded top-k per label) with the stand-in
        (
            "CMSGClassifier semantic correlation",
            lambda: multi(
                N.CMSGClassifier(
                    tax, correlation="embedding", module__dim=4, module__heads=2, **{**tiny, "batch_size": 4}
                )
            ),
        ),
        ("HMLCEncoder", lambda: N.HMLCEncoder(tax, **tiny).fit(X, y).transform(X)),
        ("LocalClassifierPerNode", lambda: local(LocalClassifierPerNode)),
        ("LocalClassifierPerParentNode", lambda: local(LocalClassifierPerParentNode)),
        ("LocalClassifierPerLevel", lambda: local(LocalClassifierPerLevel)),
        ("DiffusionRefiner", lambda: pipe(DiffusionRefiner(tax, alpha=0.3))),
        ("DiffusionRefiner iterative", lambda: pipe(DiffusionRefiner(tax, alpha=0.3, method="iterative"))),
        ("TopDownRefiner", lambda: pipe(TopDownRefiner(tax, normalize=True))),
        ("BottomUpRefiner", lambda: pipe(BottomUpRefiner(tax))),
        (
            "DifferentiableDiffusionRefiner",
            lambda: pipe(
                DifferentiableDiffusionRefiner(
                    tax, max_epochs=1, n_steps=4, validation_fraction=0, device="cpu", random_state=0
                )
            ),
        ),
    ]
    scores = rng.dirichlet(np.ones(tax.n_leaves) * 0.1, n_samples) @ tax.leaf_ancestor_matrix
    y_pred = y[::-1]
    label_metrics = ["hierarchical_f1_score", "hierarchical_precision_score", "hierarchical_recall_score",
                     "hierarchical_correct_score", "info_f1_score", "depth_f1_score", "level_accuracy_score",
                     "path_accuracy_score", "mistake_severity"]
    score_metrics = ["hierarchical_average_precision", "hierarchical_average_correct", "majority_f1_score",
                     "leaf_f1_score", "leaf_top1_accuracy"]
    for name in label_metrics:
        out.append((name, lambda f=getattr(metrics, name): np.isfinite(f(y, y_pred, taxonomy=tax)).all()))
    for name in score_metrics:
        out.append((name, lambda f=getattr(metrics, name): np.isfinite(f(y, scores, taxonomy=tax))))
    out += [
        ("recall_at_correct", lambda: np.isfinite(metrics.recall_at_correct(y, scores, taxonomy=tax, min_correct=0.5))),
        ("operating_curve", lambda: metrics.operating_curve(y, scores, taxonomy=tax).average_precision()),
        ("hierarchical_distance_at_k", lambda: metrics.hierarchical_distance_at_k(y, scores, taxonomy=tax, k=5)),
        ("hierarchical_precision_at_k", lambda: metrics.hierarchical_precision_at_k(y, scores, taxonomy=tax, k=5)),
        ("latent_distance_correlation", lambda: metrics.latent_distance_correlation(y, X, taxonomy=tax)),
        ("multilabel_precision_recall_f1", lambda: metrics.multilabel_precision_recall_f1(
            node_sets, scores, taxonomy=tax)),
        ("mean_average_precision", lambda: metrics.mean_average_precision(node_sets, scores, taxonomy=tax)),
        ("HierarchicalMetricAccumulator", lambda: _accumulate(metrics, tax, y, y_pred)),
    ]
    for rule in ("leaf", "top_down", "majority", "threshold"):
        out.append((f"decide {rule}", lambda r=rule: decide(scores, tax, r)))
    return out


def _accumulate(metrics, tax, y, y_pred):
    acc = metrics.HierarchicalMetricAccumulator(tax)
    acc.update(y, y_pred)
    return acc.compute()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", choices=["deep", "wide"])
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # sklearn's "more classes than half the samples" and the like
    tax = build(args.shape)
    from skhier.neural import text

    text._minilm_encode = stand_in_encoder  # CMSG's default correlation reads MiniLM: the stand-in here
    print(f"taxonomy {tax!r}", flush=True)
    import importlib.util

    has_faiss = importlib.util.find_spec("faiss") is not None
    for name, run in checks(tax):
        if name == "CMSGClassifier semantic correlation" and tax.n_nodes > 20_000 and not has_faiss:
            # above 20,000 labels the top-k is faiss's HNSW; the exact fallback is O(n²) time (by design)
            print(f"skip {name}: needs the ann extra (pip install 'skhier[ann]') above 20,000 labels", flush=True)
            continue
        t0 = time.perf_counter()
        run()
        print(f"ok {name} {time.perf_counter() - t0:.2f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
