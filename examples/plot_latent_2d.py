"""
A 2-D latent space: look at it, classify from it, decode from it
=================================================================

An autoencoder with a code of two numbers squeezes each 8x8 digit into a
point of the plane. We scatter the test digits in that plane, classify them
from their two numbers with a nearest-neighbour classifier (against PCA with
two components), and decode random points of the plane back into images.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from skae import AutoEncoder
from skae.plotting import LatentGridDisplay, LatentSpaceDisplay, LossCurveDisplay, SamplesDisplay

EPOCHS = int(os.environ.get("SKAE_EXAMPLE_EPOCHS", 60))

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)

# %%
# Classification from the two numbers
# ------------------------------------
# The autoencoder is a transformer, so it goes into a Pipeline before a
# classifier; PCA with two components is the linear baseline.
ae = AutoEncoder(
    n_components=2,
    hidden_layer_sizes=(128, 64),
    batch_size=32,
    max_epochs=EPOCHS,
    validation_fraction=0.1,
    random_state=0,
)
for name, reducer in [("autoencoder", ae), ("PCA(2)", PCA(n_components=2))]:
    clf = make_pipeline(reducer, KNeighborsClassifier(n_neighbors=5))
    clf.fit(X_train, y_train)
    print(f"5-NN accuracy on a 2-D {name} code: {clf.score(X_test, y_test):.3f}")

# %%
# The autoencoder, fitted inside the Pipeline, kept its loss curves.
LossCurveDisplay.from_estimator(ae)

# %%
# The test digits in the 2-D code space
# -------------------------------------
LatentSpaceDisplay.from_estimator(ae, X_test, y_test)
plt.title("Test digits in the 2-D code")

# %%
# Decoding random points of the plane
# -----------------------------------
# ``inverse_transform`` decodes any code, not only those of real digits.
codes = ae.transform(X_train)
rng = np.random.RandomState(0)
random_codes = rng.uniform(codes.min(axis=0), codes.max(axis=0), size=(16, 2))
SamplesDisplay(ae.inverse_transform(random_codes), n_cols=8).plot()
plt.suptitle("Decoded random 2-D codes")

# %%
# A regular grid over the same plane shows how the digits morph into each other.
LatentGridDisplay.from_estimator(ae, X_train, n_per_side=12)
plt.show()
