"""What every score producer and refiner shares: node-score arrays that remember their
taxonomy, the decision rules that turn node scores into nodes, and the refiner base class.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._taxonomy import Taxonomy
from ..labels import HierarchicalLabelEncoder, LabelFormat, _check_taxonomy, check_node_scores, decode_labels
from ..metrics._base import taxonomy_tensors
from ..metrics._hierarchical import path_accuracy_score
from ..metrics._operating_curve import _majority

__all__ = ["NodeScores", "NodeScoresMixin", "decide", "top_down_product", "BaseRefiner", "DECISIONS"]

DECISIONS = ("leaf", "top_down", "majority", "threshold")


class NodeScores(np.ndarray):
    """A (n_samples, n_nodes) float array that remembers the taxonomy of its columns.

    Score producers return it from ``transform`` so that a refiner built on another
    taxonomy can refuse it with a clear error. It behaves as a plain ndarray otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from skhier import Taxonomy
    >>> from skhier.inference import NodeScores
    >>> tax = Taxonomy.from_edges([("r", "a"), ("r", "b")])
    >>> s = NodeScores.wrap(np.ones((2, 3)), tax)
    >>> s.taxonomy is tax, s.shape
    (True, (2, 3))
    """

    taxonomy: Taxonomy | None

    @classmethod
    def wrap(cls, array, taxonomy: Taxonomy) -> NodeScores:
        """View ``array`` as NodeScores of ``taxonomy`` (no copy)."""
        out = np.asarray(array).view(cls)
        out.taxonomy = taxonomy
        return out

    def __array_finalize__(self, obj):
        self.taxonomy = getattr(obj, "taxonomy", None)

    def __reduce__(self):
        # pickle as a plain array; the taxonomy travels with the estimator anyway
        return np.asarray(self).__reduce__()


def _scores_as_tensor(X, taxonomy: Taxonomy, device=None, name="X", probabilities=False):
    """Validate node scores; return (tensor, was_tensor)."""
    src = getattr(X, "taxonomy", None)
    if src is not None and src != taxonomy:
        raise ValueError(
            f"{name} holds node scores of another taxonomy ({src!r}) than this step's "
            f"({taxonomy!r}); build every step of the pipeline on the same Taxonomy"
        )
    was_tensor = isinstance(X, torch.Tensor)
    X = check_node_scores(X, taxonomy, name=f"{name} (node scores)", probabilities=probabilities)
    t = X if was_tensor else torch.from_numpy(np.ascontiguousarray(X))
    if device is not None:
        t = t.to(device)
    return t, was_tensor


def decide(scores, taxonomy: Taxonomy, decision="leaf", *, threshold=0.5):
    """Turn node scores into one node per sample.

    Parameters
    ----------
    scores : array-like or tensor of shape (n_samples, n_nodes)
    taxonomy : Taxonomy
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
    _check_taxonomy(taxonomy)
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
    s, was_tensor = _scores_as_tensor(scores, taxonomy, name="scores")
    tt = taxonomy_tensors(taxonomy, str(s.device))
    if decision == "leaf":
        out = tt.leaves[s[:, tt.leaves].argmax(dim=1)]
    elif decision == "majority":
        out = _majority(s, tt.specificity, 0.5)
    elif decision == "threshold":
        ok = s >= threshold
        ok[:, 0] = True
        depth = torch.where(ok, tt.depth.expand_as(s), torch.full_like(s, -1.0, dtype=tt.depth.dtype))
        best = depth.max(dim=1, keepdim=True).values
        cand = ok & (depth == best)
        out = torch.where(cand, s, torch.full_like(s, -float("inf"))).argmax(dim=1)
    else:
        out = _top_down(s, taxonomy)
    return out if was_tensor else out.cpu().numpy()


def _top_down(s, taxonomy: Taxonomy, stop=None, threshold=None) -> torch.Tensor:
    """Greedy descent: from the root, step to the best-scored child (ties: the first).

    With ``stop`` (scores of ending at each node), a sample stays where stopping scores at
    least as high as its best child; with ``threshold``, where its best child scores
    below it. Works on (n, n_nodes) tensors; returns node indices.
    """
    table = torch.as_tensor(np.array(taxonomy.children_table), device=s.device)
    n = s.shape[0]
    cur = torch.zeros(n, dtype=torch.long, device=s.device)
    active = torch.ones(n, dtype=torch.bool, device=s.device)
    rows = torch.arange(n, device=s.device)
    for _ in range(taxonomy.max_depth):
        kids = table[cur]  # (n, max_children)
        valid = (kids >= 0) & active[:, None]
        if not valid.any():
            break
        ks = torch.where(valid, s[rows[:, None], kids.clamp(min=0)], torch.full_like(s[:, :1], -float("inf")))
        best = ks.argmax(dim=1)
        best_score = ks[rows, best]
        go = valid.any(dim=1)
        if stop is not None:
            go &= best_score > stop[rows, cur]
        if threshold is not None:
            go &= best_score >= threshold
        cur = torch.where(go, kids[rows, best], cur)
        active &= go
    return cur


