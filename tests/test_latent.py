"""Generation and latent tools for every autoencoder."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from skae import (
    CVAE,
    VAE,
    AutoEncoder,
    add_attribute_vector,
    attribute_vector,
    interpolate,
    latent_grid,
    sample_latent,
)

FAST = {"batch_size": 128, "lr": 3e-3, "random_state": 0}


@pytest.fixture(scope="module")
def ae(digits_split):
    return AutoEncoder(n_components=8, max_epochs=20, **FAST).fit(digits_split[0])


@pytest.fixture(scope="module")
def classifier(digits_split):
    X_train, _, y_train, _ = digits_split
    return LogisticRegression(max_iter=2000).fit(X_train, y_train)


def test_fit_stores_the_training_code_distribution(ae, digits_split):
    Z = ae.transform(digits_split[0])
    np.testing.assert_allclose(ae.code_mean_, Z.mean(axis=0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ae.code_std_, Z.std(axis=0), rtol=1e-6, atol=1e-8)


def test_plain_autoencoder_samples_from_a_diagonal_gaussian(ae):
    samples = ae.sample(6, random_state=0)
    codes = ae.code_mean_ + ae.code_std_ * np.random.RandomState(0).standard_normal((6, 8))
    np.testing.assert_allclose(samples, ae.inverse_transform(codes), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(samples, ae.sample(6, random_state=0))


@pytest.mark.slow
def test_mixture_samples_look_more_like_digits(ae, digits_split, classifier):
    X_train = digits_split[0]
    diagonal = ae.sample(200, random_state=0)
    mixture = sample_latent(ae, X_train, 200, random_state=0)
    assert mixture.shape == (200, 64)
    np.testing.assert_array_equal(mixture, sample_latent(ae, X_train, 200, random_state=0))
    # Mean top-class probability of the digit classifier (seeds 0-2): diagonal
    # Gaussian 0.62-0.66, 10-component mixture 0.84-0.87, uniform noise 0.54.
    conf_diagonal = classifier.predict_proba(diagonal).max(axis=1).mean()
    conf_mixture = classifier.predict_proba(mixture).max(axis=1).mean()
    assert conf_mixture > conf_diagonal + 0.08


@pytest.mark.parametrize(
    "density",
    ["gaussian", GaussianMixture(n_components=2, covariance_type="diag"), KernelDensity()],
)
def test_sample_latent_densities_are_reproducible(ae, digits_split, density):
    X = digits_split[1]
    a = sample_latent(ae, X, 5, density=density, random_state=3)
    assert a.shape == (5, 64)
    np.testing.assert_array_equal(a, sample_latent(ae, X, 5, density=density, random_state=3))


def test_sample_latent_rejects_unknown_density(ae, digits_split):
    with pytest.raises(ValueError, match="density must be"):
        sample_latent(ae, digits_split[1], 2, density="uniform")


def test_attribute_vector_turns_ones_into_sevens(ae, digits_split, classifier):
    X_train, X_test, y_train, y_test = digits_split
    vector = attribute_vector(ae, X_train[y_train == 7], X_train[y_train == 1])
    codes = ae.transform(X_train)
    np.testing.assert_allclose(
        vector, codes[y_train == 7].mean(0) - codes[y_train == 1].mean(0), rtol=1e-6
    )
    ones = X_test[y_test == 1]
    unchanged = add_attribute_vector(ae, ones, vector, amount=0.0)
    np.testing.assert_allclose(unchanged, ae.reconstruct(ones), rtol=1e-5, atol=1e-6)
    # Measured (seeds 0-2): 0% of reconstructed ones read as 7, 85-89% after
    # adding the vector.
    assert np.mean(classifier.predict(unchanged) == 7) < 0.1
    assert np.mean(classifier.predict(add_attribute_vector(ae, ones, vector)) == 7) > 0.6


def test_add_attribute_vector_checks_the_size(ae, digits_split):
    with pytest.raises(ValueError, match="vector has 3 entries but the codes have 8"):
        add_attribute_vector(ae, digits_split[1][:2], np.zeros(3))


def test_interpolation_runs_between_the_two_reconstructions(ae, digits_split):
    X = digits_split[1]
    path = interpolate(ae, X[0], X[1], n_steps=7)
    assert path.shape == (7, 64)
    ends = ae.reconstruct(X[:2])
    np.testing.assert_allclose(path[[0, -1]], ends, rtol=1e-5, atol=1e-6)
    z = ae.transform(X[:2])
    np.testing.assert_allclose(
        path[3], ae.inverse_transform(z.mean(axis=0, keepdims=True))[0], rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="n_steps must be at least 2"):
        interpolate(ae, X[0], X[1], n_steps=1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_vae_latent_grid_follows_prior_quantiles(digits_split):
    vae = VAE(n_components=3, max_epochs=2, **FAST).fit(digits_split[1])
    grid = latent_grid(vae, n_steps=4, dims=(0, 2))
    assert grid.codes.shape == (4, 4, 3) and grid.decoded.shape == (4, 4, 64)
    steps = norm.ppf(np.linspace(0.05, 0.95, 4))
    np.testing.assert_allclose(grid.codes[0, :, 0], steps)  # left to right
    np.testing.assert_allclose(grid.codes[:, 0, 2], steps[::-1])  # top to bottom
    np.testing.assert_array_equal(grid.codes[:, :, 1], 0.0)
    np.testing.assert_allclose(
        grid.decoded.reshape(16, 64),
        vae.inverse_transform(grid.codes.reshape(16, 3)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_autoencoder_latent_grid_follows_the_code_distribution(ae):
    grid = latent_grid(ae, n_steps=3, quantiles=(0.1, 0.9))
    np.testing.assert_allclose(grid.codes[1, 1], ae.code_mean_)
    expected = ae.code_mean_[0] + ae.code_std_[0] * norm.ppf([0.1, 0.5, 0.9])
    np.testing.assert_allclose(grid.codes[1, :, 0], expected)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dims": (0, 0)}, "dims must be two different"),
        ({"dims": (0, 8)}, "dims must be two different"),
        ({"quantiles": (0.0, 0.9)}, "quantiles must satisfy"),
        ({"n_steps": 0}, "n_steps must be a positive integer"),
    ],
)
def test_latent_grid_validation(ae, kwargs, match):
    with pytest.raises(ValueError, match=match):
        latent_grid(ae, **kwargs)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_conditional_models_decode_under_a_label(digits_split):
    X, y = digits_split[1][:150], digits_split[3][:150]
    cvae = CVAE(n_components=2, max_epochs=2, loss="bce", **FAST).fit(X, y)
    assert latent_grid(cvae, n_steps=3, y=5).decoded.shape == (3, 3, 64)
    assert interpolate(cvae, X[0], X[1], 4, y=3).shape == (4, 64)
    assert sample_latent(cvae, X, 5, random_state=0, y=7).shape == (5, 64)
    vector = attribute_vector(cvae, X[y == 7], X[y == 1])
    assert add_attribute_vector(cvae, X[:3], vector, y=y[:3]).shape == (3, 64)
