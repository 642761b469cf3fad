"""
Operating curves: compare inference rules at every threshold
============================================================

Valmadre's operating curve sweeps a threshold over node scores: each sample predicts its
most specific confident node. We compare bottom-up node scores of a flat classifier with
the same scores after diffusion, and print AP, AC and R@90C.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skhier import DiffusionRefiner, FlatClassifier  # noqa: E402
from skhier.datasets import make_hierarchical_classification  # noqa: E402
from skhier.metrics import (  # noqa: E402
    hierarchical_average_correct,
    hierarchical_average_precision,
    plot_operating_curve,
    recall_at_correct,
)

X, y, taxonomy = make_hierarchical_classification(1500, 20, n_levels=3, branching=3, class_sep=0.8, random_state=1)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
flat = FlatClassifier(LogisticRegression(max_iter=1000), taxonomy).fit(X_train, y_train)
scores = {"bottom-up": flat.transform(X_test)}
scores["diffusion α=0.3"] = (
    DiffusionRefiner(taxonomy, alpha=0.3).fit(scores["bottom-up"]).transform(scores["bottom-up"])
)

for name, s in scores.items():
    kw = dict(taxonomy=taxonomy)
    print(f"{name:>16s}: AP {hierarchical_average_precision(y_test, s, **kw):.3f}  "
          f"AC {hierarchical_average_correct(y_test, s, **kw):.3f}  R@90C {recall_at_correct(y_test, s, **kw):.3f}")

axes, curves = plot_operating_curve(y_test, scores, taxonomy=taxonomy)
plt.savefig("operating_curve.png", dpi=80)
