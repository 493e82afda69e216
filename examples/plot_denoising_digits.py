"""
=========================================
Denoising 100x100 digit images
=========================================

The classic dense denoising lab on 100x100 grayscale images: a code of
``d = 250`` units, an encoder ``10000 -> 750 -> 500 -> 250`` with its mirrored
decoder, mean squared error, and 15% of the input pixels dropped at random
during training. Then the same network against Gaussian noise with the noise
factors 0.4 and 0.2 (standard-normal noise times the factor, clipped to
[0, 1]), reporting the RMSE of each image.

The images are scikit-learn's bundled 8x8 digits, upsampled to 100x100.
"""

# %%
# 100x100 images from the bundled digits
# --------------------------------------
# Bilinear upsampling by 12.5 turns each 8x8 digit into a 100x100 image with
# values in [0, 1]. A few hundred images and a few epochs keep the example
# quick; more of both give sharper reconstructions.
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline

from skae import DenoisingAE, NoiseAugmenter, add_noise

max_epochs = int(os.environ.get("SKAE_EXAMPLE_EPOCHS", 6))

digits = load_digits()
small = digits.images[:300] / 16.0
images = np.clip(zoom(small, (1, 12.5, 12.5), order=1), 0, 1)
X = images.reshape(len(images), -1)  # (300, 10000)
X_train, X_test = X[:250], X[250:]
print(X.shape)

# %%
# The dense lab: 15% input dropout
# --------------------------------
# ``noise="masking"`` with ``noise_level=0.15`` zeroes a fresh 15% of the
# pixels of every training batch, and the network learns to restore them.
architecture = {
    "n_components": 250,
    "hidden_layer_sizes": (750, 500),
    "loss": "mse",
    "batch_size": 16,
    "max_epochs": max_epochs,
    "random_state": 0,
}
dae = DenoisingAE(noise="masking", noise_level=0.15, **architecture).fit(X_train)

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(np.arange(1, dae.n_iter_ + 1), dae.loss_curve_, marker="o")
ax.set(xlabel="epoch", ylabel="training MSE", title="Loss curve")
fig.tight_layout()

# %%
# Several held-out images, corrupted the same way, and their denoised versions.


def show(rows, titles, n=6):
    fig, axes = plt.subplots(len(rows), n, figsize=(1.6 * n, 1.7 * len(rows)))
    for axes_row, row, title in zip(axes, rows, titles, strict=True):
        for ax, image in zip(axes_row, row[:n], strict=False):
            ax.imshow(image.reshape(100, 100), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes_row[0].set_ylabel(title)
    fig.tight_layout()
    return fig


noisy = add_noise(X_test, "masking", 0.15, random_state=1)
show([X_test, noisy, dae.denoise(noisy)], ["clean", "15% dropped", "denoised"])

# %%
# Gaussian noise factors 0.4 and 0.2
# -----------------------------------
# Here the corruption is a :class:`~skae.NoiseAugmenter` step in a Pipeline:
# the autoencoder after it learns noisy -> clean with no extra arguments. The
# augmenter corrupts in training only: the fitted ``pipeline.predict`` denoises
# the noisy images it is given and adds no noise of its own, so the held-out
# images are corrupted here with :meth:`~skae.NoiseAugmenter.corrupt`. The RMSE of each image is
# reported for the noisy input and for the denoised output. With the few
# epochs used here the network removes much of the strong (0.4) noise; the
# mild (0.2) noise takes more epochs to beat (try ``SKAE_EXAMPLE_EPOCHS=20``).


def rmse_per_image(estimate, clean):
    return np.sqrt(np.mean(np.square(estimate - clean), axis=1))


for factor in (0.4, 0.2):
    augmenter = NoiseAugmenter("gaussian", level=factor, clip=(0, 1), random_state=1)
    pipe = Pipeline([("noise", augmenter), ("dae", DenoisingAE(**architecture))])
    pipe.fit(X_train)
    noisy = augmenter.corrupt(X_test)
    denoised = pipe.predict(noisy)
    rmse_noisy = rmse_per_image(noisy, X_test)
    rmse_denoised = rmse_per_image(denoised, X_test)
    print(f"noise factor {factor}")
    print("  image  RMSE noisy  RMSE denoised")
    for i in range(6):
        print(f"  {i:5d}  {rmse_noisy[i]:10.4f}  {rmse_denoised[i]:13.4f}")
    print(f"  mean   {rmse_noisy.mean():10.4f}  {rmse_denoised.mean():13.4f}")
    show(
        [X_test, noisy, denoised],
        ["clean", f"noise {factor}", "denoised"],
    )

plt.show()
