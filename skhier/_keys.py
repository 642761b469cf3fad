"""How a value names a node: node identifiers, label keys and node indices.

Label parsing the :class:`~skhier.Taxonomy` and :mod:`skhier.labels` share, kept out of
the taxonomy's package (torch-free, numpy only). The lowest layer: it imports nothing from skhier.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["node_sort_key", "is_missing_label", "label_key"]


def _as_key(node):
    """Normalise a node identifier: numpy scalars become Python ones, lists tuples."""
    if isinstance(node, np.generic):
        node = node.item()
    if isinstance(node, list):
        node = tuple(node)
    if isinstance(node, tuple):
        return tuple(_as_key(n) for n in node)
    if isinstance(node, bool) or not isinstance(node, (str, numbers.Integral)):
        raise TypeError(
            f"taxonomy nodes must be str or int (or a tuple path of them), got {node!r} "
            f"of type {type(node).__name__}"
        )
    return str(node) if isinstance(node, str) else int(node)  # np.str_ / np.int64 -> plain


def _scalar_key(name):
    # ints before strs, each in its natural order: the order sklearn's np.unique gives a
    # homogeneous array of labels, extended to a total order over mixed ones
    return (0, name, "") if isinstance(name, int) else (1, 0, name)


def node_sort_key(node):
    """Sort key of a node identifier: what orders siblings and ``classes_`` everywhere.

    Identifiers sort by display name (the last name of a tuple path): ints numerically
    before strs in code-point order, which is how scikit-learn sorts a homogeneous array
    of class labels; equal display names (a tuple path and a plain name) sort plain name
    first, then by path.

    Parameters
    ----------
    node : str, int or tuple
        A normalised node identifier.

    Returns
    -------
    key : tuple
        Sort key of a node identifier: what orders siblings and ``classes_`` everywhere.

    Examples
    --------
    >>> from skhier._keys import node_sort_key
    >>> sorted(["b", ("x", "a"), 2, "a"], key=node_sort_key)
    [2, 'a', ('x', 'a'), 'b']
    """
    if isinstance(node, tuple):
        return (_scalar_key(node[-1]), 1, tuple(_scalar_key(n) for n in node))
    return (_scalar_key(node), 0, ())


def is_missing_label(value) -> bool:
    """Whether ``value`` pads a variable-depth path: ``""``, ``None``, NaN or ``pd.NA``."""
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return type(value).__name__ in ("NAType", "NaTType")  # pandas' missing values


def label_key(value):
    """A label read from ``y`` as a node key: integral floats (an int column padded with
    NaN becomes float) turn back into ints; anything else as :func:`_as_key`."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return _as_key(value)
