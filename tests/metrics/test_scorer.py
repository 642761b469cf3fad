import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.tree import DecisionTreeClassifier

from skhier.datasets import make_hierarchical_classification
from skhier.labels import node_indices_to_paths
from skhier.metrics import (
    OperatingCurveScorer,
    get_hierarchical_scorer,
    get_hierarchical_scorer_names,
    hierarchical_average_precision,
    hierarchical_f1_score,
    make_hierarchical_scorer,
    node_scores,
)


@pytest.fixture(scope="module")
def data():
    return make_hierarchical_classification(240, 6, n_levels=2, branching=3, class_sep=2.0, random_state=0)


def test_scorer_equals_metric(data):
    X, y, tax = data
    clf = LogisticRegression(max_iter=500).fit(X, y)
    scorer = get_hierarchical_scorer("hierarchical_f1", tax)
    assert scorer(clf, X, y) == hierarchical_f1_score(y, clf.predict(X), taxonomy=tax)
    ap = get_hierarchical_scorer("average_precision", tax)
    S = node_scores(clf, X, tax)
    np.testing.assert_allclose(S[:, 0], 1.0, atol=1e-6)  # bottom-up sums of a softmax
    assert ap(clf, X, y) == hierarchical_average_precision(y, S, taxonomy=tax)
    neg = get_hierarchical_scorer("neg_mistake_severity", tax)
    assert neg(clf, X, y) <= 0


def test_every_named_scorer_runs(data):
    X, y, tax = data
    clf = LogisticRegression(max_iter=500).fit(X, y)
    for name in get_hierarchical_scorer_names():
        name = name.replace("<d>", "1").replace("<k>", "2")
        value = get_hierarchical_scorer(name, tax)(clf, X, y)
        assert np.isfinite(value), name
    with pytest.raises(ValueError, match="unknown hierarchical scorer 'nope'"):
        get_hierarchical_scorer("nope", tax)


def test_cross_val_score_and_cross_validate(data):
    X, y, tax = data
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(
        LogisticRegression(max_iter=500), X, y, cv=cv, scoring=get_hierarchical_scorer("hierarchical_f1", tax)
    )
    assert scores.shape == (3,) and (scores > 0.5).all()
    names = ["hierarchical_f1", "average_precision", "leaf_top1", "level_1_accuracy"]
    res = cross_validate(
        LogisticRegression(max_iter=500), X, y, cv=cv, scoring={n: get_hierarchical_scorer(n, tax) for n in names}
    )
    for n in names:
        assert res[f"test_{n}"].shape == (3,)
    # coarse levels are easier than the exact leaf
    assert res["test_level_1_accuracy"].mean() >= res["test_leaf_top1"].mean()


def test_grid_search_with_refit_and_2d_y(data):
    X, y, tax = data
    scoring = {
        "hf1": get_hierarchical_scorer("hierarchical_f1", tax),
        "ap": get_hierarchical_scorer("average_precision", tax),
    }
    gs = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 8]}, scoring=scoring, refit="hf1", cv=3)
    gs.fit(X, y)
    assert gs.best_params_ == {"max_depth": 8}
    # 2-D path targets: a multi-output sklearn classifier predicts paths, scored as paths
    Y = node_indices_to_paths([tax.index(v) for v in y], tax)
    gs2 = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 8]}, scoring=scoring["hf1"], cv=3).fit(
        X, Y
    )
    assert gs2.best_params_ == {"max_depth": 8} and 0.5 < gs2.best_score_ <= 1


def test_make_scorer_from_callable_and_name(data):
    X, y, tax = data
    clf = LogisticRegression(max_iter=500).fit(X, y)
    s1 = make_hierarchical_scorer(hierarchical_f1_score, tax, average="macro")
    assert s1(clf, X, y) == hierarchical_f1_score(y, clf.predict(X), taxonomy=tax, average="macro")
    s2 = make_hierarchical_scorer("recall_at_90_correct", tax, min_correct=0.5)
    assert s2.kwargs["min_correct"] == 0.5 and s2.response_method == "predict_proba"
    s3 = make_hierarchical_scorer(hierarchical_average_precision, tax)
    assert s3.response_method == "predict_proba"
    s4 = make_hierarchical_scorer(hierarchical_f1_score, tax, greater_is_better=False)
    assert s4(clf, X, y) == -get_hierarchical_scorer("hierarchical_f1", tax)(clf, X, y)


def test_operating_curve_scorer_shares_one_curve_and_equals_the_single_scorers(data):
    X, y, tax = data
    shared = OperatingCurveScorer(tax)
    names = ["average_precision", "average_correct", "recall_at_90_correct", "recall_at_95_correct"]
    cv = KFold(3, shuffle=True, random_state=0)
    grid = {"C": [0.1, 1.0]}
    one = GridSearchCV(LogisticRegression(max_iter=300), grid, scoring=shared, refit="average_precision", cv=cv).fit(
        X, y
    )
    single = GridSearchCV(LogisticRegression(max_iter=300), grid, cv=cv, refit="average_precision",
                          scoring={n: get_hierarchical_scorer(n, tax) for n in names}).fit(X, y)
    for n in names:  # exactly the same numbers
        np.testing.assert_array_equal(one.cv_results_[f"mean_test_{n}"], single.cv_results_[f"mean_test_{n}"])
    # and the curve is built once per call, not once per metric
    from skhier.metrics import _operating_curve

    calls = []
    real = _operating_curve._curve
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_operating_curve, "_curve", lambda *a, **k: calls.append(1) or real(*a, **k))
        out = shared(one.best_estimator_, X, y)
    assert len(calls) == 1 and set(out) == set(names)
    assert "OperatingCurveScorer(min_correct=(0.9, 0.95)" in repr(shared)
    # issue 27: a single value is one R@XC entry, with the single scorer's value
    one_value = OperatingCurveScorer(tax, min_correct=0.9)(one.best_estimator_, X, y)
    assert set(one_value) == {"average_precision", "average_correct", "recall_at_90_correct"}
    assert one_value["recall_at_90_correct"] == out["recall_at_90_correct"]
    assert set(OperatingCurveScorer(tax, min_correct=[0.5, 0.925])(one.best_estimator_, X, y)) >= {
        "recall_at_50_correct", "recall_at_92.5_correct"}


@pytest.mark.parametrize("kwargs, match", [
    (dict(min_correct=(1.5,)), "min_correct"),
    (dict(specificity="height"), "specificity must be 'info' or 'depth'"),
])
def test_operating_curve_scorer_bad_inputs(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        OperatingCurveScorer(data[2], **kwargs)
    with pytest.raises(TypeError, match="taxonomy must be a skhier.Taxonomy"):
        OperatingCurveScorer("tree")
