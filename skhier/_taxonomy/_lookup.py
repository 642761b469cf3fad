"""How a label finds its node: the lookup tables label encoding reads, derived once."""

from __future__ import annotations

import itertools
import operator
from functools import cached_property
from types import MappingProxyType

import numpy as np

from ._storage import readonly

__all__ = ["NodeLookup"]


class NodeLookup:
    """Read-only tables from labels to node indices, built on first use and cached.

    One per :class:`~skhier.Taxonomy` (:attr:`~skhier.Taxonomy.lookup`): what
    :mod:`skhier.labels` reads to turn ``y`` into node indices in vectorised passes.

    Parameters
    ----------
    taxonomy : Taxonomy
        The taxonomy whose nodes are looked up.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> lookup = Taxonomy.from_paths([["A", "x"], ["B", "x"]]).lookup
    >>> lookup.index["A"], lookup.name_index["x"], lookup.paths[("B", "x")]
    (1, -1, 4)
    """

    def __init__(self, taxonomy):
        self._taxonomy = taxonomy

    @cached_property
    def _ids(self) -> dict:
        return {v: i for i, v in enumerate(self._taxonomy.nodes)}

    @cached_property
    def _names(self) -> dict:
        out: dict = {}
        for i, name in enumerate(self._taxonomy.names):
            out[name] = -1 if name in out else i
        return out

    @property
    def index(self):
        """Mapping from every node identifier to its index."""
        return MappingProxyType(self._ids)

    @property
    def name_index(self):
        """Mapping from a display name to its node, ``-1`` when several nodes share it."""
        return MappingProxyType(self._names)

    def codes(self, values: list, *, by: str = "identifier") -> np.ndarray:
        """The node index of every value, ``-1`` for one that names no node (one dict
        lookup per value, at C speed).

        Parameters
        ----------
        values : list
            Hashable labels (a ``TypeError`` for an unhashable one).
        by : {"identifier", "name"}, default="identifier"
            Read the values as node identifiers, or as display names (``-1`` as well for a
            name several nodes share).

        Returns
        -------
        codes : ndarray of int64
            One node index (or -1) per value.

        Examples
        --------
        >>> from skhier import Taxonomy
        >>> Taxonomy.from_paths([["A", "x"], ["B", "x"]]).lookup.codes(["x", "B", "?"], by="name").tolist()
        [-1, 3, -1]
        """
        table = self._names if by == "name" else self._ids
        if len(values) > 1:
            try:  # every value known (the common case): one C call, a quarter faster than map(get);
                found = operator.itemgetter(*values)(table)  # fromiter reads the tuple faster than np.array
                return np.fromiter(found, dtype=np.int64, count=len(found))
            except KeyError:
                pass
        return np.fromiter(map(table.get, values, itertools.repeat(-1, len(values))), dtype=np.int64,
                           count=len(values))

    @cached_property
    def paths(self):
        """Mapping from a tuple of display names below the root (a tree's) to its node."""
        tax = self._taxonomy
        names, paths, depth = tax.names, tax.path_indices, tax.depth
        return MappingProxyType(
            {tuple(names[j] for j in paths[i][1 : depth[i] + 1]): i for i in range(1, tax.n_nodes)}
        )

    @cached_property
    def names(self) -> np.ndarray:
        """Display names as a read-only object array (vectorised label checks)."""
        out = np.empty(self._taxonomy.n_nodes, dtype=object)
        out[:] = list(self._taxonomy.names)
        return readonly(out)

    @cached_property
    def ancestor_names(self) -> tuple:
        """Per path position ``k``: the display name of every node's ancestor at depth ``k``
        (object arrays; ``None`` below a node's depth); vectorised path checks."""
        names = np.append(self.names, None)  # index -1 (no ancestor) reads None
        paths = self._taxonomy.path_indices
        return tuple(readonly(names[paths[:, k]]) for k in range(paths.shape[1]))

    @cached_property
    def has_int_names(self) -> bool:
        """Whether some display name is an int (labels must then refuse bools explicitly)."""
        return any(isinstance(v, int) for v in self._taxonomy.names)
