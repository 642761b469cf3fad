import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

from skhier import DiffusionRefiner, Taxonomy
from skhier.datasets import make_hierarchical_classification, make_taxonomy
from skhier.labels import encode_labels, node_indices_to_paths
from skhier.local import LocalClassifierPerLevel, LocalClassifierPerNode, LocalClassifierPerParentNode
from skhier.metrics import get_hierarchical_scorer
from skhier.testing import taxonomies

ALL = [LocalClassifierPerNode, LocalClassifierPerParentNode, LocalClassifierPerLevel]


@pytest.fixture(scope="module")
def synth():
    return make_hierarchical_classification(400, 6, n_levels=2, branching=3, class_sep=2.0, random_state=0)


def check_consistent(P, tax, end=None):
    np.testing.assert_allclose(P[:, 0], 1, atol=1e-9)
    for v in np.flatnonzero(~tax.is_leaf):
        kids = P[:, tax.children[v]].sum(1)
        stop = 0 if end is None else end[:, v]
        np.testing.assert_allclose(kids + stop, P[:, v], atol=1e-9)


@pytest.mark.parametrize("cls", ALL)
def test_fit_predict_consistent(cls, synth):
    X, y, tax = synth
    clf = cls(LogisticRegression(max_iter=500), taxonomy=tax).fit(X, y)
    assert clf.score(X, y) > 0.7
    P = clf.transform(X)
    check_consistent(P, tax)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-9)
    assert list(clf.classes_) == list(tax.leaf_names)
    np.testing.assert_allclose(proba, P[:, tax.leaves], atol=1e-12)


@pytest.mark.parametrize("cls", ALL)
def test_2d_paths_and_inferred_taxonomy(cls, synth):
    X, y, tax = synth
    Y = node_indices_to_paths([tax.index(v) for v in y], tax)
    clf = cls(LogisticRegression(max_iter=500)).fit(X, Y)  # taxonomy inferred from the paths
    assert clf.taxonomy_ == Taxonomy.from_paths(Y)
    pred = clf.predict(X)
    assert pred.shape == Y.shape
    encode_labels(pred, clf.taxonomy_)


def test_per_node_estimator_choice(synth):
    X, y, tax = synth
    first = tax.nodes[tax.levels[1][0]]
    clf = LocalClassifierPerParentNode(
        LogisticRegression(max_iter=500), taxonomy=tax,
        local_classifiers={first: DecisionTreeClassifier(max_depth=2, random_state=0)},
    ).fit(X, y)
    assert isinstance(clf.estimators_[first], DecisionTreeClassifier)
    assert isinstance(clf.estimators_[tax.root_name], LogisticRegression)
    by_level = LocalClassifierPerLevel(
        taxonomy=tax, local_classifiers=lambda level, t: KNeighborsClassifier(3) if level == 2 else None
    ).fit(X, y)
    assert isinstance(by_level.estimators_[2], KNeighborsClassifier)
    assert isinstance(by_level.estimators_[1], LogisticRegression)
    with pytest.raises(TypeError, match="local_classifiers must be one of None, or a dict, or a callable"):
        LocalClassifierPerNode(taxonomy=tax, local_classifiers=[1]).fit(X, y)


@pytest.mark.parametrize("cls", ALL)
def test_unseen_nodes_and_single_class_nodes(cls):
    # "z" has no training data; "b" has a single child; "a" sees only one of its children
    tax = Taxonomy.from_paths([["a", "a1"], ["a", "a2"], ["b", "b1"], ["z", "z1"]])
    rng = np.random.default_rng(0)
    y = np.array(["a1"] * 30 + ["b1"] * 30)
    X = np.r_[rng.normal(0, 1, (30, 3)), rng.normal(4, 1, (30, 3))]
    clf = cls(taxonomy=tax).fit(X, y)
    P = clf.transform(X)
    check_consistent(P, tax)
    for never in ("a2", "z", "z1"):
        assert (P[:, tax.index(never)] == 0).all()
    assert set(clf.predict(X)) <= {"a1", "b1"} and clf.score(X, y) == 1.0
    assert list(clf.classes_) == ["a1", "a2", "b1", "z1"]  # every leaf is a class, seen or not


class RecordingLR(LogisticRegression):
    """Records the sample_weight each local fit receives (by keyword only)."""

    def fit(self, X, y, *, sample_weight=None):
        self.seen_weight_ = None if sample_weight is None else np.array(sample_weight)
        self.seen_X_ = np.array(X)
        return super().fit(X, y, sample_weight=sample_weight)


def test_sample_weight_with_sgd_and_by_keyword(synth):
    # HiClass issues #164/#122: sample_weight broke estimators; ours passes it by keyword
    X, y, tax = synth
    w = np.random.default_rng(0).random(len(y)) + 0.1
    sgd = SGDClassifier(loss="log_loss", random_state=0, max_iter=20, tol=None)
    for cls in ALL:
        plain = cls(sgd, taxonomy=tax).fit(X, y)
        weighted = cls(sgd, taxonomy=tax).fit(X, y, sample_weight=w)
        assert weighted.score(X, y) > 0.6
        assert not np.allclose(plain.transform(X), weighted.transform(X)), cls.__name__
        rec = cls(RecordingLR(max_iter=300), taxonomy=tax).fit(X, y, sample_weight=w)
        row_of = {tuple(r): i for i, r in enumerate(X.tolist())}
        for est in rec.estimators_.values():
            if isinstance(est, RecordingLR):
                rows = [row_of[tuple(r)] for r in est.seen_X_.tolist()]
                np.testing.assert_array_equal(est.seen_weight_, w[rows])
    with pytest.raises(TypeError, match="does not accept it"):
        LocalClassifierPerNode(KNeighborsClassifier(), taxonomy=tax).fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        LocalClassifierPerNode(taxonomy=tax).fit(X, y, sample_weight=w[:-1])


def test_sample_weight_equals_repetition_exactly():
    X, y, tax = make_hierarchical_classification(150, 4, n_levels=2, branching=2, random_state=1)
    w = np.random.default_rng(1).integers(0, 3, len(y))
    for cls in ALL:
        a = cls(DecisionTreeClassifier(random_state=0), taxonomy=tax).fit(X, y, sample_weight=w)
        b = cls(DecisionTreeClassifier(random_state=0), taxonomy=tax).fit(np.repeat(X, w, 0), np.repeat(y, w))
        np.testing.assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize("cls", ALL)
def test_threshold_stops_at_internal_node(cls, synth):
    X, y, tax = synth
    noisy = X + np.random.default_rng(0).normal(0, 3, X.shape)
    clf = cls(LogisticRegression(max_iter=500), taxonomy=tax).fit(X, y)
    full = clf.predict(noisy)
    assert set(full) <= set(tax.leaf_names)
    stopped = clf.set_params(threshold=0.9).predict(noisy)
    internal = [v for v in stopped if v not in tax.leaf_names]
    assert internal, "some unsure samples stop early"
    # a stop is an ancestor of what the mandatory prediction would have been
    for a, b in zip(stopped, full):
        assert a in tax.ancestors_of(b)
    with pytest.raises(ValueError, match="threshold"):
        cls(threshold=2).fit(X, y)


@pytest.mark.parametrize("cls", ALL)
def test_internal_node_labels(cls):
    tax = Taxonomy.from_paths([["a", "a1"], ["a", "a2"], ["b", "b1"], ["b", "b2"]])
    rng = np.random.default_rng(0)
    centres = {"a1": (0, 0), "a2": (0, 5), "a": (0, 2.5), "b1": (6, 0), "b2": (6, 5)}
    labels = rng.choice(list(centres), 300)
    X = np.array([centres[v] for v in labels]) + rng.normal(0, 0.4, (300, 2))
    clf = cls(taxonomy=tax).fit(X, labels)
    assert tax.index("a") in clf.stop_nodes_ and "a" in list(clf.classes_)
    P = clf.transform(X)
    end = np.zeros_like(P)
    end[:, tax.index("a")] = clf.predict_proba(X)[:, list(clf.classes_).index("a")]
    check_consistent(P, tax, end)
    assert np.mean(clf.predict(X) == labels) > 0.85
    # regression: scorers rebuilt node scores from predict_proba without the internal stops' mass
    from skhier.metrics import node_scores

    np.testing.assert_allclose(node_scores(clf, X, tax), P, atol=1e-12)


def test_calibrated_local_estimator(synth):
    X, y, tax = synth
    clf = LocalClassifierPerParentNode(
        CalibratedClassifierCV(LogisticRegression(max_iter=500), cv=3), taxonomy=tax
    ).fit(X, y)
    check_consistent(clf.transform(X), tax)
    assert clf.score(X, y) > 0.7


def test_chains_with_refiners_and_parallel(synth):
    X, y, tax = synth
    pipe = make_pipeline(LocalClassifierPerParentNode(taxonomy=tax, n_jobs=2), DiffusionRefiner(tax, alpha=0.1)).fit(
        X, y
    )
    serial = LocalClassifierPerParentNode(taxonomy=tax).fit(X, y)
    np.testing.assert_allclose(pipe[0].transform(X), serial.transform(X))
    assert get_hierarchical_scorer("average_precision", tax)(pipe, X, y) > 0.5


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(taxonomies(min_nodes=3, max_nodes=14, max_depth=3, min_leaves=2), st.integers(0, 10**6), st.sampled_from(ALL))
def test_probability_consistency_property(tax, seed, cls):
    rng = np.random.default_rng(seed)
    n = 60
    nodes = rng.choice(np.arange(1, tax.n_nodes), n)  # internal labels allowed
    X = rng.normal(size=(n, 3)) + nodes[:, None] * 0.3
    y = np.array([tax.nodes[i] for i in nodes], dtype=object)
    clf = cls(DummyClassifier(strategy="prior"), taxonomy=tax).fit(X, y)
    P = clf.transform(X)
    end = np.zeros_like(P)
    end_cols = [tax.index(c) for c in clf.classes_]
    end[:, end_cols] = clf.predict_proba(X)
    check_consistent(P, tax, np.where(tax.is_leaf[None, :], 0, end))
    np.testing.assert_allclose(clf.predict_proba(X).sum(1), 1, atol=1e-9)
    assert np.isin(np.array(clf.predict(X), dtype=object), np.array(list(tax.nodes), dtype=object)).all()


@pytest.mark.parametrize("cls", ALL)
def test_top_down_refiner_on_conditionals_equals_transform(cls, synth):
    from skhier.inference import TopDownRefiner

    X, y, tax = synth
    clf = cls(LogisticRegression(max_iter=500), taxonomy=tax).fit(X, y)
    cond = clf.conditional_proba(X)
    np.testing.assert_allclose(TopDownRefiner(tax).fit(cond).transform(cond), clf.transform(X), atol=1e-12)


def test_many_leaves_few_samples_fit_without_sklearns_regression_warning():
    """Regression: with a taxonomy, 1-D leaf labels with more classes than half the
    samples made sklearn's check warn that y "could represent a regression problem"."""
    import warnings

    tax = make_taxonomy(2, 6, random_state=0)  # 36 leaves
    leaves = [tax.nodes[v] for v in tax.leaves]
    X = np.arange(80, dtype=float).reshape(40, 2)
    y = np.array([leaves[i % 36] for i in range(40)])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*regression problem")
        clf = LocalClassifierPerParentNode(DecisionTreeClassifier(random_state=0), taxonomy=tax).fit(X, y)
    assert set(clf.predict(X)) <= set(leaves)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(taxonomies(min_nodes=3, max_nodes=16, max_depth=4, min_leaves=2), st.integers(0, 10**6), st.sampled_from(ALL),
       st.sampled_from([None, 0.4, 0.7]))
