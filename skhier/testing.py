"""Hypothesis strategies for property-testing code that uses taxonomies.

Public, so users can property-test their own code against random taxonomies::

    from hypothesis import given
    from skhier.testing import taxonomies

    @given(taxonomies(max_nodes=20))
    def test_my_code(tax):
        ...

Requires ``hypothesis`` (the ``test`` extra).
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from ._docs import fill_doc
from ._taxonomy import Taxonomy

__all__ = ["taxonomies", "leaf_labels", "node_labels", "leaf_probabilities", "node_scores"]


@st.composite
def taxonomies(draw, *, min_nodes=1, max_nodes=30, max_depth=6, min_leaves=1, names="str"):
    """Random taxonomies: varied depth and fan-out, single-child chains, ragged depth.

    Node ``i > 0`` draws its parent among the nodes before it whose depth is below
    ``max_depth``, which covers every rooted tree shape.

    Parameters
    ----------
    min_nodes, max_nodes : int
        Bounds on the number of nodes, root included.
    max_depth : int, default=6
        Largest depth of a node.
    min_leaves : int, default=1
        Smallest number of leaves.
    names : {"str", "int", "mixed"}, default="str"
        Type of the node identifiers.

    Returns
    -------
    strategy : hypothesis strategy of Taxonomy
        A hypothesis strategy drawing such values.

    Examples
    --------
    >>> from hypothesis import given
    >>> from skhier.testing import taxonomies
    >>> @given(taxonomies(max_nodes=10))
    ... def test_root_first(tax):
    ...     assert tax.depth[0] == 0
    >>> test_root_first()
    """
    n = draw(st.integers(max(min_nodes, min_leaves + (min_leaves > 1)), max(max_nodes, min_nodes)))
    parents = [None]
    depth = [0]
    for i in range(1, n):
        allowed = [j for j in range(i) if depth[j] < max_depth]
        j = draw(st.sampled_from(allowed))
        parents.append(j)
        depth.append(depth[j] + 1)
    is_leaf = np.ones(n, dtype=bool)
    for p in parents[1:]:
        is_leaf[p] = False
    if is_leaf.sum() < min_leaves:
        assume(False)
    if names == "str":
        ids = [f"v{i}" for i in range(n)]
    elif names == "int":
        ids = list(range(100, 100 + n))
    elif names == "mixed":
        ids = [f"v{i}" if i % 2 else i for i in range(n)]
    else:
        raise ValueError(f"names must be 'str', 'int' or 'mixed', got {names!r}")
    order = draw(st.permutations(range(n))) if n < 12 else range(n)
    order = [0] + [i for i in order if i != 0]
    return Taxonomy([ids[i] for i in order], [None if parents[i] is None else ids[parents[i]] for i in order])


@st.composite
@fill_doc
def leaf_labels(draw, taxonomy: Taxonomy, *, min_size=1, max_size=30):
    """1-D arrays of leaf identifiers of ``taxonomy``.

    Parameters
    ----------
    %(taxonomy)s
    min_size, max_size : int
        Bounds on the number of labels drawn.

    Returns
    -------
    strategy : hypothesis strategy of ndarray of object
        A hypothesis strategy drawing such values.

    Examples
    --------
    >>> from hypothesis import given
    >>> from skhier import Taxonomy
    >>> from skhier.testing import leaf_labels
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["B", "B1"]])
    >>> @given(leaf_labels(tax))
    ... def test_leaves(y):
    ...     assert set(y) <= {"A1", "B1"}
    >>> test_leaves()
    """
    idx = draw(st.lists(st.sampled_from(list(taxonomy.leaves)), min_size=min_size, max_size=max_size))
    out = np.empty(len(idx), dtype=object)
    out[:] = [taxonomy.nodes[i] for i in idx]
    return out


@st.composite
@fill_doc
def node_labels(draw, taxonomy: Taxonomy, *, min_size=1, max_size=30, include_root=False):
    """1-D arrays of node indices of ``taxonomy`` (internal nodes allowed).

    Parameters
    ----------
    %(taxonomy)s
    min_size, max_size : int
        Bounds on the number of labels drawn.
    include_root : bool, default=False
        Whether the root may be drawn (a label that says nothing).

    Returns
    -------
    strategy : hypothesis strategy of ndarray of int64
        A hypothesis strategy drawing such values.

    Examples
    --------
    >>> from hypothesis import given
    >>> from skhier import Taxonomy
    >>> from skhier.testing import node_labels
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["B", "B1"]])
    >>> @given(node_labels(tax))
    ... def test_not_root(idx):
    ...     assert (idx >= 1).all()
    >>> test_not_root()
    """
    lo = 0 if include_root or taxonomy.n_nodes == 1 else 1
    idx = draw(st.lists(st.integers(lo, taxonomy.n_nodes - 1), min_size=min_size, max_size=max_size))
    return np.asarray(idx, dtype=np.int64)


@st.composite
@fill_doc
def leaf_probabilities(draw, taxonomy: Taxonomy, n_samples: int):
    """Rows of leaf probabilities summing to one, with ties and exact zeros.

    Parameters
    ----------
    %(taxonomy)s
    n_samples : int
        Number of samples.

    Returns
    -------
    strategy : hypothesis strategy of ndarray of shape (n_samples, n_leaves)
        A hypothesis strategy drawing such values.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given
    >>> from skhier import Taxonomy
    >>> from skhier.testing import leaf_probabilities
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["B", "B1"]])
    >>> @given(leaf_probabilities(tax, 3))
    ... def test_rows_sum_to_one(p):
    ...     assert np.allclose(p.sum(1), 1)
    >>> test_rows_sum_to_one()
    """
    raw = draw(
        st.lists(
            st.lists(st.sampled_from([0, 1, 2, 3, 5, 8]), min_size=taxonomy.n_leaves, max_size=taxonomy.n_leaves),
            min_size=n_samples,
            max_size=n_samples,
        )
    )
    p = np.asarray(raw, dtype=np.float64).reshape(n_samples, taxonomy.n_leaves)
    p[p.sum(axis=1) == 0, 0] = 1.0
    return p / p.sum(axis=1, keepdims=True)


@st.composite
@fill_doc
def node_scores(draw, taxonomy: Taxonomy, n_samples: int):
    """Node probabilities: bottom-up sums of :func:`leaf_probabilities` (root is 1).

    Parameters
    ----------
    %(taxonomy)s
    n_samples : int
        Number of samples.

    Returns
    -------
    strategy : hypothesis strategy of ndarray of shape (n_samples, n_nodes)
        A hypothesis strategy drawing such values.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given
    >>> from skhier import Taxonomy
    >>> from skhier.testing import node_scores
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["B", "B1"]])
    >>> @given(node_scores(tax, 2))
    ... def test_root_is_one(s):
    ...     assert np.allclose(s[:, 0], 1)
    >>> test_root_is_one()
    """
    p = draw(leaf_probabilities(taxonomy, n_samples))
    return np.asarray(p @ taxonomy.leaf_ancestor_matrix)
