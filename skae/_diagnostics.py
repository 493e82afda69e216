"""Checks run at the end of ``fit``: did training end at a constant predictor?

A network can settle on the constant predictor (every input reconstructed as
the mean image, or as a black one) or on a constant code, and still report a
finite, flat loss. Both are cheap to detect once training has ended, on a
subset of the training data: compare the reconstruction error with that of
predicting the training mean, and look at the spread of the codes.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

__all__ = ["collapse_messages"]

# A model whose training error is at least this fraction of the mean
# predictor's has learnt (almost) nothing about individual samples.
MEAN_PREDICTOR_RATIO = 0.9
# Codes whose spread is below this fraction of their scale are constant.
CONSTANT_CODE_RATIO = 1e-3

_FIX = (
    "For images in [0, 1] keep loss='auto' (binary cross-entropy) and "
    "output_activation='auto'; with a tanh or sigmoid code keep "
    "normalization='auto'; otherwise try more max_epochs, another lr (smaller "
    "when the loss jumped about, larger when it stayed flat), or scaling the "
    "data (e.g. MinMaxScaler)."
)


def collapse_messages(
    model_error: float,
    mean_error: float,
    code_mean: np.ndarray,
    code_std: np.ndarray,
) -> list[str]:
    """Describe how a fitted autoencoder collapsed; empty when it did not.

    Parameters
    ----------
    model_error : float
        Mean squared reconstruction error on (a subset of) the training data.
    mean_error : float
        Mean squared error of predicting the training mean for the same rows.
    code_mean, code_std : ndarray of shape (n_components,)
        Mean and standard deviation of the training codes.

    Returns
    -------
    messages : list of str
        One sentence per symptom found.
    """
    if not mean_error > 0:  # constant data: nothing to learn, nothing to detect
        return []
    messages = []
    if model_error >= MEAN_PREDICTOR_RATIO * mean_error:
        messages.append(
            f"The reconstruction error on the training data ({model_error:.4g}) is "
            f"{model_error / mean_error:.2f}x that of predicting the mean of the training "
            f"data ({mean_error:.4g}): training ended at (or near) a constant output."
        )
    scale = max(1.0, float(np.abs(code_mean).max(initial=0.0)))
    if code_std.size and float(code_std.max()) <= CONSTANT_CODE_RATIO * scale:
        messages.append(
            f"Every code unit is constant over the training data (largest standard "
            f"deviation {float(code_std.max()):.2g}): the code carries no information, "
            "e.g. a saturated tanh or sigmoid code."
        )
    if messages:
        messages.append(_FIX)
    return messages


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the line of the user's code that called skae.

    Frames of skae itself and scikit-learn's ``fit`` wrapper
    (``sklearn.base``) are skipped, however deep in skae (a Pipeline step,
    a nested estimator, a family's own ``fit``) the warning arises.
    """
    frame, level = sys._getframe(1), 2
    while frame is not None and _internal(frame):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _internal(frame) -> bool:
    name = frame.f_globals.get("__name__", "")
    return name in ("skae", "sklearn.base") or name.startswith("skae.")