def top_down_product(cond, taxonomy: Taxonomy):
    """Marginals from conditionals ``P(v | parent(v))``: products along root paths, in place.

    Works on numpy arrays and torch tensors of shape (n, n_nodes); the root column is set
    to 1.
    """
    cond[:, 0] = 1.0
    for lv in taxonomy.levels[1:]:
        lv = np.array(lv)  # a writable copy: torch refuses to index with read-only arrays
        cond[:, lv] = cond[:, taxonomy.parent[lv]] * cond[:, lv]
    return cond


def feature_names(taxonomy: Taxonomy) -> np.ndarray:
    """Node names as strings, for ``get_feature_names_out``."""
    return np.array(
        ["/".join(map(str, n)) if isinstance(n, tuple) else str(n) for n in taxonomy.nodes], dtype=object
    )


def node_classes(taxonomy: Taxonomy) -> np.ndarray:
    """Taxonomy nodes as a 1-D object array (``classes_`` of every skhier classifier)."""
    out = np.empty(taxonomy.n_nodes, dtype=object)
    out[:] = list(taxonomy.nodes)
    return out


class NodeScoresMixin:
    """What every skhier classifier whose ``transform`` gives node scores shares:
    ``get_feature_names_out`` (node names) and ``score`` (exact-path accuracy).

    The taxonomy is the fitted ``taxonomy_`` when there is one (it may be inferred from
    ``y``), else the ``taxonomy`` parameter.
    """

    def _scored_taxonomy(self) -> Taxonomy:
        return getattr(self, "taxonomy_", None) or self.taxonomy

    def get_feature_names_out(self, input_features=None):
        """Node names, one per column of ``transform``.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        names : ndarray of str objects
        """
        check_is_fitted(self)
        return feature_names(self._scored_taxonomy())

    def score(self, X, y, sample_weight=None):
        """Exact-path accuracy of ``predict(X)`` against ``y`` (any label format).

        Parameters
        ----------
        X : array-like
        y : array-like
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return path_accuracy_score(y, self.predict(X), taxonomy=self._scored_taxonomy(), sample_weight=sample_weight)


class BaseRefiner(NodeScoresMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    """Base class of the inference refiners: node scores in, refined node scores out.

    A refiner is a transformer (``transform`` returns refined node scores, so refiners
    chain) and a classifier (``predict`` decides one node per sample with ``decision``
    and answers in the label format of the ``y`` it was fitted with; ``predict_proba``
    returns the refined node scores, columns in taxonomy order).

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

    def fit(self, X, y=None):
        """Check the node scores and remember the label format of ``y``.

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
        """
        self._check_params()
        s, _ = _scores_as_tensor(X, self.taxonomy, name="X", probabilities=self._requires_probabilities)
        if y is not None:
            enc = HierarchicalLabelEncoder(self.taxonomy)
            y_enc = enc.fit_transform(y)
            if y_enc.shape[0] != s.shape[0]:
                raise ValueError(f"X has {s.shape[0]} samples but y has {y_enc.shape[0]}")
            self.label_format_ = enc.format_
        else:
            y_enc = None
            self.label_format_ = LabelFormat("node")
        self._fit_refiner(s, y_enc)
        self.classes_ = node_classes(self.taxonomy)
        self.n_features_in_ = self.taxonomy.n_nodes
        return self

    def _check_params(self):
        _check_taxonomy(self.taxonomy)
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, got {self.decision!r}")

    def _fit_refiner(self, scores, y_encoded):
        """Learn from training scores; nothing to learn by default."""

    def _device(self):
        dev = getattr(self, "device", None)
        if dev in (None, "auto"):
            return None if dev is None else ("cuda" if torch.cuda.is_available() else None)
        return dev

    def transform(self, X):
        """Refined node scores.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, n_nodes)

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes), or a tensor for tensor input
        """
        check_is_fitted(self, "classes_")
        s, was_tensor = _scores_as_tensor(
            X, self.taxonomy, self._device(), name="X", probabilities=self._requires_probabilities
        )
        out = self._refine(s)
        if was_tensor:
            return out.to(X.device)
        return NodeScores.wrap(out.cpu().numpy(), self.taxonomy)

    def predict_proba(self, X):
        """Refined node scores, one column per taxonomy node (same as ``transform``).

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, n_nodes)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_nodes)
        """
        return self.transform(X)

    def predict(self, X):
        """One node per sample by ``decision``, in the label format seen at ``fit``.

        Parameters
        ----------
        X : array-like or tensor of shape (n_samples, n_nodes)

        Returns
        -------
        y : ndarray
        """
        refined = self.transform(X)
        nodes = decide(refined, self.taxonomy, self.decision, threshold=self.threshold)
        if isinstance(nodes, torch.Tensor):
            nodes = nodes.cpu().numpy()
        return decode_labels(nodes, self.taxonomy, self.label_format_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags
