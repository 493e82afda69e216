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

Then the same for :class:`~skae.AutoEncoderOutlierDetector` around each
(``ConvAE`` with its default code, the 392 values of its last feature
maps), fitted on the same 2,000 rows: its ``score_samples`` (the code
distance with the reconstruction error) against the loop one writes for
the same statistic, the input standardised with the fitted scaler, one
encoder and decoder pass per batch of 1,024, the squared Mahalanobis
distance of the codes as a matrix product.

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

from skae import AutoEncoder, AutoEncoderOutlierDetector, ConvAE

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


def hand_detector_score(detector, X):
    module = detector.estimator_.net_.module_
    scaler = detector.scaler_
    S = ((X - scaler.mean_) / scaler.scale_).astype(np.float32)
    errors, codes = [], []
    with torch.no_grad():
        St = torch.from_numpy(S)
        for i in range(0, len(St), HAND_BATCH):
            batch = St[i : i + HAND_BATCH]
            code = module.encode(batch)
            rec = module.decode(code).reshape(len(batch), -1)
            errors.append(((rec - batch) ** 2).mean(dim=1))
            codes.append(code.reshape(len(batch), -1))
    error = torch.cat(errors).double().numpy()
    centred = torch.cat(codes).double().numpy() - detector.code_mean_
    distance = np.sum((centred @ detector.code_precision_) * centred, axis=1)
    return -(distance + detector.residual_dof_ * error / detector.error_scale_)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name, est, X):
    if isinstance(est, AutoEncoderOutlierDetector):
        pairs = {
            "score_samples": (lambda: hand_detector_score(est, X), lambda: est.score_samples(X))
        }
    else:
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
        print(f"{name:<16} {method:<14} {len(X):>7,}  {h:>8.3f}  {s:>8.3f}  {s / h:>7.3f}x")


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
    print(f"{'model':<16} {'method':<14} {'rows':>7}  {'hand s':>8}  {'skae s':>8}  {'ratio':>8}")
    begin = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = AutoEncoder(32, max_epochs=1, random_state=0).fit(X[:2000])
        conv = ConvAE(32, image_shape=(28, 28), max_epochs=1, random_state=0).fit(X[:2000])
    compare("AutoEncoder", dense, X)
    compare("ConvAE", conv, X[: max(1, args.rows // 10)])
    for name, est, rows in (
        ("detector, dense", AutoEncoder(32, max_epochs=1, random_state=0), X),
        (
            "detector, conv",
            ConvAE(image_shape=(28, 28), max_epochs=1, random_state=0),
            X[: max(1, args.rows // 10)],
        ),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            detector = AutoEncoderOutlierDetector(est, random_state=0).fit(X[:2000])
        np.testing.assert_allclose(
            detector.score_samples(rows[:100]), hand_detector_score(detector, rows[:100]), rtol=1e-4
        )
        compare(name, detector, rows)
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
