"""
Gene Ontology: coherent multi-label predictions on a DAG
========================================================

The HMC benchmark's ``eisen_GO`` dataset: yeast genes described by 79 expression
features, each annotated with a set of Gene Ontology terms — 3,574 classes in a directed
acyclic graph where a term may have several parents. ``CHMCNNClassifier`` (C-HMCNN)
predicts a probability per term through its max-constraint module, so no term ever
scores above one of its ancestors; a per-term sigmoid network does not, until
``CoherenceRefiner`` applies the same constraint after it. Scored as the benchmark does:
micro-averaged AU(PRC) over every class but the root and GO's three namespace tops,
beside the constant prior (training frequencies), which this metric rewards.

Needs the benchmark's files: set ``SKHIER_HMC_DATA`` to their folder. About a minute on
two CPU cores: a larger batch, a larger learning rate and far fewer epochs than the
paper's recipe (``benchmarks/hmc.py`` runs that), so C-HMCNN here is not at its
published level (0.455 on eisen_GO).
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.metrics import average_precision_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skhier.datasets import load_hmc  # noqa: E402
from skhier.inference import CoherenceRefiner  # noqa: E402
from skhier.metrics import hierarchy_violations  # noqa: E402
from skhier.neural import CHMCNNClassifier, MultiLabelNodeClassifier  # noqa: E402

try:
    train = load_hmc("eisen_GO", "trainvalid")
    test = load_hmc("eisen_GO", "test")
except FileNotFoundError as err:
    print(f"This example needs the HMC benchmark data: {err}")
else:
    tax = train.taxonomy
    n_multi = sum(len(p) > 1 for p in tax.parents)
    print(f"{tax.n_nodes} GO classes, {n_multi} with several parents; {train.data.shape[0]} training genes, "
          f"{train.target[:, 1:].sum(1).mean():.1f} terms per gene")
    prep = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()).fit(train.data)
    X, X_test = prep.transform(train.data).astype(np.float32), prep.transform(test.data).astype(np.float32)
    scored = test.scored

    def micro_ap(P):
        return average_precision_score(test.target[:, scored].toarray(), P[:, scored], average="micro")

    common = dict(max_epochs=8, batch_size=64, lr=2e-3, device="cpu", random_state=0, train_split=None)
    chmcnn = CHMCNNClassifier(tax, module__hidden=500, **common).fit(X, train.target)
    sigmoid = MultiLabelNodeClassifier(tax, backbone="mlp", backbone__hidden=(500, 500), **common).fit(X, train.target)

    prior = np.tile(np.asarray(train.target.mean(axis=0)).ravel(), (X_test.shape[0], 1))
    rows = {
        "prior (training frequencies)": prior,
        "per-term sigmoid": sigmoid.predict_proba(X_test),
        "per-term sigmoid + CoherenceRefiner": np.asarray(
            CoherenceRefiner(tax).fit(sigmoid.transform(X)).transform(sigmoid.transform(X_test))),
        "C-HMCNN": chmcnn.predict_proba(X_test),
    }
    print(f"{'model':<38} {'micro AP':>9} {'violations per gene':>20}")
    aps = {}
    for name, P in rows.items():
        aps[name] = micro_ap(P)
        print(f"{name:<38} {aps[name]:9.3f} {hierarchy_violations(P, taxonomy=tax).mean():20.1f}")

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(list(aps), list(aps.values()), color=["grey", "tab:orange", "tab:green", "tab:blue"])
    ax.set_xlabel("micro AU(PRC), eisen_GO test")
    ax.set_xlim(min(aps.values()) - 0.02, max(aps.values()) + 0.02)
    fig.tight_layout()
    fig.savefig("gene_ontology.png")
