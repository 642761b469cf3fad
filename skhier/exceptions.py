"""Exceptions raised by skhier.

Every error skhier raises for bad input is a subclass of a built-in error users already
catch: a malformed taxonomy is a :class:`TaxonomyError`, which is a :class:`ValueError`.
"""

__all__ = ["ParallelFitError", "TaxonomyError", "InvalidParameterError"]


class InvalidParameterError(ValueError, TypeError):
    """A parameter value that its declared rule refuses, of the wrong type or out of range.

    Both a :class:`ValueError` and a :class:`TypeError` (as scikit-learn's), so code that
    catches either keeps working whichever the rule is. The message names the parameter.

    Examples
    --------
    >>> from skhier.exceptions import InvalidParameterError
    >>> issubclass(InvalidParameterError, ValueError), issubclass(InvalidParameterError, TypeError)
    (True, True)
    """


class TaxonomyError(ValueError):
    """A taxonomy that is not a rooted tree.

    Raised for a cycle, a node with two parents, several roots, an empty taxonomy,
    duplicate or self edges. The message names the offending nodes.

    Examples
    --------
    >>> from skhier import Taxonomy, TaxonomyError
    >>> try:
    ...     Taxonomy.from_edges([("a", "b"), ("b", "a")])
    ... except TaxonomyError as exc:
    ...     print(exc)
    the taxonomy has no root: every node has a parent (cycle through 'a', 'b')
    """


class ParallelFitError(RuntimeError):
    """The parallel backend failed while fitting local classifiers.

    Raised when a worker dies (out of memory, killed, a crashed process) or the
    cluster behind joblib's backend can no longer be reached. The estimator being
    fitted keeps the state it had before ``fit``; the original error is chained as
    ``__cause__``. Errors raised by a local estimator itself (a ``ValueError`` from bad
    data, say) are not wrapped: they reach the caller unchanged.

    Examples
    --------
    >>> from skhier.exceptions import ParallelFitError
    >>> issubclass(ParallelFitError, RuntimeError)
    True
    """
