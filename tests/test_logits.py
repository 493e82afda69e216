"""Logits inside, probabilities outside: a sigmoid output trained with binary cross-entropy.

Training computes the loss on the logits the output sigmoid receives
(``binary_cross_entropy_with_logits``); every inference method still gives
and uses the probabilities, as the probability form of the loss defines them.
"""

import threading

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn
from torch.nn import functional as F

import skae
from skae import (
    CVAE,
    VAE,
    AutoEncoder,
    ConvAE,
    ConvDenoisingAE,
    DenoisingAE,
    ModuleAE,
    SeqAE,
    SparseAE,
)
from skae.modules import ReconstructionLoss, VAELoss
from skae.modules.losses import gaussian_kl
from skae.modules.output import Sigmoid, emits_logits, output_logits

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = {"max_epochs": 2, "batch_size": 64, "random_state": 0}

# Every family whose network can end in a sigmoid, as loss="auto" builds it for [0, 1] data.
FAMILIES = {
    "AutoEncoder": AutoEncoder(4, hidden_layer_sizes=(16,), **FAST),
    "DenoisingAE": DenoisingAE(4, hidden_layer_sizes=(16,), **FAST),
    "SparseAE": SparseAE(
        4, hidden_layer_sizes=(16,), code_activation="sigmoid", sparsity_weight=0.1, **FAST
    ),
    "ConvAE": ConvAE(4, image_shape=(8, 8), channels=(4, 4), **FAST),
    "ConvDenoisingAE": ConvDenoisingAE(4, image_shape=(8, 8), channels=(4, 4), **FAST),
    "SeqAE": SeqAE(3, sequence_shape=(8, 8), hidden_size=8, **FAST),
    "VAE": VAE(2, hidden_layer_sizes=(16,), **FAST),
    "VAE conv": VAE(2, backbone="conv", image_shape=(8, 8), channels=(4, 4), **FAST),
    "CVAE": CVAE(2, hidden_layer_sizes=(16,), **FAST),
}


def _fit(est, X, y):
    return est.fit(X, y) if isinstance(est, CVAE) else est.fit(X)


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return {name: _fit(clone(est), X[:400], y[:400]) for name, est in FAMILIES.items()}


def _network_input(est, X, y):
    """The rows the network trains on (a CVAE's carry the one-hot label)."""
    inputs = est._network_input(X, y) if isinstance(est, CVAE) else X
    return torch.as_tensor(inputs, dtype=torch.float32)


def _logits_and_probabilities(module, x):
    """What the output sigmoid receives and gives, caught at the layer in one forward pass."""
    (output,) = [m for m in module.modules() if isinstance(m, Sigmoid)]
    caught = {}

    def hook(layer, inputs, out):
        caught["logits"], caught["probabilities"] = inputs[0], out

    handle = output.register_forward_hook(hook)
    try:
        with torch.no_grad():
            module(x)
    finally:
        handle.remove()
    return caught["logits"].reshape(len(x), -1), caught["probabilities"].reshape(len(x), -1)


