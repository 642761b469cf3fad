"""The label encoder: a scikit-learn transformer that remembers ``y``'s format."""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..utils.validation import IsTaxonomy, Options, validate_params
from ._decode import decode_labels
from ._encode import encode_labels
from ._formats import _FORMATS


class HierarchicalLabelEncoder(TransformerMixin, BaseEstimator):
    """Encode hierarchical targets as node indices, and decode predictions back.

    The one reader of ``y`` that every skhier estimator uses: it learns the label format
    at ``fit`` so that ``inverse_transform`` answers in that same format.

    Parameters
    ----------
    taxonomy : Taxonomy
        The taxonomy the labels belong to.
    format : {"auto", "leaf", "node", "path", "indicator"}, default="auto"
        Force a label format instead of guessing it.

    Attributes
    ----------
    format_ : LabelFormat
        The format seen at ``fit``.
    classes_ : tuple
        The taxonomy's nodes: encoded value ``i`` is ``classes_[i]``.

    See Also
    --------
    encode_labels : the function behind ``transform``.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.labels import HierarchicalLabelEncoder
    >>> tax = Taxonomy.from_edges([("r", "a"), ("a", "x"), ("r", "b")])
    >>> enc = HierarchicalLabelEncoder(tax).fit([["a", "x"], ["b", ""]])
    >>> enc.transform([["b", ""]])
    array([3])
    >>> enc.inverse_transform([2]).tolist()
    [['a', 'x']]
    """

    _parameter_rules = {"taxonomy": IsTaxonomy(allow_none=False), "format": Options(*_FORMATS)}

    def __init__(self, taxonomy, *, format="auto"):
        self.taxonomy = taxonomy
        self.format = format

    def fit(self, y):
        """Learn the label format of ``y``.

        Parameters
        ----------
        y : array-like or sparse matrix
            Labels in any label format of :mod:`skhier.labels`.

        Returns
        -------
        self : HierarchicalLabelEncoder
            The fitted estimator.
        """
        self._fit(y)
        return self

    def fit_transform(self, y):
        """Learn the label format of ``y`` and encode it.

        Parameters
        ----------
        y : array-like or sparse matrix
            Labels in any label format of :mod:`skhier.labels`.

        Returns
        -------
        encoded : ndarray of int64 or scipy.sparse.csr_matrix
            Node indices (single-label) or an ancestor-filled CSR indicator (multi-label).
        """
        return self._fit(y)

    def _fit(self, y):
        """Check the parameters, learn ``y``'s format and return it encoded (fit's one body)."""
        validate_params(self)
        encoded, self.format_ = encode_labels(y, self.taxonomy, format=self.format)
        self.classes_ = self.taxonomy.nodes
        return encoded

    def transform(self, y):
        """Encode ``y`` as node indices (or an indicator with ancestors filled).

        Parameters
        ----------
        y : array-like or sparse matrix
            Labels in any label format of :mod:`skhier.labels`.

        Returns
        -------
        encoded : ndarray of int64 or scipy.sparse.csr_matrix
            Node indices (single-label) or an ancestor-filled CSR indicator (multi-label).
        """
        check_is_fitted(self, "format_")
        kind = self.format_.kind
        fmt = "indicator" if kind == "indicator" else ("path" if kind == "path" else "auto")
        return encode_labels(y, self.taxonomy, format=fmt)[0]

    def inverse_transform(self, encoded):
        """Write node indices (or an indicator) in the format seen at ``fit``.

        Parameters
        ----------
        encoded : array-like of int or sparse matrix
            Encoded labels, as ``transform`` returns them.

        Returns
        -------
        y : ndarray or sparse matrix
            Labels in the format ``y`` was given in.
        """
        check_is_fitted(self, "format_")
        return decode_labels(encoded, self.taxonomy, self.format_)
