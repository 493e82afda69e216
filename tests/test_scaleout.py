"""Scale-out: hyper-parameter search on a dask cluster, data-parallel training.

The searches run through joblib's dask (and, when installed, ray) backend on
worker processes and must give exactly what the same search gives locally.
"""

import math
import os
import sys
import threading

import joblib
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline

from skae import (
    CVAE,
    AutoEncoder,
    AutoEncoderOutlierDetector,
    ConvAE,
    DenoisingAE,
    NoiseAugmenter,
)

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
        dashboard_address=":0",  # a free port: the scheduler serves HTTP even without a dashboard
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

    The fit runs in a daemon thread, so that a stuck cluster fails the test
    rather than hanging it (or the interpreter's exit). The refit on the
    whole data runs in this process, with one intra-op thread as in the
    local reference run.
    """
    result = {}

    def fit():
        try:
            with joblib.parallel_config(backend=backend):
                result["search"] = search.fit(*args)
        except BaseException as error:
            result["error"] = error

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        thread = threading.Thread(target=fit, daemon=True)
        thread.start()
        thread.join(TIMEOUT)
    finally:
        torch.set_num_threads(threads)
    if thread.is_alive():
        pytest.fail(f"the search on the {backend} backend did not finish in {TIMEOUT} s")
    if "error" in result:
        raise result["error"]
    return result["search"]


def _assert_same_search(remote, local, remote_check, local_check, name):
    for key in local.cv_results_:
        if key.endswith("_test_score"):  # split<i>_, mean_, std_, rank_
            np.testing.assert_array_equal(
                remote.cv_results_[key], local.cv_results_[key], err_msg=f"{name}: {key}"
            )
    assert remote.best_params_ == local.best_params_, name
    assert remote.best_index_ == local.best_index_, name
    np.testing.assert_array_equal(remote_check, local_check, err_msg=f"{name}: refit model")


# One test per backend, looping over the cases: under pytest-xdist each test
# that needs a cluster starts one in its worker, and the CPU is scarce.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_searches_on_dask_cluster_equal_local_searches(data, local_results, dask_client):
    from distributed import get_task_stream

    X, y = data
    workers = dask_client.run(os.getpid, wait=True)
    assert len(set(workers.values()) - {os.getpid()}) == 2  # two worker processes
    for name, search, args, check in _searches(X, y):
        search.set_params(n_jobs=-1)
        with get_task_stream(client=dask_client) as tasks:
            remote = _fit_with_backend("dask", search, args)
        # the fits ran on the workers (joblib batches them: one worker may take all)
        assert tasks.data, name
        assert {task["worker"] for task in tasks.data} <= set(workers), name
        local, local_check = local_results[name]
        _assert_same_search(remote, local, check(remote), local_check, name)


@pytest.fixture(scope="module")
def ray_backend():
    """A local ray instance with two worker processes, as joblib backend "ray"."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'skae[ray]')")
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


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_searches_on_ray_equal_local_searches(data, local_results, ray_backend):
    X, y = data
    for name, search, args, check in _searches(X, y):
        search.set_params(n_jobs=-1)
        remote = _fit_with_backend("ray", search, args)
        local, local_check = local_results[name]
        _assert_same_search(remote, local, check(remote), local_check, name)


# ----------------------------------------------------------------------
# Data-parallel training: torchrun, 2 CPU processes over gloo
# ----------------------------------------------------------------------
WORKER = '''
import os, pickle, sys
import numpy as np
from sklearn.datasets import load_digits
from skorch.callbacks import Callback
from skae import VAE, AutoEncoder, DataParallel, DenoisingAE


class RowCounter(Callback):
    """Rows this process computed gradients on, per epoch."""

    def initialize(self):
        self.rows = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.rows.append(0)

    def on_grad_computed(self, net, named_parameters, batch=None, **kwargs):
        self.rows[-1] += len(batch[0])


X = (load_digits().data / 16)[:301]  # 271 training rows: a last batch of 15 (8 + 7)
kw = dict(n_components=4, hidden_layer_sizes=(32,), batch_size=64, max_epochs=3,
          early_stopping=True, n_iter_no_change=10, random_state=0)
out = {}
with DataParallel(timeout=60) as dp:
    rank = dp.rank
    ae = AutoEncoder(callbacks=[("rows", RowCounter())], **kw).fit(X)
    dae = DenoisingAE(noise_level=0.3, **kw).fit(X)
    vae = VAE(**kw).fit(X)
    # stops after epoch 2 (no improvement by tol) and restores epoch 1's weights
    stop = AutoEncoder(**{**kw, "n_iter_no_change": 1, "tol": 1.0, "max_epochs": 5}).fit(X)
    # 271 = 5 x 54 + 1: the last batch has one row, and process 1 none
    tail = AutoEncoder(**{**kw, "batch_size": 54}).fit(X)
    try:
        AutoEncoder(**{**kw, "random_state": None}).fit(X)
    except ValueError as error:
        out["seed_error"] = str(error)
pickle.loads(pickle.dumps(ae))
out["rows"] = dict(ae.net_.callbacks_)["rows"].rows
for name, est in [("ae", ae), ("dae", dae), ("vae", vae), ("stop", stop), ("tail", tail)]:
    out[name] = (est.transform(X), est.loss_curve_, est.validation_loss_curve_)
if rank == 0:  # the same models trained by this process alone
    for name, est in [("single", AutoEncoder(**kw)), ("single_stop", stop), ("single_tail", tail)]:
        est = est.fit(X)
        out[name] = (est.transform(X), est.loss_curve_, est.validation_loss_curve_)
with open(os.path.join(sys.argv[1], f"rank{rank}.pkl"), "wb") as f:
    pickle.dump(out, f)
'''


