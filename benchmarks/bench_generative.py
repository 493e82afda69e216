"""Generative models on the bundled digits.

1. A 2-D latent for classification: kNN accuracy (k=5) on the codes of
   PCA(2), the plain 2-D AutoEncoder and the 2-D VAE (dense and
   convolutional backbones), over three seeds, with the ratio to PCA(2)
   measured in the same run.
2. Held-out ELBO (nats per digit, Bernoulli decoder) of the VAE by code
   size, with the gain over the 2-D code.
3. Convolutional against dense backbone: held-out ELBO and fit time of the
   VAE on the digits as 8x8 images, with the ratio to the dense VAE.

Run: ``python benchmarks/bench_generative.py`` (a few minutes on 2 CPU cores).
"""

from __future__ import annotations

import platform
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from skae import VAE, AutoEncoder

SEEDS = (0, 1, 2)
EPOCHS = 100
TRAINING = {"batch_size": 64, "lr": 2e-3, "max_epochs": EPOCHS}
CODE_SIZES = (2, 4, 8, 16, 32)
CONV = {"backbone": "conv", "image_shape": (8, 8), "channels": (16, 32)}


def knn_accuracy(model, X_train, X_test, y_train, y_test):
    Z_train = model.fit_transform(X_train)
    Z_test = model.transform(X_test)
    return KNeighborsClassifier(5).fit(Z_train, y_train).score(Z_test, y_test)


def main():
    torch.set_num_threads(1)  # small MLPs: one thread is as fast and shares the machine well
    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )

    models = {
        "PCA(2)": lambda seed: PCA(2, random_state=seed),
        "AutoEncoder(2)": lambda seed: AutoEncoder(2, random_state=seed, **TRAINING),
        "VAE(2), bce": lambda seed: VAE(2, loss="bce", random_state=seed, **TRAINING),
        "VAE(2), bce, KL warm-up 20": lambda seed: VAE(
            2, loss="bce", kl_warmup_epochs=20, random_state=seed, **TRAINING
        ),
        "VAE(2), bce, conv": lambda seed: VAE(2, loss="bce", random_state=seed, **CONV, **TRAINING),
    }
    print(f"digits: {len(X_train)} train / {len(X_test)} test, {EPOCHS} epochs, seeds {SEEDS}")
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}\n")
    print("2-D latent, kNN(5) test accuracy")
    print(f"{'model':<28} {'accuracy':>16} {'vs PCA(2)':>10}")
    results = {}
    for name, make in models.items():
        scores = [knn_accuracy(make(s), X_train, X_test, y_train, y_test) for s in SEEDS]
        results[name] = (np.mean(scores), np.std(scores))
        mean, std = results[name]
        base = results["PCA(2)"][0]
        print(f"{name:<28} {mean:>9.3f} ± {std:.3f} {mean / base:>10.2f}", flush=True)

    print("\nVAE held-out ELBO by code size (nats per digit, higher is better; seed 0)")
    print(
        f"{'n_components':>12} {'test ELBO':>10} {'train ELBO':>11} {'KL (nats)':>10} {'gain vs 2':>10}"
    )
    elbos = {}
    for k in CODE_SIZES:
        vae = VAE(k, loss="bce", random_state=0, **TRAINING).fit(X_train)
        elbos[k] = test, train, kl = vae.score(X_test), vae.score(X_train), vae.kl_curve_[-1]
        gain = test - elbos[2][0]
        print(f"{k:>12} {test:>10.2f} {train:>11.2f} {kl:>10.2f} {gain:>+10.2f}", flush=True)
    print("\nConvolutional vs dense VAE backbone (8x8 images; seed 0)")
    print(
        f"{'n_components':>12} {'backbone':>9} {'test ELBO':>10} {'KL (nats)':>10} "
        f"{'fit (s)':>8} {'time vs dense':>14}"
    )
    for k in (2, 8):
        dense_time = None
        for backbone in ("dense", "conv"):
            params = CONV if backbone == "conv" else {}
            tic = time.perf_counter()
            vae = VAE(k, loss="bce", random_state=0, **params, **TRAINING).fit(X_train)
            seconds = time.perf_counter() - tic
            dense_time = dense_time or seconds
            print(
                f"{k:>12} {backbone:>9} {vae.score(X_test):>10.2f} {vae.kl_curve_[-1]:>10.2f} "
                f"{seconds:>8.1f} {seconds / dense_time:>14.2f}",
                flush=True,
            )
    print(f"\ntotal time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
