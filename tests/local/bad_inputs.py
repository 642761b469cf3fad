"""Bad inputs of local: each row (id, call, exception type, regex of the message) must fail with a clear
error; ``tests/conformance/test_bad_inputs.py`` runs every area's table (LOCAL)."""


import numpy as np
from sklearn.linear_model import LogisticRegression

from skhier import (
    LocalClassifierPerLevel,
    LocalClassifierPerNode,
    LocalClassifierPerParentNode,
)
from tests.conformance._bad_input_fixtures import (
    T,
    _fit,
)

LOCAL = [
    (
        "threshold 2",
        _fit(LocalClassifierPerNode(taxonomy=T, threshold=2)),
        ValueError,
        r"threshold must be None or a number in \[0, 1\], got 2",
    ),
    (
        "weights shape",
        lambda: LocalClassifierPerNode(taxonomy=T).fit(np.zeros((3, 2)), ["A1"] * 3, sample_weight=[1]),
        ValueError,
        r"sample_weight must have shape \(3,\)",
    ),
    (
        "weights negative",
        lambda: LocalClassifierPerLevel(taxonomy=T).fit(np.zeros((3, 2)), ["A1", "A2", "B1"], sample_weight=[1, -1, 1]),
        ValueError,
        "finite and non-negative",
    ),
    (
        "y None",
        lambda: LocalClassifierPerNode(taxonomy=T).fit(np.zeros((3, 2)), None),
        ValueError,
        "requires y to be passed",
    ),
    (
        "y unknown",
        _fit(LocalClassifierPerParentNode(taxonomy=T), y=["A1", "Z", "B1"] * 2),
        ValueError,
        r"y\[1\]: unknown label 'Z'",
    ),
    (
        "bad key node",
        _fit(LocalClassifierPerParentNode(taxonomy=T, local_classifiers={"A1": LogisticRegression()})),
        ValueError,
        "local_classifiers has key 'A1', which is not a node with a local classifier",
    ),
    (
        "bad key level",
        _fit(LocalClassifierPerLevel(taxonomy=T, local_classifiers={0: LogisticRegression()})),
        ValueError,
        "local_classifiers has key 0, which is not a level",
    ),
    (
        "bad choice type",
        _fit(LocalClassifierPerNode(taxonomy=T, local_classifiers=[1])),
        TypeError,
        "local_classifiers must be one of None, or a dict, or a callable",
    ),
    (
        "no proba",
        _fit(LocalClassifierPerNode(type("NoProba", (), {"fit": None})(), taxonomy=T)),
        TypeError,
        r"local_classifier must be an object with fit\(\) or None, got .*NoProba",
    ),
    (
        "X width at predict",
        lambda: (
            LocalClassifierPerNode(taxonomy=T)
            .fit(np.zeros((6, 3)) + np.arange(6)[:, None], ["A1", "A2", "B1"] * 2)
            .predict(np.zeros((1, 2)))
        ),
        ValueError,
        "X has 2 features",
    ),
    ("X nan", _fit(LocalClassifierPerNode(taxonomy=T), X=np.full((6, 3), np.nan)), ValueError, "NaN"),
]
