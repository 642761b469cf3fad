"""What every score producer and refiner shares: node-score arrays that remember their
taxonomy, the decision rules that turn node scores into nodes, and the refiner base class.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._docs import fill_doc
from .._taxonomy import Taxonomy
from .._tree import (
    as_score_tensor,
    best_leaf,
    greedy_descent,
    majority_node,
    sorted_classes,
    taxonomy_tensors,
)
from ..base import NodeScores, NodeScoresMixin
from ..labels import HierarchicalLabelEncoder, LabelFormat, decode_labels
from ..utils.device import resolve_device
from ..utils.validation import (
    Device,
    Interval,
    IsTaxonomy,
    Options,
    check_number,
    check_taxonomy,
    is_tensor,
    validate_params,
)

__all__ = ["NodeScores", "decide", "BaseRefiner", "DECISIONS"]

DECISIONS = ("leaf", "top_down", "majority", "threshold")


@fill_doc
def decide(scores, taxonomy: Taxonomy, decision="leaf", *, threshold=0.5):
    """Turn node scores into one node per sample.

    Parameters
    ----------
    scores : array-like or tensor of shape (n_samples, n_nodes)
        Node scores, one column per taxonomy node in taxonomy order.
    %(taxonomy)s
    decision : {"leaf", "top_down", "majority", "threshold"}, default="leaf"
        ``"leaf"``: the best-scored leaf. ``"top_down"``: from the root, step to the
        best-scored child until a leaf. ``"majority"``: the most specific non-root node
        scoring above 0.5 (Valmadre's majority rule). ``"threshold"``: the deepest node
        scoring at least ``threshold`` (ties by score), so that unsure samples stop at an
        internal node; the root when none does.
    threshold : float, default=0.5
        Used by ``"threshold"``.

    Returns
    -------
    nodes : ndarray of int64 (tensor for tensor input)
        Node indices.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.inference import decide
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"]])
    >>> s = [[1, .45, .3, .15, .55, .55]]
    >>> [tax.nodes[int(decide(s, tax, d)[0])] for d in ("leaf", "top_down", "threshold")]
    ['B1', 'B1', 'B1']
    >>> tax.nodes[int(decide(s, tax, "threshold", threshold=0.6)[0])]
    'root'
    """
    check_taxonomy(taxonomy)
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
    _check_threshold(threshold)
    s, was_tensor = as_score_tensor(scores, taxonomy, name="scores")
    out = _decide(s, taxonomy, decision, threshold)
    return out if was_tensor else out.cpu().numpy()


def _decide(s: torch.Tensor, taxonomy: Taxonomy, decision: str, threshold: float) -> torch.Tensor:
    """:func:`decide`'s kernel on checked scores and parameters."""
    tt = taxonomy_tensors(taxonomy, str(s.device))
    if decision == "leaf":
        out = best_leaf(s, taxonomy)
    elif decision == "majority":
        out = majority_node(s, taxonomy, 0.5)
    elif decision == "threshold":
        ok = s >= threshold
        ok[:, 0] = True
        depth = torch.where(ok, tt.depth.expand_as(s), torch.full_like(s, -1.0, dtype=tt.depth.dtype))
        best = depth.max(dim=1, keepdim=True).values
        cand = ok & (depth == best)
        out = torch.where(cand, s, torch.full_like(s, -float("inf"))).argmax(dim=1)
    else:
        out = greedy_descent(s, taxonomy)
    return out


def _check_threshold(threshold):
    check_number(threshold, "threshold")


class BaseRefiner(NodeScoresMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    """Base class of the inference refiners: node scores in, refined node scores out.

    A refiner is a transformer (``transform`` returns refined node scores, columns in
    taxonomy order, so refiners chain) and a classifier (``predict`` decides one node per
    sample with ``decision`` and answers in the label format of the ``y`` it was fitted
    with). ``classes_`` are every taxonomy node (``decision`` may stop anywhere), sorted
    as scikit-learn sorts labels, and ``decision_function`` gives the refined scores in
    that column order. Refined scores are not a distribution over classes, so refiners
    have no ``predict_proba`` (see ``docs/contract.md``).

    Subclasses implement ``_refine(scores: torch.Tensor) -> torch.Tensor`` and, when they
    learn something, ``_fit_refiner(scores, y_encoded)``.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.inference import BaseRefiner
    >>> class Identity(BaseRefiner):
    ...     def __init__(self, taxonomy, *, decision="leaf", threshold=0.5):
    ...         self.taxonomy, self.decision, self.threshold = taxonomy, decision, threshold
    ...     def _refine(self, scores):
    ...         return scores
    >>> tax = Taxonomy.from_paths([["A", "A1"], ["B", "B1"]])
    >>> Identity(tax).fit([[1, .3, .3, .7, .7]], ["B1"]).predict([[1, .3, .3, .7, .7]]).tolist()
    ['B1']
    """

    _requires_probabilities = False
    _allow_dag = False  # refiners that work on DAG taxonomies say so

    def fit(self, X, y=None):
        """Check the node scores and remember the taxonomy and the label format of ``y``.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, n_nodes)
            Node scores from the previous step.
        y : array-like, default=None
            Labels in any format of :mod:`skhier.labels`; predictions come back in it.
            Without ``y``, ``predict`` answers with 1-D node labels.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        tax = self.taxonomy
        if tax is None:  # in a Pipeline: the taxonomy of the step before, which NodeScores carry
            tax = getattr(X, "taxonomy", None)
            if tax is None:
                raise ValueError(
                    f"{type(self).__name__} got taxonomy=None and X carries no taxonomy: pass taxonomy=, or put "
                    "the refiner after a skhier estimator in a Pipeline (its transform gives NodeScores that "
                    "carry their taxonomy)"
                )
        self.taxonomy_ = tax
        self._check_params()
        s, _ = as_score_tensor(X, tax, name="X", probabilities=self._requires_probabilities)
        if y is not None:
            enc = HierarchicalLabelEncoder(tax)
            y_enc = enc.fit_transform(y)
            if y_enc.shape[0] != s.shape[0]:
                raise ValueError(f"X has {s.shape[0]} samples but y has {y_enc.shape[0]}")
            self.label_format_ = enc.format_
        else:
            y_enc = None
            self.label_format_ = LabelFormat("node")
        self.taxonomy_ = tax
        self._fit_refiner(s, y_enc)
        self.classes_, self.class_nodes_ = sorted_classes(tax, np.arange(tax.n_nodes))
        self.n_features_in_ = tax.n_nodes
        return self

    #: the parameters' rules, checked once per fit, transform and predict (subclasses add theirs)
    _parameter_rules = {"decision": Options(*DECISIONS), "threshold": Interval(0, 1),
                        "taxonomy": IsTaxonomy(), "device": Device()}

    def _check_params(self):
        tax = self.taxonomy if self.taxonomy is not None else getattr(self, "taxonomy_", None)
        check_taxonomy(tax, allow_dag=self._allow_dag, what=type(self).__name__)
        validate_params(self)

    def _fit_refiner(self, scores, y_encoded):
        """Learn from training scores; nothing to learn by default."""

    def _device(self, X):
        """Where ``X`` is refined: a tensor stays on its device under ``"auto"`` (or None);
        numpy input goes where :func:`~skhier.utils.device.resolve_device` says."""
        dev = getattr(self, "device", "auto")
        if dev is None or (isinstance(dev, str) and dev == "auto" and is_tensor(X)):
            return None
        return resolve_device(dev)

    def transform(self, X):
        """Refined node scores.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, n_nodes)
            Node scores, one column per taxonomy node in taxonomy order.

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes), or a tensor for tensor input
            Columns in taxonomy order.
        """
        out, was_tensor = self._refined(X)
        if was_tensor:
            return out.to(X.device)
        return NodeScores.wrap(out.cpu().numpy(), self.taxonomy_)

    def _refined(self, X):
        """``X`` validated once, refined: ``(tensor, X was a tensor)``."""
        check_is_fitted(self, "taxonomy_")
        self._check_params()  # once per call: set_params may follow fit
        s, was_tensor = as_score_tensor(
            X, self.taxonomy_, name="X", probabilities=self._requires_probabilities, device=self._device(X)
        )
        return self._refine(s), was_tensor

    def decision_function(self, X):
        """Refined node scores with columns in ``classes_`` order.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, n_nodes)
            Node scores, one column per taxonomy node in taxonomy order.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes)
            Scores, one column per class of ``classes_``.
        """
        out = self.transform(X)
        if isinstance(out, torch.Tensor):
            return out[:, torch.as_tensor(self.class_nodes_, device=out.device)]
        return np.asarray(out)[:, self.class_nodes_]

    def predict(self, X):
        """One node per sample by ``decision``, in the label format seen at ``fit``.

        Fitted on node sets (an indicator ``y``), the nodes scoring at least
        ``threshold``, closed under ancestors, in that format (trees and DAGs).

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, n_nodes)
            Node scores, one column per taxonomy node in taxonomy order.

        Returns
        -------
        y : ndarray or sparse matrix
            Labels in the format ``y`` was given in.
        """
        check_is_fitted(self, "taxonomy_")
        if not self.label_format_.multilabel:
            what = f"{type(self).__name__}.predict with single-label y (one node per sample)"
            check_taxonomy(self.taxonomy_, what=what)
        refined, _ = self._refined(X)  # X and the parameters are validated here, once
        if self.label_format_.multilabel:
            hit = (refined >= self.threshold).cpu().numpy()
            hit[:, 0] = True
            return decode_labels(sp.csr_matrix(hit), self.taxonomy_, self.label_format_)
        nodes = _decide(refined, self.taxonomy_, self.decision, self.threshold).cpu().numpy()
        return decode_labels(nodes, self.taxonomy_, self.label_format_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags
