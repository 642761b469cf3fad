"""
Local classifiers for HiClass users: explicit taxonomy, per-node estimators, early stops
========================================================================================

The three local strategies around any scikit-learn estimator, on 2-D root-first paths
(the format HiClass users have). We pass the taxonomy explicitly, give one node its own
estimator, let unsure samples stop at an internal node, and compare hierarchical F1.
"""

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skhier.datasets import make_hierarchical_classification
from skhier.local import LocalClassifierPerLevel, LocalClassifierPerNode, LocalClassifierPerParentNode
from skhier.metrics import hierarchical_f1_score, hierarchical_precision_score

X, Y, taxonomy = make_hierarchical_classification(
    1500, 20, n_levels=3, branching=3, class_sep=1.0, label_format="path", random_state=0
)
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)
first = taxonomy.nodes[taxonomy.levels[1][0]]

for cls in (LocalClassifierPerNode, LocalClassifierPerParentNode, LocalClassifierPerLevel):
    key = first if cls is not LocalClassifierPerLevel else 1
    clf = cls(
        LogisticRegression(max_iter=1000),
        taxonomy=taxonomy,
        local_classifiers={key: RandomForestClassifier(100, random_state=0)},
        n_jobs=2,
    ).fit(X_train, Y_train)
    mandatory = clf.predict(X_test)
    cautious = clf.set_params(threshold=0.8).predict(X_test)
    stopped = np.mean([row[-1] == "" for row in cautious])
    print(
        f"{cls.__name__:30s} hF1 {hierarchical_f1_score(Y_test, mandatory, taxonomy=taxonomy):.3f} | "
        f"threshold 0.8: hP {hierarchical_precision_score(Y_test, cautious, taxonomy=taxonomy):.3f}, "
        f"{100 * stopped:.0f}% stop above the leaves"
    )
