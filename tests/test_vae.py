"""VAE: the KL term acts, scores are ELBOs, sampling draws from the prior."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skae import VAE
from skae.modules import VAELoss, dense_vae_module
from skae.modules.losses import gaussian_kl

FAST = {"loss": "bce", "batch_size": 128, "lr": 3e-3, "random_state": 0}


@pytest.fixture(scope="module")
def fitted(digits_split):
    """2-D VAEs with beta 0.1, 1 and 4 on the training digits (20 epochs each)."""
    X_train = digits_split[0]
    return {
        beta: VAE(n_components=2, beta=beta, max_epochs=20, **FAST).fit(X_train)
        for beta in (0.1, 1.0, 4.0)
    }


def test_kl_term_is_nonzero_during_training(fitted):
    vae = fitted[1.0]
    # Measured over seeds 0-2: per-epoch KL between 0.1 and 1.7 nats, last 1.44-1.66.
    assert len(vae.kl_curve_) == vae.n_iter_ == 20
    assert min(vae.kl_curve_) > 0.02
    assert vae.kl_curve_[-1] > 0.5
    history = vae.net_.history
    for row in history:
        assert row["train_loss"] == pytest.approx(
            row["train_reconstruction"] + row["train_kl"], rel=1e-5
        )


def test_codes_of_training_data_are_close_to_the_prior(fitted, digits_split):
    vae = fitted[1.0]
    X_train = digits_split[0]
    Z = vae.transform(X_train)
    with torch.no_grad():
        _, logvar = vae.net_.module_.posterior(torch.as_tensor(X_train, dtype=torch.float32))
    # Measured (seeds 0-2): |mean| <= 0.14, var of posterior means 0.88-0.98,
    # aggregate posterior variance (var(mu) + mean sigma^2) 1.09-1.17.
    assert np.all(np.abs(Z.mean(axis=0)) < 0.3)
    assert np.all((Z.var(axis=0) > 0.6) & (Z.var(axis=0) < 1.3))
    aggregate = Z.var(axis=0) + logvar.exp().mean(dim=0).numpy()
    assert np.all((aggregate > 0.8) & (aggregate < 1.4))


def test_beta_changes_the_codes(fitted, digits_split):
    X_train = digits_split[0]
    low, one, high = (fitted[b] for b in (0.1, 1.0, 4.0))
    # Measured: last-epoch KL 4.7-4.9 (beta=0.1), 1.4-1.7 (beta=1), <0.01 (beta=4);
    # code variance 1.6-1.8 / 0.88-0.98 / 0.001.
    assert low.kl_curve_[-1] > 3.0 > one.kl_curve_[-1] > 0.5 > high.kl_curve_[-1]
    assert high.transform(X_train).var(axis=0).max() < 0.05
    assert low.transform(X_train).var(axis=0).max() > 1.2
    assert not np.allclose(low.transform(X_train), one.transform(X_train))


def test_score_samples_is_the_deterministic_elbo(fitted, digits_split):
    vae = fitted[1.0]
    X_test = digits_split[1][:50]
    scores = vae.score_samples(X_test)
    np.testing.assert_array_equal(scores, vae.score_samples(X_test))
    module = vae.net_.module_
    with torch.no_grad():
        x = torch.as_tensor(X_test, dtype=torch.float32)
        mu, logvar = module.posterior(x)
        p = module.decode(mu)
        nll = torch.nn.functional.binary_cross_entropy(p, x, reduction="none").sum(1)
        expected = -(nll + gaussian_kl(mu, logvar)).numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-4)
    assert vae.score(X_test) == pytest.approx(scores.mean())


def test_mse_elbo_includes_the_gaussian_constant(digits_split):
    X = digits_split[1][:60]
    vae = VAE(n_components=2, max_epochs=2, random_state=0).fit(X)
    module = vae.net_.module_
    with torch.no_grad():
        x = torch.as_tensor(X, dtype=torch.float32)
        mu, logvar = module.posterior(x)
        sse = (module.decode(mu) - x).square().sum(1)
        expected = -(sse + 0.5 * X.shape[1] * np.log(np.pi) + gaussian_kl(mu, logvar)).numpy()
    np.testing.assert_allclose(vae.score_samples(X), expected, rtol=1e-4)


def test_held_out_elbo_prefers_real_digits_to_noise(fitted, digits_split):
    vae = fitted[1.0]
    noise = np.random.RandomState(0).uniform(size=(100, 64))
    # Measured: about -25 nats for test digits, far lower for uniform noise.
    assert vae.score(digits_split[1]) > vae.score(noise) + 20


def test_grid_search_over_beta_ranks_by_held_out_elbo(digits_split):
    X_train = digits_split[0][:600]
    search = GridSearchCV(
        VAE(n_components=2, max_epochs=10, **FAST), {"beta": [0.1, 1.0, 4.0]}, cv=2
    ).fit(X_train)
    # The ELBO (beta=1 at scoring) is what beta=1 maximises. Measured on the
    # full split: -24.9 (beta=1) against -27.3 (beta=4) and -28.5 (beta=0.1).
    assert search.best_params_ == {"beta": 1.0}
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_sample_draws_from_the_prior(fitted):
    vae = fitted[1.0]
    samples = vae.sample(8, random_state=0)
    assert samples.shape == (8, 64)
    assert samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(samples, vae.sample(8, random_state=0))
    assert not np.allclose(samples, vae.sample(8, random_state=1))
    prior = np.random.RandomState(0).standard_normal((8, 2))
    np.testing.assert_allclose(samples, vae.inverse_transform(prior), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_sample_rejects_bad_n_samples(fitted, bad):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        fitted[1.0].sample(bad)


def test_kl_warmup_ramps_the_weight_from_zero(digits_split):
    X = digits_split[1][:100]
    vae = VAE(n_components=2, kl_warmup_epochs=4, max_epochs=6, **FAST).fit(X)
    history = vae.net_.history
    for epoch, row in enumerate(history, start=1):
        weight = min(1.0, (epoch - 1) / 4)
        assert row["train_loss"] == pytest.approx(
            row["train_reconstruction"] + weight * row["train_kl"], rel=1e-5
        )
    assert vae.net_.criterion_.kl_weight == 1.0


def test_same_seed_same_codes(digits_split):
    X = digits_split[1][:100]
    a = VAE(n_components=3, max_epochs=3, **FAST).fit(X).transform(X)
    b = VAE(n_components=3, max_epochs=3, **FAST).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "params, match",
    [({"beta": -1.0}, "beta"), ({"kl_warmup_epochs": -2}, "kl_warmup_epochs")],
)
def test_invalid_parameters_are_named(params, match, digits_split):
    with pytest.raises(InvalidParameterError, match=match):
        VAE(**params).fit(digits_split[1][:20])


def test_bce_needs_unit_range_data():
    X = np.random.RandomState(0).normal(size=(20, 4))
    with pytest.raises(ValueError, match="loss='bce' needs targets in"):
        VAE(loss="bce", max_epochs=1).fit(X)


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(1, 5),
    n_features=st.integers(1, 6),
    k=st.integers(1, 3),
    hidden=st.lists(st.integers(1, 5), max_size=2),
)
def test_module_shapes_and_train_eval_behaviour(n, n_features, k, hidden):
    module = dense_vae_module(n_features, k, hidden_layer_sizes=hidden)
    x = torch.rand(n, n_features)
    module.train()
    torch.manual_seed(0)
    recon, mu, logvar = module(x)
    assert recon.shape == (n, n_features) and mu.shape == logvar.shape == (n, k)
    module.eval()
    recon_eval, mu_eval, _ = module(x)
    torch.testing.assert_close(module.encode(x), mu_eval)
    torch.testing.assert_close(recon_eval, module.decode(mu_eval))


def test_loss_sums_features_and_weights_kl():
    torch.manual_seed(0)
    recon, target = torch.rand(4, 6), torch.rand(4, 6)
    mu, logvar = torch.randn(4, 2), torch.randn(4, 2)
    loss = VAELoss("mse", beta=2.0)
    value = loss((recon, mu, logvar), target)
    rec = (recon - target).square().sum(1).mean()
    kl = gaussian_kl(mu, logvar).mean()
    torch.testing.assert_close(value, rec + 2.0 * kl)
    assert loss.terms == pytest.approx({"kl": float(kl), "reconstruction": float(rec)})
    assert float(gaussian_kl(torch.zeros(3, 2), torch.zeros(3, 2)).abs().max()) == 0.0


def test_validation_records_the_kl_of_held_out_data(digits_split):
    X = digits_split[1][:100]
    vae = VAE(n_components=2, max_epochs=3, validation_fraction=0.2, **FAST).fit(X)
    rows = vae.net_.history
    assert all(row["valid_kl"] > 0 for row in rows)
    assert len(vae.validation_loss_curve_) == 3


def test_warm_start_continues_the_warmup(digits_split):
    X = digits_split[1][:100]
    vae = VAE(n_components=2, kl_warmup_epochs=4, max_epochs=2, warm_start=True, **FAST)
    vae.fit(X).fit(X)
    assert vae.n_iter_ == 4
    last = vae.net_.history[-1]
    # Epoch 4 of a 4-epoch warm-up: weight (4 - 1) / 4.
    assert last["train_loss"] == pytest.approx(
        last["train_reconstruction"] + 0.75 * last["train_kl"], rel=1e-5
    )
