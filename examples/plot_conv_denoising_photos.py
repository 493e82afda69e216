"""
=============================================
Convolutional denoising of colour photographs
=============================================

The classic convolutional denoising lab: a convolutional autoencoder learns to
turn noisy colour images back into clean ones. The images are 32x32 RGB
patches cut from the two photographs that scikit-learn bundles
(``china.jpg`` and ``flower.jpg``). The noise is Gaussian with the noise
factors 0.2 and 0.4: standard-normal noise times the factor, added to pixels
in [0, 1] and clipped back to [0, 1]. For every test image we report the RMSE
of the noisy input and of the denoised output against the clean image.
"""

# %%
# 32x32 colour patches from the bundled photographs
# -------------------------------------------------
# :func:`~sklearn.feature_extraction.image.extract_patches_2d` cuts random
# patches out of each 427x640 photograph. The photographs are stored
# channels-last, ``(H, W, 3)``; the convolutional autoencoder takes flat rows
# in channels-first order, ``(3, H, W)``, so each patch is transposed and
# flattened into 3 * 32 * 32 = 3072 features in [0, 1].
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_images
from sklearn.feature_extraction.image import extract_patches_2d
from sklearn.pipeline import Pipeline

from skae import ConvAE, NoiseAugmenter, add_noise
from skae.plotting import LossCurveDisplay, ReconstructionDisplay

max_epochs = int(os.environ.get("SKAE_EXAMPLE_EPOCHS", 15))

photos = load_sample_images().images  # china.jpg, flower.jpg
patches = np.concatenate(
    [
        extract_patches_2d(photo, (32, 32), max_patches=300, random_state=seed)
        for seed, photo in enumerate(photos)
    ]
)
patches = patches.astype(np.float32) / 255.0  # (600, 32, 32, 3)
X = patches.transpose(0, 3, 1, 2).reshape(len(patches), -1)  # channels first, flat
rng = np.random.RandomState(0)
order = rng.permutation(len(X))
X_train, X_test = X[order[:500]], X[order[500:]]
print(f"training patches: {X_train.shape}, test patches: {X_test.shape}")

# %%
# The denoising Pipeline
# ----------------------
# The lab's network is Conv2D 256 + max pooling, Conv2D 128 + max pooling,
# Conv2D 64 for the code, then the mirror image (Conv2D 128 + upsampling,
# Conv2D 256 + upsampling) and a sigmoid convolution back to 3 channels. In
# skae that is ``ConvAE(image_shape=(3, H, W), channels=(256, 128, 64))``.
# Here the same shape of network is eight times narrower,
# ``channels=(32, 16, 8)``, so that it trains in seconds on a CPU; the wide
# one denoises better given time.
#
# A :class:`~skae.NoiseAugmenter` placed before the autoencoder in a
# :class:`~sklearn.pipeline.Pipeline` corrupts the training images, and the
# autoencoder after it learns noisy -> clean: its training input is the
# noisy images and its target the clean ones, with no extra argument.
#
# The output activation is chosen by ``output_activation="auto"``: the
# pixels lie in [0, 1], so it is a sigmoid, as in the lab.


def make_denoiser(factor):
    return Pipeline(
        [
            ("noise", NoiseAugmenter("gaussian", level=factor, clip=(0, 1), random_state=0)),
            (
                "conv",
                ConvAE(
                    image_shape=(3, 32, 32),
                    channels=(32, 16, 8),
                    batch_size=32,
                    max_epochs=max_epochs,
                    validation_fraction=0.1,
                    random_state=0,
                ),
            ),
        ]
    )


def rmse_per_image(estimate, clean):
    return np.sqrt(np.mean(np.square(estimate - clean), axis=1))


# %%
# Noise factors 0.2 and 0.4
# -------------------------
# For each noise factor we train a denoiser, corrupt the held-out patches
# with :func:`~skae.add_noise` (a seed the training never saw), and denoise
# them with the fitted autoencoder, the Pipeline's ``"conv"`` step. The
# table lists the RMSE of the first few test images (noisy input, then
# denoised output) and the mean over all 100 test images. A denoised RMSE
# below the noisy one means the network removed noise. The RMSE of a noisy
# image is a little below the noise factor because clipping to [0, 1] cuts
# off part of the noise.
denoisers, noisy_sets = {}, {}
for factor in (0.2, 0.4):
    pipe = make_denoiser(factor).fit(X_train)
    noisy = add_noise(X_test, "gaussian", factor, clip=(0, 1), random_state=1)
    denoised = pipe["conv"].reconstruct(noisy)
    rmse_noisy = rmse_per_image(noisy, X_test)
    rmse_denoised = rmse_per_image(denoised, X_test)
    print(f"noise factor {factor}")
    print("  image  RMSE noisy  RMSE denoised")
    for i in range(5):
        print(f"  {i:5d}  {rmse_noisy[i]:10.4f}  {rmse_denoised[i]:13.4f}")
    print(f"  mean   {rmse_noisy.mean():10.4f}  {rmse_denoised.mean():13.4f}")
    denoisers[factor], noisy_sets[factor] = pipe, noisy

# %%
# The training and validation loss of the stronger noise. Both are measured
# against the clean images: the validation patches are corrupted once, under
# a fixed seed, so the validation loss measures denoising too.
LossCurveDisplay.from_estimator(denoisers[0.4])
plt.title("ConvAE denoiser, noise factor 0.4")

# %%
# Originals, noisy inputs and denoised outputs
# --------------------------------------------
# :class:`~skae.plotting.ReconstructionDisplay` shows the clean patches, the
# noisy ones the network was given, and what it returned, in colour: the
# ``image_shape`` is taken from the autoencoder, ``(3, 32, 32)``. Given the
# whole Pipeline instead, ``ReconstructionDisplay.from_estimator(pipe,
# X_test)``, it would show the Pipeline's own corruption of ``X_test``.
for factor in (0.2, 0.4):
    ReconstructionDisplay.from_estimator(
        denoisers[factor]["conv"], X_test, X_noisy=noisy_sets[factor], n_images=8
    )
    plt.suptitle(f"Gaussian noise factor {factor}: original / noisy / denoised")

plt.show()
