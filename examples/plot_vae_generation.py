"""
=========================================
Generating digits with a 2-D VAE
=========================================

A variational autoencoder (:class:`~skae.VAE`) encodes each digit not as a
point but as a Gaussian over the code space, and it is trained so that these
Gaussians together fill the standard normal prior ``N(0, I)``. Any draw from
the prior then decodes into a plausible digit: the model generates.

With a code of two numbers everything it learned can be drawn: the test
digits in the code plane, the plane decoded on a regular grid (the "manifold"
figure), new samples, and the two parts of the training loss.
"""

# %%
# Training on the bundled digits
# ------------------------------
# The 8x8 digits are scaled to [0, 1], so the default ``loss="auto"`` makes
# the reconstruction term the binary cross-entropy, summed over the 64
# pixels (a Bernoulli decoder); the KL term pulls each posterior towards the
# prior. ``kl_warmup_epochs`` ramps
# the KL weight up from 0 over the first epochs, which lets the encoder
# spread the digits out before the prior squeezes them together.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skae import VAE
from skae.plotting import LatentGridDisplay, LatentSpaceDisplay, LossCurveDisplay, SamplesDisplay

max_epochs = int(os.environ.get("SKAE_EXAMPLE_EPOCHS", 80))

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)

vae = VAE(
    n_components=2,
    kl_warmup_epochs=min(10, max_epochs),
    max_epochs=max_epochs,
    validation_fraction=0.1,
    random_state=0,
).fit(X_train)

# %%
# ``score`` is the mean evidence lower bound (ELBO) per digit in nats: the
# log-likelihood of the pixels given the code minus the KL divergence of the
# posterior from the prior. Higher is better; the gap between training and
# test ELBO shows how much the model overfits.
print(f"training ELBO per digit: {vae.score(X_train):.2f} nats")
print(f"test ELBO per digit:     {vae.score(X_test):.2f} nats")
print(f"KL per digit, last epoch: {vae.kl_curve_[-1]:.2f} nats")

# %%
# Loss and KL curves
# ------------------
# The loss is the negative ELBO (with the warm-up weight on the KL term),
# for the training data and for the 10% held out for validation. The KL
# curve is the part of it that the code costs: how many nats of information
# about each digit the two latent numbers carry.
fig, (ax_loss, ax_kl) = plt.subplots(1, 2, figsize=(9, 3.5))
LossCurveDisplay.from_estimator(vae, ax=ax_loss)
ax_kl.plot(np.arange(1, len(vae.kl_curve_) + 1), vae.kl_curve_)
ax_kl.set(xlabel="epoch", ylabel="KL (nats per digit)", title="KL divergence to the prior")
fig.tight_layout()

# %%
# The test digits in the latent plane
# -----------------------------------
# ``transform`` returns the posterior mean of each digit. The classes form
# regions around the origin, where the prior puts its mass.
LatentSpaceDisplay.from_estimator(vae, X_test, y_test, s=12)
plt.title("Posterior means of the test digits")

# %%
# The latent manifold
# -------------------
# Decoding a regular grid of codes shows how one digit morphs into the next.
# With no data given, :class:`~skae.plotting.LatentGridDisplay` spans the
# 5% to 95% quantiles of the standard normal prior in each direction.
LatentGridDisplay.from_estimator(vae, n_per_side=15)
plt.title("Decoded 15 x 15 grid over the prior")

# %%
# New digits from the prior
# -------------------------
# ``sample`` draws codes from ``N(0, I)`` and decodes them. The images are
# the decoder's mean pixel intensities, so they are smooth rather than
# speckled.
SamplesDisplay.from_estimator(vae, 32, random_state=0, n_cols=8)
plt.suptitle("32 samples of the VAE")
plt.show()
