"""ConvDenoisingAE: the convolutional autoencoder trained to remove noise."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from skae import ConvAE, ConvDenoisingAE, NoiseAugmenter, add_noise

FAST = {"image_shape": (8, 8), "channels": (4, 4), "max_epochs": 2, "random_state": 0}


def _psnr(A, B):
    return 10 * np.log10(1 / np.mean(np.square(np.asarray(A, dtype=np.float64) - B)))


@pytest.mark.slow
def test_denoises_digits_better_than_the_noisy_input(digits_split):
    X_train, X_test, _, _ = digits_split
    params = {"image_shape": (8, 8), "channels": (16, 16), "lr": 3e-3, "max_epochs": 10}
    dae = ConvDenoisingAE(noise_level=0.4, random_state=0, **params).fit(X_train)
    plain = ConvAE(random_state=0, **params).fit(X_train)
    noisy = add_noise(X_test, "gaussian", 0.4, random_state=1)
    psnr_noisy = _psnr(noisy, X_test)
    psnr_clipped = _psnr(np.clip(noisy, 0, 1), X_test)
    psnr_denoised = _psnr(dae.denoise(noisy), X_test)
    psnr_plain = _psnr(plain.reconstruct(noisy), X_test)
    # Measured: noisy 7.9 dB (clipped to [0, 1]: 10.7 dB), denoised 14.3-14.5 dB,
    # the same ConvAE trained without noise 12.5-12.7 dB.
    assert psnr_denoised > psnr_noisy + 4.5
    assert psnr_denoised > psnr_clipped + 2
    assert psnr_denoised > psnr_plain + 0.8


def test_parameters_of_both_families():
    dae = ConvDenoisingAE(8, noise="masking", noise_level=0.3, channels=(4,), kernel_size=5)
    params = dae.get_params()
    assert set(ConvAE().get_params()) | {"noise", "noise_level"} == set(params)
    assert params["n_components"] == 8 and params["noise"] == "masking"
    assert params["noise_level"] == 0.3 and params["kernel_size"] == 5
    assert clone(dae).get_params() == params


def test_bad_noise_is_rejected(digits):
    X = digits[0][:40]
    with pytest.raises(ValueError, match="noise"):
        ConvDenoisingAE(noise="pink", **FAST).fit(X)
    with pytest.raises(ValueError, match="noise_level=1.5"):
        ConvDenoisingAE(noise="masking", noise_level=1.5, **FAST).fit(X)
    with pytest.raises(ValueError, match="kernel_size"):
        ConvDenoisingAE(**dict(FAST, kernel_size=4)).fit(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_image_arrays_and_noise_recipe(digits):
    X = digits[0][:60]
    dae = ConvDenoisingAE(noise="salt_and_pepper", noise_level=0.1, **FAST).fit(X.reshape(-1, 8, 8))
    assert dae.noise_.kind == "salt_and_pepper" and dae.noise_.level == 0.1
    assert dae.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(dae.denoise(X.reshape(-1, 8, 8)), dae.denoise(X))
    np.testing.assert_array_equal(dae.predict(X), dae.reconstruct(X))
    assert dae.score(X) < 0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_after_a_noise_augmenter_in_a_pipeline(digits):
    X = digits[0][:60]
    augmenter = NoiseAugmenter("masking", level=0.25, random_state=0)
    pipe = Pipeline([("noise", augmenter), ("dae", ConvDenoisingAE(noise_level=0.9, **FAST))])
    pipe.fit(X)
    recipe = pipe[-1].noise_
    assert recipe.kind == "masking" and recipe.level == 0.25
    assert pipe.predict(X).shape == X.shape
