"""Scale-out on one machine: joblib's Dask backend and loky run skhier's parallel work.

Serial and distributed fits must agree exactly; a dead worker or a lost scheduler must
raise :class:`~skhier.exceptions.ParallelFitError` and leave the estimator as it was.
The Dask tests skip without the ``skhier[distributed]`` extra.
"""

import os

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skhier import (
    DiffusionRefiner,
    FlatClassifier,
    LocalClassifierPerLevel,
    LocalClassifierPerNode,
    LocalClassifierPerParentNode,
)
from skhier.datasets import make_hierarchical_classification
from skhier.exceptions import ParallelFitError
from skhier.metrics import get_hierarchical_scorer

EXTRA = "needs the skhier[distributed] extra: pip install 'skhier[distributed]'"


def _distributed():
    return pytest.importorskip("distributed", reason=EXTRA)


@pytest.fixture(scope="module")
def data():
    return make_hierarchical_classification(240, 6, n_levels=2, branching=3, class_sep=1.5, random_state=0)


@pytest.fixture(scope="module")
def threaded_client():
    """A Dask cluster of two single-threaded workers inside this process."""
    distributed = _distributed()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


class _DiesOnRoot(LogisticRegression):
    """Kills its worker process when fitted on the root's problem (every sample)."""

    def fit(self, X, y, sample_weight=None):
        if X.shape[0] >= 200:
            os._exit(3)
        return super().fit(X, y, sample_weight=sample_weight)


class _RefusesRoot(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        if X.shape[0] >= 200:
            raise ValueError("bad local data")
        return super().fit(X, y, sample_weight=sample_weight)


def _pipe(tax):
    return make_pipeline(FlatClassifier(LogisticRegression(max_iter=300), tax), DiffusionRefiner(tax))


@pytest.mark.parametrize("cls", [LocalClassifierPerNode, LocalClassifierPerParentNode, LocalClassifierPerLevel])
def test_local_classifiers_on_dask_equal_serial(data, threaded_client, cls):
    X, y, tax = data
    serial = cls(LogisticRegression(max_iter=300), taxonomy=tax).fit(X, y)
    with joblib.parallel_backend("dask"):
        dist = cls(LogisticRegression(max_iter=300), taxonomy=tax, n_jobs=-1).fit(X, y)
    assert dist.estimators_.keys() == serial.estimators_.keys()
    np.testing.assert_array_equal(dist.predict_proba(X), serial.predict_proba(X))
    np.testing.assert_array_equal(dist.predict(X), serial.predict(X))


def test_dask_scatters_the_shared_X_once(data, threaded_client, monkeypatch):
    X, y, tax = data
    X = np.ascontiguousarray(np.repeat(X, 4, axis=1))  # 46 kB: over joblib's 1 kB scatter threshold
    scattered = []
    scatter = threaded_client.scatter

    def counting(data, *args, **kwargs):
        scattered.append(data)
        return scatter(data, *args, **kwargs)

    monkeypatch.setattr(threaded_client, "scatter", counting)
    with joblib.parallel_backend("dask"):
        clf = LocalClassifierPerParentNode(LogisticRegression(max_iter=300), taxonomy=tax, n_jobs=-1).fit(X, y)
    n_tasks = len(clf.estimators_)
    assert n_tasks == 4  # the root and its three children
    assert sum(any(x is X for x in d) for d in scattered) == 1  # one broadcast, not one per task


def test_grid_search_and_cross_val_over_a_diffusion_pipeline_on_dask(data, threaded_client):
    X, y, tax = data
    cv = KFold(3, shuffle=True, random_state=0)
    grid = {"diffusionrefiner__alpha": [0.0, 0.3, 0.6], "diffusionrefiner__decision": ["leaf", "threshold"]}
    scoring = get_hierarchical_scorer("hierarchical_f1", tax)
    serial = GridSearchCV(_pipe(tax), grid, cv=cv, scoring=scoring).fit(X, y)
    serial_cv = cross_val_score(_pipe(tax), X, y, cv=cv, scoring=scoring)
    with joblib.parallel_backend("dask"):
        dist = GridSearchCV(_pipe(tax), grid, cv=cv, scoring=scoring, n_jobs=-1).fit(X, y)
        dist_cv = cross_val_score(_pipe(tax), X, y, cv=cv, scoring=scoring, n_jobs=-1)
    np.testing.assert_array_equal(dist.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])
    assert dist.best_params_ == serial.best_params_
    np.testing.assert_array_equal(dist.predict(X), serial.predict(X))
    np.testing.assert_array_equal(dist_cv, serial_cv)


