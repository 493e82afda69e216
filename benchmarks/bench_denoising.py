"""Denoising quality on held-out digits: noisy input, PCA, AutoEncoder, DenoisingAE.

Gaussian noise with factors 0.2 and 0.4 (standard-normal noise times the
factor, clipped to [0, 1]) is added to the held-out quarter of the bundled
digits (scaled to [0, 1]). Each method reconstructs the noisy images; PSNR
(dB, peak 1) and RMSE are measured against the clean images, with the RMSE
ratio to the noisy input (lower is better). PCA and the AutoEncoder are fitted
on the clean training images, the DenoisingAE learns noisy -> clean; all use
the same code size.

Run: ``python benchmarks/bench_denoising.py``
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skae import AutoEncoder, DenoisingAE, NoiseAugmenter, add_noise

N_COMPONENTS = 32
MAX_EPOCHS = int(os.environ.get("SKAE_BENCH_EPOCHS", 100))
LEVELS = (0.2, 0.4)


def psnr(estimate, clean):
    return 10 * np.log10(1.0 / np.mean(np.square(estimate - clean)))


def rmse(estimate, clean):
    return float(np.sqrt(np.mean(np.square(estimate - clean))))


def main():
    data = load_digits()
    X = data.data / 16.0
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0, stratify=data.target)
    params = {"hidden_layer_sizes": (128,), "max_epochs": MAX_EPOCHS, "random_state": 0}
    rows = []
    for level in LEVELS:
        noisy = add_noise(X_test, "gaussian", level, clip=(0, 1), random_state=1)

        def fitted(make):
            start = time.perf_counter()
            model = make()
            return model, time.perf_counter() - start

        pca, t_pca = fitted(lambda: PCA(N_COMPONENTS, random_state=0).fit(X_train))
        ae, t_ae = fitted(lambda: AutoEncoder(N_COMPONENTS, **params).fit(X_train))
        recipe = NoiseAugmenter("gaussian", level=level, clip=(0, 1))
        dae, t_dae = fitted(
            lambda recipe=recipe: DenoisingAE(N_COMPONENTS, noise=recipe, **params).fit(X_train)
        )
        outputs = [
            ("noisy input", noisy, 0.0),
            (f"PCA({N_COMPONENTS})", pca.inverse_transform(pca.transform(noisy)), t_pca),
            (f"AutoEncoder({N_COMPONENTS})", ae.reconstruct(noisy), t_ae),
            (f"DenoisingAE({N_COMPONENTS})", dae.denoise(noisy), t_dae),
        ]
        base = rmse(noisy, X_test)
        for name, estimate, seconds in outputs:
            err = rmse(estimate, X_test)
            rows.append((level, name, psnr(estimate, X_test), err, err / base, seconds))

    print(
        f"Held-out digits ({len(X_test)} images, 64 pixels), code size {N_COMPONENTS}, "
        f"{MAX_EPOCHS} epochs; torch {torch.__version__}, {os.cpu_count()} CPU cores, "
        f"{platform.machine()}"
    )
    header = (
        f"{'noise':>5}  {'method':<16} {'PSNR dB':>8} {'RMSE':>7} {'RMSE/noisy':>10} {'fit s':>7}"
    )
    print(header)
    print("-" * len(header))
    for level, name, p, err, ratio, seconds in rows:
        print(f"{level:>5}  {name:<16} {p:8.2f} {err:7.4f} {ratio:10.3f} {seconds:7.3f}")


if __name__ == "__main__":
    main()
