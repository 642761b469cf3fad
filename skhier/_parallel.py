"""Fitting many small scikit-learn estimators in parallel, on the engine the user chose.

skhier has no scheduler and no process pool of its own. :func:`fit_local_tasks` hands
every local problem to ``joblib.Parallel``, so whatever backend is active runs them:
joblib's default process pool (loky), threads, or a Dask cluster. Inside
``with joblib.parallel_backend("dask"): ...`` (the ``skhier[distributed]`` extra) the
tasks go to that backend's Dask client as futures instead: the one large ``X`` every
task reads is broadcast to the workers once, each task's rows and targets travel with
it, and a dead worker raises (joblib's own Dask path would wait forever, see
:func:`fit_local_tasks`).

This module imports neither torch nor skorch: a process worker that unpickles a task
imports only numpy, scipy and scikit-learn.
"""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone

from .exceptions import ParallelFitError

__all__ = ["fit_local_tasks"]


class _Constant:
    """Stands in for a local classifier whose training data hold a single class."""

    def __init__(self, label):
        self.classes_ = np.array([label])

    def predict_proba(self, X):
        return np.ones((X.shape[0], 1))


def _fit_one(estimator, X, task, sample_weight):
    """Clone ``estimator`` and fit it on the rows ``idx`` of ``X`` (sliced on the worker)."""
    idx, y_local = task
    classes = np.unique(y_local)
    if classes.size == 1:
        return _Constant(classes[0])
    est = clone(estimator)
    Xs = X[idx]
    if sample_weight is None:
        return est.fit(Xs, y_local)
    return est.fit(Xs, y_local, sample_weight=sample_weight[idx])


# Errors that mean "the engine failed", not "the estimator refused its data": worker
# deaths in loky and Dask, lost connections and timeouts. Matched by class name so that
# neither distributed nor loky needs importing here. On Dask, any OSError is the comm
# layer's ("Timed out trying to connect"); elsewhere it may be the estimator's own.
_ENGINE_ERRORS = {
    "TerminatedWorkerError", "BrokenProcessPool", "KilledWorker", "CommClosedError",
    "CancelledError", "FutureCancelledError", "TimeoutError", "ConnectionError",
    "ConnectionRefusedError", "ConnectionResetError", "BrokenPipeError",
}


def _is_engine_error(err: BaseException, on_dask: bool) -> bool:
    return (on_dask and isinstance(err, OSError)) or any(cls.__name__ in _ENGINE_ERRORS for cls in type(err).__mro__)


def _active_backend():
    from joblib.parallel import get_active_backend

    return get_active_backend()[0]


def _check_client(client, owner: str) -> None:
    """Refuse a Dask client that has lost its scheduler (joblib itself would fail with
    ``'NoneType' object has no attribute 'ncores'``)."""
    if client.status != "running" or client.scheduler is None:
        raise ParallelFitError(
            f"cannot fit {owner}: joblib's Dask backend uses a client whose status is "
            f"{client.status!r}; its scheduler is gone or was never reached. Connect a new "
            "client (distributed.Client('tcp://host:8786')) and fit again."
        )


def _fit_many(estimators, X, tasks, sample_weight):
    return [_fit_one(est, X, task, sample_weight) for est, task in zip(estimators, tasks)]


def _fit_on_dask(client, estimators, X, tasks, sample_weight):
    """The local fits as Dask futures: the shared data broadcast to every worker once,
    the tasks in a few chunks per worker (each task's rows and targets inline).

    Chunks deal the tasks by decreasing size round-robin, so every chunk gets a similar
    share of the work; four per worker thread keep the workers busy to the end at a
    scheduling cost of a few dozen futures instead of one per local classifier.
    """
    n_threads = max(sum(client.nthreads().values()), 1)
    n_chunks = min(len(tasks), 4 * n_threads)
    order = np.argsort([-len(task[0]) for task in tasks], kind="stable")
    chunks = [order[i::n_chunks] for i in range(n_chunks)]
    shared = client.scatter([X] if sample_weight is None else [X, sample_weight], broadcast=True)
    w = shared[1] if sample_weight is not None else None
    futures = [
        client.submit(_fit_many, [estimators[i] for i in c], shared[0], [tuple(tasks[i]) for i in c], w, pure=False)
        for c in chunks
    ]
    try:
        results = client.gather(futures)
    finally:
        client.cancel(futures + shared)
    fitted = [None] * len(tasks)
    for c, res in zip(chunks, results):
        for i, est in zip(c, res):
            fitted[i] = est
    return fitted


def fit_local_tasks(estimators, X, tasks, sample_weight=None, *, n_jobs=None, verbose=0, owner="estimator"):
    """Fit one clone of ``estimators[i]`` on ``X[idx_i], y_i`` for every task, in parallel.

    Parameters
    ----------
    estimators : list of estimators
        One unfitted estimator per task (cloned before fitting).
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Shared by every task: joblib memory-maps it for process workers and Dask
        scatters it once.
    tasks : list of (indices, y_local)
        The rows of ``X`` and the local targets of every problem.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of the samples; ``None`` weighs every sample equally.
    n_jobs : int, default=None
        joblib's ``n_jobs``; inside ``joblib.parallel_backend(...)`` the backend's.
    verbose : int, default=0
        1: a progress bar (tqdm) over the local fits; 2 and more: joblib's messages too.
    owner : str
        Named in the error message.

    Returns
    -------
    fitted : list of fitted estimators
        In task order. A task whose targets hold one class gets a constant predictor.

    Raises
    ------
    ParallelFitError
        When the backend fails (a dead worker, an unreachable scheduler).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skhier._parallel import fit_local_tasks
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> tasks = [(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1])), (np.array([0, 1]), np.array([5, 5]))]
    >>> [type(e).__name__ for e in fit_local_tasks([LogisticRegression()] * 2, X, tasks)]
    ['LogisticRegression', '_Constant']
    """
    client = getattr(_active_backend(), "client", None)  # set only by joblib's Dask backend
    if client is not None:
        _check_client(client, owner)
    try:
        if client is not None:
            # joblib's Dask backend is active: submit to its client. joblib 1.6 itself
            # never returns when a Dask worker dies (its error path in
            # joblib/_dask.py:_collect skips the completion callback Parallel waits
            # on); Dask's own futures raise KilledWorker instead.
            return _fit_on_dask(client, estimators, X, tasks, sample_weight)
        jobs = (delayed(_fit_one)(est, X, tuple(task), sample_weight) for est, task in zip(estimators, tasks))
        if verbose <= 0:  # 0, False or negative: silent
            return Parallel(n_jobs=n_jobs)(jobs)
        from tqdm.auto import tqdm

        results = Parallel(n_jobs=n_jobs, verbose=max(0, verbose - 1), return_as="generator")(jobs)
        return list(tqdm(results, total=len(tasks), desc=f"{owner}: local classifiers", unit="fit"))
    except Exception as err:
        if not _is_engine_error(err, on_dask=client is not None):
            raise
        raise ParallelFitError(
            f"fitting the {len(tasks)} local classifiers of {owner} failed in joblib's "
            f"{type(_active_backend()).__name__}: {type(err).__name__}: {err}. A worker died or the cluster "
            f"could not be reached; {owner} was left as it was before fit. Check the workers' "
            "memory and logs (dask: client.get_worker_logs()), then fit again."
        ) from err
