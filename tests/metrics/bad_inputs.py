"""Bad inputs of metrics: each row (id, call, exception type, regex of the message) must fail with a clear
error; ``tests/conformance/test_bad_inputs.py`` runs every area's table (METRICS, LATENT)."""


import numpy as np

from skhier.metrics import (
    HierarchicalMetricAccumulator,
    OperatingCurveScorer,
    get_hierarchical_scorer,
    hierarchical_average_precision,
    hierarchical_distance_at_k,
    hierarchical_f1_score,
    latent_distance_correlation,
    leaf_f1_score,
    level_accuracy_score,
    mean_average_precision,
    operating_curve,
    path_accuracy_score,
    recall_at_correct,
)
from tests.conformance._bad_input_fixtures import (
    LEAF_S,
    TEN,
    S,
    T,
)

METRICS = [
    (
        "empty labels",
        lambda: hierarchical_f1_score([], [], taxonomy=T),
        ValueError,
        "y_true and y_pred hold no samples: a metric needs at least one",
    ),
    (
        "empty scores",
        lambda: hierarchical_average_precision([], np.zeros((0, 6)), taxonomy=T),
        ValueError,
        "y_true and y_score hold no samples",
    ),
    (
        "empty path accuracy",
        lambda: path_accuracy_score(np.empty(0), np.empty(0), taxonomy=T),
        ValueError,
        "hold no samples",
    ),
    (
        "curve scorer min_correct str",
        lambda: OperatingCurveScorer(T, min_correct="0.9"),
        TypeError,
        r"min_correct must be a number in \[0, 1\] or a sequence of them, got '0.9'",
    ),
    (
        "curve scorer min_correct range",
        lambda: OperatingCurveScorer(T, min_correct=1.5),
        ValueError,
        r"min_correct must be a number in \[0, 1\], got 1.5",
    ),
    (
        "curve scorer min_correct twice",
        lambda: OperatingCurveScorer(T, min_correct=[0.9, 0.9]),
        ValueError,
        "giving the same key twice",
    ),
    (
        "y_true unknown",
        lambda: path_accuracy_score(["Z"], ["A1"], taxonomy=T),
        ValueError,
        r"y_true\[0\]: unknown label 'Z'",
    ),
    (
        "y_pred unknown",
        lambda: path_accuracy_score(["A1"], ["Z"], taxonomy=T),
        ValueError,
        r"y_pred\[0\]: unknown label 'Z'",
    ),
    (
        "hf1 y_pred path",
        lambda: hierarchical_f1_score(["A1"], [["B", "A1"]], taxonomy=T),
        ValueError,
        r"y_pred\[0\] = \['B', 'A1'\]",
    ),
    (
        "lengths differ",
        lambda: path_accuracy_score(["A1"], ["A1", "A2"], taxonomy=T),
        ValueError,
        "inconsistent numbers of samples",
    ),
    (
        "weights shape",
        lambda: path_accuracy_score(["A1"], ["A1"], taxonomy=T, sample_weight=[1, 2]),
        ValueError,
        r"sample_weight must have shape \(1,\)",
    ),
    (
        "weights negative",
        lambda: path_accuracy_score(["A1"], ["A1"], taxonomy=T, sample_weight=[-1]),
        ValueError,
        "non-negative",
    ),
    (
        "weights nan",
        lambda: path_accuracy_score(["A1"], ["A1"], taxonomy=T, sample_weight=[np.nan]),
        ValueError,
        "finite",
    ),
    (
        "tensor str taxonomy",
        lambda: path_accuracy_score(TEN([1]), ["A1"], taxonomy=T),
        TypeError,
        "y_true is a tensor.*strings",
    ),
    (
        "tensor float",
        lambda: path_accuracy_score(TEN([1.0]), ["A1"], taxonomy=T),
        ValueError,
        "a tensor y_true must be 1-D int labels",
    ),
    (
        "leaf-width scores",
        lambda: hierarchical_average_precision(["A1"] * 2, LEAF_S, taxonomy=T),
        ValueError,
        "y_score has 3 columns, one per leaf",
    ),
    (
        "scores width",
        lambda: leaf_f1_score(["A1"], np.ones((1, 4)), taxonomy=T),
        ValueError,
        "y_score have 4 columns.*6 nodes",
    ),
    (
        "scores nan",
        lambda: leaf_f1_score(["A1"], np.full((1, 6), np.nan), taxonomy=T),
        ValueError,
        "y_score contain NaN",
    ),
    ("scores 1-D", lambda: leaf_f1_score(["A1"], np.ones(6), taxonomy=T), ValueError, "y_score must be 2-D"),
    (
        "scores strings",
        lambda: leaf_f1_score(["A1"], np.array([["a"] * 6]), taxonomy=T),
        TypeError,
        "y_score must be numeric",
    ),
    (
        "scores tensor nan",
        lambda: leaf_f1_score(["A1"], TEN([[np.nan] * 6]), taxonomy=T),
        ValueError,
        "NaN or infinity",
    ),
    (
        "min_correct 1.5",
        lambda: recall_at_correct(["A1"] * 2, S, taxonomy=T, min_correct=1.5),
        ValueError,
        r"min_correct must be a number in \[0, 1\], got 1.5",
    ),
    (
        "min_correct str",
        lambda: recall_at_correct(["A1"] * 2, S, taxonomy=T, min_correct="0.9"),
        ValueError,
        "got '0.9'",
    ),
    (
        "specificity",
        lambda: operating_curve(["A1"] * 2, S, taxonomy=T, specificity="height"),
        ValueError,
        "specificity must be 'info' or 'depth', got 'height'",
    ),
    ("k too large", lambda: hierarchical_distance_at_k(["A1"] * 2, S, taxonomy=T, k=9), ValueError, "k must be in"),
    (
        "curve min_correct",
        lambda: operating_curve(["A1"] * 2, S, taxonomy=T).recall_at_correct(1.5),
        ValueError,
        "min_correct must be",
    ),
    (
        "curve scorer min_correct",
        lambda: OperatingCurveScorer(T, min_correct=(0.9, -1)),
        ValueError,
        "min_correct must be",
    ),
    ("curve scorer taxonomy", lambda: OperatingCurveScorer("tax"), TypeError, "taxonomy must be a skhier.Taxonomy"),
    ("level out of range", lambda: level_accuracy_score(["A1"], ["A1"], taxonomy=T, level=5), ValueError, "level"),
    ("average", lambda: hierarchical_f1_score(["A1"], ["A1"], taxonomy=T, average="weighted"), ValueError, "average"),
    ("map width", lambda: mean_average_precision(np.ones((1, 6)), np.ones((1, 3)), taxonomy=T), ValueError, "3"),
    ("scorer name", lambda: get_hierarchical_scorer("nope", T), ValueError, "'nope'"),
    ("accumulator empty", lambda: HierarchicalMetricAccumulator(T).compute(), ValueError, "no batch was added"),
    (
        "update_indices range",
        lambda: HierarchicalMetricAccumulator(T).update_indices(TEN([0]), TEN([7])),
        ValueError,
        r"y_pred holds node indices outside \[0, 6\): found \[7, 7\]",
    ),
    (
        "update_indices list",
        lambda: HierarchicalMetricAccumulator(T).update_indices([0], [1]),
        TypeError,
        "y_true must be a 1-D integer tensor",
    ),
]


