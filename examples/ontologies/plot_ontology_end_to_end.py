"""
An ontology end to end: OBO text, a DAG, node-set predictions and their scores
==============================================================================

Ontologies (the Gene Ontology, HPO, a product ontology) arrive as OBO files, and a term
may have several parents. This example goes the whole way on a small hand-written one,
in seconds on a CPU and with no download:

1. ``Taxonomy.from_obo`` reads the OBO text into a DAG (``is_a`` and ``part_of`` edges);
2. synthetic samples carry *sets* of terms, closed under every ancestor;
3. ``CHMCNNClassifier`` (C-HMCNN) and ``MultiLabelLocalClassifierPerNode`` (a logistic
   regression per term) learn them;
4. their node-set predictions are scored with the set-based hierarchical F1, the
   mean average precision over terms, and the count of hierarchy violations (a term
   predicted above an ancestor), which both keep at zero by construction.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skhier import Taxonomy  # noqa: E402
from skhier.labels import fill_ancestors  # noqa: E402
from skhier.local import MultiLabelLocalClassifierPerNode  # noqa: E402
from skhier.metrics import (  # noqa: E402
    hierarchical_precision_recall_fscore,
    hierarchy_violations,
    mean_average_precision,
)
from skhier.neural import CHMCNNClassifier  # noqa: E402
from skhier.plot import plot_taxonomy  # noqa: E402

OBO = """format-version: 1.2

[Term]
id: FOOD:1
name: food

[Term]
id: FOOD:2
name: fruit
is_a: FOOD:1

[Term]
id: FOOD:3
name: dessert
is_a: FOOD:1

[Term]
id: FOOD:4
name: baked good
is_a: FOOD:1

[Term]
id: FOOD:5
name: apple pie
is_a: FOOD:3
is_a: FOOD:4
relationship: part_of FOOD:2

[Term]
id: FOOD:6
name: fruit salad
is_a: FOOD:2
is_a: FOOD:3

[Term]
id: FOOD:7
name: bread
is_a: FOOD:4

[Term]
id: FOOD:8
name: croissant
is_a: FOOD:7
is_a: FOOD:3
"""

# 1. OBO text -> a DAG (a term may have several parents)
tax = Taxonomy.from_obo(OBO, relations=("is_a", "part_of"))
print(tax)
several = [tax.nodes[v] for v in range(tax.n_nodes) if len(tax.parents[v]) > 1]
print(f"{tax.n_nodes} nodes, DAG: {not tax.is_tree}; terms with several parents: {several}")

# 2. samples: each carries one or two specific terms, closed under all their ancestors
rng = np.random.default_rng(0)
specific = [tax.index(t) for t in ("FOOD:5", "FOOD:6", "FOOD:7", "FOOD:8", "FOOD:2")]
n = 600
Y = np.zeros((n, tax.n_nodes), dtype=int)
Y[np.arange(n), rng.choice(specific, n)] = 1
second = rng.random(n) < 0.3
Y[np.flatnonzero(second), rng.choice(specific, second.sum())] = 1
Y = fill_ancestors(Y, tax)
centres = rng.normal(scale=1.5, size=(tax.n_nodes, 12))
X = (Y @ centres + rng.normal(size=(n, 12))).astype(np.float32)
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)

# 3. two learners of node sets, coherent by construction
models = {
    "C-HMCNN": CHMCNNClassifier(tax, module__hidden=64, batch_size=32, lr=3e-3, max_epochs=20, device="cpu",
                                random_state=0),
    "logistic regression per term": MultiLabelLocalClassifierPerNode(LogisticRegression(max_iter=500),
                                                                      taxonomy=tax),
}
scores = {}
for name, model in models.items():
    model.fit(X_train, Y_train)
    P, pred = model.predict_proba(X_test), model.predict(X_test)
    # 4. scores on node sets: hierarchical F1 (set-based), mAP over terms, violations
    _, _, hf1 = hierarchical_precision_recall_fscore(Y_test, pred, taxonomy=tax)
    m_ap = mean_average_precision(Y_test, P, taxonomy=tax)
    violations = int(hierarchy_violations(P, taxonomy=tax).sum())
    scores[name] = (hf1, m_ap)
    print(f"{name:>30s}: hierarchical F1 {hf1:.3f}  mAP {m_ap:.3f}  violations {violations}")

# the mean probability of every term under C-HMCNN, drawn on the DAG
fig, ax = plt.subplots(figsize=(7, 4))
plot_taxonomy(tax, models["C-HMCNN"].transform(X_test).mean(axis=0), ax=ax)
ax.set_title("C-HMCNN: mean probability per term")
fig.tight_layout()
fig.savefig("ontology_end_to_end.png", dpi=80)
