"""Training and inference on a CUDA device; every test skips without a GPU."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from skae import VAE, AutoEncoder, _engine

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

FAST = {"max_epochs": 2, "batch_size": 64, "random_state": 0}


@pytest.fixture
def X(digits):
    return digits[0].astype(np.float32)


@pytest.mark.parametrize("Estimator", [AutoEncoder, VAE])
def test_fit_and_transform_on_cuda(X, Estimator):
    est = Estimator(device="cuda", **FAST).fit(X)
    assert next(est.net_.module_.parameters()).device.type == "cuda"
    Z = est.transform(X)
    assert isinstance(Z, np.ndarray) and np.isfinite(Z).all()
    again = Estimator(device="cuda", **FAST).fit(X)
    assert_allclose(again.transform(X), Z, atol=1e-5)


def test_training_data_resident_on_the_device(X):
    source = _engine.make_source(X, device=torch.device("cuda"))
    assert isinstance(source, _engine.TensorPair) and source.X.device.type == "cuda"
    xb, _ = next(iter(source.batches(64, shuffle=True)))
    assert xb.device.type == "cuda"


def test_memmap_streams_to_the_device(X, tmp_path):
    np.save(tmp_path / "X.npy", X)
    mm = np.load(tmp_path / "X.npy", mmap_mode="r")
    source = _engine.make_source(mm, device=torch.device("cuda"))
    assert isinstance(source, _engine.MemmapSource)
    batches = list(source.batches(64, shuffle=True))
    assert all(xb.device.type == "cuda" for xb, _ in batches)
    assert sum(len(xb) for xb, _ in batches) == len(X)
    est = AutoEncoder(device="cuda", **FAST).fit(mm)
    assert np.isfinite(est.transform(mm)).all()


@pytest.mark.parametrize("precision", ["32", "bf16", "16-mixed"])
def test_precision_modes(X, precision):
    est = AutoEncoder(device="cuda", precision=precision, **FAST).fit(X)
    assert np.isfinite(est.loss_curve_).all()
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    assert isinstance(est.net_.precision_, _engine.ScaledAutocast) == (precision == "16-mixed")
    assert np.isfinite(est.transform(X)).all()


def test_model_trained_on_cuda_predicts_on_cpu(X):
    est = AutoEncoder(device="cuda", **FAST).fit(X)
    Z_cuda = est.transform(X)
    est.net_.module_.to("cpu")
    est.net_.device = "cpu"
    assert_allclose(est.transform(X), Z_cuda, atol=1e-4)
