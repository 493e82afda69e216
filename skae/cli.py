"""The ``skae`` command: ``skae demo`` trains on the bundled digits and shows the result.

The demo is a list of small steps (:data:`DEMO_STEPS`). Each step receives
the shared :class:`DemoContext` (data, options, output folder), writes its
figures into the output folder, records its numbers under its own key of
``metrics.json`` and returns the lines it adds to the printed summary. A new
step is a function plus one entry in the list.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from skorch.callbacks import Callback
from tqdm.auto import tqdm

__all__ = ["DEMO_STEPS", "DataError", "DemoContext", "DemoStep", "load_data", "main", "run_demo"]


class DataError(ValueError):
    """The data given to the demo cannot be used; the message says why."""


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------
def _load_digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target, (8, 8), "bundled digits"


_NPY_MAGIC = b"\x93NUMPY"


def _read_npy(path: Path, what: str = "a .npy array"):
    with open(path, "rb") as fh:
        magic = fh.read(len(_NPY_MAGIC))
    if magic != _NPY_MAGIC:
        raise DataError(
            f"{str(path)!r} is not a NumPy .npy file (it does not start with the .npy "
            "header); write it with numpy.save, or give the data as a numeric .csv."
        )
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickled" in str(exc):
            raise DataError(
                f"{str(path)!r} holds Python objects (an object array), which skae does not "
                f"load from a file; save {what} of numbers (or of strings, for labels) with "
                "numpy.save."
            ) from None
        raise DataError(f"Cannot read {str(path)!r} as {what}: {exc}") from None
    except OSError as exc:
        raise DataError(f"Cannot read {str(path)!r} as {what}: {exc}") from None


def _read_csv(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
        try:
            X = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError:
            try:  # one header row
                X = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2, skiprows=1)
            except ValueError as exc:
                raise DataError(
                    f"Cannot read {str(path)!r} as a numeric CSV (one sample per row, "
                    f"comma-separated, at most one header row): {exc}"
                ) from None
    if X.size == 0:
        raise DataError(
            f"{str(path)!r} holds no data rows (it is empty or has a header only); give "
            "one sample per row, comma-separated numbers."
        )
    return X


def _load_array_file(path: Path):
    X = _read_npy(path) if path.suffix.lower() == ".npy" else _read_csv(path)
    if np.iscomplexobj(X):
        raise DataError(
            f"{str(path)!r} holds complex values; the demo needs real numbers. Save the "
            "real part (X.real) or the magnitude (numpy.abs(X)) instead."
        )
    if not np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_:
        raise DataError(f"{str(path)!r} holds {X.dtype} values; numeric data are needed.")
    if X.ndim == 0 or len(X) == 0 or X.size == 0:
        raise DataError(
            f"{str(path)!r} holds no samples (an array of shape {X.shape}); the demo needs "
            "at least 20 rows."
        )
    image_shape = None
    if X.ndim == 3:  # (n, H, W) grey images
        image_shape = X.shape[1:]
    elif X.ndim == 4 and X.shape[-1] in (1, 3, 4):  # (n, H, W, C)
        X = np.moveaxis(X, -1, 1)
        image_shape = X.shape[1:]
    elif X.ndim == 4:  # (n, C, H, W)
        image_shape = X.shape[1:]
    elif X.ndim != 2:
        raise DataError(
            f"{str(path)!r} holds an array of shape {X.shape}; expected (n_samples, "
            "n_features) or a stack of images (n, H, W) / (n, H, W, C)."
        )
    return X.reshape(len(X), -1), None, image_shape, str(path)


def _load_labels(path, n_samples: int, source: str):
    """Labels from ``--labels``: a 1-D ``.npy`` array, or a text file of one label per line."""
    path = Path(path)
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise DataError(f"The labels file {str(path)!r} {what}.")
    if path.suffix.lower() == ".npy":
        y = _read_npy(path, "an array of labels")
        if y.ndim == 2 and 1 in y.shape:
            y = y.reshape(-1)
        if y.ndim != 1:
            raise DataError(
                f"The labels file {str(path)!r} holds an array of shape {y.shape}; give "
                "one label per sample, a 1-D array."
            )
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"Cannot read the labels file {str(path)!r}: {exc}") from None
        lines = [line.strip() for line in text.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        if any(not line for line in lines):
            raise DataError(
                f"The labels file {str(path)!r} has an empty line; give one label per line."
            )
        y = np.asarray(lines)
        try:  # numbers when every label is one
            y = np.asarray([float(v) for v in lines])
            if np.all(y == np.round(y)):
                y = y.astype(np.int64)
        except (ValueError, OverflowError):
            pass
    if np.iscomplexobj(y) or y.dtype.kind not in "biufUS":
        raise DataError(
            f"The labels file {str(path)!r} holds {y.dtype} values; give integers or strings."
        )
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise DataError(f"The labels file {str(path)!r} holds NaN or infinite labels.")
    if len(y) != n_samples:
        header = " (a header line? remove it)" if len(y) == n_samples + 1 else ""
        raise DataError(
            f"The labels file {str(path)!r} holds {len(y)} labels{header} but {source!r} "
            f"holds {n_samples} samples; give one label per sample, in the same order."
        )
    return y


def _unreadable(exc):
    return DataError(
        f"Cannot read {exc.file!r} as an image ({exc.reason}). Remove the file, or run "
        "again with --skip-unreadable to leave unreadable files out."
    )


def _read_folder(read):
    """Call ``read()`` (a folder reader), turning its errors and skip warnings into DataError / lines."""
    from .datasets import _UnreadableImage

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            result = read()
        except _UnreadableImage as exc:
            raise _unreadable(exc) from None
        except (OSError, ValueError) as exc:
            raise DataError(str(exc)) from None
    notes = [str(w.message) for w in caught if str(w.message).startswith("Skipped ")]
    for w in caught:
        if not str(w.message).startswith("Skipped "):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, notes


def load_data(path, *, memmap=None, progress=False, labels=None, skip_unreadable=False):
    """Load the demo's data: the bundled digits when ``path`` is None.

    Parameters
    ----------
    path : str, path-like or None
        A ``.npy`` array, a numeric ``.csv`` or a folder of images (one
        subfolder per class, read by :func:`skae.datasets.load_image_folder`).
    memmap : str, path-like or None, default=None
        For a folder of images: the ``.npy`` file the images are written to
        once (:func:`skae.datasets.images_to_memmap`), one image in memory at
        a time; ``X`` is then that file opened as a memmap, which skae streams.
    progress : bool, default=False
        Show a progress bar while writing ``memmap``.
    labels : str, path-like or None, default=None
        For a ``.npy`` or ``.csv`` file: the labels of its samples, in the
        same order, as a 1-D ``.npy`` array or a text file of one label per
        line (no header; integers or strings). A folder's labels are its
        subfolder names.
    skip_unreadable : bool, default=False
        For a folder of images: leave out files that cannot be read as
        images (each is named in ``notes``) instead of stopping.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32 in [0, 1]
        The data; scaled into [0, 1] (each feature by its range) when they
        were not in it already. A read-only memmap with ``memmap``.
    y : ndarray of shape (n_samples,) or None
        Labels, when the source has them.
    image_shape : tuple or None
        Shape of one image, when the data are images.
    source : str
        What was loaded, for the report.

    Raises
    ------
    DataError
        When the path does not exist or its data cannot be used.
    """
    X, y, image_shape, source, _ = _load_data(path, memmap, progress, labels, skip_unreadable)
    return X, y, image_shape, source


def _load_data(path, memmap, progress, labels, skip_unreadable):
    notes = []
    if path is None:
        if labels is not None:
            raise DataError("--labels gives the labels of --data; add --data PATH.")
        return (*_load_digits(), notes)
    path = Path(path)
    if not path.exists():
        raise DataError(f"{str(path)!r} does not exist.")
    if labels is not None and path.is_dir():
        raise DataError(
            f"The labels of a folder of images are its subfolder names; leave out --labels "
            f"for {str(path)!r}."
        )
    on_error = "skip" if skip_unreadable else "raise"
    if memmap is not None:
        if not path.is_dir():
            raise DataError(
                f"--memmap writes a folder of images to a file, but {str(path)!r} is not a "
                "folder; leave out --memmap (a .npy or .csv file is read into memory)."
            )
        from .datasets import images_to_memmap

        (X, y), notes = _read_folder(
            lambda: images_to_memmap(
                path, memmap, (28, 28), grey=True, progress=progress, on_error=on_error
            )
        )
        if len(X) < 20:
            raise DataError(f"{str(path)!r} holds {len(X)} images; the demo needs at least 20.")
        return X, y, (28, 28), str(path), notes
    if path.is_dir():
        from .datasets import load_image_folder

        (X, y), notes = _read_folder(
            lambda: load_image_folder(path, size=(28, 28), grayscale=True, on_error=on_error)
        )
        image_shape, source = (28, 28), str(path)
    elif path.suffix.lower() in (".npy", ".csv"):
        X, y, image_shape, source = _load_array_file(path)
        if labels is not None:
            y = _load_labels(labels, len(X), source)
    else:
        raise DataError(
            f"{str(path)!r} is neither a .npy file, a .csv file nor a folder of images."
        )
    X = np.asarray(X, dtype=np.float64)
    if len(X) < 20:
        raise DataError(f"{source!r} holds {len(X)} samples; the demo needs at least 20.")
    if X.shape[1] < 2:
        raise DataError(f"{source!r} holds {X.shape[1]} feature(s); the demo needs at least 2.")
    if not np.all(np.isfinite(X)):
        raise DataError(f"{source!r} contains NaN or infinite values.")
    if X.min() < 0 or X.max() > 1:
        lo, span = X.min(axis=0), np.ptp(X, axis=0)
        X = (X - lo) / np.where(span > 0, span, 1.0)
    return X.astype(np.float32), y, image_shape, source, notes


# Rows of streamed data (``--memmap``) the demo holds in memory: the test
# split, and the training sample that the PCA baselines, the kNN probe of
# the codes, the latent grid and the outlier detector's normal class use.
STREAMED_TEST_ROWS = 2000
STREAMED_SAMPLE_ROWS = 5000


def _streamed_split(X, y, path, seed):
    """Split a memmap: test rows into memory, the other rows shuffled into a second file.

    The training file (``<path stem>_train.npy`` beside ``path``) holds the
    training rows in a seeded random order, so that the block shuffling of
    a streamed fit mixes the classes even though the folder was written
    class by class. It is written block by block, never held whole.
    """
    from ._engine import block_rows, read_rows

    n, n_features = X.shape
    n_test = min(STREAMED_TEST_ROWS, max(1, n // 4))
    perm = np.random.RandomState(seed).permutation(n)
    test_rows, order = np.sort(perm[:n_test]), perm[n_test:]
    X_test = read_rows(X, test_rows)
    train_path = Path(path).with_name(Path(path).stem + "_train.npy")
    header = {"descr": "<f4", "fortran_order": False, "shape": (len(order), n_features)}
    step = block_rows(X)
    with open(train_path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for start in range(0, len(order), step):
            rows = order[start : start + step]
            sorter = np.argsort(rows)
            block = np.empty((len(rows), n_features), dtype="<f4")
            block[sorter] = read_rows(X, rows[sorter])
            fh.write(block.tobytes())
    X_train = np.load(train_path, mmap_mode="r")
    if y is None:
        return X_train, X_test, None, None
    return X_train, X_test, y[order], y[test_rows]


# ----------------------------------------------------------------------
# Demo machinery
# ----------------------------------------------------------------------
@dataclass
class DemoContext:
    """What every demo step sees: data, options, output folder and results so far."""

    out: Path
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray | None
    y_test: np.ndarray | None
    image_shape: tuple | None
    epochs: int | None
    seed: int
    progress: bool = True
    streamed: bool = False
    metrics: dict = field(default_factory=dict)
    files: list = field(default_factory=list)
    _sample: tuple | None = None

    def train_sample(self):
        """``(X, y)`` of training data in memory, for the baselines and probes.

        The whole training set, or for streamed data (a memmap ``X_train``) a
        seeded random sample of at most :data:`STREAMED_SAMPLE_ROWS` rows.
        """
        if not self.streamed:
            return self.X_train, self.y_train
        if self._sample is None:
            from ._engine import read_rows

            n = len(self.X_train)
            rows = np.arange(n)
            if n > STREAMED_SAMPLE_ROWS:
                rows = np.sort(
                    np.random.RandomState(self.seed).choice(n, STREAMED_SAMPLE_ROWS, replace=False)
                )
            y = None if self.y_train is None else self.y_train[rows]
            self._sample = read_rows(self.X_train, rows), y
        return self._sample

    def estimator_params(self, description, default_epochs):
        """Training parameters shared by every demo model.

        ``default_epochs`` is the step's own choice, used unless the demo was
        given ``epochs``.
        """
        epochs = default_epochs if self.epochs is None else self.epochs
        return {
            "max_epochs": epochs,
            "random_state": self.seed,
            "callbacks": [_EpochProgress(description, epochs)] if self.progress else None,
        }

    def save(self, display, name):
        """Save a display's figure as ``name`` in the output folder and close it."""
        import matplotlib.pyplot as plt

        path = self.out / name
        display.figure_.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(display.figure_)
        self.files.append(name)
        return path


