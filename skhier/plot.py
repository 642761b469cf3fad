"""Pictures of a taxonomy: the tree (or DAG) with per-node values, and confusion by subtree.

Needs matplotlib (``pip install "skhier[plot]"``); imported when a function is called, so
``import skhier.plot`` works without it. Layouts are computed here in O(n_nodes + edges)
(no graph-drawing dependency), so a taxonomy of 10⁴ nodes draws in a second.
"""

from __future__ import annotations

import numpy as np

from ._docs import fill_doc
from ._taxonomy import Taxonomy
from ._tree import edge_levels
from .labels import encode_labels
from .utils.validation import check_taxonomy

__all__ = ["taxonomy_layout", "plot_taxonomy", "subtree_confusion_matrix", "plot_subtree_confusion"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"skhier.plot draws with matplotlib, which is not installed ({exc}): pip install 'skhier[plot]'"
        ) from None
    return plt


def taxonomy_layout(taxonomy: Taxonomy) -> np.ndarray:
    """(n_nodes, 2) drawing positions: leaves spread evenly, each parent above its children.

    ``x`` of a leaf is its rank among the leaves in node order (depth-first, so subtrees
    stay together); ``x`` of an internal node is the midpoint of its children's range;
    ``y`` is minus the depth (the longest path from the root on a DAG), so the root is on
    top. One pass over the edges, deepest parents first.

    Parameters
    ----------
    taxonomy : Taxonomy
        A tree or a DAG.

    Returns
    -------
    xy : ndarray of shape (n_nodes, 2)
        Coordinates of every node.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.plot import taxonomy_layout
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> taxonomy_layout(tax).tolist()  # root, A, A1, A2, B, B1
    [[1.25, 0.0], [0.5, -1.0], [0.0, -2.0], [1.0, -2.0], [2.0, -1.0], [2.0, -2.0]]
    """
    tax = check_taxonomy(taxonomy, allow_dag=True)
    n = tax.n_nodes
    x = np.full(n, np.nan)
    leaves = np.flatnonzero(tax.is_leaf)
    x[leaves] = np.arange(leaves.size, dtype=float)
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    for c, p in edge_levels(tax):  # children are final before their parents
        np.minimum.at(lo, p, x[c])
        np.maximum.at(hi, p, x[c])
        parents = np.unique(p)
        x[parents] = (lo[parents] + hi[parents]) / 2
    return np.column_stack([x, (-np.asarray(tax.depth)).astype(float)])


def _node_values(node_values, tax: Taxonomy):
    if node_values is None:
        return None
    if isinstance(node_values, dict):
        out = np.full(tax.n_nodes, np.nan)
        for k, v in node_values.items():
            out[tax.index(k)] = v
        return out
    arr = np.asarray(node_values, dtype=float)
    if arr.ndim == 2 and arr.shape[1] == tax.n_nodes:
        arr = arr.mean(axis=0)  # node scores of many samples: their mean
    if arr.shape != (tax.n_nodes,):
        raise ValueError(
            f"node_values must have one value per taxonomy node ({tax.n_nodes}), or be (n_samples, {tax.n_nodes}) "
            f"node scores, or a dict node -> value; got shape {arr.shape}"
        )
    if np.isinf(arr).any():
        raise ValueError("node_values must be finite (NaN marks a node without a value)")
    return arr


