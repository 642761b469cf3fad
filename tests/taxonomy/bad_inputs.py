"""Bad inputs of taxonomy: each row (id, call, exception type, regex of the message) must fail with a clear
error; ``tests/conformance/test_bad_inputs.py`` runs every area's table (TAXONOMY, DAGS)."""


import numpy as np
import torch

from skhier import (
    CoherenceRefiner,
    LocalClassifierPerParentNode,
    MultiLabelLocalClassifierPerNode,
    Taxonomy,
    TaxonomyError,
    TopDownRefiner,
)
from skhier.labels import fill_ancestors
from skhier.metrics import (
    hierarchy_violations,
)
from skhier.neural import (
    CHMCNNClassifier,
    FlatSoftmaxClassifier,
)
from skhier.neural.modules import MaxConstraintLoss
from tests.conformance._bad_input_fixtures import (
    DAG,
    T,
    _dag_fit,
)

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
     "n_layers must be a positive int, got 0"),
    ("chmcnn width", _dag_fit(CHMCNNClassifier(DAG, module__hidden="wide", max_epochs=1, device="cpu")), ValueError,
     "hidden must be a positive int or 'auto', got 'wide'"),
    ("chmcnn width zero", _dag_fit(CHMCNNClassifier(DAG, module__hidden=0, max_epochs=1, device="cpu")), ValueError,
     "hidden must be a positive int, got 0"),
    ("chmcnn dropout", _dag_fit(CHMCNNClassifier(DAG, module__dropout=1.0, max_epochs=1, device="cpu")), ValueError,
     r"dropout must be a number in \[0, 1\), got 1.0"),
    ("multilabel local classifier without sets", _dag_fit(MultiLabelLocalClassifierPerNode(taxonomy=DAG),
                                                          ["c", "a", "b"] * 2),
     ValueError, "learns node sets"),
    ("obo without terms", lambda: Taxonomy.from_obo("format-version: 1.2\n"), TaxonomyError, r"no \[Term\] stanza"),
]

#: issue 35: skorch's own parameters, the backbone's widths, refiner thresholds, and messages that pointed
#: at the wrong thing (each was silent or cryptic before)
