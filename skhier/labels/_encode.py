"""Label encoding: ``y`` in any format to node indices or an ancestor-filled indicator.

A label passes each room once: keys are normalised (:mod:`skhier._keys`), the format
is told (:mod:`._formats`), then the taxonomy's read-only lookup tables
(:attr:`skhier.Taxonomy.lookup`) turn every label into its node in vectorised passes.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._docs import fill_doc
from .._keys import is_missing_label, label_key
from .._taxonomy import Taxonomy
from ..utils.validation import check_taxonomy
from ._formats import _FORMATS, LabelFormat, _as_array, _label_sets, _looks_like_indicator


@fill_doc
def encode_labels(y, taxonomy: Taxonomy, *, format: str = "auto", name: str = "y"):
    """Read ``y`` in any label format.

    Parameters
    ----------
    y : array-like or sparse matrix
        Labels in one of the formats of :mod:`skhier.labels`.
    %(taxonomy)s
    format : {"auto", "leaf", "node", "path", "indicator"}, default="auto"
        Force a format; ``"auto"`` guesses (a 0/1 matrix with one column per node is an
        indicator, another 2-D array a path array, a 1-D array leaf or node labels).
    name : str, default="y"
        What error messages call ``y`` (``"y_true"``, ``"y_pred"``, ...).

    Returns
    -------
    encoded : ndarray of shape (n_samples,) or sparse matrix of shape (n_samples, n_nodes)
        Node indices, or a CSR indicator with ancestors and the root filled in.
    label_format : LabelFormat
        Read ``y`` in any label format.

    Raises
    ------
    ValueError
        For an unknown label, a path that contradicts the taxonomy or a missing label,
        naming the first bad sample and value.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import encode_labels
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    >>> encode_labels(["x", "b"], tax)[0]
    array([2, 3])
    >>> encode_labels([["a", "x"], ["b", ""]], tax)[0]
    array([2, 3])
    """
    check_taxonomy(taxonomy, allow_dag=True)  # indicators and node labels work on a DAG; paths check below
    if format not in _FORMATS:
        raise ValueError(f"format must be one of {_FORMATS}, got {format!r}")
    sets = _label_sets(y, name)
    if sets is not None:
        if format not in ("auto", "indicator"):
            raise ValueError(f"format={format!r} needs 1-D or path labels, got label sets (an indicator)")
        return _encode_label_sets(sets, taxonomy, name)
    arr = _as_array(y, name)
    if sp.issparse(arr) or (arr.ndim == 2 and format == "indicator"):
        if format not in ("auto", "indicator"):
            raise ValueError(f"format={format!r} needs 1-D or path labels, got an indicator")
        return _encode_indicator(arr, taxonomy, name)
    if arr.ndim == 2:
        if format == "auto" and _looks_like_indicator(arr, taxonomy):
            return _encode_indicator(arr, taxonomy, name)
        if format in ("leaf", "node"):
            raise ValueError(f"format={format!r} needs 1-D labels, got shape {arr.shape}")
        try:
            return _encode_paths(arr, taxonomy, name)
        except ValueError:
            if format == "auto" and arr.dtype.kind in "biuf" and arr.size and np.isin(arr, [0, 1]).all():
                raise ValueError(
                    f"{name} looks like a 0/1 indicator matrix with {arr.shape[1]} columns, but an indicator "
                    f"needs one column per taxonomy node ({taxonomy.n_nodes}), the root's first"
                ) from None
            raise
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D labels or a 2-D array, got shape {arr.shape}")
    with np.errstate(invalid="ignore"):
        fractional = arr.dtype.kind == "f" and ~np.isnan(arr) & (np.mod(arr, 1) != 0)
    if arr.dtype.kind == "f" and arr.size and fractional.any():
        bad = int(np.flatnonzero(fractional)[0])
        raise ValueError(f"Unknown label type: continuous values in {name}, e.g. {name}[{bad}] = {arr[bad].item()!r}; "
                         "labels are taxonomy nodes")
    if format in ("path", "indicator"):
        raise ValueError(f"format={format!r} needs a 2-D array, got shape {arr.shape}")
    idx = to_node_indices(arr, taxonomy, name=name)
    kind = "leaf" if taxonomy.is_leaf[idx].all() else "node"
    if format == "leaf" and kind == "node":
        bad = int(np.flatnonzero(~taxonomy.is_leaf[idx])[0])
        raise ValueError(f"{name}[{bad}] = {arr[bad].item()!r} is not a leaf, but format='leaf'")
    return idx, LabelFormat(kind=kind)


@fill_doc
def type_of_hierarchical_target(y, taxonomy: Taxonomy) -> str:
    """Which label format ``y`` is written in.

    Parameters
    ----------
    y : array-like or sparse matrix
        Labels in any label format of :mod:`skhier.labels`.
    %(taxonomy)s

    Returns
    -------
    kind : {"leaf", "node", "path", "indicator"}
        Which label format ``y`` is written in.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import type_of_hierarchical_target
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    >>> type_of_hierarchical_target(["x", "b"], tax), type_of_hierarchical_target(["a"], tax)
    ('leaf', 'node')
    """
    return encode_labels(y, taxonomy)[1].kind


@fill_doc
def to_node_indices(y, taxonomy: Taxonomy, *, name: str = "y") -> np.ndarray:
    """Node index of every 1-D label.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Node identifiers (or display names that name one node).
    %(taxonomy)s
    name : str, default="y"
        What error messages call ``y``.

    Returns
    -------
    indices : ndarray of int64
        Node indices.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import to_node_indices
    >>> tax = Taxonomy.from_edges([("r", "a"), ("r", "b")])
    >>> to_node_indices(["b", "a", "b"], tax)
    array([2, 1, 2])
    """
    arr = _as_array(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D labels, got shape {arr.shape}")
    if arr.dtype.kind in "iu":  # numbers: distinct values at C speed
        distinct, first, inverse = np.unique(arr, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # first appearance first: errors name the first bad sample
        codes = np.empty(distinct.size, dtype=np.int64)
        codes[order] = _resolve_labels(distinct[order].tolist(), arr, arr.tolist(), taxonomy, name)
        return codes[inverse.ravel()]
    values = arr.tolist()
    if taxonomy.lookup.has_int_names and _holds_bool(values):  # True == 1 as a key, but a bool is no label:
        return _resolve_labels(values, arr, values, taxonomy, name)  # every value where it stands
    try:  # node identifiers straight through the index: one lookup per label, at C speed
        codes = taxonomy.lookup.codes(values)
        if (codes >= 0).all():
            return codes
    except TypeError:  # an unhashable label: worded below
        pass
    try:
        distinct = list(dict.fromkeys(values))  # in order of first appearance: errors name the first bad sample
    except TypeError:  # an unhashable label (a dict, an array): resolved where it stands, and refused
        distinct = values
    codes = _resolve_labels(distinct, arr, values, taxonomy, name)
    if len(codes) == len(values):
        return codes
    lookup = dict(zip(distinct, codes.tolist()))
    return np.fromiter(map(lookup.__getitem__, values), dtype=np.int64, count=len(values))


def _resolve_labels(labels: list, arr: np.ndarray, values: list, taxonomy: Taxonomy, name: str) -> np.ndarray:
    """Node index of each label, or the error naming the first sample (of ``values``, the
    labels as read) that holds a bad one."""
    out = np.empty(len(labels), dtype=np.int64)
    cache: dict = {}
    for u, v in enumerate(labels):
        try:
            key = (type(v), v)
            j = cache.get(key)
        except TypeError:  # unhashable
            key, j = None, None
        if j is None:
            try:
                if is_missing_label(v):
                    raise LookupError(f"is missing ({v!r}): every sample needs a label")
                j = taxonomy.index(label_key(v))
            except (LookupError, ValueError, TypeError) as exc:
                i = _first_position(values, v)
                if isinstance(exc, LookupError):
                    raise ValueError(f"{name}[{i}] {exc.args[0]}") from None
                raise ValueError(f"{name}[{i}]: {exc}{_reencoded_hint(arr, taxonomy)}") from None
            if key is not None:
                cache[key] = j
        out[u] = j
    return out


def _holds_bool(values: list) -> bool:
    """Whether some value is a bool (one pass over the types, at C speed)."""
    return bool({bool, np.bool_} & set(map(type, values)))


def _first_position(values: list, value) -> int:
    """Where ``value`` first occurs in ``values`` (identity, else equality of the same type;
    a NaN matches a NaN)."""
    for i, v in enumerate(values):
        if v is value or (type(v) is type(value) and (_equals(v, value) or (is_missing_label(v)
                                                                           and is_missing_label(value)))):
            return i
    return 0  # pragma: no cover


def _reencoded_hint(arr, taxonomy: Taxonomy) -> str:
    """Why integer codes may reach an estimator whose taxonomy names nodes by strings."""
    if arr.dtype.kind not in "iu" or any(isinstance(n, int) for n in taxonomy.nodes):
        return ""
    return (
        "; y holds integer codes but this taxonomy names its nodes by strings. scikit-learn's "
        "VotingClassifier, BaggingClassifier and cross_val_predict(method='predict_proba') "
        "re-encode labels as integers 0..k-1 before calling fit: use the skhier estimator "
        "directly (its predict_proba columns follow classes_), skhier.model_selection.cross_val_transform "
        "for out-of-fold node scores, or name the taxonomy's leaves by those integer codes"
    )


def _encode_paths(arr: np.ndarray, taxonomy: Taxonomy, name: str):
    arr = np.asarray(arr, dtype=object)
    n, width = arr.shape
    if n == 0:
        return np.empty(0, dtype=np.int64), LabelFormat("path", n_levels=width)
    root_name = taxonomy.names[0]
    include_root = False
    if width > 1 and (root_name,) not in taxonomy.path_lookup and _equals(arr[0, 0], root_name):
        first = dict.fromkeys(arr[:, 0].tolist())  # distinct values of the first column, at C speed
        include_root = all(_equals(v, root_name) for v in first)
    if taxonomy.lookup.has_int_names:  # a bool equals 0 or 1, as a key and under ==, but is no label
        cells = arr.ravel().tolist()
        if _holds_bool(cells):
            i = next(i for i, v in enumerate(cells) if isinstance(v, (bool, np.bool_)))
            raise ValueError(f"{name}[{i // width}] = {arr[i // width].tolist()!r}: a label is a str or an int, "
                             f"got {cells[i]!r} of type bool")
    skip = 1 if include_root else 0
    out, fill = _encode_paths_fast(arr[:, skip:], taxonomy)
    slow = np.flatnonzero(out < 0)
    if slow.size:  # what the fast path cannot vouch for: resolved exactly, or the error
        out[slow], slow_fill = _resolve_path_rows(arr, slow, skip, taxonomy, name)
        fill = slow_fill if slow_fill is not _NO_FILL else fill
    return out, LabelFormat("path", n_levels=width, fill="" if fill is _NO_FILL else fill, include_root=include_root)


_NO_FILL = object()  # no row was padded


def _equals(value, name) -> bool:
    try:
        return bool(value == name)
    except (TypeError, ValueError):  # an array-like cell
        return False


def _encode_paths_fast(arr: np.ndarray, taxonomy: Taxonomy):
    """Node index of every root-free path row, or ``-1`` where the row needs the exact path.

    Resolves a row by its deepest label alone (one dictionary lookup per row, through the
    unique display names), then checks it vectorised: every label above it equals the
    name of the node's ancestor at that level, every cell below it is a missing label.
    A row the check does not pass (an unknown or ambiguous name, a wrong parent, a label
    after padding) is left ``-1`` for :func:`_resolve_path_rows`, which also words the
    error, so the result and every message are the exact path lookup's.
    """
    n, width = arr.shape
    out = np.full(n, -1, dtype=np.int64)
    if width == 0 or not taxonomy.is_tree:
        return out, _NO_FILL
    lookup = taxonomy.lookup
    level = np.full(n, width - 1, dtype=np.int64)
    pending = None  # the rows still without a node: all of them at first
    try:
        for k in range(width - 1, -1, -1):  # each row's deepest column with a known name
            values = (arr[:, k] if pending is None else arr[pending, k]).tolist()
            codes = lookup.codes(values, by="name")
            if pending is None:
                out[:] = codes
                pending = np.flatnonzero(codes < 0)
            else:
                hit = codes >= 0
                out[pending[hit]], level[pending[hit]] = codes[hit], k
                pending = pending[~hit]
            if not pending.size:
                break
        ok = out >= 0
        ok &= taxonomy.depth[out] == level + 1  # the node sits at its column's level (out = -1: the last node)
        ancestor_names = taxonomy.lookup.ancestor_names
        full = not pending.size and bool((level == width - 1).all())
        fill = _NO_FILL
        for k in range(width - 1 if full else width):
            if full:  # the common case: every row resolved at the last column
                ok &= np.asarray(arr[:, k] == ancestor_names[k + 1][out], dtype=bool)
                continue
            above = np.flatnonzero(ok & (level > k))  # column k must name the node's ancestor
            if above.size:
                ok[above] &= np.asarray(arr[above, k] == ancestor_names[k + 1][out[above]], dtype=bool)
            below = np.flatnonzero(ok & (level < k))  # column k must be padding
            if below.size:
                cells = arr[below, k].tolist()
                ok[below] &= np.fromiter(map(is_missing_label, cells), dtype=bool, count=len(cells))
                if fill is _NO_FILL:
                    first = np.flatnonzero(ok[below])
                    fill = cells[first[0]] if first.size else _NO_FILL
    except (TypeError, ValueError):  # an unhashable label, a comparison numpy cannot make
        return np.full(n, -1, dtype=np.int64), _NO_FILL
    out[~ok] = -1
    return out, fill


def _resolve_path_rows(arr: np.ndarray, rows: np.ndarray, skip: int, taxonomy: Taxonomy, name: str):
    """Resolve ``arr[rows]`` through the path lookup: the exact definition, and every error.

    Returns the node indices and the padding value seen (``_NO_FILL`` when no row is padded).
    """
    lookup = taxonomy.path_lookup
    sub = arr[rows]
    n, width = sub.shape
    # Distinct rows first, without a Python object per row: each column's values get
    # integer codes, and np.unique finds the distinct code rows. (A list per row made the
    # garbage collector rescan them all, so encoding grew superlinearly with n.) Rows are
    # then resolved once each, in order of first appearance, so errors name the first bad row.
    codes = np.empty((n, width), dtype=np.int64)
    columns = []  # per column: its distinct values, in code order
    for k in range(width):
        column = sub[:, k].tolist()
        distinct = {v: c for c, v in enumerate(dict.fromkeys(column))}  # dict work at C speed
        codes[:, k] = np.fromiter(map(distinct.__getitem__, column), dtype=np.int64, count=n)
        columns.append(list(distinct))
    # every distinct value is keyed once: (is missing, its key or the error it raises)
    keyed = [[_key_or_error(v) for v in values] for values in columns]
    sizes = [len(values) for values in columns]
    if np.prod(np.asarray(sizes, dtype=float)) < 2.0**62:  # one int64 key per row
        _, first, inverse = np.unique(np.ravel_multi_index(codes.T, sizes), return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(codes, axis=0, return_index=True, return_inverse=True)
    fill = _NO_FILL
    resolved = np.empty(first.size, dtype=np.int64)
    for u in np.argsort(first, kind="stable"):
        i = int(first[u])
        row = codes[i].tolist()
        labels = []
        for pos in range(skip, width):
            missing, key = keyed[pos][row[pos]]
            if missing:
                fill = columns[pos][row[pos]]
                if not all(keyed[q][row[q]][0] for q in range(pos, width)):
                    raise ValueError(
                        f"{name}[{rows[i]}] = {sub[i].tolist()!r} has a label after padding; pad only at the end"
                    )
                break
            if isinstance(key, TypeError):
                raise ValueError(f"{name}[{rows[i]}]: {key}") from None
            labels.append(key)
        if not labels:
            j = 0
        else:
            j = lookup.get(tuple(labels))
            if j is None:
                raise ValueError(_explain_bad_path(int(rows[i]), sub[i].tolist(), labels, taxonomy, name))
        resolved[u] = j
    return resolved[inverse.ravel()], fill


def _key_or_error(value):
    """``(True, None)`` for a missing label, else ``(False, label_key(value))``, or the
    TypeError it raises (raised later, at the first row that uses the value)."""
    if is_missing_label(value):
        return True, None
    try:
        return False, label_key(value)
    except TypeError as exc:
        return False, exc


def _explain_bad_path(i: int, row, labels, taxonomy: Taxonomy, name: str) -> str:
    lookup = taxonomy.path_lookup
    for d in range(1, len(labels) + 1):
        if tuple(labels[:d]) not in lookup:
            v = labels[d - 1]
            parent = taxonomy.names[0] if d == 1 else labels[d - 2]
            if v in taxonomy or v in taxonomy.name_lookup:
                return (
                    f"{name}[{i}] = {row!r} contradicts the taxonomy: {v!r} is not a child "
                    f"of {parent!r}"
                )
            return f"{name}[{i}] = {row!r}: unknown label {v!r}"
    return f"{name}[{i}] = {row!r} is not a path of the taxonomy"  # pragma: no cover


def _encode_indicator(arr, taxonomy: Taxonomy, name: str):
    is_sparse = sp.issparse(arr)
    m = sp.csr_matrix(arr) if is_sparse else sp.csr_matrix(np.asarray(arr))
    if m.ndim != 2 or m.shape[1] != taxonomy.n_nodes:
        raise ValueError(
            f"an indicator {name} needs one column per taxonomy node ({taxonomy.n_nodes}), "
            f"got shape {m.shape}"
        )
    if m.nnz and not ((m.data == 0) | (m.data == 1)).all():
        bad = m.data[(m.data != 0) & (m.data != 1)][0]
        raise ValueError(f"an indicator {name} holds only 0 and 1, found {bad.item()!r}")
    return fill_ancestors(m, taxonomy), LabelFormat("indicator", sparse=is_sparse)


def _encode_label_sets(rows, taxonomy: Taxonomy, name: str):
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indices = []
    for i, row in enumerate(rows):
        for v in row:
            if is_missing_label(v):
                raise ValueError(f"{name}[{i}] = {set(row)!r} holds a missing label {v!r}")
            try:
                indices.append(taxonomy.index(label_key(v)))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{name}[{i}] = {set(row)!r}: {exc}") from None
        indptr[i + 1] = len(indices)
    m = sp.csr_matrix(
        (np.ones(len(indices)), np.asarray(indices, dtype=np.int64), indptr), shape=(len(rows), taxonomy.n_nodes)
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return fill_ancestors(m, taxonomy), LabelFormat("indicator", sparse=True, sets=True)


def _indicator_to_sets(m, taxonomy: Taxonomy) -> list:
    m = sp.csr_matrix(m)
    nodes = taxonomy.nodes
    return [{nodes[j] for j in m.indices[m.indptr[i]:m.indptr[i + 1]].tolist() if j != 0} for i in range(m.shape[0])]


@fill_doc
def fill_ancestors(indicator, taxonomy: Taxonomy) -> sp.csr_matrix:
    """Set every ancestor (and the root) of every set node of an indicator matrix.

    Parameters
    ----------
    indicator : array-like or sparse matrix of shape (n_samples, n_nodes)
        Node-indicator matrix, one column per taxonomy node.
    %(taxonomy)s

    Returns
    -------
    filled : scipy.sparse.csr_matrix of int8
        Set every ancestor (and the root) of every set node of an indicator matrix.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import fill_ancestors
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    >>> fill_ancestors([[0, 0, 1, 0]], tax).toarray()
    array([[1, 1, 1, 0]], dtype=int8)
    """
    m = sp.csr_matrix(indicator, dtype=np.float64)
    if m.shape[1] != taxonomy.n_nodes:
        raise ValueError(
            f"indicator has {m.shape[1]} columns, but an indicator needs one column per taxonomy node "
            f"({taxonomy.n_nodes}), the root's first"
        )
    filled = (m @ taxonomy.ancestor_matrix).tocsr()
    filled.data = (filled.data > 0).astype(np.int8)
    filled.eliminate_zeros()
    if filled.nnz:  # a set node brings the root with its ancestors: only rows with none lack it
        rows = np.repeat(np.arange(filled.shape[0]), np.diff(filled.indptr))
        has_root = np.zeros(filled.shape[0], dtype=bool)
        has_root[rows[filled.indices == 0]] = True
    else:
        has_root = np.zeros(filled.shape[0], dtype=bool)
    if not has_root.all():
        n = filled.shape[0]
        root = sp.csr_matrix((np.ones(n, dtype=np.int8), np.zeros(n, dtype=np.int64), np.arange(n + 1)),
                             shape=filled.shape)
        filled = sp.csr_matrix(filled + root, dtype=np.int8)  # the root in every row, empty rows included
        filled.data = np.minimum(filled.data, 1)
    filled.sort_indices()
    return filled
