"""
Finding unusual digits with an autoencoder
==========================================

An autoencoder trained on normal data reconstructs normal samples well and
unusual ones badly, so its reconstruction error is an anomaly score.
:class:`~skae.AutoEncoderOutlierDetector` wraps any skae autoencoder into a
scikit-learn outlier detector: ``score_samples`` (higher is more normal),
``decision_function``, ``predict`` (+1 inlier, -1 outlier).

We fit it on handwritten digits, score new digits mixed with broken images
(pixels scrambled, or a block of the image wiped out), pick a threshold and
look at the images it finds most anomalous.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from skae import AutoEncoder, AutoEncoderOutlierDetector

EPOCHS = int(os.environ.get("SKAE_EXAMPLE_EPOCHS", 60))

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0, stratify=y)

# %%
# Fit on normal data
# ------------------
# The training digits are the normal data. A fifth of them is held out of
# training to calibrate the threshold: ``contamination="auto"`` sets
# ``offset_`` by a robust 3-sigma rule on their scores (an autoencoder
# reconstructs its own training rows too well to set a threshold on them).
detector = AutoEncoderOutlierDetector(
    AutoEncoder(n_components=12, hidden_layer_sizes=(64,), max_epochs=EPOCHS, random_state=0)
).fit(X_train)
print(f"offset_ = {detector.offset_:.4f}")
print(f"calibration digits flagged: {np.mean(detector.calibration_scores_ < detector.offset_):.1%}")

# %%
# Score new data
# --------------
# New data: the held-out digits and 40 broken images made from other
# held-out digits, half with their pixels scrambled (the same ink, no
# strokes), half with a 4x4 block wiped out.
rng = np.random.default_rng(0)
scrambled = np.array([rng.permutation(x) for x in X_test[:20]])
wiped = X_test[20:40].reshape(-1, 8, 8).copy()
for image in wiped:
    row, col = rng.integers(0, 5, size=2)
    image[row : row + 4, col : col + 4] = 0.0
X_new = np.vstack([X_test, scrambled, wiped.reshape(-1, 64)])
is_broken = np.r_[np.zeros(len(X_test)), np.ones(40)]

scores = detector.score_samples(X_new)
print(f"ROC-AUC, broken vs. held-out digits: {roc_auc_score(is_broken, -scores):.3f}")

# The scores span orders of magnitude (standardisation makes a pixel that
# is rarely inked in the training digits weigh heavily), so the histogram
# shows the reconstruction error, ``-score``, on a log scale.
errors = -scores
fig, ax = plt.subplots(figsize=(6, 3))
bins = np.geomspace(errors.min(), errors.max(), 40)
ax.hist(errors[is_broken == 0], bins=bins, alpha=0.6, label="held-out digits")
ax.hist(errors[is_broken == 1], bins=bins, alpha=0.6, label="broken images")
ax.axvline(-detector.offset_, color="k", linestyle="--", label='threshold ("auto")')
ax.set_xscale("log")
ax.set_xlabel("reconstruction error (-score_samples)")
ax.legend()
fig.tight_layout()

# %%
# Pick a threshold
# ----------------
# ``predict`` uses ``offset_``. ``contamination=0.01`` asks for 1 % of new
# normal digits to be flagged; changing it after ``fit`` needs no
# retraining. ``threshold="fdr"`` instead flags the images whose conformal
# p-values (``pvalues``) pass the Benjamini-Hochberg procedure at ``alpha``.
for name, params in [
    ('contamination="auto"', {}),
    ("contamination=0.01", {"contamination": 0.01}),
    ('threshold="fdr", alpha=0.1', {"threshold": "fdr", "alpha": 0.1}),
]:
    flagged = detector.set_params(**params).predict(X_new) == -1
    detector.set_params(contamination="auto", threshold="contamination")
    print(
        f"{name:>28}: flags {flagged[is_broken == 1].sum()}/40 broken images and "
        f"{flagged[is_broken == 0].sum()}/{len(X_test)} held-out digits"
    )

# %%
# The most anomalous images
# -------------------------
# Top row: the lowest scores of all the new data, the scrambled images.
# Bottom row: the lowest-scoring real held-out digits, the oddest writing.
real = np.flatnonzero(is_broken == 0)
rows = [np.argsort(scores)[:8], real[np.argsort(scores[real])[:8]]]
fig, axes = plt.subplots(2, 8, figsize=(8, 3.4))
for ax_row, order in zip(axes, rows, strict=True):
    for ax, i in zip(ax_row, order, strict=True):
        ax.imshow(X_new[i].reshape(8, 8), cmap="gray_r")
        ax.set_title(f"{'broken' if is_broken[i] else 'digit'}\n{scores[i]:.3g}", fontsize=7)
        ax.axis("off")
fig.suptitle("Most anomalous new images (top) and real digits (bottom)")
fig.tight_layout()
plt.show()