@pytest.mark.parametrize("name", FAMILIES)
def test_training_loss_is_binary_cross_entropy_of_the_logits(fitted, digits, name):
    est = fitted[name]
    X, y = digits
    net = est.net_
    assert est.loss_ == "bce" and est.output_activation_ == "sigmoid"
    assert net.criterion_.logits and emits_logits(net.module_)
    # the output is the only skae Sigmoid: a sigmoid code stays a plain one
    assert sum(isinstance(m, Sigmoid) for m in net.module_.modules()) == 1
    x = _network_input(est, X[:50], y[:50])
    target = torch.as_tensor(X[:50], dtype=torch.float32)
    logits, probabilities = _logits_and_probabilities(net.module_, x)
    with torch.no_grad():
        loss = net.get_loss(net.infer(x), target)  # the training step's forward and loss
    if isinstance(net.criterion_, VAELoss):
        expected = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(x)
        assert torch.allclose(net.criterion_.terms["reconstruction"], expected, rtol=1e-5)
    else:
        expected = F.binary_cross_entropy_with_logits(logits, target)
        if name == "SparseAE":  # its code penalty comes on top
            expected = expected + (loss - net.criterion_.reconstruction(net.infer(x), target))
        assert torch.allclose(loss, expected, rtol=1e-5)
    # the same value, up to rounding, as the probability form it replaces
    clamped = F.binary_cross_entropy(probabilities, target)
    assert torch.allclose(
        F.binary_cross_entropy_with_logits(logits, target), clamped, rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize("name", FAMILIES)
def test_inference_gives_probabilities(fitted, digits, name):
    est = fitted[name]
    X, y = digits
    x = _network_input(est, X[:50], y[:50])
    logits, probabilities = _logits_and_probabilities(est.net_.module_, x)
    assert torch.equal(probabilities, torch.sigmoid(logits))
    rec = est.reconstruct(X[:50], y[:50]) if isinstance(est, CVAE) else est.reconstruct(X[:50])
    assert rec.min() >= 0 and rec.max() <= 1
    # a CVAE's reconstruct decodes under the likeliest class, as the test's label here
    np.testing.assert_allclose(rec, probabilities.double().numpy(), rtol=1e-5, atol=1e-6)
    samples = est.sample(5, random_state=0, **({"y": y[0]} if isinstance(est, CVAE) else {}))
    assert samples.min() >= 0 and samples.max() <= 1


@pytest.mark.parametrize("name", ["AutoEncoder", "ConvAE", "SeqAE"])
def test_feature_errors_and_scores_use_the_probabilities(fitted, digits, name):
    est = fitted[name]
    X = digits[0][:50]
    _, probabilities = _logits_and_probabilities(est.net_.module_, torch.as_tensor(X).float())
    squared = (probabilities.double().numpy() - X) ** 2
    np.testing.assert_allclose(est.feature_errors(X), squared, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(est.score_samples(X), -squared.mean(axis=1), rtol=1e-5)


@pytest.mark.parametrize("name", ["VAE", "VAE conv", "CVAE"])
def test_elbo_is_the_probability_form_of_the_bernoulli_likelihood(fitted, digits, name):
    est = fitted[name]
    X, y = digits
    module = est.net_.module_
    x = torch.as_tensor(X[:50], dtype=torch.float32)
    with torch.no_grad():
        mu, logvar = module.posterior(x)
        z = torch.cat([mu, _network_input(est, X[:50], y[:50])[:, 64:]], dim=1)
        probabilities = module.decode(z).double()
    reference = -(
        F.binary_cross_entropy(probabilities, x.double(), reduction="none").sum(dim=1)
        + gaussian_kl(mu.double(), logvar.double())
    )
    scores = est.score_samples(X[:50], y[:50]) if name == "CVAE" else est.score_samples(X[:50])
    np.testing.assert_allclose(scores, reference.numpy(), rtol=1e-5)


def test_extreme_logits_give_finite_exact_losses():
    logits = torch.tensor([[-1e4, -60.0, 0.0, 60.0, 1e4]], requires_grad=True)
    target = torch.tensor([[1.0, 1.0, 0.5, 0.0, 0.0]])
    criterion = ReconstructionLoss("bce")
    criterion.logits = True
    loss = criterion.error(logits, target)
    # -log(sigmoid(-z)) = z for large z: no clamp at 100, nothing rounds to 0 or 1
    expected = torch.tensor([[1e4, 60.0, float(np.log(2.0)), 60.0, 1e4]])
    assert torch.isfinite(loss).all()
    assert torch.allclose(loss, expected, rtol=1e-6)
    criterion(logits, target).backward()
    grad = logits.grad * logits.numel()  # d mean / d z = sigmoid(z) - target, per element
    assert torch.allclose(grad, torch.tensor([[-1.0, -1.0, 0.0, 1.0, 1.0]]), atol=1e-6)


def test_a_saturated_fit_trains_on_finite_losses(digits):
    # a huge learning rate drives the output logits far into saturation
    X = digits[0][:200]
    ae = AutoEncoder(4, hidden_layer_sizes=(16,), lr=1.0, max_epochs=3, random_state=0).fit(X)
    assert np.isfinite(ae.loss_curve_).all()
    rec = ae.reconstruct(X)
    assert np.isfinite(rec).all() and rec.min() >= 0 and rec.max() <= 1


@pytest.mark.parametrize("name", ["AutoEncoder", "VAE conv", "CVAE"])
def test_same_seed_same_fit(digits, name):
    X, y = digits
    first, second = (_fit(clone(FAMILIES[name]), X[:200], y[:200]) for _ in range(2))
    assert first.loss_curve_ == second.loss_curve_
    for a, b in zip(
        first.net_.module_.state_dict().values(),
        second.net_.module_.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_other_losses_and_user_modules_train_on_probabilities(digits):
    X = digits[0][:200]
    mse = AutoEncoder(4, hidden_layer_sizes=(16,), loss="mse", **FAST).fit(X)
    assert mse.output_activation_ == "sigmoid" and not mse.net_.criterion_.logits
    x = torch.as_tensor(X[:20], dtype=torch.float32)
    with torch.no_grad():
        out = mse.net_.infer(x)
    assert out.min() >= 0 and out.max() <= 1  # the sigmoid applied in training too

    class Own(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = nn.Linear(64, 4), nn.Sequential(nn.Linear(4, 64), nn.Sigmoid())

        def encode(self, x):
            return self.enc(x)

        def decode(self, z):
            return self.dec(z)

    own = ModuleAE(module=Own(), loss="bce", **FAST).fit(X)
    assert not own.net_.criterion_.logits  # a plain nn.Sigmoid gives no logits
    assert np.isfinite(own.loss_curve_).all()


def test_the_logits_block_holds_in_its_own_thread_only(fitted, digits):
    module = fitted["AutoEncoder"].net_.module_
    x = torch.as_tensor(digits[0][:10], dtype=torch.float32)
    seen = {}
    with torch.no_grad(), output_logits():
        inside = module(x)
        thread = threading.Thread(target=lambda: seen.setdefault("out", module(x)))
        thread.start()
        thread.join()
    outside = module(x)
    assert inside.min() < 0 or inside.max() > 1  # logits
    assert torch.equal(seen["out"], outside) and torch.equal(torch.sigmoid(inside), outside)


def test_a_loaded_model_trains_on_logits_again(fitted, digits, tmp_path):
    est = fitted["VAE conv"]
    est.save(tmp_path / "vae.skae")
    loaded = skae.load(tmp_path / "vae.skae")
    assert loaded.net_.criterion_.logits
    X = digits[0][:100]
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))
    loaded.partial_fit(X)
    assert np.isfinite(loaded.loss_curve_).all()