def plot_taxonomy(taxonomy, node_values=None, *, ax=None, cmap="viridis", vmin=None, vmax=None, labels="auto",
                  colorbar=True, node_size=None, title=None):
    """Draw the taxonomy, root on top, with per-node values as colours.

    Parameters
    ----------
    taxonomy : Taxonomy
        A tree or a DAG (every parent edge is drawn).
    node_values : array-like of shape (n_nodes,) or (n_samples, n_nodes), or dict, default=None
        A value per node in taxonomy order (a probability, an error rate); node scores of
        many samples (``clf.transform(X)``) are averaged; a dict maps nodes to values
        (the others are grey). ``None`` draws the structure only.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure sized to the taxonomy by default.
    cmap : str or Colormap, default="viridis"
        A matplotlib colormap name.
    vmin, vmax : float, default=None
        The colour range (the values' range by default).
    labels : "auto", bool, default="auto"
        Node names beside the nodes; ``"auto"``: when there are at most 150 nodes.
    colorbar : bool, default=True
        With ``node_values``, a colour bar.
    node_size : float, default=None
        Marker area; by default smaller as the taxonomy grows.
    title : str, default=None
        Axes title.

    Returns
    -------
    ax : matplotlib Axes
        Its first collection holds the edges, the second the nodes (their colour values
        in ``get_array()``, taxonomy order).

    Raises
    ------
    ImportError
        Without matplotlib, naming ``skhier[plot]``.
    ValueError
        For ``node_values`` of the wrong shape or infinite.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skhier import Taxonomy
    >>> from skhier.plot import plot_taxonomy
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> ax = plot_taxonomy(tax, node_values=[1, .7, .5, .2, .3, .3])
    >>> sorted(t.get_text() for t in ax.texts)
    ['A', 'A1', 'A2', 'B', 'B1', 'root']
    """
    plt = _pyplot()
    from matplotlib.collections import LineCollection

    tax = check_taxonomy(taxonomy, allow_dag=True)
    values = _node_values(node_values, tax)
    xy = taxonomy_layout(tax)
    n = tax.n_nodes
    if ax is None:
        width = float(np.clip(0.35 * tax.n_leaves + 1, 4, 24))
        _, ax = plt.subplots(figsize=(width, float(np.clip(1.2 * tax.max_depth + 1.5, 3, 12))))
    child, parent = tax.edges
    edges = LineCollection(np.stack([xy[parent], xy[child]], axis=1), colors="0.6", linewidths=0.8, zorder=1)
    ax.add_collection(edges)
    size = node_size if node_size is not None else float(np.clip(3000 / max(n, 1), 4, 120))
    if values is None:
        nodes = ax.scatter(xy[:, 0], xy[:, 1], s=size, c="tab:blue", zorder=2)
    else:
        import matplotlib

        colours = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
        nodes = ax.scatter(xy[:, 0], xy[:, 1], s=size, c=values, cmap=colours.with_extremes(bad="0.85"), vmin=vmin,
                           vmax=vmax, plotnonfinite=True, edgecolors="0.3", linewidths=0.5, zorder=2)
        if colorbar:
            ax.figure.colorbar(nodes, ax=ax, shrink=0.8)
    show = n <= 150 if labels == "auto" else bool(labels)
    if show:
        names = tax.names
        for v in range(n):
            leaf = bool(tax.is_leaf[v])
            ax.text(xy[v, 0], xy[v, 1] - (0.12 if leaf else -0.12), str(names[v]), fontsize=8,
                    ha="center" if not leaf or tax.n_leaves <= 12 else "right",
                    va="top" if leaf else "bottom", rotation=0 if not leaf or tax.n_leaves <= 12 else 60, zorder=3)
    ax.set_xlim(xy[:, 0].min() - 1, xy[:, 0].max() + 1)
    ax.set_ylim(xy[:, 1].min() - 1, 0.7)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def subtree_confusion_matrix(y_true, y_pred, *, taxonomy, depth=1, normalize=None):
    """Confusion between the subtrees at ``depth``: where each true subtree's samples go.

    Every label is replaced by its ancestor at ``depth`` (a label shallower than
    ``depth`` stays itself), then counted as scikit-learn's ``confusion_matrix`` does:
    which coarse branch the model confuses with which, whatever the leaf.

    Parameters
    ----------
    y_true, y_pred : array-like
        Single labels in any format of :mod:`skhier.labels` (leaves, nodes, paths).
    taxonomy : Taxonomy
        A tree (a DAG node has no unique ancestor at a depth).
    depth : int, default=1
        The level whose subtrees are compared (1 = the root's children).
    normalize : {None, "true", "pred", "all"}, default=None
        As in :func:`sklearn.metrics.confusion_matrix`.

    Returns
    -------
    matrix : ndarray of shape (n_subtrees, n_subtrees)
        Rows: true subtree, columns: predicted subtree.
    nodes : list
        The subtrees' root nodes, in taxonomy order (rows and columns).

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.plot import subtree_confusion_matrix
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> m, nodes = subtree_confusion_matrix(["A1", "A2", "B1"], ["A2", "B1", "B1"], taxonomy=tax)
    >>> nodes, m.tolist()
    (['A', 'B'], [[1, 1], [0, 1]])
    """
    from sklearn.metrics import confusion_matrix

    tax = check_taxonomy(taxonomy)
    check_taxonomy(tax, what="subtree_confusion_matrix (a unique ancestor at each depth)")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or not 1 <= depth <= tax.max_depth:
        raise ValueError(f"depth must be an int in [1, {tax.max_depth}] (the taxonomy's depth), got {depth!r}")
    t, ft = encode_labels(y_true, tax, name="y_true")
    p, fp = encode_labels(y_pred, tax, name="y_pred")
    if ft.multilabel or fp.multilabel:
        raise ValueError("subtree_confusion_matrix takes single labels (one path per sample), not node sets")
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} samples but y_pred has {len(p)}")
    paths = tax.path_indices
    at = lambda idx: np.where(tax.depth[idx] >= depth, paths[idx, depth], idx)  # noqa: E731
    nodes = np.flatnonzero((tax.depth == depth) | (tax.is_leaf & (tax.depth < depth)))
    m = confusion_matrix(at(t), at(p), labels=nodes, normalize=normalize)
    return m, [tax.nodes[v] for v in nodes]


