"""Inference speed: skae's transform and score_samples against a hand-written loop.

Run ``python benchmarks/bench_inference.py`` (``--rows N`` for another size).

A default ``AutoEncoder(32)`` (784-512-32-512-784) and a ``ConvAE(32)`` on
28x28 images are fitted for one epoch on 2,000 synthetic rows in [0, 1]
(the weights do not matter for speed). Then, on the same 60,000 rows
(6,000 for the convolutional model):

* ``hand loop``: what one writes by hand for inference, ``torch.no_grad()``,
  the module in evaluation mode, ``torch.from_numpy`` on the float32 array
  and batches of 1,024 rows, the results concatenated and turned into numpy
  once (the squared error per row for ``score_samples``);
* ``skae``: ``transform`` and ``score_samples``, input validation included.

Each timing is the median of 5 repeats with the contenders interleaved;
ratios are skae's time over the hand loop's in the same run. Last, the time
of a one-row ``transform`` at ``batch_size=64`` and at ``1_000_000``: the
inference batch does not depend on the training batch size.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from skae import AutoEncoder, ConvAE

REPEATS = 5
HAND_BATCH = 1024


def hand_transform(module, X):
    with torch.no_grad():
        Xt = torch.from_numpy(X)
        return torch.cat(
            [module.encode(Xt[i : i + HAND_BATCH]) for i in range(0, len(Xt), HAND_BATCH)]
        ).numpy()


def hand_score(module, X):
    with torch.no_grad():
        Xt = torch.from_numpy(X)
        out = []
        for i in range(0, len(Xt), HAND_BATCH):
            batch = Xt[i : i + HAND_BATCH]
            rec = module.decode(module.encode(batch))
            out.append(-((rec - batch) ** 2).mean(dim=1))
        return torch.cat(out).numpy()


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name, est, X):
    module = est.net_.module_
    module.eval()
    pairs = {
        "transform": (lambda: hand_transform(module, X), lambda: est.transform(X)),
        "score_samples": (lambda: hand_score(module, X), lambda: est.score_samples(X)),
    }
    for method, (hand, ours) in pairs.items():
        hand(), ours()  # warm up
        times = {"hand": [], "skae": []}
        for _ in range(REPEATS):
            times["hand"].append(timed(hand))
            times["skae"].append(timed(ours))
        h, s = statistics.median(times["hand"]), statistics.median(times["skae"])
        print(f"{name:<12} {method:<14} {len(X):>7,}  {h:>8.3f}  {s:>8.3f}  {s / h:>7.3f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.random((args.rows, 784), dtype=np.float32)
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"{'model':<12} {'method':<14} {'rows':>7}  {'hand s':>8}  {'skae s':>8}  {'ratio':>8}")
    begin = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = AutoEncoder(32, max_epochs=1, random_state=0).fit(X[:2000])
        conv = ConvAE(32, image_shape=(28, 28), max_epochs=1, random_state=0).fit(X[:2000])
    compare("AutoEncoder", dense, X)
    compare("ConvAE", conv, X[: max(1, args.rows // 10)])
    for batch_size in (64, 1_000_000):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = AutoEncoder(32, max_epochs=1, batch_size=batch_size, random_state=0)
            est.fit(X[:500])
        est.transform(X[:1])
        one = statistics.median(timed(lambda est=est: est.transform(X[:1])) for _ in range(20))
        print(f"one-row transform at batch_size={batch_size:,}: {1000 * one:.1f} ms")
    print(f"whole run: {time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    main()
