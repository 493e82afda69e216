"""Persistence: size and speed of skae.save / skae.load against pickle.

Run as ``python benchmarks/bench_persistence.py``. Each model is fitted for
one epoch on 2,000 x n_features synthetic data in [0, 1] (Adam, so the
optimizer holds two moment estimates per weight), then:

* **pickle**: ``pickle.dumps`` / ``pickle.loads`` of the fitted estimator,
  in memory (the baseline);
* **skae file**: ``skae.save`` / ``skae.load`` to a file on local disk.

Sizes are given as multiples of the float32 weights (the ``state_dict`` of
the network); times are the median of ``--repeats`` repeats, the two
contenders interleaved.
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import statistics
import tempfile
import time

import numpy as np
import torch

import skae

MODELS = {
    "AutoEncoder 784-512-256-32": lambda: skae.AutoEncoder(
        n_components=32, hidden_layer_sizes=(512, 256), max_epochs=1, random_state=0
    ),
    "VAE 784-256-16": lambda: skae.VAE(
        n_components=16, hidden_layer_sizes=(256,), max_epochs=1, random_state=0
    ),
    "ConvAE 28x28 (16, 32)": lambda: skae.ConvAE(
        image_shape=(28, 28), channels=(16, 32), n_components=32, max_epochs=1, random_state=0
    ),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    X = np.random.RandomState(0).rand(2000, 784).astype(np.float32)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}; median of {args.repeats}"
    )
    header = (
        f"{'model':<28} {'contender':<10} {'MB':>7} {'x weights':>10} "
        f"{'save ms':>8} {'load ms':>8} {'save vs pickle':>15} {'load vs pickle':>15}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.skae")
        for name, make in MODELS.items():
            est = make().fit(X)
            weights = sum(
                t.numel() * t.element_size() for t in est.net_.module_.state_dict().values()
            )
            times = {c: ([], []) for c in ("pickle", "skae file")}
            for _ in range(args.repeats):
                start = time.perf_counter()
                blob = pickle.dumps(est)
                times["pickle"][0].append(time.perf_counter() - start)
                start = time.perf_counter()
                pickle.loads(blob)
                times["pickle"][1].append(time.perf_counter() - start)
                start = time.perf_counter()
                est.save(path)
                times["skae file"][0].append(time.perf_counter() - start)
                start = time.perf_counter()
                loaded = skae.load(path)
                times["skae file"][1].append(time.perf_counter() - start)
            assert np.array_equal(loaded.transform(X[:100]), est.transform(X[:100]))
            sizes = {"pickle": len(blob), "skae file": os.path.getsize(path)}
            base_save, base_load = (statistics.median(t) for t in times["pickle"])
            for contender, (save_t, load_t) in times.items():
                s, ld = statistics.median(save_t), statistics.median(load_t)
                rows.append(
                    f"{name:<28} {contender:<10} {sizes[contender] / 1e6:>7.2f} "
                    f"{sizes[contender] / weights:>10.2f} {1e3 * s:>8.1f} {1e3 * ld:>8.1f} "
                    f"{s / base_save:>14.2f}x {ld / base_load:>14.2f}x"
                )
    print("\n" + header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