def test_closed_client_raises_a_clear_error_and_fits_nothing(data):
    distributed = _distributed()
    X, y, tax = data
    client = distributed.Client(distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0"))
    client.cluster.close()
    client.close()
    clf = LocalClassifierPerParentNode(taxonomy=tax)
    with joblib.parallel_backend("dask", client=client):
        with pytest.raises(ParallelFitError, match="status is 'closed'"):
            clf.fit(X, y)
    assert not hasattr(clf, "estimators_") and not hasattr(clf, "n_features_in_")


def test_unreachable_scheduler_address_is_named(data):
    """Pointing joblib at a scheduler nobody runs fails before any fit, naming it."""
    _distributed()
    import dask

    clf = LocalClassifierPerParentNode(taxonomy=data[2])
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(OSError, match="127.0.0.1:9"):
            with joblib.parallel_backend("dask", scheduler_host="tcp://127.0.0.1:9"):
                clf.fit(data[0], data[1])  # pragma: no cover - the backend cannot be built
    assert not hasattr(clf, "estimators_")


def test_dead_loky_worker_raises_and_keeps_the_previous_fit(data):
    X, y, tax = data
    clf = LocalClassifierPerParentNode(LogisticRegression(max_iter=300), taxonomy=tax).fit(X, y)
    before = clf.estimators_
    proba = clf.predict_proba(X)
    clf.set_params(local_classifier=_DiesOnRoot(max_iter=300), n_jobs=2)
    with pytest.raises(ParallelFitError, match="LokyBackend.*TerminatedWorkerError") as info:
        clf.fit(X[:, :5], y)  # a different width: n_features_in_ must come back too
    assert "left as it was before fit" in str(info.value)
    assert info.value.__cause__ is not None
    assert clf.estimators_ is before and clf.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_errors_of_the_local_estimator_are_not_wrapped(data):
    X, y, tax = data
    clf = LocalClassifierPerParentNode(_RefusesRoot(), taxonomy=tax, n_jobs=2)
    with pytest.raises(ValueError, match="bad local data"):
        clf.fit(X, y)
    assert not hasattr(clf, "estimators_") and not hasattr(clf, "classes_")


def test_process_cluster_smoke_and_a_dying_worker(data):
    """Real worker processes: a fit matches the serial one; a worker killed mid-fit
    raises ParallelFitError and leaves the estimator unfitted."""
    distributed = _distributed()
    import dask

    X, y, tax = data
    serial = LocalClassifierPerParentNode(LogisticRegression(max_iter=300), taxonomy=tax).fit(X, y)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    ) as cluster, distributed.Client(cluster), joblib.parallel_backend("dask"):
        dist = LocalClassifierPerParentNode(LogisticRegression(max_iter=300), taxonomy=tax, n_jobs=-1).fit(X, y)
        np.testing.assert_array_equal(dist.predict_proba(X), serial.predict_proba(X))
        dying = LocalClassifierPerParentNode(_DiesOnRoot(max_iter=300), taxonomy=tax, n_jobs=-1)
        with pytest.raises(ParallelFitError, match="DaskDistributedBackend"):
            dying.fit(X, y)
    assert not hasattr(dying, "estimators_")


class _MissingFile(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        raise FileNotFoundError("features.npy")


def test_an_estimators_own_oserror_is_not_taken_for_a_dead_worker(data):
    X, y, tax = data
    with pytest.raises(FileNotFoundError, match="features.npy"):
        LocalClassifierPerParentNode(_MissingFile(), taxonomy=tax).fit(X, y)
