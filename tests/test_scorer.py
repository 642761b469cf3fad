import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.tree import DecisionTreeClassifier

from skhier.datasets import make_hierarchical_classification
from skhier.labels import node_indices_to_paths
from skhier.metrics import (
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
    scores = cross_val_score(LogisticRegression(max_iter=500), X, y, cv=cv, scoring=get_hierarchical_scorer("hierarchical_f1", tax))
    assert scores.shape == (3,) and (scores > 0.5).all()
    names = ["hierarchical_f1", "average_precision", "leaf_top1", "level_1_accuracy"]
    res = cross_validate(LogisticRegression(max_iter=500), X, y, cv=cv, scoring={n: get_hierarchical_scorer(n, tax) for n in names})
    for n in names:
        assert res[f"test_{n}"].shape == (3,)
    # coarse levels are easier than the exact leaf
    assert res["test_level_1_accuracy"].mean() >= res["test_leaf_top1"].mean()


def test_grid_search_with_refit_and_2d_y(data):
    X, y, tax = data
    scoring = {"hf1": get_hierarchical_scorer("hierarchical_f1", tax), "ap": get_hierarchical_scorer("average_precision", tax)}
    gs = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 8]}, scoring=scoring, refit="hf1", cv=3)
    gs.fit(X, y)
    assert gs.best_params_ == {"max_depth": 8}
    # 2-D path targets: a multi-output sklearn classifier predicts paths, scored as paths
    Y = node_indices_to_paths([tax.index(v) for v in y], tax)
    gs2 = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 8]}, scoring=scoring["hf1"], cv=3).fit(X, Y)
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
