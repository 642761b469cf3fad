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

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._keys import check_node_indices, is_missing_label, label_key
from ._taxonomy import Taxonomy, check_taxonomy
from ._validation import is_tensor

__all__ = [
    "check_node_indices",
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

_FORMATS = ("auto", "leaf", "node", "path", "indicator")


@dataclass(frozen=True)
class LabelFormat:
    """How a target ``y`` was written, so that predictions can be written the same way.

    Parameters
    ----------
    kind : {"leaf", "node", "path", "indicator"}
        The label format.
    n_levels : int or None
        Width of a path array (``kind="path"``).
    fill : object
        Padding value of a path array.
    include_root : bool
        Whether path rows start with the root.
    sparse : bool
        Whether an indicator was a scipy sparse matrix.
    sets : bool
        Whether an indicator was written as a list of label sets.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import encode_labels
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x")])
    >>> encode_labels([["a", "x"], ["a", ""]], tax)[1].kind
    'path'
    """

    kind: str
    n_levels: int | None = None
    fill: Any = ""
    include_root: bool = False
    sparse: bool = False
    sets: bool = False

    @property
    def multilabel(self) -> bool:
        """Whether samples may carry several paths."""
        return self.kind == "indicator"


def _looks_like_indicator(arr, taxonomy: Taxonomy) -> bool:
    if sp.issparse(arr):
        return True
    if arr.ndim != 2 or arr.shape[1] != taxonomy.n_nodes:
        return False
    if arr.dtype.kind not in "biuf":
        return False
    vals = np.unique(arr)
    return bool(np.isin(vals, [0, 1]).all())


_SETS = (set, frozenset)


def _label_sets(y, name="y"):
    """The rows of ``y`` when it is a sequence of label sets, else None."""
    if isinstance(y, np.ndarray) and y.dtype == object and y.ndim == 1:
        rows = y.tolist()
    elif isinstance(y, (list, tuple)):
        rows = y
    else:
        return None
    if not any(issubclass(t, _SETS) for t in set(map(type, rows))):  # one pass at C speed
        return None
    is_set = [isinstance(r, _SETS) for r in rows]
    if not all(is_set):
        bad = is_set.index(False)
        raise ValueError(
            f"{name} mixes label sets with other rows: {name}[{is_set.index(True)}] is a set but "
            f"{name}[{bad}] = {rows[bad]!r}; "
            "write every row as a set of node identifiers"
        )
    return rows


def _pad_ragged(y, name="y"):
    """A list of label paths of different lengths → a 2-D object array padded with None."""
    if not isinstance(y, (list, tuple)) or not y:
        return y
    if not all(isinstance(r, (list, tuple, np.ndarray)) for r in y):
        if any(isinstance(r, (list, tuple, np.ndarray)) for r in y):
            bad = next(i for i, r in enumerate(y) if not isinstance(r, (list, tuple, np.ndarray)))
            raise ValueError(
                f"{name} mixes paths (lists) with single labels: {name}[{bad}] = {y[bad]!r}; give every sample a path "
                "or every sample one label"
            )
        return y
    lengths = {len(r) for r in y}
    if len(lengths) == 1:
        return y
    out = np.full((len(y), max(lengths)), None, dtype=object)
    for i, r in enumerate(y):
        out[i, : len(r)] = list(r)
    return out


def _as_array(y, name="y"):
    if sp.issparse(y):
        return y
    y = _pad_ragged(y, name)
    if is_tensor(y):
        y = y.detach().cpu().numpy()
    if hasattr(y, "to_numpy"):  # pandas
        y = y.to_numpy()
    if isinstance(y, (list, tuple)) and _mixes_str_and_numbers(y):
        # numpy would turn 1 into "1": a taxonomy may hold both, as distinct nodes
        out = np.empty((len(y), len(y[0])) if isinstance(y[0], (list, tuple, np.ndarray)) else len(y), dtype=object)
        out[...] = [list(r) for r in y] if out.ndim == 2 else list(y)
        return out
    return np.asarray(y)


def _mixes_str_and_numbers(rows) -> bool:
    flat = [v for r in rows for v in r] if rows and isinstance(rows[0], (list, tuple, np.ndarray)) else rows
    kinds = {isinstance(v, str) for v in flat if v is not None}
    return len(kinds) == 2 and any(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in flat)


def type_of_hierarchical_target(y, taxonomy: Taxonomy) -> str:
    """Which label format ``y`` is written in.

    Parameters
    ----------
    y : array-like or sparse matrix
        Labels in any label format of :mod:`skhier.labels`.
    taxonomy : Taxonomy
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.

    Returns
    -------
    kind : {"leaf", "node", "path", "indicator"}

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import type_of_hierarchical_target
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    >>> type_of_hierarchical_target(["x", "b"], tax), type_of_hierarchical_target(["a"], tax)
    ('leaf', 'node')
    """
    return encode_labels(y, taxonomy)[1].kind


def encode_labels(y, taxonomy: Taxonomy, *, format: str = "auto", name: str = "y"):
    """Read ``y`` in any label format.

    Parameters
    ----------
    y : array-like or sparse matrix
        Labels in one of the formats of :mod:`skhier.labels`.
    taxonomy : Taxonomy
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.
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


def _flat_taxonomy(labels) -> Taxonomy:
    """Root above the sorted distinct labels: the taxonomy of plain 1-D targets."""
    try:
        uniq = np.unique(labels).tolist()
    except TypeError:  # values that do not compare: a mix of numbers and strings
        first = {}
        for v in np.asarray(labels, dtype=object).ravel().tolist():
            first.setdefault(type(v).__name__, v)
        kinds = ", ".join(f"{k} ({v!r})" for k, v in first.items())
        raise TypeError(f"y mixes label types: {kinds}; use one type for every label (e.g. y.astype(str)), "
                        "as scikit-learn does") from None
    root = "<root>"
    while root in uniq:
        root = f"<{root}>"
    return Taxonomy([root, *uniq], [None] + [root] * len(uniq))


def infer_taxonomy(y, *, name: str = "y") -> Taxonomy:
    """The taxonomy that labels ``y`` define, for estimators given ``taxonomy=None``.

    2-D root-first paths (padded at the end, or a list of paths of different lengths)
    define a tree (:meth:`Taxonomy.from_paths`); 1-D labels are flat classes under a root
    named ``"<root>"``. The result is canonical, so every CV fold that sees the same
    labels infers the same taxonomy. Node sets (an indicator matrix or label sets) do not
    determine a taxonomy: they raise.

    Parameters
    ----------
    y : array-like
        Paths or 1-D labels.
    name : str, default="y"
        What error messages call ``y``.

    Returns
    -------
    taxonomy : Taxonomy

    Raises
    ------
    ValueError
        For node sets, or labels that are missing.

    Examples
    --------
    >>> from skhier.labels import infer_taxonomy
    >>> infer_taxonomy([["Tops", "Shirt"], ["Shoes", "Sneaker"], ["Tops", "Coat"]]).nodes
    ('root', 'Shoes', 'Sneaker', 'Tops', 'Coat', 'Shirt')
    >>> infer_taxonomy(["cat", "dog"]).nodes
    ('<root>', 'cat', 'dog')
    """
    hint = "node sets do not determine a taxonomy: pass taxonomy= (e.g. Taxonomy.from_edges or from_obo)"
    if _label_sets(y, name) is not None:
        raise ValueError(f"{name} holds label sets; {hint}")
    arr = _as_array(y, name)
    if sp.issparse(arr):
        raise ValueError(f"{name} is a sparse indicator matrix; {hint}")
    if arr.ndim == 2:
        if arr.dtype.kind in "biuf" and arr.size and np.isin(arr, [0, 1]).all() and arr.shape[1] > 2:
            raise ValueError(f"{name} looks like a 0/1 indicator matrix; {hint}")
        return Taxonomy.from_paths(arr)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D labels or 2-D paths to infer a taxonomy, got shape {arr.shape}")
    missing = [i for i, v in enumerate(arr.tolist()) if is_missing_label(v)]
    if missing:
        raise ValueError(f"{name}[{missing[0]}] is missing ({arr[missing[0]]!r}): every sample needs a label")
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"Input {name} contains NaN or infinity: every sample needs a class label")
        if not np.all(np.mod(arr, 1) == 0):
            raise ValueError(
                f"Unknown label type: continuous. {name} holds non-integral floats "
                f"(e.g. {arr[np.mod(arr, 1) != 0][0]!r}); "
                "a classifier's labels are classes: nodes of a taxonomy, strings or integers"
            )
        arr = arr.astype(np.int64)
    return _flat_taxonomy(arr)


def to_node_indices(y, taxonomy: Taxonomy, *, name: str = "y") -> np.ndarray:
    """Node index of every 1-D label.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Node identifiers (or display names that name one node).
    taxonomy : Taxonomy
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.
    name : str, default="y"
        What error messages call ``y``.

    Returns
    -------
    indices : ndarray of int64

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
    if taxonomy._has_int_names and _holds_bool(values):  # True == 1 as a key, but a bool is no label:
        return _resolve_labels(values, arr, values, taxonomy, name)  # every value where it stands
    try:  # node identifiers straight through the index: one lookup per label, at C speed
        codes = np.fromiter(map(taxonomy._index.get, values, itertools.repeat(-1, len(values))), dtype=np.int64,
                            count=len(values))
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
    if taxonomy._has_int_names:  # a bool equals 0 or 1, as a key and under ==, but is no label
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
    index = taxonomy._name_index
    level = np.full(n, width - 1, dtype=np.int64)
    pending = None  # the rows still without a node: all of them at first
    try:
        for k in range(width - 1, -1, -1):  # each row's deepest column with a known name
            values = (arr[:, k] if pending is None else arr[pending, k]).tolist()
            codes = np.fromiter(map(index.get, values, itertools.repeat(-1, len(values))), dtype=np.int64,
                                count=len(values))
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
        ancestor_names = taxonomy._ancestor_name_arrays
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


def fill_ancestors(indicator, taxonomy: Taxonomy) -> sp.csr_matrix:
    """Set every ancestor (and the root) of every set node of an indicator matrix.

    Parameters
    ----------
    indicator : array-like or sparse matrix of shape (n_samples, n_nodes)
        Node-indicator matrix, one column per taxonomy node.
    taxonomy : Taxonomy
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.

    Returns
    -------
    filled : scipy.sparse.csr_matrix of int8

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


def indicator_to_node_indices(indicator, taxonomy: Taxonomy) -> np.ndarray:
    """The deepest set node of every row of a single-path indicator.

    Parameters
    ----------
    indicator : array-like or sparse matrix of shape (n_samples, n_nodes)
        Each row sets the nodes of one root-first path (ancestors may be left out).
    taxonomy : Taxonomy
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.

    Returns
    -------
    indices : ndarray of int64

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


def node_indices_to_labels(indices, taxonomy: Taxonomy) -> np.ndarray:
    """Node identifiers of node indices, as a 1-D array.

    Parameters
    ----------
    indices : array-like of int
        Node indices: positions in ``taxonomy.nodes``.
    taxonomy : Taxonomy
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.

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


def node_indices_to_paths(
    indices, taxonomy: Taxonomy, *, n_levels: int | None = None, fill="", include_root=False
) -> np.ndarray:
    """Root-first name paths of node indices, padded at the end with ``fill``.

    Parameters
    ----------
    indices : array-like of int
        Node indices: positions in ``taxonomy.nodes``.
    taxonomy : Taxonomy
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.
    n_levels : int, default=None
        Number of columns; defaults to the taxonomy's depth (plus one with the root).
    fill : object, default=""
        Padding of paths shorter than ``n_levels``.
    include_root : bool, default=False
        Whether each row starts with the root's name.

    Returns
    -------
    paths : ndarray of shape (n_samples, n_levels)

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


def node_indices_to_indicator(indices, taxonomy: Taxonomy, *, sparse: bool = True):
    """Indicator of every node index with its ancestors and the root set.

    Parameters
    ----------
    indices : array-like of int
        Node indices: positions in ``taxonomy.nodes``.
    taxonomy : Taxonomy
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.
    sparse : bool, default=True
        Return a CSR matrix, else a dense int8 array.

    Returns
    -------
    indicator : scipy.sparse.csr_matrix or ndarray of shape (n_samples, n_nodes)

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


def decode_labels(encoded, taxonomy: Taxonomy, label_format: LabelFormat):
    """Write node indices (or an indicator) back in ``label_format``.

    Parameters
    ----------
    encoded : ndarray of int or sparse matrix
        What :func:`encode_labels` returns, or predictions in the same form.
    taxonomy : Taxonomy
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.
    label_format : LabelFormat
        The label format to answer in (``HierarchicalLabelEncoder.format_``).

    Returns
    -------
    y : ndarray or sparse matrix

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


class HierarchicalLabelEncoder(TransformerMixin, BaseEstimator):
    """Encode hierarchical targets as node indices, and decode predictions back.

    The one reader of ``y`` that every skhier estimator uses: it learns the label format
    at ``fit`` so that ``inverse_transform`` answers in that same format.

    Parameters
    ----------
    taxonomy : Taxonomy
        The taxonomy the labels belong to.
    format : {"auto", "leaf", "node", "path", "indicator"}, default="auto"
        Force a label format instead of guessing it.

    Attributes
    ----------
    format_ : LabelFormat
        The format seen at ``fit``.
    classes_ : tuple
        The taxonomy's nodes: encoded value ``i`` is ``classes_[i]``.

    See Also
    --------
    encode_labels : the function behind ``transform``.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import HierarchicalLabelEncoder
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    >>> enc = HierarchicalLabelEncoder(tax).fit([["a", "x"], ["b", ""]])
    >>> enc.transform([["b", ""]])
    array([3])
    >>> enc.inverse_transform([2]).tolist()
    [['a', 'x']]
    """

    def __init__(self, taxonomy, *, format="auto"):
        self.taxonomy = taxonomy
        self.format = format

    def fit(self, y):
        """Learn the label format of ``y``.

        Parameters
        ----------
        y : array-like or sparse matrix
            Labels in any label format of :mod:`skhier.labels`.

        Returns
        -------
        self : HierarchicalLabelEncoder
        """
        _, self.format_ = encode_labels(y, self.taxonomy, format=self.format)
        self.classes_ = self.taxonomy.nodes
        return self

    def fit_transform(self, y):
        """Learn the label format of ``y`` and encode it.

        Parameters
        ----------
        y : array-like or sparse matrix
            Labels in any label format of :mod:`skhier.labels`.

        Returns
        -------
        encoded : ndarray of int64 or scipy.sparse.csr_matrix
        """
        encoded, self.format_ = encode_labels(y, self.taxonomy, format=self.format)
        self.classes_ = self.taxonomy.nodes
        return encoded

    def transform(self, y):
        """Encode ``y`` as node indices (or an indicator with ancestors filled).

        Parameters
        ----------
        y : array-like or sparse matrix
            Labels in any label format of :mod:`skhier.labels`.

        Returns
        -------
        encoded : ndarray of int64 or scipy.sparse.csr_matrix
        """
        check_is_fitted(self, "format_")
        kind = self.format_.kind
        fmt = "indicator" if kind == "indicator" else ("path" if kind == "path" else "auto")
        return encode_labels(y, self.taxonomy, format=fmt)[0]

    def inverse_transform(self, encoded):
        """Write node indices (or an indicator) in the format seen at ``fit``.

        Parameters
        ----------
        encoded : array-like of int or sparse matrix
            Encoded labels, as ``transform`` returns them.

        Returns
        -------
        y : ndarray or sparse matrix
        """
        check_is_fitted(self, "format_")
        return decode_labels(encoded, self.taxonomy, self.format_)


def check_node_scores(scores, taxonomy: Taxonomy, *, name="node scores", probabilities=False):
    """Validate a (n_samples, n_nodes) score matrix (numpy or torch).

    Parameters
    ----------
    scores : array-like or torch.Tensor of shape (n_samples, n_nodes)
        Node scores, one column per taxonomy node in taxonomy order.
    taxonomy : Taxonomy
        The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step.
    name : str, default="node scores"
        How the error messages call the matrix.
    probabilities : bool, default=False
        Also require values in [0, 1].

    Returns
    -------
    scores : ndarray of float or torch.Tensor
        Numpy input comes back as a float64 array; a tensor is returned as is.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import check_node_scores
    >>> tax = Taxonomy.from_edges([("r", "a"), ("r", "b")])
    >>> check_node_scores([[1, 0.5, 0.5]], tax).shape
    (1, 3)
    """
    src = getattr(scores, "taxonomy", None)  # NodeScores remember theirs
    if src is not None and src != taxonomy:
        raise ValueError(
            f"{name} holds node scores of another taxonomy ({src!r}) than this step's "
            f"({taxonomy!r}); build every step of the pipeline on the same Taxonomy"
        )
    is_torch = is_tensor(scores)
    if is_torch:
        import torch

        if scores.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_nodes), got shape {tuple(scores.shape)}")
        if not torch.is_floating_point(scores):
            scores = scores.float()
        # one host synchronisation: a NaN or infinity anywhere makes the sum non-finite
        if scores.numel():
            total, lo, hi = torch.stack([scores.sum(), scores.min(), scores.max()]).double().tolist()
        else:
            total, lo, hi = 0.0, 0.0, 0.0
        finite = np.isfinite(total) or bool(torch.isfinite(scores).all().item())
        if not probabilities:
            lo, hi = 0.0, 0.0
    else:
        if sp.issparse(scores):
            scores = scores.toarray()
        scores = np.asarray(scores)
        if scores.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {scores.dtype}")
        scores = scores.astype(np.float64, copy=False) if scores.dtype.kind != "f" else scores
        if scores.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_nodes), got shape {scores.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            finite = bool(np.isfinite(scores.sum())) or bool(np.isfinite(scores).all())
        if probabilities and scores.size:
            lo, hi = float(scores.min()), float(scores.max())
        else:
            lo, hi = 0.0, 0.0
    if scores.shape[1] != taxonomy.n_nodes and scores.shape[1] == taxonomy.n_leaves:
        raise ValueError(  # leaf scores are never guessed into node scores
            f"{name} has {scores.shape[1]} columns, one per leaf, but this takes one column per taxonomy "
            f"node ({taxonomy.n_nodes}); sum leaf probabilities into node scores first, e.g. "
            "BottomUpRefiner(taxonomy).fit_transform(scores in node columns)"
        )
    if scores.shape[1] != taxonomy.n_nodes:
        raise ValueError(
            f"{name} have {scores.shape[1]} columns but the taxonomy has {taxonomy.n_nodes} "
            "nodes; columns must follow taxonomy.nodes"
        )
    if not finite:
        raise ValueError(f"{name} contain NaN or infinity")
    if probabilities and (lo < -1e-9 or hi > 1 + 1e-6):
        raise ValueError(f"{name} must be probabilities in [0, 1], found values in [{lo:.3g}, {hi:.3g}]")
    return scores
