"""Fit time and reconstruction error of each skae architecture on small data.

Run as ``python benchmarks/bench_architectures.py``. Every model trains for
the same number of epochs under a fixed seed; the table gives the fit time,
its ratio to the dense AutoEncoder's fit time on the same data (measured in
the same run), the test reconstruction MSE, and its ratio to PCA's at the
same code size (below 1: better than PCA).

Data: the bundled digits (8x8 images in [0, 1], 1347 train / 450 test) for
the image models; synthetic noisy 3-channel sine series (T=24, 400 train /
200 test) for the sequence model.
"""

from __future__ import annotations

import platform
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import AutoEncoder, ConvAE, SeqAE, SparseAE

N_COMPONENTS = 16
EPOCHS = 50


def sine_series(n, seed, n_steps=24):
    rng = np.random.RandomState(seed)
    t = np.arange(n_steps)[None, :, None]
    freq = rng.uniform(0.15, 0.35, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    amp = rng.uniform(0.5, 1.0, (n, 1, 1))
    X = np.concatenate(
        [
            amp * np.sin(freq * t + phase),
            amp * np.cos(freq * t + phase),
            0.5 * np.sin(2 * freq * t + phase),
        ],
        axis=2,
    )
    return (X + 0.05 * rng.randn(*X.shape)).reshape(n, -1)


def pca_mse(X_train, X_test, k):
    pca = PCA(k, random_state=0).fit(X_train)
    return float(np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2))


def run(name, estimator, X_train, X_test):
    start = time.perf_counter()
    estimator.fit(X_train)
    seconds = time.perf_counter() - start
    params = sum(p.numel() for p in estimator.net_.module_.parameters())
    return name, seconds, params, -estimator.score(X_test)


def main():
    digits = load_digits()
    X = digits.data / 16
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0, stratify=digits.target)
    S_train, S_test = sine_series(400, 0), sine_series(200, 1)
    common = {"max_epochs": EPOCHS, "batch_size": 64, "random_state": 0}
    cases = [
        ("digits", AutoEncoder(N_COMPONENTS, hidden_layer_sizes=(128,), lr=3e-3, **common)),
        ("digits", ConvAE(N_COMPONENTS, image_shape=(8, 8), channels=(16, 32), lr=3e-3, **common)),
        (
            "digits",
            ConvAE(
                N_COMPONENTS,
                image_shape=(8, 8),
                channels=(16, 32),
                downsample="stride",
                upsample="transpose",
                lr=3e-3,
                **common,
            ),
        ),
        ("digits", SparseAE(N_COMPONENTS, hidden_layer_sizes=(128,), lr=3e-3, **common)),
        ("sines", AutoEncoder(N_COMPONENTS, hidden_layer_sizes=(128,), lr=3e-3, **common)),
        ("sines", SeqAE(N_COMPONENTS, sequence_shape=(24, 3), hidden_size=32, lr=1e-2, **common)),
        (
            "sines",
            SeqAE(
                N_COMPONENTS, sequence_shape=(24, 3), hidden_size=32, cell="gru", lr=1e-2, **common
            ),
        ),
    ]
    data = {"digits": (X_train, X_test), "sines": (S_train, S_test)}
    baseline_pca = {key: pca_mse(*value, N_COMPONENTS) for key, value in data.items()}

    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; code size {N_COMPONENTS}, {EPOCHS} epochs"
    )
    header = (
        f"{'data':<7} {'model':<28} {'params':>8} {'fit s':>7} {'x AE':>6} {'MSE':>8} {'x PCA':>6}"
    )
    print(header)
    print("-" * len(header))
    for dataset, mse in baseline_pca.items():
        print(f"{dataset:<7} {'PCA':<28} {'':>8} {'':>7} {'':>6} {mse:8.4f} {1:6.2f}")
    # one short fit first, so that no timing below includes torch's start-up
    # (one epoch on 64 digits learns nothing, and would warn so)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        AutoEncoder(2, max_epochs=1, random_state=0).fit(X_train[:64])
    baseline_time = {}
    for dataset, estimator in cases:
        label = type(estimator).__name__
        if isinstance(estimator, ConvAE):
            label += f" ({estimator.downsample}/{estimator.upsample})"
        if isinstance(estimator, SeqAE):
            label += f" ({estimator.cell})"
        name, seconds, params, mse = run(label, estimator, *data[dataset])
        baseline_time.setdefault(dataset, seconds)
        print(
            f"{dataset:<7} {name:<28} {params:8d} {seconds:7.2f} "
            f"{seconds / baseline_time[dataset]:6.2f} {mse:8.4f} {mse / baseline_pca[dataset]:6.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
