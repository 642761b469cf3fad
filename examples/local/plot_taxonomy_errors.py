"""
Where a model's probability mass goes, and where it errs, drawn on the taxonomy
===============================================================================

A logistic regression on Fashion-MNIST pixels (through ``FlatClassifier``, so its
``transform`` gives node marginals) is drawn on the H-CNN taxonomy twice: the mean
probability each node gets on the test images, and each node's miss rate (the share of
the test images whose true path passes the node but whose predicted path does not).
Misses grow from the root down, and the tops are confused more than the shoes or bags:
the subtree confusion matrix below says which branch the errors land in.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from skhier import FlatClassifier  # noqa: E402
from skhier.datasets import load_fashion_mnist  # noqa: E402
from skhier.labels import encode_labels  # noqa: E402
from skhier.plot import plot_subtree_confusion, plot_taxonomy  # noqa: E402

train = load_fashion_mnist(subset="train", n_samples=2000)
test = load_fashion_mnist(subset="test", n_samples=600)
taxonomy = train.taxonomy
X, X_test = train.data.reshape(len(train.data), -1), test.data.reshape(len(test.data), -1)

clf = FlatClassifier(LogisticRegression(max_iter=300, C=0.05), taxonomy).fit(X, train.target)
marginals = clf.transform(X_test)  # (n, n_nodes), taxonomy order
pred = clf.predict(X_test)

# per node: of the test images whose true path passes it, how many predicted paths miss it
anc = taxonomy.ancestor_matrix
true_sets = anc[encode_labels(test.target, taxonomy)[0]].toarray().astype(bool)
pred_sets = anc[encode_labels(pred, taxonomy)[0]].toarray().astype(bool)
support = true_sets.sum(axis=0)
miss_rate = np.where(support > 0, (true_sets & ~pred_sets).sum(axis=0) / np.maximum(support, 1), np.nan)

fig, axes = plt.subplots(1, 3, figsize=(20, 5), gridspec_kw={"width_ratios": [3, 3, 2]})
plot_taxonomy(taxonomy, marginals, ax=axes[0], vmin=0, vmax=1, title="mean node probability (test)")
plot_taxonomy(taxonomy, miss_rate, ax=axes[1], cmap="Reds", vmin=0, title="miss rate per node (test)")
plot_subtree_confusion(test.target, pred, taxonomy=taxonomy, depth=2, ax=axes[2])
fig.tight_layout()
fig.savefig("taxonomy_errors.png", dpi=70)

for v in np.argsort(-np.nan_to_num(miss_rate))[:4]:
    print(f"{str(taxonomy.names[v]):12s} depth {taxonomy.depth[v]}  miss rate {miss_rate[v]:.2f}  "
          f"mean probability {np.asarray(marginals)[:, v].mean():.2f}")