def test_routed_predict_equals_greedy_descent_on_all_conditionals(tax, seed, cls, threshold):
    # the routed predict against the decision rule applied to every node's conditionals
    import torch

    from skhier._tree import greedy_descent

    rng = np.random.default_rng(seed)
    nodes = rng.choice(np.arange(1, tax.n_nodes), 80)  # internal labels: stopping is possible
    X = rng.normal(size=(80, 3)) + nodes[:, None] * 0.3
    y = np.array([tax.nodes[i] for i in nodes], dtype=object)
    clf = cls(DecisionTreeClassifier(max_depth=3, random_state=0), taxonomy=tax, threshold=threshold).fit(X, y)
    cond, stop = clf._conditionals(X)
    want = greedy_descent(torch.from_numpy(cond), tax, stop=torch.from_numpy(stop), threshold=threshold).numpy()
    np.testing.assert_array_equal(clf._route(X), want)
    assert clf.predict(X).tolist() == [tax.nodes[i] for i in want]


class _Spy(LogisticRegression):
    """Counts the rows every fitted copy is asked about at predict time."""

    seen = []

    def predict_proba(self, X):
        _Spy.seen.append((id(self), X.shape[0]))
        return super().predict_proba(X)


@pytest.mark.parametrize("cls", [LocalClassifierPerParentNode, LocalClassifierPerNode])
def test_predict_asks_each_local_classifier_about_the_samples_that_reach_it_only(cls):
    tax = make_taxonomy(3, 4)  # 64 leaves, 21 parent nodes
    X, y, _ = make_hierarchical_classification(400, 6, taxonomy=tax, class_sep=3.0, random_state=0)
    clf = cls(_Spy(max_iter=300), taxonomy=tax).fit(X, y)
    _Spy.seen.clear()
    clf.predict(X)
    rows = sum(n for _, n in _Spy.seen)
    # depth 3: every sample meets one parent per level (3 parents, or their children's
    # binary classifiers), not all 21
    per_level = {LocalClassifierPerParentNode: 1, LocalClassifierPerNode: 4}[cls]
    assert rows == 3 * per_level * len(X)
    _Spy.seen.clear()
    clf.transform(X)  # node probabilities do ask everyone about everything
    assert sum(n for _, n in _Spy.seen) == len(clf.estimators_) * len(X)


def test_local_classifiers_never_import_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from skhier.datasets import make_hierarchical_classification\n"
        "from skhier.local import LocalClassifierPerLevel, LocalClassifierPerNode, LocalClassifierPerParentNode\n"
        "X, y, tax = make_hierarchical_classification(120, 4, n_levels=2, branching=2, random_state=0)\n"
        "for cls in (LocalClassifierPerLevel, LocalClassifierPerNode, LocalClassifierPerParentNode):\n"
        "    m = cls(taxonomy=tax, n_jobs=2).fit(X, y); m.predict(X); m.predict_proba(X); m.transform(X)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_verbose_shows_a_progress_bar_over_the_local_fits(capsys):
    # issue 26: long local fits report progress with verbose=1, and stay silent by default
    from sklearn.linear_model import LogisticRegression

    from skhier import LocalClassifierPerNode
    from skhier.datasets import make_hierarchical_classification

    X, y, tax = make_hierarchical_classification(120, 4, n_levels=2, branching=2, random_state=0)
    quiet = LocalClassifierPerNode(LogisticRegression(), taxonomy=tax).fit(X, y)
    assert capsys.readouterr().err == ""
    loud = LocalClassifierPerNode(LogisticRegression(), taxonomy=tax, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert "LocalClassifierPerNode: local classifiers" in err and "6/6" in err
    np.testing.assert_array_equal(loud.predict_proba(X), quiet.predict_proba(X))
