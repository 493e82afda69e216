"""ModuleAE: a user's own torch modules behind the skae estimator interface."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from torch import nn

from skae import AutoEncoder, ModuleAE
from skae.modules import DenseAutoEncoderModule, init_output_bias

# a few epochs on a few rows: the plumbing is checked, not what the models learnt
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class TinyAE(nn.Module):
    """A user module: encode/decode, and a forward returning (reconstruction, code)."""

    def __init__(self, n_features, n_components=3):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(n_features, 16), nn.Tanh(), nn.Linear(16, n_components))
        self.dec = nn.Sequential(nn.Linear(n_components, 16), nn.Tanh(), nn.Linear(16, n_features))

    def encode(self, x):
        return self.enc(x)

    def decode(self, z):
        return self.dec(z)

    def forward(self, x):
        z = self.encode(x)
        return self.decode(z), z


def test_matches_the_builtin_model_with_the_same_module(digits):
    X = digits[0][:300]
    params = {"max_epochs": 3, "random_state": 0}
    builtin = AutoEncoder(5, hidden_layer_sizes=(16,), **params).fit(X)
    assert builtin.loss_ == "bce"

    def module(*args, **kwargs):
        # the builtin starts its sigmoid output at the data mean
        net = DenseAutoEncoderModule(
            *args, hidden_layer_sizes=(16,), output_activation="sigmoid", **kwargs
        )
        init_output_bias(net.decoder, torch.from_numpy(X.mean(axis=0)), "sigmoid")
        return net

    custom = ModuleAE(module, n_components=5, loss="bce", **params).fit(X)
    np.testing.assert_allclose(custom.transform(X), builtin.transform(X), rtol=1e-5, atol=1e-6)
    assert custom.loss_curve_ == pytest.approx(builtin.loss_curve_)


def test_encoder_decoder_instances_are_copied_not_trained_in_place(digits):
    X = digits[0][:200]
    encoder = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))
    decoder = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 64), nn.Sigmoid())
    before = [p.detach().clone() for p in encoder.parameters()]
    ae = ModuleAE(encoder=encoder, decoder=decoder, max_epochs=5, random_state=0).fit(X)
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters(), strict=True))
    assert ae.n_components_ == 4
    assert ae.transform(X).shape == (200, 4)
    assert ae.inverse_transform(ae.transform(X)).shape == X.shape
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]
    twin = clone(ae).fit(X)
    np.testing.assert_array_equal(twin.transform(X), ae.transform(X))


def test_module_with_tuple_forward_and_class_with_n_components(digits):
    X = digits[0][:300]
    ae = ModuleAE(TinyAE, max_epochs=20, lr=1e-2, random_state=0).fit(X)
    assert ae.n_components_ == 3  # the class default
    # measured: MSE 0.039 after 20 epochs, variance of the data 0.145
    assert -ae.score(X) < 0.6 * X.var()
    search = GridSearchCV(
        ModuleAE(TinyAE, max_epochs=3, random_state=0), {"n_components": [2, 6]}, cv=2
    ).fit(X)
    assert search.best_estimator_.n_components_ in (2, 6)
    assert "Total params" in str(ae.summary(print_fn=None))


class NoMethods(nn.Module):
    def forward(self, x):
        return x


class FlatCode(nn.Module):
    def forward(self, x):
        return x.reshape(len(x), 2, -1)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"encoder": nn.Identity()}, "decoder=None"),
        ({"decoder": nn.Identity()}, "encoder=None"),
        ({"module": TinyAE, "encoder": nn.Identity()}, "not both"),
        ({"module": NoMethods()}, "has no encode and decode methods"),
        (
            {"module": lambda n_features: TinyAE(n_features, 3), "n_components": 5},
            "n_components=5 but the encoder produces codes of width 3",
        ),
        ({"encoder": FlatCode(), "decoder": nn.Identity()}, "must return a 2-D"),
        ({"encoder": nn.Linear(64, 3), "decoder": nn.Linear(3, 8)}, r"\(n_samples, 64\)"),
        ({"module": lambda n_features: "not a module"}, "not a torch.nn.Module"),
    ],
)
def test_errors(params, match, digits):
    with pytest.raises((ValueError, TypeError), match=match):
        ModuleAE(max_epochs=1, **params).fit(digits[0][:20])


def test_default_network(digits):
    # ModuleAE() with no network trains AutoEncoder's default one
    X = digits[0][:40]
    ae = ModuleAE(max_epochs=2, random_state=0).fit(X)
    assert ae.n_components_ == 8
    assert ae.transform(X).shape == (40, 8)
    assert ModuleAE(n_components=3, max_epochs=1, random_state=0).fit(X).n_components_ == 3
    hidden = [m for m in ae.net_.module_.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in hidden] == [512, 8, 512, 64]
