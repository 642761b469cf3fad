"""Bottom-up and top-down inference (Valmadre, 2022; Redmon & Farhadi, 2017), and the
coherence refiner (C-HMCNN's max-constraint module, on trees and DAGs)."""

from __future__ import annotations

import numpy as np
import torch

from .._tree import bottom_up, max_over_descendants, taxonomy_tensors, top_down_product
from ..utils.validation import Boolean
from ._base import BaseRefiner

__all__ = ["BottomUpRefiner", "TopDownRefiner", "CoherenceRefiner"]


class BottomUpRefiner(BaseRefiner):
    """Leaf probabilities to node probabilities: every node sums its leaves.

    Only the leaf columns of the input are read; an internal node's score becomes the
    sum of the scores of the leaves below it (on a DAG, of every leaf below it over any
    path, each counted once).

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The taxonomy of the node scores; ``None`` takes the one the scores carry (the
        :class:`~skhier.base.NodeScores` of the step before it in a Pipeline).
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
    _allow_dag = True

    def __init__(self, taxonomy=None, *, decision="leaf", threshold=0.5):
        self.taxonomy = taxonomy
        self.decision = decision
        self.threshold = threshold

    def _refine(self, s):
        leaf_part = torch.zeros_like(s)
        leaves = torch.as_tensor(np.array(self.taxonomy_.leaves), device=s.device)
        leaf_part[:, leaves] = s[:, leaves]
        return bottom_up(leaf_part, self.taxonomy_)


class TopDownRefiner(BaseRefiner):
    """Conditional node scores to marginals: the product along the root path.

    Input column ``v`` is read as ``P(v | parent(v))`` (Redmon & Farhadi's YOLO9000
    tree); the output is ``P(v) = prod over the path root..v``. With ``normalize=True``
    the conditionals of every set of siblings are first divided by their sum.

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The taxonomy of the node scores; ``None`` takes the one the scores carry (the
        :class:`~skhier.base.NodeScores` of the step before it in a Pipeline).
    normalize : bool, default=False
        Normalise siblings to sum to one before multiplying.
    decision : {"leaf", "top_down", "majority", "threshold"}, default="leaf"
    threshold : float, default=0.5
        A node is predicted when its score is at least ``threshold``.

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

    _parameter_rules = {"normalize": Boolean()}

    def __init__(self, taxonomy=None, *, normalize=False, decision="leaf", threshold=0.5):
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


class CoherenceRefiner(BaseRefiner):
    """Make node scores coherent: every node at least as high as each of its descendants.

    C-HMCNN's max-constraint module (MCM) as a transformer: node ``k`` takes the max of
    its own score and its descendants' (Giunchiglia & Lukasiewicz, 2020, eq. 2), so no
    node outranks an ancestor and thresholding gives label sets closed under ancestors.
    Works on trees and on DAG taxonomies (the Gene Ontology), as a segment max over the
    (descendant, ancestor) pairs: O(n_samples × pairs). Fitted on a node-indicator ``y``
    (several paths per sample), ``predict`` returns the nodes scoring at least
    ``threshold`` in that format; on single-label ``y`` it decides one node by
    ``decision`` (trees only).

    Parameters
    ----------
    taxonomy : Taxonomy, default=None
        The taxonomy of the node scores; ``None`` takes the one the scores carry (the
        :class:`~skhier.base.NodeScores` of the step before it in a Pipeline).
    decision : {"leaf", "top_down", "majority", "threshold"}, default="threshold"
        Single-label decisions; see :func:`skhier.inference.decide`.
    threshold : float, default=0.5
        A node is predicted when its score is at least ``threshold``.
    device : str or torch.device, default="auto"
        Where numpy input is refined: ``"auto"`` (CUDA when present, else the CPU),
        ``"cpu"`` or ``"cuda"``; ``None`` keeps it on the CPU. A tensor is refined on its
        own device under ``"auto"`` or ``None``.

    Attributes
    ----------
    classes_ : ndarray of object
    label_format_ : LabelFormat
    n_features_in_ : int

    See Also
    --------
    skhier.neural.CHMCNNClassifier : the network trained through this constraint.
    skhier.metrics.hierarchy_violations : counts what this removes.

    Examples
    --------
    >>> import numpy as np
    >>> from skhier import Taxonomy
    >>> from skhier.inference import CoherenceRefiner
    >>> tax = Taxonomy.from_edges(["r/a", "r/b", "a/c", "b/c"])  # c under a and b
    >>> S = np.array([[1.0, 0.2, 0.6, 0.9]])  # columns r, a, b, c: c above both parents
    >>> CoherenceRefiner(tax).fit(S).transform(S).tolist()
    [[1.0, 0.9, 0.9, 0.9]]
    """

    _allow_dag = True

    def __init__(self, taxonomy=None, *, decision="threshold", threshold=0.5, device="auto"):
        self.taxonomy = taxonomy
        self.decision = decision
        self.threshold = threshold
        self.device = device

    def _refine(self, s):
        return max_over_descendants(s, self.taxonomy_)
