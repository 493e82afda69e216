"""Anomaly detection: skae's detector against PCA, IsolationForest and PyOD.

Run as ``python benchmarks/bench_anomaly.py``
(``--autoencoder-params '{"input_dropout": 0.5}'`` adds parameters to skae's
``AutoEncoder`` in both of its rows, ``--detector-params '{"trim": false}'``
to its detector). Two families of tasks:

* digits (bundled 8x8 digits scaled to [0, 1]): each digit in turn is the
  normal class. A detector is fitted on 70 % of that digit and scores the
  held-out 30 % together with all other digits (the anomalies).
* synthetic tabular data: 30 features on a noisy non-linear 3-D manifold,
  with three kinds of anomalies (uniform noise in the data's bounding box,
  a few features of a normal sample shifted by 3 standard deviations, and
  Gaussian samples with the normal data's mean and covariance). The
  training data hold 5 % anomalies (the unsupervised setting).

Every detector is scored by ROC-AUC on the test data (anomaly = positive
class) and timed from ``fit`` to the scores of the test data. The deep
models share one architecture (input -> 64 -> 16 -> 64 -> output, ReLU,
ReLU on the code, linear output), optimiser (Adam, lr 1e-3, weight decay
1e-5), batch size 32, number of epochs and feature standardisation. PyOD's
AutoEncoder is run at that matched architecture (no batch norm, no
dropout) and, for reference, with its own defaults for batch norm and
dropout. skae is also run at its own default batch size ("auto": batches of
8 at the square-root-scaled rate on these small training sets), with the
same architecture and epochs. Rows needing PyOD are skipped when it is not
installed.

Every detector runs once untimed before the measurements (PyOD compiles
its scoring with numba on first use; torch and skorch initialise lazily),
and torch uses one thread, as the models are small.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoEncoder, AutoEncoderOutlierDetector

try:
    from pyod.models.auto_encoder import AutoEncoder as PyODAutoEncoder
except ImportError:  # the benchmark runs without PyOD, skipping its rows
    PyODAutoEncoder = None

HIDDEN, CODE = 64, 16
BATCH_SIZE = 32
LR, WEIGHT_DECAY = 1e-3, 1e-5
DIGITS_EPOCHS = 100  # about 125 training samples per digit
TABULAR_EPOCHS = 30  # 1000 training samples
SEED = 0
AUTOENCODER_PARAMS: dict = {}  # --autoencoder-params
DETECTOR_PARAMS: dict = {}  # --detector-params


# ----------------------------------------------------------------------
# Detectors: each returns anomaly scores (higher = more anomalous)
# ----------------------------------------------------------------------
def skae_detector(X_train, X_test, epochs, batch_size=BATCH_SIZE):
    detector = AutoEncoderOutlierDetector(
        AutoEncoder(
            n_components=CODE,
            hidden_layer_sizes=(HIDDEN,),
            code_activation="relu",
            lr=LR,
            weight_decay=WEIGHT_DECAY,
            batch_size=batch_size,
            max_epochs=epochs,
            random_state=SEED,
            **AUTOENCODER_PARAMS,
        ),
        standardize=True,
        **DETECTOR_PARAMS,
    )
    return -detector.fit(X_train).score_samples(X_test)


def skae_default_batch(X_train, X_test, epochs):
    # skae's default batch size, "auto" (PyOD's default is 32)
    return skae_detector(X_train, X_test, epochs, batch_size=AutoEncoder().batch_size)


def pca_error(X_train, X_test, epochs):
    pca = make_pipeline(StandardScaler(), PCA(n_components=CODE, random_state=SEED)).fit(X_train)
    X_test_std = pca[0].transform(X_test)
    X_rec = pca[1].inverse_transform(pca[1].transform(X_test_std))
    return np.mean(np.square(X_rec - X_test_std), axis=1)


def isolation_forest(X_train, X_test, epochs):
    forest = IsolationForest(random_state=SEED).fit(X_train)
    return -forest.score_samples(X_test)


def _pyod(X_train, X_test, epochs, **params):
    model = PyODAutoEncoder(
        hidden_neuron_list=[HIDDEN, CODE],
        hidden_activation_name="relu",
        lr=LR,
        optimizer_params={"weight_decay": WEIGHT_DECAY},
        batch_size=BATCH_SIZE,
        epoch_num=epochs,
        preprocessing=True,
        random_state=SEED,
        device="cpu",
        verbose=0,
        **params,
    )
    return model.fit(X_train).decision_function(X_test)


def pyod_matched(X_train, X_test, epochs):
    return _pyod(X_train, X_test, epochs, batch_norm=False, dropout_rate=0.0)


def pyod_defaults(X_train, X_test, epochs):
    return _pyod(X_train, X_test, epochs, batch_norm=True, dropout_rate=0.2)


DETECTORS = {
    "skae AutoEncoderOutlierDetector": skae_detector,
    "skae, its default batch": skae_default_batch,
    "PyOD AutoEncoder (matched)": pyod_matched,
    "PyOD AutoEncoder (BN + dropout)": pyod_defaults,
    "PCA reconstruction error": pca_error,
    "IsolationForest": isolation_forest,
}
NEEDS_PYOD = {"PyOD AutoEncoder (matched)", "PyOD AutoEncoder (BN + dropout)"}


# ----------------------------------------------------------------------
# Tasks: (name, X_train, X_test, y_test with 1 = anomaly, epochs)
# ----------------------------------------------------------------------
def digit_tasks():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    for digit in range(10):
        normal, others = X[y == digit], X[y != digit]
        train, held_out = train_test_split(normal, test_size=0.3, random_state=SEED)
        X_test = np.vstack([held_out, others])
        y_test = np.r_[np.zeros(len(held_out)), np.ones(len(others))]
        yield f"digit {digit}", train, X_test, y_test, DIGITS_EPOCHS


def _manifold(rng, n, mixing):
    latent = rng.uniform(-2, 2, size=(n, 3))
    hidden = np.tanh(latent @ mixing[0])
    return hidden @ mixing[1] + 0.05 * rng.standard_normal((n, mixing[1].shape[1]))


def _anomalies(kind, rng, n, normal_ref, mixing):
    if kind == "uniform":
        low, high = normal_ref.min(axis=0), normal_ref.max(axis=0)
        return rng.uniform(low, high, size=(n, normal_ref.shape[1]))
    if kind == "shifted features":
        X = _manifold(rng, n, mixing)
        std = normal_ref.std(axis=0)
        for row in X:
            features = rng.choice(X.shape[1], size=3, replace=False)
            row[features] += 3 * std[features] * rng.choice([-1, 1], size=3)
        return X
    # "gaussian": same first and second moments as the normal data
    return rng.multivariate_normal(normal_ref.mean(axis=0), np.cov(normal_ref.T), size=n)


def tabular_tasks(n_features=30, n_train=1000, n_test=1000, fraction=0.05):
    for i, kind in enumerate(["uniform", "shifted features", "gaussian"]):
        rng = np.random.default_rng(100 + i)
        mixing = (rng.standard_normal((3, 16)), rng.standard_normal((16, n_features)) / 4)
        reference = _manifold(rng, 5000, mixing)
        parts = []
        for n in (n_train, n_test):
            n_out = int(round(fraction * n))
            X = np.vstack(
                [_manifold(rng, n - n_out, mixing), _anomalies(kind, rng, n_out, reference, mixing)]
            )
            parts.append((X, np.r_[np.zeros(n - n_out), np.ones(n_out)]))
        (X_train, _), (X_test, y_test) = parts
        yield f"tabular: {kind}", X_train, X_test, y_test, TABULAR_EPOCHS


# ----------------------------------------------------------------------
def run():
    detectors = {
        name: fn
        for name, fn in DETECTORS.items()
        if PyODAutoEncoder is not None or name not in NEEDS_PYOD
    }
    tasks = list(digit_tasks()) + list(tabular_tasks())
    torch.set_num_threads(1)
    _, X_train, X_test, _, _ = tasks[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in detectors.values():  # warm-up, untimed
            fn(X_train, X_test, 1)
    auc = {name: [] for name in detectors}
    seconds = {name: [] for name in detectors}
    print("ROC-AUC per task, columns in this order: " + ", ".join(detectors))
    for task, X_train, X_test, y_test, epochs in tasks:
        row = []
        for name, fn in detectors.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = fn(X_train, X_test, epochs)
            seconds[name].append(time.perf_counter() - start)
            auc[name].append(roc_auc_score(y_test, scores))
            row.append(f"{auc[name][-1]:.3f}")
        print(f"{task:<28}" + "  ".join(row), flush=True)
    print()
    if PyODAutoEncoder is None:
        print("PyOD is not installed (pip install pyod): its rows are skipped.\n")
    digits = slice(0, 10)
    tabular = slice(10, None)
    baseline = "PyOD AutoEncoder (matched)" if "PyOD AutoEncoder (matched)" in detectors else None
    header = (
        f"{'detector':<34}{'AUC digits':>11}{'AUC tabular':>12}{'AUC all':>9}"
        f"{'time (s)':>10}{'time ratio':>12}"
    )
    print(header)
    print("-" * len(header))
    base_time = np.sum(seconds[baseline]) if baseline else None
    for name in detectors:
        total = np.sum(seconds[name])
        ratio = f"{total / base_time:.2f}" if base_time else "n/a"
        print(
            f"{name:<34}{np.mean(auc[name][digits]):>11.3f}{np.mean(auc[name][tabular]):>12.3f}"
            f"{np.mean(auc[name]):>9.3f}{total:>10.2f}{ratio:>12}"
        )
    print(
        "\nAUC: mean ROC-AUC over the 10 digit tasks, the 3 tabular tasks and all 13. "
        "time: fit + scoring summed over all tasks;"
    )
    print(f"time ratio: time / time of {baseline or 'PyOD (not installed)'}, lower is faster.")
    return auc, seconds


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--autoencoder-params",
        type=json.loads,
        default={},
        metavar="JSON",
        help="parameters added to skae's AutoEncoder, e.g. '{\"input_dropout\": 0.5}'",
    )
    parser.add_argument(
        "--detector-params",
        type=json.loads,
        default={},
        metavar="JSON",
        help="parameters of skae's AutoEncoderOutlierDetector, e.g. '{\"trim\": false}'",
    )
    args = parser.parse_args()
    AUTOENCODER_PARAMS.update(args.autoencoder_params)
    DETECTOR_PARAMS.update(args.detector_params)
    run()
