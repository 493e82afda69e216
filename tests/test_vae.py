"""VAE: the KL term acts, scores are ELBOs, sampling draws from the prior."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skae import VAE
from skae.modules import MLP, VAELoss, conv_vae_module, dense_vae_module, init_scale_preserving
from skae.modules.losses import gaussian_kl

FAST = {"loss": "bce", "batch_size": 128, "lr": 3e-3, "random_state": 0}


@pytest.fixture(scope="module")
def fitted(digits_split):
    """2-D VAEs with beta 0.1, 1 and 4 on the training digits (20 epochs each)."""
    X_train = digits_split[0]
    fitted = {
        beta: VAE(n_components=2, beta=beta, max_epochs=20, **FAST).fit(X_train)
        for beta in (0.1, 1.0)
    }
    # beta=4 collapses the posterior onto the prior (last KL ~1e-5 nats): the
    # decoder sees no code and reconstructs the mean image, and fit says so
    with pytest.warns(ConvergenceWarning, match="that of predicting the mean"):
        fitted[4.0] = VAE(n_components=2, beta=4.0, max_epochs=20, **FAST).fit(X_train)
    return fitted


def test_kl_term_is_nonzero_during_training(fitted):
    vae = fitted[1.0]
    # Measured over seeds 0-2: lowest per-epoch KL 0.006-0.012 nats (the
    # first epochs), last 1.78-2.14.
    assert len(vae.kl_curve_) == vae.n_iter_ == 20
    assert min(vae.kl_curve_) > 0
    assert vae.kl_curve_[-1] > 1.0
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


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mse_elbo_includes_the_gaussian_constant(digits_split):
    X = digits_split[1][:60]
    vae = VAE(n_components=2, loss="mse", max_epochs=2, random_state=0).fit(X)
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


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
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


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
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


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
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


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "gelu", "tanh"])
def test_scale_preserving_weights_keep_the_signal_through_depth(activation):
    torch.manual_seed(0)
    x = torch.randn(512, 256)
    stack = MLP((256,) * 7, activation=activation, output_activation=activation)

    def second_moment():
        with torch.no_grad():
            return float(stack(x).square().mean())

    shrunk = second_moment()  # torch's default: about a sixth per ReLU layer
    init_scale_preserving(stack, activation)
    kept = second_moment()
    assert shrunk < 0.1
    assert 0.2 < kept < 3.0
    assert all(
        float(m.bias.detach().abs().max()) == 0 for m in stack if isinstance(m, torch.nn.Linear)
    )


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


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_validation_records_the_kl_of_held_out_data(digits_split):
    X = digits_split[1][:100]
    vae = VAE(n_components=2, max_epochs=3, validation_fraction=0.2, **FAST).fit(X)
    rows = vae.net_.history
    assert all(row["valid_kl"] > 0 for row in rows)
    assert len(vae.validation_loss_curve_) == 3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
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


# ----------------------------------------------------------------------
# Convolutional backbone
# ----------------------------------------------------------------------
CONV = {"backbone": "conv", "image_shape": (8, 8), "channels": (16, 32), **FAST}


@pytest.fixture(scope="module")
def conv_vae(digits_split):
    """A 2-D convolutional VAE fitted on the training digits as 8x8 images (10 epochs)."""
    return VAE(n_components=2, max_epochs=10, **CONV).fit(digits_split[0].reshape(-1, 8, 8))


def test_conv_vae_trains_and_the_kl_acts(conv_vae, digits_split):
    # Measured (seeds 0-2, 10 epochs): loss 33.5-35.0 -> 25.9-26.6 nats
    # (ratio 0.76-0.79), last-epoch KL 1.13-1.55, held-out ELBO -25.3 to -25.9.
    curve = conv_vae.loss_curve_
    assert curve[-1] < 0.8 * curve[0]
    assert all(kl > 0 for kl in conv_vae.kl_curve_)
    assert conv_vae.kl_curve_[-1] > 0.1
    noise = np.random.RandomState(0).uniform(size=(100, 64))
    assert conv_vae.score(digits_split[1]) > conv_vae.score(noise) + 20
    assert conv_vae.image_shape_ == (1, 8, 8)
    assert conv_vae.n_components_ == 2
    assert isinstance(conv_vae.net_.module_.encoder[1], torch.nn.Conv2d)


def test_conv_vae_with_dense_layers_keeps_its_code(conv_vae, digits_split):
    # Dense layers behind the convolutions ("auto": (256, 128)). With torch's
    # default initialisation the posterior mean started at about 1% of the
    # unit sampling noise and the KL fell to 0 within two epochs: kNN on the
    # codes 0.34-0.37. Measured with scale-preserving weights (seeds 0-2):
    # last-epoch KL 1.13-1.55, kNN 0.56-0.64.
    from sklearn.neighbors import KNeighborsClassifier

    X_train, X_test, y_train, y_test = digits_split
    assert conv_vae._hidden_layer_sizes() == (256, 128)
    assert conv_vae.kl_curve_[-1] > 0.5
    knn = KNeighborsClassifier().fit(conv_vae.transform(X_train), y_train)
    assert knn.score(conv_vae.transform(X_test), y_test) > 0.5


@pytest.mark.slow
def test_dense_vae_with_a_wide_code_keeps_it():
    # The dense backbone keeps torch's weights. With scale-preserving (He)
    # weights in encoder and decoder, VAE(32) on these 1,000 MNIST digits had
    # a KL of 2.9 and 1.7 nats after 8 epochs (seeds 0, 1), falling towards 0
    # on the way, and at 30 epochs on 4,000 digits it ended at KL 0; with
    # torch's weights 6.6 and 10.0.
    from skae.datasets import load_mnist_sample

    X = load_mnist_sample()[0][:1000]
    vae = VAE(32, max_epochs=8, random_state=0).fit(X)
    assert vae.kl_curve_[-1] > 4.5
    assert min(vae.kl_curve_[3:]) > 3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_vae_on_inputs_of_a_large_scale_stays_finite():
    # Inputs near 100 give log variances in the hundreds at the start, whose
    # exp is infinite: the head clips them, so training does not turn NaN.
    X = np.random.RandomState(0).normal(loc=100, size=(80, 3))
    for backbone in ("dense", "conv"):
        vae = VAE(2, backbone=backbone, max_epochs=3, random_state=0).fit(X)
        assert np.all(np.isfinite(vae.loss_curve_))
        assert np.all(np.isfinite(vae.transform(X)))
        assert np.all(np.isfinite(vae.score_samples(X)))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_conv_vae_hidden_layers_sit_between_convolutions_and_code(digits_split):
    X = digits_split[0][:200]
    params = dict(CONV, max_epochs=1)

    def widths(vae):
        return [
            m.out_features for m in vae.net_.module_.modules() if isinstance(m, torch.nn.Linear)
        ]

    # "auto": two dense layers behind the convolutions, as for the dense backbone
    assert widths(VAE(2, **params).fit(X)) == [256, 128, 2, 2, 128, 256, 512]
    assert widths(VAE(2, hidden_layer_sizes=(), **params).fit(X)) == [2, 2, 512]
    deep = VAE(2, hidden_layer_sizes=(64, 16), **params).fit(X)
    assert widths(deep) == [64, 16, 2, 2, 16, 64, 512]
    assert deep.transform(X).shape == (200, 2)
    assert VAE(2, **FAST, max_epochs=1).fit(X)._hidden_layer_sizes() == (256, 128)


def test_conv_vae_inference_is_deterministic(conv_vae, digits_split):
    X_test = digits_split[1][:50]
    np.testing.assert_array_equal(conv_vae.transform(X_test), conv_vae.transform(X_test))
    scores = conv_vae.score_samples(X_test)
    np.testing.assert_array_equal(scores, conv_vae.score_samples(X_test))
    module = conv_vae.net_.module_
    with torch.no_grad():
        x = torch.as_tensor(X_test, dtype=torch.float32)
        mu, logvar = module.posterior(x)
        p = module.decode(mu)
        nll = torch.nn.functional.binary_cross_entropy(p, x, reduction="none").sum(1)
        expected = -(nll + gaussian_kl(mu, logvar)).numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-4)


def test_conv_vae_samples_are_flat_images(conv_vae):
    samples = conv_vae.sample(6, random_state=0)
    assert samples.shape == (6, 64)
    assert samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(samples, conv_vae.sample(6, random_state=0))
    prior = np.random.RandomState(0).standard_normal((6, 2))
    np.testing.assert_allclose(samples, conv_vae.inverse_transform(prior), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_conv_vae_image_arrays_match_flat_input(conv_vae, digits_split):
    flat = digits_split[1][:40]
    images = flat.reshape(-1, 8, 8)
    for layout in (images, images[:, None], images[..., None]):
        np.testing.assert_allclose(conv_vae.transform(layout), conv_vae.transform(flat))
        np.testing.assert_allclose(conv_vae.score_samples(layout), conv_vae.score_samples(flat))
        np.testing.assert_allclose(conv_vae.reconstruct(layout), conv_vae.reconstruct(flat))
    # Fitting on images or on their flat rows gives the same model.
    small = VAE(n_components=2, max_epochs=2, **CONV)
    a = small.fit(images).transform(flat)
    np.testing.assert_array_equal(a, clone(small).fit(flat).transform(flat))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("downsample", ["pool", "stride"])
@pytest.mark.parametrize("upsample", ["upsample", "transpose"])
def test_conv_vae_odd_colour_images_round_trip(downsample, upsample):
    images = np.random.RandomState(0).uniform(size=(12, 7, 5, 2))  # channels last
    vae = VAE(
        n_components=3,
        backbone="conv",
        image_shape=(2, 7, 5),
        channels=(3, 4),
        downsample=downsample,
        upsample=upsample,
        max_epochs=2,
        random_state=0,
    ).fit(images)
    assert vae.image_shape_ == (2, 7, 5)
    assert vae.transform(images).shape == (12, 3)
    assert vae.reconstruct(images).shape == (12, 70)
    assert vae.sample(4, random_state=0).shape == (4, 70)
    flat = np.moveaxis(images, -1, 1).reshape(12, -1)
    np.testing.assert_allclose(vae.transform(images), vae.transform(flat))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_conv_vae_without_image_shape_convolves_a_signal():
    X = np.random.RandomState(0).normal(size=(20, 10))
    vae = VAE(n_components=2, backbone="conv", channels=(4, 2), max_epochs=2, random_state=0)
    vae.fit(X)
    assert vae.image_shape_ == (1, 1, 10)
    assert vae.sample(3, random_state=0).shape == (3, 10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dense_vae_accepts_images_with_image_shape(digits_split):
    flat = digits_split[1][:60]
    vae = VAE(n_components=2, image_shape=(8, 8), max_epochs=2, **FAST).fit(flat.reshape(-1, 8, 8))
    assert vae.image_shape_ == (1, 8, 8)
    assert not any(isinstance(m, torch.nn.Conv2d) for m in vae.net_.module_.modules())
    np.testing.assert_allclose(vae.transform(flat.reshape(-1, 8, 8)), vae.transform(flat))
    assert VAE(n_components=2, max_epochs=1, **FAST).fit(flat).image_shape_ is None


@pytest.mark.parametrize(
    "params, X_shape, match",
    [
        ({"image_shape": (8, 8)}, (5, 60), r"image_shape=\(8, 8\) holds 64 values"),
        ({"backbone": "conv", "kernel_size": 4}, (5, 64), "kernel_size must be odd"),
        ({"backbone": "conv", "channels": ()}, (5, 64), "channels must name at least one"),
        ({"backbone": "conv"}, (5, 8, 8), r"pass image_shape=\(8, 8\)"),
        ({"image_shape": (3, 4, 4)}, (5, 4, 4, 2), "do not match image_shape"),
    ],
)
def test_conv_errors_name_the_parameter(params, X_shape, match):
    X = np.random.RandomState(0).uniform(size=X_shape)
    with pytest.raises(ValueError, match=match):
        VAE(max_epochs=1, **params).fit(X)


def test_unknown_backbone_is_named():
    with pytest.raises(InvalidParameterError, match="backbone"):
        VAE(backbone="rnn").fit(np.zeros((5, 4)))


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(1, 4),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)),
    k=st.integers(1, 3),
    n_stages=st.integers(1, 3),
    n_classes=st.integers(0, 3),
)
def test_conv_module_shapes(n, shape, k, n_stages, n_classes):
    module = conv_vae_module(shape, k, (2,) * n_stages, n_classes=n_classes)
    n_features = int(np.prod(shape))
    x = torch.rand(n, n_features + n_classes)
    module.eval()
    recon, mu, logvar = module(x)
    assert recon.shape == (n, n_features) and mu.shape == logvar.shape == (n, k)
    assert module.decode(torch.rand(n, k + n_classes)).shape == (n, n_features)
    torch.testing.assert_close(module.encode(x[:, :n_features]), mu)
