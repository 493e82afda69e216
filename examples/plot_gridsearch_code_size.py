"""
Choosing the code size with GridSearchCV
========================================

An autoencoder's ``score`` is the negative reconstruction error, so
:class:`~sklearn.model_selection.GridSearchCV` can pick ``n_components``
like any other hyper-parameter. PCA at the same sizes is the baseline.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, KFold

from skae import AutoEncoder

EPOCHS = int(os.environ.get("SKAE_EXAMPLE_EPOCHS", 40))

X = load_digits().data / 16.0
sizes = [2, 4, 8, 16]

cv = KFold(n_splits=3, shuffle=True, random_state=0)
search = GridSearchCV(
    AutoEncoder(max_epochs=EPOCHS, random_state=0),
    {"n_components": sizes},
    cv=cv,
)
search.fit(X)
print("best code size:", search.best_params_["n_components"])

# %%
# PCA's own ``score`` is a log-likelihood, so its reconstruction error is
# measured by hand, on the same folds.
pca_error = []
for k in sizes:
    errors = []
    for train, test in cv.split(X):
        pca = PCA(n_components=k).fit(X[train])
        reconstructed = pca.inverse_transform(pca.transform(X[test]))
        errors.append(np.mean((reconstructed - X[test]) ** 2))
    pca_error.append(np.mean(errors))

ae_error = -search.cv_results_["mean_test_score"]
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.plot(sizes, ae_error, "o-", label="autoencoder")
ax.plot(sizes, pca_error, "s--", label="PCA")
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(k) for k in sizes])
ax.set_xlabel("code size (n_components)")
ax.set_ylabel("held-out reconstruction MSE")
ax.legend()
plt.show()
