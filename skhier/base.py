"""The contract every skhier estimator keeps, as mixins (see ``docs/contract.md``).

- **Single-label classifiers** (:class:`HierarchicalClassifierMixin`): ``classes_`` are
  the end nodes they can predict, sorted as scikit-learn sorts class labels;
  ``predict_proba`` columns follow ``classes_`` and rows sum to 1 (the probability that
  a sample's path ends at each class); ``transform`` gives node marginals, one column
  per taxonomy node in taxonomy order (:class:`NodeScores`), the refiners' input.
- **Refiners** (:class:`~skhier.inference.BaseRefiner`): ``transform`` gives refined node
  scores and ``decision_function`` the same scores with columns in ``classes_`` order;
  refined scores are not a distribution over classes, so no refiner has
  ``predict_proba``.
- **Multi-label classifiers**: ``predict_proba`` gives per-node probabilities, one column
  per taxonomy node, as scikit-learn's multi-label classifiers do.
- **Encoders**: ``transform`` gives embeddings.

Every estimator keeps the taxonomy it was fitted with in ``taxonomy_``; ``set_params``
after ``fit`` never changes what a fitted estimator answers.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._docs import fill_doc
from ._taxonomy import Taxonomy, bottom_up_sum, sorted_classes
from .utils.validation import is_tensor

# torch is imported only where an estimator hands over tensors: the scikit-learn
# estimators (local classifiers, FlatClassifier, refiners on arrays) never load it.

__all__ = ["NodeScores", "NodeScoresMixin", "HierarchicalClassifierMixin", "feature_names"]


class NodeScores(np.ndarray):
    """A (n_samples, n_nodes) float array that remembers the taxonomy of its columns.

    Score producers return it from ``transform`` so that a refiner built on another
    taxonomy can refuse it with a clear error. It behaves as a plain ndarray otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from skhier import Taxonomy
    >>> from skhier.base import NodeScores
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


def feature_names(taxonomy: Taxonomy) -> np.ndarray:
    """Node names as strings, for ``get_feature_names_out`` (tuple paths joined by "/").

    Parameters
    ----------
    taxonomy : Taxonomy
        The taxonomy whose nodes name the columns.

    Returns
    -------
    names : ndarray of str objects
        The node names.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.base import feature_names
    >>> feature_names(Taxonomy.from_paths([["A", "x"], ["B", "x"]])).tolist()
    ['root', 'A', 'A/x', 'B', 'B/x']
    """
    return np.array(
        ["/".join(map(str, n)) if isinstance(n, tuple) else str(n) for n in taxonomy.nodes], dtype=object
    )


class NodeScoresMixin:
    """``get_feature_names_out`` (node names) and ``score`` (exact-path accuracy) of every
    fitted skhier estimator whose ``transform`` gives node scores of ``taxonomy_``.

    Examples
    --------
    >>> from skhier.base import NodeScoresMixin
    >>> from skhier.inference import BaseRefiner
    >>> issubclass(BaseRefiner, NodeScoresMixin)
    True
    """

    def get_feature_names_out(self, input_features=None):
        """Node names, one per column of ``transform``.

        Parameters
        ----------
        input_features : ignored
            The columns are the taxonomy's nodes whatever the input.

        Returns
        -------
        names : ndarray of str objects
            The node names.
        """
        check_is_fitted(self, "taxonomy_")
        return feature_names(self.taxonomy_)

    @fill_doc
    def score(self, X, y, sample_weight=None):
        """Exact-path accuracy of ``predict(X)`` against ``y`` (any label format).

        Parameters
        ----------
        X : array-like
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).
        y : array-like
            Labels in any label format of :mod:`skhier.labels`.
        %(sample_weight)s

        Returns
        -------
        score : float
            Exact-path accuracy of ``predict(X)`` against ``y`` (any label format).
        """
        from .metrics import path_accuracy_score

        check_is_fitted(self, "taxonomy_")
        return path_accuracy_score(y, self.predict(X), taxonomy=self.taxonomy_, sample_weight=sample_weight)


class HierarchicalClassifierMixin(NodeScoresMixin):
    """The single-label classifier contract, from one method: ``_end_proba(X)``.

    A subclass sets ``classes_`` with :meth:`_set_classes` at ``fit`` and implements
    ``_end_proba(X)``: a (n_samples, n_nodes) float tensor or array, the probability
    that each sample's path ends at each node (zero off ``class_nodes_``). The mixin
    derives ``predict_proba`` and ``predict_log_proba`` (columns in ``classes_``
    order, rows summing to 1) and ``transform`` (node marginals in taxonomy order).

    Examples
    --------
    >>> from skhier.base import HierarchicalClassifierMixin
    >>> from skhier.inference import FlatClassifier
    >>> issubclass(FlatClassifier, HierarchicalClassifierMixin)
    True
    """

    def _set_classes(self, taxonomy: Taxonomy, end_nodes) -> None:
        """Fitted ``taxonomy_``, ``classes_`` (sorted identifiers) and ``class_nodes_``."""
        self.taxonomy_ = taxonomy
        self.classes_, self.class_nodes_ = sorted_classes(taxonomy, end_nodes)

    def _end_proba(self, X):  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def _end_scores(self, X):
        """``_end_proba(X)`` as it came: a torch tensor, or a float64 ndarray."""
        end = self._end_proba(X)
        return end if is_tensor(end) else np.asarray(end, dtype=np.float64)

    def predict_proba(self, X):
        """Probability that each sample's path ends at each of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; rows sum to 1. ``transform`` gives every
            node's marginal probability instead.
        """
        check_is_fitted(self, "class_nodes_")
        end = self._end_scores(X)
        proba = end[:, self.class_nodes_]
        if is_tensor(proba):
            proba = proba.double().cpu().numpy()
        # renormalised in float64: float32 models sum to 1 only within ~1e-6
        proba /= np.maximum(proba.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
        return proba

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def transform(self, X):
        """Node marginals: the probability that each sample's path passes each node.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input samples: images (n, C, H, W) or feature vectors (n, n_features).

        Returns
        -------
        scores : NodeScores of shape (n_samples, n_nodes)
            Columns in taxonomy order; the root's is 1 and every node's is the sum of its
            children's and of ending there. The input of every refiner.
        """
        check_is_fitted(self, "class_nodes_")
        end = self._end_scores(X)
        if is_tensor(end):
            from ._tree import bottom_up

            marg = bottom_up(end, self.taxonomy_).double().cpu().numpy()
        else:
            marg = bottom_up_sum(end, self.taxonomy_)
        return NodeScores.wrap(marg, self.taxonomy_)
