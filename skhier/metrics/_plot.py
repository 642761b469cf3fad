"""Operating-curve plots (matplotlib, imported lazily)."""

from __future__ import annotations

from .._docs import fill_doc
from ._operating_curve import OperatingCurve, operating_curve

__all__ = ["plot_operating_curve"]


@fill_doc
def plot_operating_curve(y_true, y_scores, *, taxonomy, specificity="info", axes=None):
    """Plot correct vs recall and precision vs recall for one or several models.

    Parameters
    ----------
    y_true : array-like
        True labels.
    y_scores : array-like of shape (n_samples, n_nodes), or dict of name -> such array
        Node scores of one model, or of several models to compare on one figure.
    %(taxonomy)s
    specificity : {"info", "depth"}, default="info"
    axes : sequence of two matplotlib Axes, default=None
        Where to draw; a new figure with two panels by default.

    Returns
    -------
    axes : ndarray of two matplotlib Axes
        Correct vs recall, then precision vs recall.
    curves : dict of name -> OperatingCurve
        The curve drawn for each model, by name.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skhier import Taxonomy
    >>> from skhier.metrics import plot_operating_curve
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> axes, curves = plot_operating_curve(["A1"], {"m": [[1, .9, .6, .3, .1, .1]]}, taxonomy=tax)
    >>> len(axes)
    2
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not isinstance(y_scores, dict):
        y_scores = {"model": y_scores}
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    axes = np.asarray(axes).ravel()
    curves: dict[str, OperatingCurve] = {}
    for name, scores in y_scores.items():
        c = operating_curve(y_true, scores, taxonomy=taxonomy, specificity=specificity)
        curves[name] = c
        order = np.argsort(c.recall, kind="stable")
        axes[0].plot(c.recall[order], c.correct[order], label=name)
        axes[1].plot(c.recall[order], c.precision[order], label=name)
    for ax, ylabel in zip(axes, ["correct", f"{specificity} precision"]):
        ax.set_xlabel(f"{specificity} recall")
        ax.set_ylabel(ylabel)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
        ax.legend()
    return axes, curves
