"""Label decoding: node indices or indicators back to the format ``y`` was given in."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._docs import fill_doc
from .._taxonomy import Taxonomy
from ..utils.validation import check_node_indices
from ._encode import _indicator_to_sets, fill_ancestors
from ._formats import LabelFormat


@fill_doc
def indicator_to_node_indices(indicator, taxonomy: Taxonomy) -> np.ndarray:
    """The deepest set node of every row of a single-path indicator.

    Parameters
    ----------
    indicator : array-like or sparse matrix of shape (n_samples, n_nodes)
        Each row sets the nodes of one root-first path (ancestors may be left out).
    %(taxonomy)s

    Returns
    -------
    indices : ndarray of int64
        Node indices.

    Raises
    ------
    ValueError
        If a row holds several paths.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import indicator_to_node_indices
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    >>> indicator_to_node_indices([[1, 1, 1, 0], [1, 0, 0, 1]], tax)
    array([2, 3])
    """
    filled = fill_ancestors(indicator, taxonomy)
    counts = np.diff(filled.indptr)
    depth = taxonomy.depth
    out = np.zeros(filled.shape[0], dtype=np.int64)
    for i in range(filled.shape[0]):
        cols = filled.indices[filled.indptr[i] : filled.indptr[i + 1]]
        deepest = cols[np.argmax(depth[cols])]
        if counts[i] != depth[deepest] + 1:
            raise ValueError(
                f"row {i} of the indicator holds several paths; "
                "single-label metrics and formats need one path per sample"
            )
        out[i] = deepest
    return out


@fill_doc
def node_indices_to_labels(indices, taxonomy: Taxonomy) -> np.ndarray:
    """Node identifiers of node indices, as a 1-D array.

    Parameters
    ----------
    indices : array-like of int
        Node indices: positions in ``taxonomy.nodes``.
    %(taxonomy)s

    Returns
    -------
    labels : ndarray
        Of the identifiers' dtype when they share one (str or int), else object.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import node_indices_to_labels
    >>> tax = Taxonomy.from_edges([("r", "a"), ("r", "b")])
    >>> node_indices_to_labels([2, 1], tax)
    array(['b', 'a'], dtype='<U1')
    """
    idx = check_node_indices(indices, taxonomy, name="indices")
    nodes = taxonomy.nodes
    used = [nodes[i] for i in np.unique(idx)]
    # the dtype of the labels returned, not of every node: int leaves under a str root are ints
    if used and all(isinstance(n, str) for n in used):
        table = np.array([n if isinstance(n, str) else "" for n in nodes])
    elif used and all(isinstance(n, int) for n in used):
        table = np.array([n if isinstance(n, int) else 0 for n in nodes], dtype=np.int64)
    else:
        table = np.empty(len(nodes), dtype=object)
        table[:] = list(nodes)
    return table[idx]


@fill_doc
def node_indices_to_paths(
    indices, taxonomy: Taxonomy, *, n_levels: int | None = None, fill="", include_root=False
) -> np.ndarray:
    """Root-first name paths of node indices, padded at the end with ``fill``.

    Parameters
    ----------
    indices : array-like of int
        Node indices: positions in ``taxonomy.nodes``.
    %(taxonomy)s
    n_levels : int, default=None
        Number of columns; defaults to the taxonomy's depth (plus one with the root).
    fill : object, default=""
        Padding of paths shorter than ``n_levels``.
    include_root : bool, default=False
        Whether each row starts with the root's name.

    Returns
    -------
    paths : ndarray of shape (n_samples, n_levels)
        Root-first label paths, padded at the end.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import node_indices_to_paths
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    >>> node_indices_to_paths([2, 3], tax)
    array([['a', 'x'],
           ['b', '']], dtype=object)
    """
    idx = np.asarray(indices, dtype=np.int64)
    start = 0 if include_root else 1
    need = taxonomy.max_depth + 1 - start
    width = need if n_levels is None else max(int(n_levels), int(taxonomy.depth[idx].max(initial=0)) + 1 - start)
    table = np.empty((taxonomy.n_nodes, width), dtype=object)
    table[:] = fill
    names = np.empty(taxonomy.n_nodes + 1, dtype=object)
    names[:-1] = list(taxonomy.names)
    names[-1] = fill
    paths = taxonomy.path_indices[:, start : start + width]
    table[:, : paths.shape[1]] = names[paths]  # -1 picks the fill at names[-1]
    return table[idx]


@fill_doc
def node_indices_to_indicator(indices, taxonomy: Taxonomy, *, sparse: bool = True):
    """Indicator of every node index with its ancestors and the root set.

    Parameters
    ----------
    indices : array-like of int
        Node indices: positions in ``taxonomy.nodes``.
    %(taxonomy)s
    sparse : bool, default=True
        Return a CSR matrix, else a dense int8 array.

    Returns
    -------
    indicator : scipy.sparse.csr_matrix or ndarray of shape (n_samples, n_nodes)
        Indicator of every node index with its ancestors and the root set.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import node_indices_to_indicator
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    >>> node_indices_to_indicator([2], tax, sparse=False)
    array([[1, 1, 1, 0]], dtype=int8)
    """
    idx = np.asarray(indices, dtype=np.int64)
    m = taxonomy.ancestor_matrix[idx].astype(np.int8).tocsr()
    return m if sparse else m.toarray()


@fill_doc
def decode_labels(encoded, taxonomy: Taxonomy, label_format: LabelFormat):
    """Write node indices (or an indicator) back in ``label_format``.

    Parameters
    ----------
    encoded : ndarray of int or sparse matrix
        What :func:`encode_labels` returns, or predictions in the same form.
    %(taxonomy)s
    label_format : LabelFormat
        The label format to answer in (``HierarchicalLabelEncoder.format_``).

    Returns
    -------
    y : ndarray or sparse matrix
        Labels in the format ``y`` was given in.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import encode_labels, decode_labels
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    >>> idx, fmt = encode_labels([["a", "x"], ["b", ""]], tax)
    >>> decode_labels(idx, tax, fmt).tolist()
    [['a', 'x'], ['b', '']]
    """
    kind = label_format.kind
    if not sp.issparse(encoded) and np.ndim(encoded) == 1:
        encoded = check_node_indices(encoded, taxonomy, name="encoded")
    if kind == "indicator":
        m = encoded if sp.issparse(encoded) else None
        if m is None:
            arr = np.asarray(encoded)
            m = sp.csr_matrix(arr) if arr.ndim == 2 else node_indices_to_indicator(arr, taxonomy)
        m = fill_ancestors(m, taxonomy)
        if label_format.sets:
            return _indicator_to_sets(m, taxonomy)
        return m if label_format.sparse else m.toarray()
    if sp.issparse(encoded) or np.ndim(encoded) == 2:
        encoded = indicator_to_node_indices(encoded, taxonomy)
    if kind in ("leaf", "node"):
        return node_indices_to_labels(encoded, taxonomy)
    if kind == "path":
        n_levels = label_format.n_levels
        return node_indices_to_paths(
            encoded,
            taxonomy,
            n_levels=n_levels,
            fill=label_format.fill,
            include_root=label_format.include_root,
        )
    raise ValueError(f"unknown label format {kind!r}")
