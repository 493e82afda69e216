"""Write the format-1 skae files of ``tests/data/format1`` and their expected outputs.

The files were written once by skae 0.1.0, so that ``tests/test_persistence.py``
checks that files written then keep loading, with identical outputs. Run it
again only to add a case (it rewrites every file), from the repository root:
``PYTHONPATH=. python tests/data/write_format1_files.py``.
"""

from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skae

HERE = Path(__file__).resolve().parent / "format1"
FAST = {"max_epochs": 2, "random_state": 0}


def data():
    """The training rows, labels, and the fixed rows every output is computed on."""
    digits = load_digits()
    X = digits.data / 16.0
    return X[:60], digits.target[:60], X[60:72]


def models():
    return {
        "autoencoder": skae.AutoEncoder(n_components=3, hidden_layer_sizes=(16,), **FAST),
        "vae_conv": skae.VAE(
            n_components=2,
            backbone="conv",
            image_shape=(8, 8),
            channels=(4, 4),
            hidden_layer_sizes=(16,),
            **FAST,
        ),
        "cvae": skae.CVAE(n_components=2, hidden_layer_sizes=(16,), **FAST),
        "denoising_augmenter": skae.DenoisingAE(
            n_components=3,
            hidden_layer_sizes=(16,),
            noise=skae.NoiseAugmenter("gaussian", level=0.3, clip=(0, 1)),
            **FAST,
        ),
        "seq": skae.SeqAE(n_components=2, sequence_shape=(8, 8), hidden_size=4, **FAST),
        "outlier_detector": skae.AutoEncoderOutlierDetector(
            skae.AutoEncoder(n_components=2, hidden_layer_sizes=(16,), **FAST),
            contamination=0.1,
        ),
        "pipeline": Pipeline(
            [
                ("scale", StandardScaler()),
                ("ae", skae.AutoEncoder(n_components=3, hidden_layer_sizes=(16,), **FAST)),
            ]
        ),
    }


def outputs(name, model, X):
    """The outputs of ``model`` on ``X`` that the test compares, keyed ``name/method``."""
    if name == "outlier_detector":
        methods = ("score_samples", "decision_function", "predict")
    elif name == "pipeline":
        methods = ("transform", "inverse_transform")
    else:
        methods = ("transform", "score_samples")
    out = {}
    for method in methods:
        if method == "inverse_transform":
            out[f"{name}/{method}"] = model.inverse_transform(model.transform(X))
        else:
            out[f"{name}/{method}"] = getattr(model, method)(X)
    return out


def main():
    torch.set_num_threads(1)
    X, y, X_check = data()
    HERE.mkdir(exist_ok=True)
    expected = {}
    for name, model in models().items():
        model.fit(X, y) if name == "cvae" else model.fit(X)
        skae.save(model, HERE / f"{name}.skae")
        expected.update(outputs(name, model, X_check))
    np.savez(HERE / "expected.npz", **expected)


if __name__ == "__main__":
    main()
