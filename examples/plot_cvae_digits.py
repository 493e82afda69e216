"""
=========================================
Digits on demand with a conditional VAE
=========================================

A conditional VAE (:class:`~skae.CVAE`) is told the class of each training
digit, and its decoder receives that label next to the code. So it can be
asked for a given digit: ``CVAE(...).fit(X, y).sample(n, y=7)`` draws ``n``
sevens. We draw a row of each digit 0-9, then let a classifier trained on
real digits say whether it recognises what was generated.
"""

# %%
# Training with labels
# --------------------
# ``fit(X, y)`` takes the class labels as a classifier would; they are kept in
# ``classes_``. Because the decoder already knows the class, the code is free
# to describe everything else: the slant, the thickness, the size of the
# digit.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from skae import CVAE
from skae.plotting import LossCurveDisplay, SamplesDisplay

max_epochs = int(os.environ.get("SKAE_EXAMPLE_EPOCHS", 80))

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)

cvae = CVAE(
    n_components=4,
    max_epochs=max_epochs,
    random_state=0,
).fit(X_train, y_train)
print("classes:", cvae.classes_)

LossCurveDisplay.from_estimator(cvae)

# %%
# A row per digit
# ---------------
# ``sample(n, y=label)`` draws ``n`` codes from a Gaussian fitted to the
# training codes of that class and decodes them under the requested class. Within a row the codes differ, so the style
# varies while the digit stays the same.
n_per_class = 10
samples = np.vstack([cvae.sample(n_per_class, y=digit, random_state=digit) for digit in range(10)])
labels = np.repeat(np.arange(10), n_per_class)

SamplesDisplay(samples, n_cols=n_per_class).plot()
plt.suptitle("CVAE samples, one row per requested digit (0 at the top)")

# %%
# ``SamplesDisplay.from_estimator`` passes extra keywords on to ``sample``: a
# single call shows 16 sevens.
SamplesDisplay.from_estimator(cvae, 16, y=7, random_state=0, n_cols=8)
plt.suptitle("cvae.sample(16, y=7)")

# %%
# Does a classifier recognise them?
# ---------------------------------
# A support vector classifier is trained on the real training digits only.
# Its accuracy on real test digits is the reference; its accuracy on the
# generated digits, against the class each was asked for, says how often
# the CVAE drew the digit it was asked for in a form the classifier knows.
# The generated images are the decoder's mean pixel intensities, smoother
# and more typical than real handwriting, so after full training they can
# be recognised as often as real digits, or more often.
classifier = SVC(gamma="scale").fit(X_train, y_train)
print(f"classifier accuracy on real test digits: {classifier.score(X_test, y_test):.3f}")
print(f"classifier accuracy on generated digits: {classifier.score(samples, labels):.3f}")

predicted = classifier.predict(samples).reshape(10, n_per_class)
for digit in range(10):
    print(f"  asked for {digit}: recognised as {' '.join(map(str, predicted[digit]))}")
plt.show()
