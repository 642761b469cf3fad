"""Model selection helpers that scikit-learn's own do not cover for hierarchical models.

:func:`cross_val_transform` gives out-of-fold node scores, the input a refiner or a
stacked model should learn from: ``sklearn.model_selection.cross_val_predict`` accepts
only ``predict``, ``predict_proba``, ``predict_log_proba`` and ``decision_function``.
"""

from __future__ import annotations

import numbers

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing, indexable

from .base import NodeScores

__all__ = ["cross_val_transform"]


def _fit_transform_fold(estimator, X, y, train, test, params):
    est = clone(estimator)
    X_train, X_test = _safe_indexing(X, train), _safe_indexing(X, test)
    fit_params = {k: _safe_indexing(v, train) if _is_per_sample(v, X) else v for k, v in params.items()}
    if y is None:
        est.fit(X_train, **fit_params)
    else:
        est.fit(X_train, _safe_indexing(y, train), **fit_params)
    out = est.transform(X_test)
    if hasattr(out, "detach"):  # a refiner keeps tensors on their device
        out = out.detach().cpu().numpy()
    return np.asarray(out), getattr(out, "taxonomy", None)


def _is_one_dimensional(y):
    if y is None:
        return False
    if hasattr(y, "ndim"):
        return y.ndim == 1
    return not any(isinstance(v, (list, tuple, set, frozenset, np.ndarray)) for v in y)


def _is_per_sample(value, X):
    return hasattr(value, "__len__") and not isinstance(value, (str, dict)) and len(value) == len(X)


def cross_val_transform(estimator, X, y=None, *, groups=None, cv=None, n_jobs=None, params=None):
    """Out-of-fold ``transform(X)``: each sample transformed by a model that never saw it.

    The ``transform`` twin of :func:`sklearn.model_selection.cross_val_predict` (which
    refuses ``method="transform"``): for every split of ``cv`` a clone of ``estimator`` is
    fitted on the training part and transforms the test part; the rows come back in the
    order of ``X``. On a skhier classifier this gives out-of-fold node marginals (or
    multi-label node probabilities), what a refiner such as
    :class:`~skhier.inference.LearnedRefiner` should be fitted on, since scores on the
    training data are over-confident.

    Parameters
    ----------
    estimator : estimator with ``fit`` and ``transform``
        Cloned for every split; not fitted in place.
    X : array-like of shape (n_samples, ...)
        The input.
    y : array-like, default=None
        Labels in any format the estimator's ``fit`` takes (leaf labels, 2-D paths, an
        indicator matrix).
    groups : array-like of shape (n_samples,), default=None
        Group labels for a group splitter.
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn (``None`` = 5 folds, stratified for a classifier with 1-D
        labels). The test parts must partition the samples, as for
        ``cross_val_predict``.
    n_jobs : int, default=None
        Folds fitted in parallel with joblib.
    params : dict, default=None
        Passed to ``fit``; values with one entry per sample (``sample_weight``) are split
        with the folds.

    Returns
    -------
    scores : ndarray of shape (n_samples, n_outputs)
        ``transform``'s rows for every sample, out of fold; :class:`~skhier.base.NodeScores`
        of the taxonomy when the estimator gives node scores.

    Raises
    ------
    ValueError
        If the estimator has no ``transform``, or ``cv``'s test parts are not a partition
        of the samples.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhier import FlatClassifier
    >>> from skhier.datasets import make_hierarchical_classification
    >>> from skhier.model_selection import cross_val_transform
    >>> X, y, tax = make_hierarchical_classification(120, 5, n_levels=2, branching=2, random_state=0)
    >>> S = cross_val_transform(FlatClassifier(LogisticRegression(), tax), X, y, cv=3)
    >>> S.shape == (120, tax.n_nodes), S.taxonomy is tax
    (True, True)
    >>> bool(abs(S[:, 0] - 1).max() < 1e-5)  # node marginals: the root is certain
    True
    """
    if not hasattr(estimator, "fit") or not hasattr(estimator, "transform"):
        raise ValueError(
            f"cross_val_transform needs an estimator with fit and transform, got {type(estimator).__name__}; "
            "for predict or predict_proba use sklearn.model_selection.cross_val_predict"
        )
    if n_jobs is not None and not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be an int or None, got {n_jobs!r}")
    params = {} if params is None else dict(params)
    X, y, groups = indexable(X, y, groups)
    labels = y if _is_one_dimensional(y) else None  # stratify on 1-D labels only
    cv = check_cv(cv, labels, classifier=is_classifier(estimator))
    splits = list(cv.split(X, labels, groups))
    test_order = np.concatenate([test for _, test in splits]) if splits else np.empty(0, dtype=int)
    if len(test_order) != len(X) or not np.array_equal(np.sort(test_order), np.arange(len(X))):
        raise ValueError(
            f"cross_val_transform needs cv whose test parts partition the {len(X)} samples (each sample in "
            f"exactly one test part), got {type(cv).__name__} covering {len(np.unique(test_order))} samples "
            f"in {len(test_order)} test rows"
        )
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_fit_transform_fold)(estimator, X, y, train, test, params) for train, test in splits
    )
    out = np.concatenate([p for p, _ in parts])
    inverse = np.empty(len(test_order), dtype=int)
    inverse[test_order] = np.arange(len(test_order))
    out = out[inverse]
    taxonomy = parts[0][1]
    return NodeScores.wrap(out, taxonomy) if taxonomy is not None else out
