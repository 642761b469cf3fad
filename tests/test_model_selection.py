"""cross_val_transform: out-of-fold transform, checked against the loop it replaces."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold
from sklearn.pipeline import make_pipeline

from skhier import DiffusionRefiner, FlatClassifier, MultiLabelLocalClassifierPerNode
from skhier.base import NodeScores
from skhier.datasets import make_hierarchical_classification
from skhier.model_selection import cross_val_transform


@pytest.fixture(scope="module")
def data():
    return make_hierarchical_classification(90, 4, n_levels=2, branching=2, random_state=0)


def _manual(est, X, y, splits, **fit):
    out = np.empty((len(X), est.taxonomy.n_nodes if hasattr(est, "taxonomy") else 0))
    for train, test in splits:
        kw = {k: v[train] for k, v in fit.items()}
        out[test] = np.asarray(clone(est).fit(X[train], y[train], **kw).transform(X[test]))
    return out


def test_equals_the_loop_over_the_folds(data):
    X, y, tax = data
    est = FlatClassifier(LogisticRegression(), tax)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    got = cross_val_transform(est, X, y, cv=cv)
    np.testing.assert_array_equal(got, _manual(est, X, y, cv.split(X, y)))
    assert isinstance(got, NodeScores) and got.taxonomy == tax
    assert not hasattr(est, "classes_")  # the estimator itself is not fitted
    # an int cv stratifies 1-D labels as cross_val_predict does
    np.testing.assert_array_equal(cross_val_transform(est, X, y, cv=3),
                                  _manual(est, X, y, StratifiedKFold(3).split(X, y)))


def test_paths_a_pipeline_parallel_and_sample_weight(data):
    X, y, tax = data
    from skhier.labels import node_indices_to_paths, to_node_indices

    paths = node_indices_to_paths(to_node_indices(y, tax), tax)
    pipe = make_pipeline(FlatClassifier(LogisticRegression(), tax), DiffusionRefiner(tax, alpha=0.3))
    got = cross_val_transform(pipe, X, paths, cv=3, n_jobs=2)  # 2-D labels: plain KFold
    want = np.empty((len(X), tax.n_nodes))
    for train, test in KFold(3).split(X):
        want[test] = np.asarray(clone(pipe).fit(X[train], paths[train]).transform(X[test]))
    np.testing.assert_allclose(got, want)
    w = np.linspace(0.5, 2.0, len(X))
    est = FlatClassifier(LogisticRegression(), tax)
    weighted = cross_val_transform(est, X, y, cv=3, params={"sample_weight": w})
    np.testing.assert_array_equal(weighted, _manual(est, X, y, StratifiedKFold(3).split(X, y), sample_weight=w))
    assert not np.allclose(weighted, cross_val_transform(est, X, y, cv=3))


def test_multilabel_indicator(data):
    X, y, tax = data
    Y = sp.csr_matrix(tax.ancestor_matrix[np.asarray([tax.index(v) for v in y])])
    est = MultiLabelLocalClassifierPerNode(LogisticRegression(), taxonomy=tax)
    got = cross_val_transform(est, X, Y, cv=3)
    want = np.empty((len(X), tax.n_nodes))
    for train, test in KFold(3).split(X):
        want[test] = np.asarray(clone(est).fit(X[train], Y[train]).transform(X[test]))
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (
            dict(estimator=LogisticRegression()),
            ValueError,
            "needs an estimator with fit and transform, got LogisticRegression",
        ),
        (dict(cv=ShuffleSplit(3, test_size=0.2, random_state=0)), ValueError, "test parts partition the 90 samples"),
        (dict(n_jobs="two"), TypeError, "n_jobs must be an int or None, got 'two'"),
    ],
)
def test_bad_inputs(data, kwargs, exc, match):
    X, y, tax = data
    kwargs = {"estimator": FlatClassifier(LogisticRegression(), tax), **kwargs}
    with pytest.raises(exc, match=match):
        cross_val_transform(kwargs.pop("estimator"), X, y, **kwargs)
