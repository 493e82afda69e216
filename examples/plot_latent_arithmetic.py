"""
=========================================
Latent arithmetic and interpolation
=========================================

The "smile vector" of face autoencoders is the mean code of smiling faces
minus the mean code of the others: added to the code of any face, it makes
the decoded face smile. The digits have no smiles, but they have attributes
of the same kind. Here we build two attribute vectors on the bundled digits:
one from thin to thick strokes, and one from the class "1" to the class
"7"; then we walk the straight line between the codes of two digits.

:func:`~skae.attribute_vector`, :func:`~skae.add_attribute_vector` and
:func:`~skae.interpolate` work with every skae autoencoder, a
:class:`~skae.VAE` as well as the plain :class:`~skae.AutoEncoder` used
here. On 1797 small digits a VAE's KL term switches off most of an 8-number
code and keeps little more than the digit's identity, so stroke thickness,
the attribute we want to move, is among what it drops; the plain
autoencoder keeps all eight numbers in use.
"""

# %%
# An autoencoder with an 8-number code
# ------------------------------------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.svm import SVC

from skae import AutoEncoder, add_attribute_vector, attribute_vector, interpolate
from skae.plotting import SamplesDisplay

max_epochs = int(os.environ.get("SKAE_EXAMPLE_EPOCHS", 60))

X, y = load_digits(return_X_y=True)
X = X / 16.0
ae = AutoEncoder(
    n_components=8,
    hidden_layer_sizes=(256, 128),
    max_epochs=max_epochs,
    random_state=0,
).fit(X)

# %%
# Thin to thick: an attribute vector
# ----------------------------------
# The ink of a digit is its total pixel intensity. Within each class the
# quarter of digits with the most ink have thick strokes, the quarter with
# the least have thin ones. Taking both groups from every class makes the
# difference of their mean codes a direction of *thickness*, not of digit
# identity.
ink = X.sum(axis=1)
thick = np.zeros(len(X), dtype=bool)
thin = np.zeros(len(X), dtype=bool)
for digit in range(10):
    in_class = y == digit
    low, high = np.quantile(ink[in_class], [0.25, 0.75])
    thin |= in_class & (ink <= low)
    thick |= in_class & (ink >= high)
thickness = attribute_vector(ae, X[thick], X[thin])
print(f"thickness vector: {np.round(thickness, 2)}")

# %%
# Adding ``amount`` times the vector to the codes of thin digits and decoding
# thickens them; a negative amount thins them further. The decoded ink
# grows with the amount while the digit stays the same.
examples = np.flatnonzero(thin)[::40][:8]
amounts = [-1.0, 0.0, 1.0, 2.0]
rows = [add_attribute_vector(ae, X[examples], thickness, amount=a) for a in amounts]
for amount, row in zip(amounts, rows, strict=True):
    print(f"amount {amount:+.1f}: mean ink of the decoded digits {row.sum(axis=1).mean():5.1f}")
print(f"the same digits as they are:  mean ink {ink[examples].mean():5.1f}")

SamplesDisplay(np.vstack([X[examples], *rows]), n_cols=len(examples)).plot()
plt.suptitle("original, then thickness vector x -1, 0, +1, +2")

# %%
# From one class to another
# -------------------------
# The same arithmetic between two classes: the mean code of the sevens minus
# that of the ones. Added to the code of a "1", it moves the code into the
# region of the sevens. A classifier trained on the real digits tells how
# many of the edited ones it now reads as sevens.
one_to_seven = attribute_vector(ae, X[y == 7], X[y == 1])
ones = X[y == 1]
sevens_made = add_attribute_vector(ae, ones, one_to_seven)
classifier = SVC(gamma="scale").fit(X, y)
print(
    f"ones decoded as they are, read as 1: {np.mean(classifier.predict(ae.reconstruct(ones)) == 1):.3f}"
)
print(f"ones + (7 - 1) vector,    read as 7: {np.mean(classifier.predict(sevens_made) == 7):.3f}")

SamplesDisplay(np.vstack([ones[:8], sevens_made[:8]]), n_cols=8).plot()
plt.suptitle("ones, and the same ones plus the 1 -> 7 vector")

# %%
# Interpolation between two digits
# --------------------------------
# :func:`~skae.interpolate` decodes evenly spaced points on the straight line
# between the codes of two samples. The ends are the reconstructions of the
# two digits; the steps between morph one into the other.
pairs = [(0, 6), (3, 8), (4, 9)]
paths = [interpolate(ae, X[y == a][0], X[y == b][0], n_steps=10) for a, b in pairs]
SamplesDisplay(np.vstack(paths), n_cols=10).plot()
plt.suptitle("Interpolation: 0 -> 6, 3 -> 8, 4 -> 9")
plt.show()
