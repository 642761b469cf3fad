"""Label formats: how skhier reads ``y`` and answers in the format it was given.

Every estimator, refiner and metric accepts ``y`` in one of four formats:

``"leaf"``
    1-D array of leaf identifiers (flat class labels).
``"node"``
    1-D array of node identifiers, internal nodes allowed (non-mandatory leaf
    prediction: a sample labelled only down to ``"Shoes"``).
``"path"``
    2-D array of root-first label paths without the root, one row per sample, padded at
    the end with ``""``, ``None`` or NaN when depths vary. The format HiClass users have.
``"indicator"``
    2-D 0/1 array or sparse matrix of shape (n_samples, n_nodes), columns in taxonomy
    order: several paths per sample (multi-label). Ancestors are filled in.
    **Label sets** are the same format written as Python sets: a list (or 1-D object
    array) whose rows are ``set``/``frozenset`` of node identifiers, what
    ``MultiLabelBinarizer`` takes (``[{"Shirt"}, {"Shirt", "Sneaker"}]``); ancestors are
    filled in and predictions come back as a list of sets (without the root).

A Python list of paths of different lengths is padded with ``None`` at the end. A list of
lists is always read as paths (one path per row): write several labels per sample as sets.

Internally, single-label targets become node indices (int64, one per sample) and
multi-label targets a CSR indicator with ancestors filled; :class:`HierarchicalLabelEncoder`
remembers the format so that predictions come back as they went in.
"""

import warnings

from ._decode import (
    decode_labels,
    indicator_to_node_indices,
    node_indices_to_indicator,
    node_indices_to_labels,
    node_indices_to_paths,
)
from ._encode import encode_labels, fill_ancestors, to_node_indices, type_of_hierarchical_target
from ._encoder import HierarchicalLabelEncoder
from ._formats import LabelFormat, infer_taxonomy

__all__ = [
    "LabelFormat",
    "HierarchicalLabelEncoder",
    "type_of_hierarchical_target",
    "encode_labels",
    "decode_labels",
    "to_node_indices",
    "node_indices_to_labels",
    "node_indices_to_paths",
    "node_indices_to_indicator",
    "indicator_to_node_indices",
    "fill_ancestors",
    "infer_taxonomy",
]

_MOVED = {"check_node_indices", "check_node_scores"}  # moved to skhier.utils.validation


def __getattr__(name):
    if name in _MOVED:
        warnings.warn(
            f"skhier.labels.{name} moved to skhier.utils.validation.{name}; the old name goes in the next "
            "release",
            DeprecationWarning,
            stacklevel=2,
        )
        from ..utils import validation

        return getattr(validation, name)
    raise AttributeError(f"module 'skhier.labels' has no attribute {name!r}")
