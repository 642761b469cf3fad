"""Which label format ``y`` is in, and the taxonomy it implies when none is given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._keys import is_missing_label
from .._taxonomy import Taxonomy
from ..utils.validation import is_tensor

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
        The taxonomy.

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
