"""
=================================================
Your own torch encoder and decoder, sklearn-style
=================================================

:class:`skae.ModuleAE` puts a network you wrote yourself behind the same
scikit-learn interface as the built-in autoencoders: seeded training through
skorch, ``transform``, ``inverse_transform``, ``score_samples``,
``summary()``, Pipelines and grid search.

Here the network is a *tied-weights* autoencoder, where the decoder reuses
the transposed weights of the encoder, something no built-in estimator
offers. We train it on the bundled digits, look at its layers, tune its
code size with ``GridSearchCV``, and use its reconstruction error to tell
the digits it was trained on from digits it never saw.
"""

# %%
# A module with ``encode`` and ``decode``
# ---------------------------------------
# The module takes flat ``(n_samples, n_features)`` float tensors. Written
# as a class taking ``n_features`` and ``n_components``, one definition
# serves any data width and lets ``GridSearchCV`` tune the code size.
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from torch import nn

from skae import ModuleAE

MAX_EPOCHS = int(os.environ.get("SKAE_EXAMPLE_EPOCHS", 40))


class TiedAutoEncoder(nn.Module):
    """One weight matrix: ``z = tanh(W x + b)``, ``x_hat = sigmoid(W^T z + c)``."""

    def __init__(self, n_features, n_components=16):
        super().__init__()
        self.encoder = nn.Linear(n_features, n_components)
        self.output_bias = nn.Parameter(torch.zeros(n_features))

    def encode(self, x):
        return torch.tanh(self.encoder(x))

    def decode(self, z):
        return torch.sigmoid(z @ self.encoder.weight + self.output_bias)


# %%
# Train it like any transformer
# -----------------------------
# Digits 0 to 4 are the "normal" data; 5 to 9 are kept aside as novelties.
digits = load_digits()
X, y = digits.data / 16, digits.target
X_normal, X_new = X[y < 5], X[y >= 5]
X_train, X_test = train_test_split(X_normal, test_size=0.3, random_state=0)

ae = ModuleAE(TiedAutoEncoder, n_components=16, lr=1e-2, max_epochs=MAX_EPOCHS, random_state=0)
ae.fit(X_train)
print(f"code width: {ae.n_components_}, test MSE: {-ae.score(X_test):.4f}")
ae.summary()

# %%
# The class passed to ``ModuleAE`` is instantiated at every fit, so the
# estimator clones and grid-searches like any other; ``score`` (negative
# reconstruction error) selects the code size.
search = GridSearchCV(
    ModuleAE(TiedAutoEncoder, lr=1e-2, max_epochs=max(MAX_EPOCHS // 3, 1), random_state=0),
    {"n_components": [4, 16, 32]},
    cv=3,
).fit(X_train)
print("best code size:", search.best_params_["n_components"])

# %%
# Reconstructions and novelty scores
# ----------------------------------
# ``score_samples`` is higher for well-reconstructed (more normal) samples.
scores_normal = ae.score_samples(X_test)
scores_new = ae.score_samples(X_new)
labels = np.r_[np.ones(len(scores_normal)), np.zeros(len(scores_new))]
auc = roc_auc_score(labels, np.r_[scores_normal, scores_new])
print(f"ROC-AUC, unseen digits vs held-out normal digits: {auc:.3f}")

fig, axes = plt.subplots(2, 6, figsize=(8, 3))
originals = np.r_[X_test[:3], X_new[:3]]
for ax, image in zip(axes[0], originals, strict=True):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
for ax, image in zip(axes[1], ae.reconstruct(originals), strict=True):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
for ax in axes.ravel():
    ax.set_axis_off()
axes[0, 0].set_title("trained on", loc="left")
axes[0, 3].set_title("never seen", loc="left")
fig.suptitle("Tied-weights autoencoder: inputs (top), reconstructions (bottom)")

fig, ax = plt.subplots(figsize=(5, 3))
ax.hist(-scores_normal, bins=30, alpha=0.6, label="digits 0-4 (held out)")
ax.hist(-scores_new, bins=30, alpha=0.6, label="digits 5-9 (never seen)")
ax.set_xlabel("reconstruction MSE")
ax.legend()
ax.set_title(f"Novelty detection, ROC-AUC {auc:.2f}")
plt.show()