@fill_doc
def plot_subtree_confusion(y_true, y_pred, *, taxonomy, depth=1, normalize="true", ax=None, cmap="Blues"):
    """Draw :func:`subtree_confusion_matrix` with scikit-learn's ``ConfusionMatrixDisplay``.

    Parameters
    ----------
    y_true, y_pred : array-like
        True and predicted labels, in any label format of :mod:`skhier.labels`.
    %(taxonomy)s
    depth : int, default=1
        The level whose subtrees are the confusion matrix's classes.
    normalize : {None, "true", "pred", "all"}, default="true"
        Rows sum to one by default: the share of each true subtree sent to each subtree.
    ax : matplotlib Axes, default=None
        Axes to draw on; ``None`` makes a new figure.
    cmap : str, default="Blues"
        A matplotlib colormap name.

    Returns
    -------
    display : sklearn.metrics.ConfusionMatrixDisplay
        The drawn confusion matrix.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skhier import Taxonomy
    >>> from skhier.plot import plot_subtree_confusion
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> disp = plot_subtree_confusion(["A1", "B1"], ["A2", "A1"], taxonomy=tax)
    >>> disp.confusion_matrix.tolist()
    [[1.0, 0.0], [1.0, 0.0]]
    """
    _pyplot()
    from sklearn.metrics import ConfusionMatrixDisplay

    m, nodes = subtree_confusion_matrix(y_true, y_pred, taxonomy=taxonomy, depth=depth, normalize=normalize)
    names = [str(n[-1] if isinstance(n, tuple) else n) for n in nodes]
    disp = ConfusionMatrixDisplay(m, display_labels=names)
    disp.plot(ax=ax, cmap=cmap, xticks_rotation=45, values_format=".2f" if normalize else "d", colorbar=False)
    disp.ax_.set_xlabel(f"predicted subtree (depth {depth})")
    disp.ax_.set_ylabel(f"true subtree (depth {depth})")
    return disp
