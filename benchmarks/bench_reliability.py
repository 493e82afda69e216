"""What the safety of a continued fit costs, against one epoch of training.

Run ``python benchmarks/bench_reliability.py`` (``--quick`` for a smaller run).

A continued fit (``partial_fit``, or ``fit`` with ``warm_start=True``) trains
a deep copy of the fitted skorch net, so that a failure leaves the model
bit-identical, and after training checks every weight and the outputs of a
forward pass over (at most 256) training rows for inf and NaN. This script
times, on a dense 784-256-32-256-784 autoencoder (Adam) and synthetic data
in [0, 1]:

* ``one epoch of training``: ``skae._engine.train`` for one epoch on the
  fitted net, without copy or checks (the baseline);
* ``copy of the net (skae)``: what the rollback costs, a deep copy of the
  net's attributes;
* ``copy.deepcopy of the net``: the same through skorch's pickling support;
* ``state_dict snapshot``: the alternative, cloning the weights and the
  optimizer state (history and callbacks not covered);
* ``finite check``: weights and a forward pass, as after every fit;
* ``partial_fit, all included``: the whole call a user makes.

Each figure is the median of the repeats; ratios are against the epoch of
the same run.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time

import numpy as np
import torch

from skae import AutoEncoder, _engine
from skae._base import _copy_net


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 2 repeats")
    args = parser.parse_args()
    n, repeats = (10_000, 2) if args.quick else (60_000, 5)
    X = np.random.RandomState(0).rand(n, 784).astype(np.float32)
    est = AutoEncoder(
        n_components=32, hidden_layer_sizes=(256,), batch_size=256, max_epochs=1, random_state=0
    ).fit(X)
    net = est.net_
    data = _engine.TensorPair(_engine.to_tensor(X))
    rows = X[: est._finite_check_rows]

    def snapshot():
        return (
            {k: v.clone() for k, v in net.module_.state_dict().items()},
            copy.deepcopy(net.optimizer_.state_dict()),
        )

    contenders = {
        # trains the fitted net in place, as continued fits did before the copy
        "one epoch of training": lambda: _engine.train(net, data, epochs=1, seed=0),
        "copy of the net (skae)": lambda: _copy_net(net),
        "copy.deepcopy of the net": lambda: copy.deepcopy(net),
        "state_dict snapshot": snapshot,
        "finite check": lambda: est._check_finite(net, rows),
        "partial_fit, all included": lambda: est.partial_fit(X),
    }
    start = time.perf_counter()
    results = {name: median_time(fn, repeats) for name, fn in contenders.items()}
    took = time.perf_counter() - start
    base = results["one epoch of training"]
    print(
        f"{n} x 784 rows, batch 256, median of {repeats}; {platform.processor() or 'cpu'}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; run took {took:.0f} s"
    )
    print(f"{'contender':28s} {'seconds':>9s} {'vs epoch':>9s}")
    for name, seconds in results.items():
        print(f"{name:28s} {seconds:9.4f} {seconds / base:8.3f}x")


if __name__ == "__main__":
    main()
