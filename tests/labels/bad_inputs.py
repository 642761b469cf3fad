"""Bad inputs of labels: each row (id, call, exception type, regex of the message) must fail with a clear
error; ``tests/conformance/test_bad_inputs.py`` runs every area's table (LABELS)."""


import numpy as np
import scipy.sparse as sp

from skhier.labels import HierarchicalLabelEncoder, decode_labels, encode_labels, node_indices_to_labels
from skhier.utils.validation import check_node_indices
from tests.conformance._bad_input_fixtures import (
    T,
)

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
    ("indices to labels, too large", lambda: node_indices_to_labels([0, 6], T), ValueError,
     "indices holds node index 6"),
    ("indices to labels, fractional", lambda: node_indices_to_labels([0.5], T), ValueError,
     "indices must be integer node indices, got 0.5"),
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