LATENT = [
    (
        "latent Z 1-D",
        lambda: latent_distance_correlation(["A1", "B1"], np.ones(2), taxonomy=T),
        ValueError,
        "Z must be a 2-D numeric",
    ),
    (
        "latent Z nan",
        lambda: latent_distance_correlation(["A1", "B1"], np.full((2, 2), np.nan), taxonomy=T),
        ValueError,
        "NaN",
    ),
    (
        "latent lengths",
        lambda: latent_distance_correlation(["A1", "B1"], np.ones((3, 2)), taxonomy=T),
        ValueError,
        "y_true has 2 samples but Z has 3",
    ),
    (
        "latent one sample",
        lambda: latent_distance_correlation(["A1"], np.ones((1, 2)), taxonomy=T),
        ValueError,
        "at least 2 samples",
    ),
    (
        "latent metric",
        lambda: latent_distance_correlation(["A1", "B1"], np.ones((2, 2)), taxonomy=T, latent_metric="l2"),
        ValueError,
        "latent_metric must be one of.*'l2'",
    ),
    (
        "latent distance",
        lambda: latent_distance_correlation(["A1", "B1"], np.ones((2, 2)), taxonomy=T, distance="jaccard"),
        ValueError,
        "distance must be one of.*'jaccard'",
    ),
    (
        "latent pairs",
        lambda: latent_distance_correlation(["A1", "B1"], np.ones((2, 2)), taxonomy=T, max_pairs=0),
        ValueError,
        "max_pairs must be",
    ),
    (
        "latent unknown label",
        lambda: latent_distance_correlation(["A1", "Q"], np.ones((2, 2)), taxonomy=T),
        ValueError,
        r"y_true\[1\]: unknown label 'Q'",
    ),
]
