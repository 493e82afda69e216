"""Scale-out: a grid search on a dask cluster, and data-parallel training.

Run ``python benchmarks/bench_scaleout.py`` (``--quick`` for a smaller run).

* Search: ``GridSearchCV`` over ``AutoEncoder(n_components=...)`` (4
  candidates x 3 folds, digits, 10 epochs each) run in this process
  (``n_jobs=1``), on joblib's own process pool (``loky``, ``n_jobs=2``) and
  on a local dask cluster of 2 worker processes x 1 thread, each after a
  small warm-up search that starts the workers. Every process, this one
  included, uses one torch thread. Ratios are wall-clock seconds against the
  local run.
* Training: ``AutoEncoder`` (784-256-32-256-784, batch 256, no early
  stopping) on synthetic data, launched by ``torchrun`` inside
  ``skae.DataParallel`` on 1 process of 1 thread, 1 process with a thread
  per core, and a process per core of 1 thread each. Seconds per epoch of
  the whole ``fit`` against 1 process x 1 thread, and the largest
  difference between the codes each run learns and those of that run (they
  take the same steps, up to float summation order).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from skae import AutoEncoder

ROOT = Path(__file__).resolve().parents[1]

TRAIN_SCRIPT = """
import json, sys, time
import numpy as np
from skae import AutoEncoder, DataParallel

n, epochs, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
X = np.random.RandomState(0).rand(n, 784).astype(np.float32)
ae = AutoEncoder(n_components=32, hidden_layer_sizes=(256,), batch_size=256,
                 max_epochs=epochs, random_state=0)
with DataParallel() as dp:
    start = time.perf_counter()
    ae.fit(X)
    seconds = time.perf_counter() - start
if dp.rank == 0:
    np.save(out + ".npy", ae.transform(X[:1000]))
    json.dump({"s_per_epoch": seconds / epochs, "loss": ae.loss_curve_[-1]}, open(out + ".json", "w"))
"""


def search(n_jobs, backend, epochs=10, grid=(4, 8, 16, 32)):
    X = load_digits().data / 16
    est = AutoEncoder(hidden_layer_sizes=(64,), max_epochs=epochs, batch_size=64, random_state=0)
    search = GridSearchCV(est, {"n_components": list(grid)}, cv=3, n_jobs=n_jobs)
    start = time.perf_counter()
    with joblib.parallel_config(backend=backend):
        search.fit(X)
    return time.perf_counter() - start, search.best_params_, search.cv_results_["mean_test_score"]


def timed_search(n_jobs, backend):
    """The search, after a one-epoch warm-up that starts and imports in the workers."""
    search(n_jobs, backend, epochs=1, grid=(2, 4))
    return search(n_jobs, backend)


def bench_search():
    from distributed import Client, LocalCluster

    # one intra-op thread here too (the refit runs here): on a loaded machine
    # torch's threads contend with other processes for the cores
    torch.set_num_threads(1)
    rows = [("local, n_jobs=1", *timed_search(1, "loky"))]
    rows.append(("loky, n_jobs=2", *timed_search(2, "loky")))
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster),
    ):
        rows.append(("dask, 2 workers x 1 thread", *timed_search(-1, "dask")))
    base, scores = rows[0][1], rows[0][3]
    print(f"{'search (12 fits)':30s} {'seconds':>8s} {'vs local':>9s}  best params   same scores")
    for name, seconds, best, s in rows:
        same = np.array_equal(s, scores)
        print(f"{name:30s} {seconds:8.2f} {seconds / base:8.3f}x  {best}  {same}")


def train(nproc, threads, n, epochs, out):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(TRAIN_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc_per_node={nproc}", script.name, str(n), str(epochs), out]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=900)
    os.unlink(script.name)
    with open(out + ".json") as f:
        return json.load(f), np.load(out + ".npy")


def bench_training(n, epochs):
    cores = os.cpu_count()
    runs = [("1 process x 1 thread", 1, 1), (f"1 process x {cores} threads", 1, cores)]
    runs.append((f"{cores} processes x 1 thread", cores, 1))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, nproc, threads) in enumerate(runs):
            results[name] = train(nproc, threads, n, epochs, f"{tmp}/run{i}")
    print(f"\n{n} x 784, {epochs} epochs")
    print(
        f"{'training':26s} {'s/epoch':>8s} {'vs 1 x 1':>9s} {'final loss':>11s} {'max |codes - 1 x 1|':>20s}"
    )
    base, base_codes = results[runs[0][0]]
    for name, (r, codes) in results.items():
        ratio = r["s_per_epoch"] / base["s_per_epoch"]
        diff = float(np.abs(codes - base_codes).max())
        print(f"{name:26s} {r['s_per_epoch']:8.3f} {ratio:8.3f}x {r['loss']:11.6f} {diff:20.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer epochs")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    start = time.perf_counter()
    bench_search()
    bench_training(*((10_000, 2) if args.quick else (30_000, 3)))
    print(f"\nwhole run: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
