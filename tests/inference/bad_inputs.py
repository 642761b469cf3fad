"""Bad inputs of inference: each row (id, call, exception type, regex of the message) must fail with a clear
error; ``tests/conformance/test_bad_inputs.py`` runs every area's table (INFERENCE)."""


import numpy as np
from sklearn.linear_model import LogisticRegression

from skhier import (
    BottomUpRefiner,
    DifferentiableDiffusionRefiner,
    DiffusionRefiner,
    FlatClassifier,
    TopDownRefiner,
)
from skhier.datasets import make_taxonomy
from skhier.inference import decide, diffuse
from tests.conformance._bad_input_fixtures import (
    TEN,
    X4,
    S,
    T,
)

INFERENCE = [
    ("decision", lambda: DiffusionRefiner(T, decision="best").fit(S), ValueError, "decision must be one of.*'best'"),
    (
        "alpha 1",
        lambda: DiffusionRefiner(T, alpha=1.0).fit(S),
        ValueError,
        r"alpha must be a number in \[0, 1\), got 1.0",
    ),
    ("alpha str", lambda: DiffusionRefiner(T, alpha="0.5").fit(S), ValueError, "got '0.5'"),
    ("method", lambda: DiffusionRefiner(T, method="power").fit(S), ValueError, "method must be.*'power'"),
    (
        "root role",
        lambda: DiffusionRefiner(T, root="drop").fit(S),
        ValueError,
        r"root must be one of 'exclude', 'node', got 'drop'",
    ),
    ("solver", lambda: DiffusionRefiner(T, solver="lu").fit(S), ValueError, "solver must be.*'lu'"),
    (
        "max_iter 0",
        lambda: DiffusionRefiner(T, method="iterative", max_iter=0).fit(S),
        ValueError,
        "max_iter must be a positive int, got 0",
    ),
    (
        "tol negative",
        lambda: DiffusionRefiner(T, tol=-1).fit(S),
        ValueError,
        "tol must be a non-negative number, got -1",
    ),
    (
        "threshold str",
        lambda: DiffusionRefiner(T, decision="threshold", threshold="x").fit(S),
        ValueError,
        "threshold must be a number in \\[0, 1\\], got 'x'",
    ),
    (
        "threshold nan",
        lambda: decide(S, T, "threshold", threshold=np.nan),
        ValueError,
        "threshold must be a finite number, got nan",
    ),
    ("decide rule", lambda: decide(S, T, "random"), ValueError, "decision must be one of"),
    (
        "refiner width",
        lambda: DiffusionRefiner(T).fit(np.ones((2, 4))),
        ValueError,
        "X have 4 columns but the taxonomy has 6 nodes",
    ),
    ("refiner nan", lambda: BottomUpRefiner(T).fit(np.full((1, 6), np.nan)), ValueError, "NaN or infinity"),
    ("refiner negative", lambda: BottomUpRefiner(T).fit(-S), ValueError, r"probabilities in \[0, 1\]"),
    ("topdown above 1", lambda: TopDownRefiner(T).fit(S * 3), ValueError, r"probabilities in \[0, 1\]"),
    ("refiner y length", lambda: DiffusionRefiner(T).fit(S, ["A1"]), ValueError, "X has 2 samples but y has 1"),
    ("refiner y unknown", lambda: DiffusionRefiner(T).fit(S, ["A1", "Z"]), ValueError, r"y\[1\]: unknown label 'Z'"),
    (
        "other taxonomy",
        lambda: (
            DiffusionRefiner(T).fit(S).transform(BottomUpRefiner(make_taxonomy(1, 5)).fit_transform(np.zeros((1, 6))))
        ),
        ValueError,
        "another taxonomy",
    ),
    ("learned needs y", lambda: DifferentiableDiffusionRefiner(T, max_epochs=1).fit(S), ValueError, "needs y to fit"),
    (
        "learned too big",
        lambda: DifferentiableDiffusionRefiner(T, operator="dense", max_nodes=3).fit(S, ["A1"] * 2),
        ValueError,
        r"more than max_nodes=3: the dense learned map .* use operator='edges'",
    ),
    (
        "learned operator",
        lambda: DifferentiableDiffusionRefiner(T, operator="sparse").fit(S, ["A1"] * 2),
        ValueError,
        "operator must be one of 'auto', 'dense', 'edges', got 'sparse'",
    ),
    ("learned n_steps", lambda: DifferentiableDiffusionRefiner(T, n_steps=0).fit(S, ["A1"] * 2), ValueError, "n_steps"),
    ("diffuse alpha", lambda: diffuse(TEN(S), T, -0.1), ValueError, "alpha must be a number in"),
    (
        "flat no proba",
        lambda: FlatClassifier(type("NoProba", (), {"fit": lambda s, X, y: s})(), T).fit(X4, ["A1", "B1"]),
        TypeError,
        "NoProba has no predict_proba",
    ),
    (
        "flat y None",
        lambda: FlatClassifier(LogisticRegression(), T).fit(X4, None),
        ValueError,
        "requires y to be passed",
    ),
    (
        "flat indicator",
        lambda: FlatClassifier(LogisticRegression(), T).fit(X4, np.eye(6)[:2].astype(int)),
        ValueError,
        "single-label targets",
    ),
    (
        "flat taxonomy",
        lambda: FlatClassifier(LogisticRegression(), "tax").fit(X4, ["A1", "B1"]),
        TypeError,
        "taxonomy must be a skhier.Taxonomy, got str",
    ),
]