def _torchrun(script, out, nproc, timeout=TIMEOUT):
    """Run ``script out`` under torchrun on ``nproc`` CPU processes; kill all on timeout."""
    import signal
    import subprocess
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc_per_node={nproc}", str(script), str(out)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"torchrun did not finish in {timeout} s")
    assert process.returncode == 0, output.decode()[-3000:]


@pytest.fixture(scope="module")
def data_parallel_run(tmp_path_factory):
    """Results of WORKER in each of 2 processes: {rank: results}."""
    import pickle

    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch was built without gloo distributed support")
    tmp = tmp_path_factory.mktemp("data_parallel")
    script = tmp / "worker.py"
    script.write_text(WORKER)
    _torchrun(script, tmp, nproc=2)
    return {rank: pickle.loads((tmp / f"rank{rank}.pkl").read_bytes()) for rank in (0, 1)}


# One test for the torchrun launch (see the searches above for why).
@pytest.mark.slow
def test_data_parallel_training_on_two_processes(data_parallel_run):
    run = data_parallel_run

    # both processes end with the same model, a trained one
    for model in ["ae", "dae", "vae", "stop", "tail"]:
        codes0, curve0, valid0 = run[0][model]
        codes1, curve1, valid1 = run[1][model]
        np.testing.assert_array_equal(codes0, codes1, err_msg=model)
        assert curve0 == curve1 and valid0 == valid1, model
        assert curve0[-1] < curve0[0], model

    # 2 processes x ~32 rows of each 64-row batch, gradients averaged with
    # weights n_r / n  ==  1 process x 64 rows, up to float summation order;
    # also when a batch of one row leaves process 1 with none
    for model, single in [("ae", "single"), ("tail", "single_tail")]:
        codes, curve, valid = run[0][model]
        codes_1, curve_1, valid_1 = run[0][single]
        np.testing.assert_allclose(curve, curve_1, rtol=1e-5, err_msg=model)
        np.testing.assert_allclose(valid, valid_1, rtol=1e-5, err_msg=model)
        np.testing.assert_allclose(codes, codes_1, rtol=1e-4, atol=1e-5, err_msg=model)

    # early stopping stops after epoch 2 and restores epoch 1's weights in both
    codes, curve, valid = run[0]["stop"]
    codes_1, curve_1, valid_1 = run[0]["single_stop"]
    assert len(curve) == len(curve_1) == 2
    np.testing.assert_allclose(valid, valid_1, rtol=1e-5)
    np.testing.assert_allclose(codes, codes_1, rtol=1e-4, atol=1e-5)

    # each process computed gradients on its share of every batch only:
    # 271 training rows in batches of 64 are 4 x (32 + 32) and 15 = 8 + 7
    assert run[0]["rows"] == [4 * 32 + 8] * 3
    assert run[1]["rows"] == [4 * 32 + 7] * 3

    # random_state=None draws a seed per process: every process fails alike, none hangs
    for rank in (0, 1):
        assert "same integer random_state" in run[rank]["seed_error"]


@given(n=st.integers(1, 300), world=st.integers(1, 9))
def test_data_parallel_shares_partition_every_batch(n, world):
    from skae._distributed import _Shard

    X = torch.arange(n)
    shares, weights = [], []
    for rank in range(world):
        shard = object.__new__(_Shard)  # only rank and world matter to take
        shard.rank, shard.world = rank, world
        rows, _, weight = shard.take(X, X)
        weights.append(weight)
        if weight:
            shares.append(rows)
            assert weight == world * len(rows) / n
        else:
            assert len(rows) == 1  # a stand-in row that weighs nothing
    assert torch.equal(torch.cat(shares), X)  # contiguous, in order, each row once
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert math.isclose(sum(weights), world)  # the weighted mean is the batch mean


