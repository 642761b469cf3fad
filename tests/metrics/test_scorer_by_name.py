"""Hierarchical scorers without a taxonomy argument: the taxonomy is read from the fitted
estimator (or a Pipeline's step), so ``scoring=get_hierarchical_scorer("hierarchical_f1")``
works in ``GridSearchCV`` and ``cross_validate`` multi-metric dicts like scikit-learn's names."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline

from skhier import DiffusionRefiner, FlatClassifier, LocalClassifierPerNode
from skhier.datasets import make_hierarchical_classification
from skhier.metrics import OperatingCurveScorer, fitted_taxonomy, get_hierarchical_scorer, hierarchical_f1_score
from skhier.neural import FlatSoftmaxClassifier

X, leaves, TAX = make_hierarchical_classification(90, 4, n_levels=2, branching=2, random_state=0)
y = np.array([TAX.ancestors_of(v)[1:] for v in leaves])  # root-first paths: estimators infer TAX from them
SCORING = {"hf1": get_hierarchical_scorer("hierarchical_f1"), "ap": get_hierarchical_scorer("average_precision")}

ESTIMATORS = {
    "local": (LocalClassifierPerNode(LogisticRegression()), {"threshold": [None, 0.3]}),
    "neural": (FlatSoftmaxClassifier(max_epochs=1, device="cpu", random_state=0), {"lr": [1e-3, 1e-2]}),
    "refiner pipeline": (make_pipeline(FlatClassifier(LogisticRegression()), DiffusionRefiner()),
                         {"diffusionrefiner__alpha": [0.1, 0.5]}),
}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_scorer_without_taxonomy_in_grid_search_and_cross_validate(name):
    est, grid = ESTIMATORS[name]
    search = GridSearchCV(est, grid, scoring=SCORING, refit="hf1", cv=3).fit(X, y)
    assert fitted_taxonomy(search) == TAX
    assert set(search.cv_results_["mean_test_ap"].round(6)) and 0 <= search.best_score_ <= 1
    res = cross_validate(est, X, y, scoring=SCORING, cv=3)
    assert res["test_hf1"].shape == (3,)
    # the same values as a scorer given the taxonomy (an independent path: the metric on predict)
    fitted = est.fit(X, y)
    want = hierarchical_f1_score(y, fitted.predict(X), taxonomy=TAX)
    assert SCORING["hf1"](fitted, X, y) == pytest.approx(want)
    assert get_hierarchical_scorer("hierarchical_f1", TAX)(fitted, X, y) == pytest.approx(want)


def test_the_operating_curve_scorer_reads_the_taxonomy_too():
    pipe = make_pipeline(FlatClassifier(LogisticRegression()), DiffusionRefiner()).fit(X, y)
    assert OperatingCurveScorer()(pipe, X, y) == OperatingCurveScorer(TAX)(pipe, X, y)


def test_a_plain_classifier_needs_the_taxonomy_given():
    clf = LogisticRegression().fit(X, leaves)
    with pytest.raises(ValueError, match="LogisticRegression has no fitted taxonomy_.*give the scorer the taxonomy"):
        get_hierarchical_scorer("hierarchical_f1")(clf, X, leaves)
    assert np.isfinite(get_hierarchical_scorer("hierarchical_f1", TAX)(clf, X, leaves))


def test_fitted_taxonomy_reads_a_search_and_a_pipeline():
    search = GridSearchCV(FlatClassifier(LogisticRegression()), {"estimator__C": [1.0]}, cv=2).fit(X, y)
    assert fitted_taxonomy(search) == TAX
    assert fitted_taxonomy(make_pipeline(FlatClassifier(LogisticRegression()), DiffusionRefiner()).fit(X, y)) == TAX
