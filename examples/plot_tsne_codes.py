"""
Autoencoder codes into t-SNE
============================

t-SNE draws a 2-D map of the data; feeding it the 32-number codes of an
autoencoder instead of the 64 raw pixels is one Pipeline.
"""

# %%
import os

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE
from sklearn.pipeline import make_pipeline

from skae import AutoEncoder
from skae.plotting import LatentSpaceDisplay

EPOCHS = int(os.environ.get("SKAE_EXAMPLE_EPOCHS", 40))

X, y = load_digits(return_X_y=True)
X, y = X[:500] / 16.0, y[:500]

# %%
# A Pipeline: encode, then embed the codes with t-SNE. The same map from the
# raw pixels is drawn beside it for comparison.
pipe = make_pipeline(
    AutoEncoder(n_components=32, max_epochs=EPOCHS, random_state=0),
    TSNE(n_components=2, random_state=0),
)
embedding = pipe.fit_transform(X)
raw = TSNE(n_components=2, random_state=0).fit_transform(X)

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
LatentSpaceDisplay(embedding, y, projection="tsne").plot(ax=axes[0])
axes[0].set_title("t-SNE of 32-D autoencoder codes")
axes[0].get_legend().remove()
LatentSpaceDisplay(raw, y, projection="tsne").plot(ax=axes[1])
axes[1].set_title("t-SNE of the raw pixels")
plt.show()

# %%
# Codes wider than two can also be projected by the display itself:
# ``LatentSpaceDisplay.from_estimator(ae, X, y, projection="tsne")``.
