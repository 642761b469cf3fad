"""
Getting started: a taxonomy, a classifier, a refiner and a hierarchical score
=============================================================================

Labels that form a taxonomy (species → genus → family) are written as root-first paths.
skhier builds the :class:`~skhier.Taxonomy` from them, trains any scikit-learn classifier
on it, refines its node scores with diffusion in a ``Pipeline`` and scores the result
with a hierarchical metric in ``cross_val_score``.
"""

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from skhier import DiffusionRefiner, Taxonomy
from skhier.datasets import make_hierarchical_classification
from skhier.local import LocalClassifierPerParentNode
from skhier.metrics import get_hierarchical_scorer

# %%
# Labels as paths. Each row of ``y`` is a root-first path; the taxonomy is read from them.
X, y, _ = make_hierarchical_classification(
    600, 10, n_levels=2, branching=3, class_sep=1.5, label_format="path", random_state=0
)
taxonomy = Taxonomy.from_paths(y)
print(taxonomy)
print("first labels:", y[:2].tolist())

# %%
# One logistic regression per parent node, then diffusion between parents and children.
# Every step shares the one taxonomy; predictions come back as paths, like ``y``.
model = make_pipeline(
    LocalClassifierPerParentNode(LogisticRegression(max_iter=1000), taxonomy),
    DiffusionRefiner(taxonomy, alpha=0.2),
)
model.fit(X, y)
print("predicted:", model.predict(X[:2]).tolist())

# %%
# A hierarchical F1 (partial credit for a right ancestor) works as a scorer anywhere
# scikit-learn takes one.
scores = cross_val_score(model, X, y, cv=3, scoring=get_hierarchical_scorer("hierarchical_f1", taxonomy))
print(f"hierarchical F1 over 3 folds: {scores.mean():.3f} (±{scores.std():.3f})")