def test_data_parallel_without_processes_says_how_to_launch(monkeypatch, digits):
    from skae import DataParallel

    if torch.distributed.is_initialized():
        pytest.skip("a process group is already initialised")
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="torchrun --nproc_per_node"):
        with DataParallel():
            pass


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_data_parallel_in_a_group_of_one_equals_plain_training(digits):
    from skae import DataParallel
    from skae._engine import AutoEncoderNet

    if not torch.distributed.is_available() or torch.distributed.is_initialized():
        pytest.skip("needs torch.distributed and no process group yet")
    X = digits[0][:150]
    kw = dict(n_components=3, hidden_layer_sizes=(16,), batch_size=32, max_epochs=2)
    kw.update(early_stopping=True, random_state=0)
    plain = AutoEncoder(**kw).fit(X)
    torch.distributed.init_process_group(
        "gloo", store=torch.distributed.HashStore(), rank=0, world_size=1
    )
    try:
        with DataParallel():
            parallel = AutoEncoder(**kw).fit(X)
        outside = AutoEncoder(**kw).fit(X)
    finally:
        torch.distributed.destroy_process_group()
    assert type(outside.net_) is AutoEncoderNet  # the context is gone after the block
    assert type(parallel.net_) is not AutoEncoderNet
    np.testing.assert_array_equal(parallel.transform(X), plain.transform(X))
    assert parallel.loss_curve_ == plain.loss_curve_
    assert parallel.validation_loss_curve_ == plain.validation_loss_curve_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_data_parallel_trains_a_channels_last_conv_net_as_plain_training(digits, recwarn):
    """DistributedDataParallel over channels-last convolution weights: same model, no warning."""
    from skae import DataParallel

    if not torch.distributed.is_available() or torch.distributed.is_initialized():
        pytest.skip("needs torch.distributed and no process group yet")
    X = digits[0][:150]
    kw = dict(n_components=3, image_shape=(8, 8), channels=(4, 4), batch_size=32, max_epochs=2)
    plain = ConvAE(**kw, random_state=0).fit(X)
    torch.distributed.init_process_group(
        "gloo", store=torch.distributed.HashStore(), rank=0, world_size=1
    )
    try:
        with DataParallel():
            parallel = ConvAE(**kw, random_state=0).fit(X)
    finally:
        torch.distributed.destroy_process_group()
    weight = parallel.net_.module_.encoder[0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(parallel.transform(X), plain.transform(X))
    assert parallel.loss_curve_ == plain.loss_curve_
    assert not [w for w in recwarn if "stride" in str(w.message).lower()]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_data_parallel_reduces_once_per_epoch_and_reads_no_batch(monkeypatch, digits):
    # the placement sums the processes' batch losses and terms once per
    # epoch pass (training, validation), never reading a value per batch
    from skae import VAE, DataParallel

    if not torch.distributed.is_available() or torch.distributed.is_initialized():
        pytest.skip("needs torch.distributed and no process group yet")
    X = digits[0][:320]
    torch.distributed.init_process_group(
        "gloo", store=torch.distributed.HashStore(), rank=0, world_size=1
    )
    reads, reductions = [], []
    item, to_float = torch.Tensor.item, torch.Tensor.__float__
    all_reduce = torch.distributed.all_reduce
    try:
        with DataParallel():
            est = VAE(2, hidden_layer_sizes=(8,), batch_size=16, max_epochs=3, random_state=0)
            est.set_params(early_stopping=True)
            monkeypatch.setattr(torch.Tensor, "item", lambda t: (reads.append(1), item(t))[1])
            monkeypatch.setattr(
                torch.Tensor, "__float__", lambda t: (reads.append(1), to_float(t))[1]
            )
            monkeypatch.setattr(
                torch.distributed,
                "all_reduce",
                lambda *a, **k: (reductions.append(1), all_reduce(*a, **k))[1],
            )
            est.fit(X)
            monkeypatch.undo()
    finally:
        torch.distributed.destroy_process_group()
    # only the one agreement check of the fit reads values (the data's checksum);
    # 18 training batches an epoch: reading per batch would read 54 or more
    assert len(reads) <= 2
    assert len(reductions) == 3 * 2  # one for training, one for validation, each epoch
    assert est.n_iter_ == 3 and np.isfinite(est.kl_curve_).all()
