"""
Refine a flat classifier with diffusion on the taxonomy
=======================================================

Any scikit-learn classifier becomes a producer of node scores with ``FlatClassifier``;
``DiffusionRefiner`` then spreads scores between parents and children. We tune the
diffusion strength and the decision rule with a hierarchical scorer in ``GridSearchCV``.
"""

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skhier import DiffusionRefiner, FlatClassifier
from skhier.datasets import make_hierarchical_classification
from skhier.metrics import get_hierarchical_scorer, level_accuracy_score

X, y, taxonomy = make_hierarchical_classification(
    1200, 20, n_levels=3, branching=3, class_sep=1.0, label_format="path", random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
print(taxonomy)

pipe = make_pipeline(FlatClassifier(LogisticRegression(max_iter=1000), taxonomy), DiffusionRefiner(taxonomy))
search = GridSearchCV(
    pipe,
    {"diffusionrefiner__alpha": [0.0, 0.1, 0.3], "diffusionrefiner__decision": ["leaf", "top_down"]},
    scoring={
        "hf1": get_hierarchical_scorer("hierarchical_f1", taxonomy),
        "ap": get_hierarchical_scorer("average_precision", taxonomy),
    },
    refit="hf1",
    cv=3,
).fit(X_train, y_train)
print("best:", search.best_params_, f"hF1 {search.best_score_:.3f}")

pred = search.predict(X_test)  # root-first paths, like y
print("per-level accuracy on the test split:", level_accuracy_score(y_test, pred, taxonomy=taxonomy).round(3))