@dataclass
class DemoStep:
    """One step of the demo: ``run(context) -> list of summary lines``.

    A step that ``needs_images`` (or ``needs_labels``) is left out when the
    data are not images (or have no labels).
    """

    name: str
    run: Callable[[DemoContext], list[str]]
    needs_images: bool = False
    needs_labels: bool = False


class _EpochProgress(Callback):
    """A tqdm bar advancing once per epoch, showing the training loss."""

    def __init__(self, description, total):
        self.description = description
        self.total = total

    def on_train_begin(self, net, **kwargs):
        self.bar_ = tqdm(total=self.total, desc=self.description, unit="epoch", leave=True)

    def on_epoch_end(self, net, **kwargs):
        self.bar_.set_postfix(loss=f"{net.history[-1, 'train_loss']:.4f}", refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        self.bar_.close()


def _mse(A, B):
    return float(np.mean(np.square(np.asarray(A, dtype=np.float64) - B)))


def _psnr(A, B):
    """Peak signal-to-noise ratio in dB of ``A`` against ``B``, data in [0, 1]."""
    mse = _mse(A, B)
    return float(10 * np.log10(1.0 / mse)) if mse > 0 else float("inf")


# ----------------------------------------------------------------------
# Steps
# ----------------------------------------------------------------------
def _code_size(n_features):
    return int(min(16, max(2, n_features // 4)))


def step_reconstruction(ctx: DemoContext) -> list[str]:
    """Train an autoencoder; compare its test reconstruction error with PCA's."""
    from sklearn.decomposition import PCA

    from . import AutoEncoder
    from .plotting import LossCurveDisplay, ReconstructionDisplay

    k = _code_size(ctx.X_train.shape[1])
    ae = AutoEncoder(
        n_components=k,
        hidden_layer_sizes=(128,),
        validation_fraction=0.1,
        **ctx.estimator_params(f"autoencoder ({k}-D code)", 60),
    ).fit(ctx.X_train)
    ae_mse = _mse(ae.reconstruct(ctx.X_test), ctx.X_test)
    pca = PCA(n_components=k, random_state=ctx.seed).fit(ctx.train_sample()[0])
    pca_mse = _mse(pca.inverse_transform(pca.transform(ctx.X_test)), ctx.X_test)
    ctx.metrics["reconstruction"] = {
        "n_components": k,
        "autoencoder_test_mse": ae_mse,
        "pca_test_mse": pca_mse,
        "mse_ratio_autoencoder_to_pca": ae_mse / pca_mse if pca_mse > 0 else None,
        "epochs": ae.n_iter_,
    }
    ctx.save(LossCurveDisplay.from_estimator(ae), "loss_curve.png")
    if ctx.image_shape is not None:
        display = ReconstructionDisplay.from_estimator(
            ae, ctx.X_test, n_images=10, image_shape=ctx.image_shape
        )
        display.figure_.suptitle(f"Test images and their reconstructions ({k}-D code)")
        ctx.save(display, "reconstructions.png")
    return [f"test reconstruction MSE, {k}-D code: autoencoder {ae_mse:.4f} vs PCA {pca_mse:.4f}"]


def step_denoising(ctx: DemoContext) -> list[str]:
    """Train a denoising autoencoder; PSNR of noisy, denoised and PCA-projected test data."""
    from sklearn.decomposition import PCA

    from . import DenoisingAE, NoiseAugmenter, add_noise
    from .plotting import LossCurveDisplay, ReconstructionDisplay

    k = _code_size(ctx.X_train.shape[1])
    # Gaussian noise of factor 0.5 clipped to [0, 1], as in the classic labs.
    noise, level = "gaussian", 0.5
    dae = DenoisingAE(
        n_components=k,
        noise=NoiseAugmenter(noise, level=level, clip=(0, 1)),
        hidden_layer_sizes=(128,),
        validation_fraction=0.1,
        **ctx.estimator_params(f"denoising autoencoder ({k}-D code)", 60),
    ).fit(ctx.X_train)
    noisy = add_noise(ctx.X_test, noise, level, clip=(0, 1), random_state=ctx.seed)
    pca = PCA(n_components=k, random_state=ctx.seed).fit(ctx.train_sample()[0])
    psnr = {
        "noisy": _psnr(noisy, ctx.X_test),
        "denoised": _psnr(dae.denoise(noisy), ctx.X_test),
        "pca": _psnr(pca.inverse_transform(pca.transform(noisy)), ctx.X_test),
    }
    ctx.metrics["denoising"] = {
        "noise": noise,
        "noise_level": level,
        "clip": [0, 1],
        "n_components": k,
        "psnr_noisy": psnr["noisy"],
        "psnr_denoised": psnr["denoised"],
        "psnr_pca": psnr["pca"],
        "epochs": dae.n_iter_,
    }
    display = LossCurveDisplay.from_estimator(dae)
    display.ax_.set_title("Denoising autoencoder")
    ctx.save(display, "denoising_loss_curve.png")
    if ctx.image_shape is not None:
        display = ReconstructionDisplay.from_estimator(
            dae, ctx.X_test, X_noisy=noisy, n_images=10, image_shape=ctx.image_shape
        )
        display.figure_.suptitle(f"Gaussian noise {level} removed by a denoising autoencoder")
        ctx.save(display, "denoised.png")
    return [
        f"test PSNR at noise {level}: noisy {psnr['noisy']:.1f} dB, denoised "
        f"{psnr['denoised']:.1f} dB, PCA({k}) {psnr['pca']:.1f} dB"
    ]


def step_latent_2d(ctx: DemoContext) -> list[str]:
    """Train a 2-D VAE: latent scatter, latent grid, samples, kNN accuracy vs PCA(2)."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier

    from . import VAE
    from .plotting import LatentGridDisplay, LatentSpaceDisplay, LossCurveDisplay, SamplesDisplay

    # Binary cross-entropy, as in the classic VAE labs, and a wide first layer:
    # on the digits, 75 epochs of batch_size="auto"'s batches of 32 give a 2-D
    # code whose classes separate (kNN accuracy 0.87 against 0.62 for PCA(2)).
    vae = VAE(
        n_components=2,
        hidden_layer_sizes=(256, 64),
        loss="bce",
        **ctx.estimator_params("VAE (2-D code)", 75),
    ).fit(ctx.X_train)
    display = LossCurveDisplay.from_estimator(vae)
    display.ax_.set_title("VAE (negative ELBO)")
    ctx.save(display, "vae_loss_curve.png")
    display = LatentSpaceDisplay.from_estimator(vae, ctx.X_test, ctx.y_test)
    display.ax_.set_title("Test data in the VAE's 2-D code space")
    ctx.save(display, "latent_scatter.png")
    if ctx.image_shape is not None:
        grid = LatentGridDisplay.from_estimator(
            vae, ctx.train_sample()[0], n_per_side=15, image_shape=ctx.image_shape
        )
        grid.ax_.set_title("Decoded grid over the 2-D code space")
        ctx.save(grid, "latent_grid.png")
        samples = SamplesDisplay.from_estimator(
            vae, 36, random_state=ctx.seed, image_shape=ctx.image_shape, n_cols=9
        )
        samples.figure_.suptitle("Samples drawn from the VAE's prior")
        ctx.save(samples, "samples.png")
    result = {"model": "VAE", "n_components": 2, "epochs": vae.n_iter_}
    lines = []
    if ctx.y_train is None:
        lines.append("kNN accuracy on the 2-D code: skipped, the data have no labels")
    else:
        X_train, y_train = ctx.train_sample()
        pca = PCA(n_components=2, random_state=ctx.seed).fit(X_train)
        scores = {}
        for name, Z_train, Z_test in (
            ("vae", vae.transform(X_train), vae.transform(ctx.X_test)),
            ("pca", pca.transform(X_train), pca.transform(ctx.X_test)),
        ):
            knn = KNeighborsClassifier(n_neighbors=5).fit(Z_train, y_train)
            scores[name] = float(knn.score(Z_test, ctx.y_test))
        result["knn_accuracy_vae"] = scores["vae"]
        result["knn_accuracy_pca"] = scores["pca"]
        lines.append(
            f"kNN accuracy on a 2-D code: VAE {scores['vae']:.3f} vs PCA(2) {scores['pca']:.3f}"
        )
    ctx.metrics["latent_2d"] = result
    return lines


def step_anomaly(ctx: DemoContext) -> list[str]:
    """Fit an outlier detector on one class only; ROC-AUC of normal vs the other classes."""
    from sklearn.decomposition import PCA
    from sklearn.metrics import roc_auc_score

    from . import AutoEncoder, AutoEncoderOutlierDetector

    X_train, y_train = ctx.train_sample()
    classes, counts = np.unique(y_train, return_counts=True)
    normal = classes[np.argmax(counts)]  # the best-represented class
    is_normal = ctx.y_test == normal
    if len(classes) < 2 or is_normal.all() or not is_normal.any():
        return ["anomaly ROC-AUC: skipped, the test data need the normal class and another one"]
    X_normal = X_train[y_train == normal]
    k = min(8, _code_size(X_train.shape[1]), len(X_normal) - 1)
    # The data already lie in [0, 1]; unstandardised errors and small batches
    # (few normal samples) scored best on the digits: mean ROC-AUC over the ten
    # choices of normal digit 0.996, against 0.980 standardised with batches of 64.
    detector = AutoEncoderOutlierDetector(
        AutoEncoder(
            n_components=k,
            hidden_layer_sizes=(64,),
            batch_size=16,
            **ctx.estimator_params(f"outlier detector (class {normal} normal)", 60),
        ),
        standardize=False,
    ).fit(X_normal)
    auc = float(roc_auc_score(is_normal, detector.score_samples(ctx.X_test)))
    pca = PCA(n_components=k, random_state=ctx.seed).fit(X_normal)
    pca_error = np.mean(np.square(pca.inverse_transform(pca.transform(ctx.X_test)) - ctx.X_test), 1)
    pca_auc = float(roc_auc_score(is_normal, -pca_error))
    label = normal.item() if isinstance(normal, np.generic) else normal
    ctx.metrics["anomaly"] = {
        "normal_class": label,
        "n_train_normal": len(X_normal),
        "n_components": k,
        "roc_auc_autoencoder": auc,
        "roc_auc_pca": pca_auc,
        "epochs": detector.estimator_.n_iter_,
    }
    return [
        f"anomaly ROC-AUC, class {label} normal: autoencoder {auc:.3f} vs PCA({k}) {pca_auc:.3f}"
    ]


#: The demo's steps, run in order. Add a step with ``DEMO_STEPS.append(DemoStep(...))``.
DEMO_STEPS: list[DemoStep] = [
    DemoStep("reconstruction", step_reconstruction),
    DemoStep("denoising", step_denoising),
    DemoStep("latent_2d", step_latent_2d),
    DemoStep("anomaly", step_anomaly, needs_labels=True),
]


def run_demo(
    out,
    *,
    data=None,
    epochs=None,
    seed=0,
    progress=True,
    steps=None,
    memmap=None,
    labels=None,
    skip_unreadable=False,
):
    """Run the demo and write its figures and ``metrics.json`` into ``out``.

    Parameters
    ----------
    out : str or path-like
        Output folder, created when missing.
    data : str, path-like or None, default=None
        The user's data (see :func:`load_data`); the bundled digits when None.
    epochs : int or None, default=None
        Training epochs of every model; None lets each step choose (60 for
        the autoencoders, 150 for the VAE, whose 2-D code needs longer).
    seed : int, default=0
        Seeds the split and every model.
    progress : bool, default=True
        Show a progress bar per model.
    steps : list of DemoStep or None, default=None
        The steps to run; :data:`DEMO_STEPS` when None.
    memmap : str, path-like or None, default=None
        With ``data`` a folder of images: the ``.npy`` file the images are
        written to, once, and streamed from (see :func:`load_data`). The
        training rows are written shuffled to ``<memmap stem>_train.npy``
        beside it, and the models train on that file without reading it
        whole; the test split (at most :data:`STREAMED_TEST_ROWS` rows) and
        a training sample (:data:`STREAMED_SAMPLE_ROWS` rows) for the
        baselines are held in memory.
    labels : str, path-like or None, default=None
        With ``data`` a ``.npy`` or ``.csv`` file: its labels (see
        :func:`load_data`), for the steps that need them.
    skip_unreadable : bool, default=False
        With ``data`` a folder of images: leave out the files that cannot be
        read as images; the summary names them.

    Returns
    -------
    summary : list of str
        The summary lines, also stored in ``metrics.json``.
    """
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.model_selection import train_test_split

    X, y, image_shape, source, notes = _load_data(data, memmap, progress, labels, skip_unreadable)
    streamed = isinstance(X, np.memmap)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"Cannot create the output folder {str(out)!r}: {exc}") from None
    stratify = None
    if y is not None:
        _, counts = np.unique(y, return_counts=True)
        stratify = y if counts.min() >= 2 else None
    if streamed:
        X_train, X_test, y_train, y_test = _streamed_split(X, y, memmap, seed)
    elif y is None:
        X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed)
        y_train = y_test = None
    else:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=seed, stratify=stratify
        )
    ctx = DemoContext(
        out=out,
        X_train=X_train,
        X_test=X_test,
        y_train=y_train,
        y_test=y_test,
        image_shape=None if image_shape is None else tuple(int(s) for s in image_shape),
        epochs=epochs,
        seed=seed,
        progress=progress,
        streamed=streamed,
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    summary, skipped = list(notes), {}
    for step in DEMO_STEPS if steps is None else steps:
        if step.needs_images and ctx.image_shape is None:
            skipped[step.name] = "the data are not images"
        elif step.needs_labels and ctx.y_train is None:
            skipped[step.name] = "the data have no labels"
        else:
            summary.extend(step.run(ctx))
    summary.extend(f"{name}: skipped, {reason}" for name, reason in skipped.items())
    if ctx.image_shape is None:
        summary.append("image pictures: skipped, the data are not images")
    metrics = {
        "data": {
            "source": source,
            "n_train": len(X_train),
            "n_test": len(X_test),
            "n_features": int(X.shape[1]),
            "image_shape": None if ctx.image_shape is None else list(ctx.image_shape),
            "labelled": y is not None,
            "streamed": streamed,
        },
        "settings": {"epochs": epochs, "seed": seed},
        **ctx.metrics,
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - cpu_started, 2),
        "files": [*ctx.files, "metrics.json"],
    }
    with open(out / "metrics.json", "w", encoding="utf-8") as fh:
        json.dump(metrics, fh, indent=2)
    return summary


# ----------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _parser():
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="skae", description="Autoencoders as scikit-learn estimators."
    )
    parser.add_argument("--version", action="version", version=f"skae {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train autoencoders on the bundled digits (or your data) and save pictures",
        description=(
            "Train an autoencoder, a denoising autoencoder, a 2-D VAE and an outlier "
            "detector on the bundled digits (or on --data) and write loss curves, "
            "reconstructions, denoised images, the 2-D code space, a latent grid, "
            "generated samples and metrics.json into --out."
        ),
    )
    demo.add_argument("--out", default="skae_demo", help="output folder (default: ./skae_demo)")
    demo.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="training epochs of every model (default: each model's own, 60 for the "
        "autoencoders and 150 for the VAE)",
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument(
        "--data",
        default=None,
        metavar="PATH",
        help="your data: a .npy array, a numeric .csv (one sample per row, at most one "
        "header row), or a folder of images with one subfolder per class, the labels "
        "(default: the bundled digits); give the labels of a .npy or .csv with --labels",
    )
    demo.add_argument(
        "--memmap",
        default=None,
        metavar="FILE",
        help="with --data FOLDER: write the images once to FILE (.npy, 28x28 grey) and "
        "train on it streamed, for folders too large for memory; the training rows are "
        f"written shuffled to FILE_train.npy, and the test split (at most "
        f"{STREAMED_TEST_ROWS:,} images) and a sample of {STREAMED_SAMPLE_ROWS:,} training "
        "images for the baselines are held in memory",
    )
    demo.add_argument(
        "--labels",
        default=None,
        metavar="FILE",
        help="with --data FILE.npy or FILE.csv: the labels of its samples, in the same "
        "order, as a 1-D .npy array or a text file with one label per line (no header); "
        "the steps that need labels (the kNN accuracy, the outlier detector) are skipped "
        "without them. A folder's labels are its subfolder names",
    )
    demo.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="with --data FOLDER: leave out files that cannot be read as images (the "
        "summary names them) instead of stopping",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv=None):
    """Entry point of the ``skae`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "demo":
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        summary = run_demo(
            args.out,
            data=args.data,
            epochs=args.epochs,
            seed=args.seed,
            progress=not args.quiet,
            memmap=args.memmap,
            labels=args.labels,
            skip_unreadable=args.skip_unreadable,
        )
    except (DataError, OSError) as exc:
        # bad input, like a bad option: argparse's exit status
        message = " ".join(str(exc).split())
        print(f"skae demo: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skae demo: interrupted", file=sys.stderr)
        return 130
    out = Path(args.out).resolve()
    print(f"skae demo: results written to {out}")
    for line in summary:
        print(f"  {line}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
