"""Scale-out: hyper-parameter search on a dask cluster, data-parallel training.

The searches run through joblib's dask (and, when installed, ray) backend on
worker processes and must give exactly what the same search gives locally.
"""

import concurrent.futures
import os
import sys

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline

from skae import CVAE, AutoEncoder, AutoEncoderOutlierDetector, DenoisingAE, NoiseAugmenter

# Seconds any one cluster operation may take before the test fails instead of
# hanging (a fit on the tiny data here takes well under a second).
TIMEOUT = 120


def _mean_score(estimator, X, y=None):
    """Scorer for estimators without ``score``: mean of ``score_samples``."""
    return float(np.mean(estimator.score_samples(X)))


def _searches(X, y):
    """(name, search, fit arguments, check) for every case proven on a cluster."""
    small = {"max_epochs": 2, "batch_size": 64, "hidden_layer_sizes": (16,), "random_state": 0}
    return [
        (
            "autoencoder",
            GridSearchCV(AutoEncoder(**small), {"n_components": [2, 4], "lr": [1e-3, 1e-2]}, cv=2),
            (X,),
            lambda est: est.transform(X[:20]),
        ),
        (
            "noise-pipeline",
            GridSearchCV(
                Pipeline(
                    [
                        ("noise", NoiseAugmenter("gaussian", level=0.3, random_state=0)),
                        ("dae", DenoisingAE(n_components=4, **small)),
                    ]
                ),
                {"noise__level": [0.2, 0.4], "dae__n_components": [2, 4]},
                cv=2,
            ),
            (X,),
            lambda est: est.transform(X[:20]),
        ),
        (
            "cvae",
            RandomizedSearchCV(
                CVAE(n_components=2, **small),
                {"n_components": [2, 3, 4], "beta": [0.5, 1.0]},
                n_iter=3,
                cv=2,
                random_state=0,
            ),
            (X, y),
            lambda est: est.best_estimator_.sample(5, y=3, random_state=0),
        ),
        (
            "outlier-detector",
            GridSearchCV(
                AutoEncoderOutlierDetector(AutoEncoder(**small)),
                {"estimator__n_components": [2, 4], "contamination": ["auto", 0.1]},
                scoring=_mean_score,
                cv=2,
            ),
            (X,),
            lambda est: est.decision_function(X[:20]),
        ),
    ]


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:200], y[:200]


@pytest.fixture(scope="module")
def local_results(data):
    """The searches run in this process, one intra-op thread as on the workers."""
    X, y = data
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {
            name: (search.fit(*args), check(search))
            for name, search, args, check in _searches(X, y)
        }
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def dask_client():
    """A two-process dask cluster (one thread each), started once for the module."""
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'skae[dask]')"
    )
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    client = distributed.Client(cluster, timeout=TIMEOUT)
    try:
        client.wait_for_workers(2, timeout=TIMEOUT)
        yield client
    finally:
        client.close(timeout=TIMEOUT)
        cluster.close(timeout=TIMEOUT)


def _fit_with_backend(backend, search, args):
    """Fit ``search`` under joblib ``backend``, failing after TIMEOUT seconds.

    The refit on the whole data runs in this process, with one intra-op
    thread as in the local reference run.
    """

    def fit():
        with joblib.parallel_config(backend=backend):
            return search.fit(*args)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(fit).result(timeout=TIMEOUT)
    finally:
        torch.set_num_threads(threads)


def _assert_same_search(remote, local, remote_check, local_check):
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    for key in local.cv_results_:
        if key.startswith("split") and key.endswith("_test_score"):
            np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    assert remote.best_params_ == local.best_params_
    assert remote.best_index_ == local.best_index_
    np.testing.assert_array_equal(remote_check, local_check)


@pytest.mark.parametrize("case", ["autoencoder", "noise-pipeline", "cvae", "outlier-detector"])
def test_search_on_dask_cluster_equals_local_search(case, data, local_results, dask_client):
    X, y = data
    name, search, args, check = next(s for s in _searches(X, y) if s[0] == case)
    from distributed import get_task_stream

    workers = dask_client.run(os.getpid, wait=True)
    assert len(set(workers.values()) - {os.getpid()}) == 2  # two worker processes
    search.set_params(n_jobs=-1)
    with get_task_stream(client=dask_client) as tasks:
        remote = _fit_with_backend("dask", search, args)
    # the fits ran on the workers (joblib batches them: one worker may take all)
    assert tasks.data and {task["worker"] for task in tasks.data} <= set(workers)
    local, local_check = local_results[name]
    _assert_same_search(remote, local, check(remote), local_check)


@pytest.fixture(scope="module")
def ray_backend():
    """A local ray instance with two worker processes, as joblib backend "ray"."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'ray[default]')")
    from ray.util.joblib import register_ray

    # ray workers do not share this process's sys.path: send this module's
    # functions (the scorer) by value rather than by name
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        register_ray()
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.parametrize("case", ["autoencoder", "noise-pipeline", "cvae", "outlier-detector"])
def test_search_on_ray_equals_local_search(case, data, local_results, ray_backend):
    X, y = data
    name, search, args, check = next(s for s in _searches(X, y) if s[0] == case)
    search.set_params(n_jobs=-1)
    remote = _fit_with_backend("ray", search, args)
    local, local_check = local_results[name]
    _assert_same_search(remote, local, check(remote), local_check)
