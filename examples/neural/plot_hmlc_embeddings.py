"""
Hierarchical contrastive embeddings: HMLCEncoder in a linear-evaluation Pipeline
===============================================================================

``HMLCEncoder`` is a transformer: it learns embeddings with a contrastive loss that uses
every level of the taxonomy (here A-HMLC: HMCE on per-level attention masks), and any
scikit-learn classifier reads them. Encoder and classifier in one ``Pipeline`` is the
linear evaluation protocol of the contrastive-learning papers. We compare it with the
same logistic regression on raw pixels on a small subset of Fashion-MNIST (synthetic
data if it is not installed), then project the test embeddings to 2-D, coloured by the
coarse and the medium level.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skhier.datasets import load_fashion_mnist, make_hierarchical_classification  # noqa: E402
from skhier.metrics import hierarchical_f1_score, level_accuracy_score  # noqa: E402
from skhier.neural import HMLCEncoder  # noqa: E402

try:
    X, y, taxonomy = load_fashion_mnist(subset="train", n_samples=3000, return_X_y=True, label_format="leaf")
    X = X.reshape(len(X), -1)
except FileNotFoundError:  # no Fashion-MNIST here: a synthetic stand-in with the same shape of problem
    X, y, taxonomy = make_hierarchical_classification(3000, 64, n_levels=3, branching=(2, 3), random_state=0)
X_train, y_train, X_test, y_test = X[:2400], y[:2400], X[2400:], y[2400:]

encoder = HMLCEncoder(taxonomy, criterion="a-hmlc", backbone="mlp", max_epochs=6, lr=2e-3, device="cpu",
                      random_state=0, embed_dim=64)
models = {
    "raw pixels + LR": make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
    "A-HMLC embeddings + LR": make_pipeline(encoder, StandardScaler(), LogisticRegression(max_iter=300)),
}
for name, model in models.items():
    pred = model.fit(X_train, y_train).predict(X_test)
    levels = level_accuracy_score(y_test, pred, taxonomy=taxonomy)
    print(f"{name:24s} per-level accuracy {np.round(levels, 3).tolist()}  "
          f"hF1 {hierarchical_f1_score(y_test, pred, taxonomy=taxonomy):.3f}")

# the fitted encoder inside the Pipeline gives the embeddings
Z = models["A-HMLC embeddings + LR"][0].transform(X_test)
xy = PCA(2, random_state=0).fit_transform(Z)
paths = np.asarray(taxonomy.path_indices)[[taxonomy.index(v) for v in y_test]]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
for ax, level in zip(axes, (1, 2)):
    for node in np.unique(paths[:, level]):
        sel = paths[:, level] == node
        ax.scatter(xy[sel, 0], xy[sel, 1], s=5, label=taxonomy.nodes[node])
    ax.set_title(f"test embeddings (PCA), coloured by level {level}")
    ax.legend(fontsize=7, markerscale=3)
fig.tight_layout()
plt.show()
