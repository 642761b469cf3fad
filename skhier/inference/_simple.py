"""Bottom-up and top-down inference (Valmadre, 2022; Redmon & Farhadi, 2017)."""

from __future__ import annotations

import torch

from .._tree import bottom_up, taxonomy_tensors, top_down_product
from ._base import BaseRefiner

__all__ = ["BottomUpRefiner", "TopDownRefiner"]


class BottomUpRefiner(BaseRefiner):
    """Leaf probabilities to node probabilities: every node sums its leaves.

    Only the leaf columns of the input are read; an internal node's score becomes the
    sum of the scores of the leaves below it.

    Parameters
    ----------
    taxonomy : Taxonomy
    decision : {"leaf", "top_down", "majority", "threshold"}, default="leaf"
        How ``predict`` picks a node; see :func:`skhier.inference.decide`.
    threshold : float, default=0.5
        Score a node needs under ``decision="threshold"``.

    Attributes
    ----------
    classes_ : ndarray of object
        Taxonomy nodes.
    label_format_ : LabelFormat

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.inference import BottomUpRefiner
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> BottomUpRefiner(tax).fit_transform([[0, 0, .5, .2, 0, .3]]).round(2).tolist()
    [[1.0, 0.7, 0.5, 0.2, 0.3, 0.3]]
    """

    _requires_probabilities = True

    def __init__(self, taxonomy, *, decision="leaf", threshold=0.5):
        self.taxonomy = taxonomy
        self.decision = decision
        self.threshold = threshold

    def _refine(self, s):
        leaf_part = torch.zeros_like(s)
        leaves = taxonomy_tensors(self.taxonomy_, str(s.device)).leaves
        leaf_part[:, leaves] = s[:, leaves]
        return bottom_up(leaf_part, self.taxonomy_)


class TopDownRefiner(BaseRefiner):
    """Conditional node scores to marginals: the product along the root path.

    Input column ``v`` is read as ``P(v | parent(v))`` (Redmon & Farhadi's YOLO9000
    tree); the output is ``P(v) = prod over the path root..v``. With ``normalize=True``
    the conditionals of every set of siblings are first divided by their sum.

    Parameters
    ----------
    taxonomy : Taxonomy
    normalize : bool, default=False
        Normalise siblings to sum to one before multiplying.
    decision : {"leaf", "top_down", "majority", "threshold"}, default="leaf"
    threshold : float, default=0.5

    Attributes
    ----------
    classes_ : ndarray of object
    label_format_ : LabelFormat

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.inference import TopDownRefiner
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> TopDownRefiner(tax).fit_transform([[1, .6, .5, .5, .4, 1]]).round(2).tolist()
    [[1.0, 0.6, 0.3, 0.3, 0.4, 0.4]]
    """

    _requires_probabilities = True

    def __init__(self, taxonomy, *, normalize=False, decision="leaf", threshold=0.5):
        self.taxonomy = taxonomy
        self.normalize = normalize
        self.decision = decision
        self.threshold = threshold

    def _refine(self, s):
        tax = self.taxonomy_
        parent = taxonomy_tensors(tax, str(s.device)).parent
        cond = s.clone()
        cond[:, 0] = 1.0
        if self.normalize and tax.n_nodes > 1:
            sums = torch.zeros_like(cond)
            sums.index_add_(1, parent[1:], cond[:, 1:])
            den = sums[:, parent[1:]]
            cond[:, 1:] = torch.where(den > 0, cond[:, 1:] / den.clamp(min=1e-300), torch.zeros_like(den))
        return top_down_product(cond, tax)
