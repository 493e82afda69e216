"""Outlier detection with any skae autoencoder."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, OutlierMixin, _fit_context, clone
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _codec, _engine
from ._autoencoder import AutoEncoder
from ._base import (
    SaveMixin,
    _check_float32_range,
    _check_input_values,
    _rollback_on_error,
)

__all__ = ["AutoEncoderOutlierDetector"]

# contamination="auto": offset_ = median - AUTO_MAD_FACTOR * MAD_TO_SIGMA * MAD
AUTO_MAD_FACTOR = 3.0
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its sigma

# The detector's error names, mapped to the kinds of ``sample_errors``.
_ERRORS = {"squared": "mse", "absolute": "mae"}


class AutoEncoderOutlierDetector(SaveMixin, OutlierMixin, MetaEstimatorMixin, BaseEstimator):
    """Outlier detector scoring samples by how well an autoencoder reconstructs them.

    Fits a clone of ``estimator`` (any skae autoencoder) on data assumed to
    be mostly normal. A sample's score is its negative reconstruction
    error, or the estimator's own ``score_samples`` (the per-sample ELBO of
    a variational model): higher is more normal, as in scikit-learn's
    detectors. ``predict`` flags as outliers (-1) the samples scoring
    below ``offset_``, which is set from the training scores by
    ``contamination``.

    Parameters
    ----------
    estimator : skae autoencoder or None, default=None
        The model to fit, cloned at ``fit``. Anything with ``fit`` and
        ``score_samples`` works with ``error="model"``; ``"squared"`` and
        ``"absolute"`` also need ``reconstruct``. ``None`` means
        ``AutoEncoder(random_state=random_state)``.
    contamination : "auto" or float in (0, 0.5], default="auto"
        How ``offset_`` is chosen from the scores of the training data.
        A float is the expected fraction of outliers in the training data:
        ``offset_`` is that percentile of the training scores, so that this
        fraction of the training samples is predicted -1. ``"auto"`` assumes
        no fraction and applies a robust 3-sigma rule: ``offset_ = median -
        3 * 1.4826 * MAD`` of the training scores (MAD: median absolute
        deviation from the median; 1.4826 * MAD estimates the standard
        deviation of normally distributed scores). It flags about 0.1 % of
        normally distributed scores, and typically a few percent of the
        right-skewed reconstruction errors of real data.
    error : {"model", "squared", "absolute"}, default="model"
        Per-sample score. ``"model"`` uses ``estimator.score_samples`` (the
        negative mean squared error for the deterministic autoencoders, the
        per-sample ELBO for variational ones); ``"squared"`` and
        ``"absolute"`` are the negative mean squared or absolute difference
        between a sample and ``estimator.reconstruct`` of it.
    standardize : bool, default=True
        Standardise each feature (zero mean, unit variance over the training
        data) before the autoencoder sees it, as PyOD does. Tabular features
        on different scales need it; it also helps on images, where a pixel
        that barely varies in the normal data then weighs heavily when it
        does vary (on the bundled digits it raised the ROC-AUC of the hardest
        digit, 1, from 0.83 to 0.96). Features constant in the training data
        are only centred. N-D inputs (sequences, images) are standardised per
        position.
    random_state : int, RandomState instance or None, default=None
        Seeds the autoencoder, for reproducible scores. It is passed to the
        default ``AutoEncoder``, and to a given ``estimator`` that has a
        ``random_state`` parameter, replacing that estimator's own, unless
        it is None: then a given estimator keeps its own ``random_state``.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator``.
    scaler_ : sklearn.preprocessing.StandardScaler
        The fitted scaler (only when ``standardize=True``).
    offset_ : float
        Threshold on ``score_samples``: ``decision_function`` is
        ``score_samples - offset_`` and samples below zero are outliers.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Outlier detection by random partitioning.
    sklearn.neighbors.LocalOutlierFactor : Outlier detection by local density.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoEncoder, AutoEncoderOutlierDetector
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> detector = AutoEncoderOutlierDetector(
    ...     AutoEncoder(n_components=4, max_epochs=50, random_state=0), contamination=0.05
    ... ).fit(X[y == 0])
    >>> float((detector.predict(X[y == 0]) == -1).mean().round(2))
    0.05
    >>> bool(detector.score_samples(X[y == 0]).mean() > detector.score_samples(X[y != 0]).mean())
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "score_samples"]), None],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "error": [StrOptions({"model", *_ERRORS})],
        "standardize": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        contamination="auto",
        error="model",
        standardize=True,
        random_state=None,
    ):
        self.estimator = estimator
        self.contamination = contamination
        self.error = error
        self.standardize = standardize
        self.random_state = random_state

    # The wrapped estimator validates its own parameters when it is fitted.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the autoencoder on ``X`` and set ``offset_`` from its scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, mostly normal samples. N-D arrays (sequences,
            images) are passed on to estimators that take them.
        y : array-like of shape (n_samples,) or None, default=None
            Passed on to the autoencoder's ``fit`` when given (a
            :class:`~skae.CVAE` needs its labels); ignored otherwise.

        Returns
        -------
        self : object
            The fitted detector.
        """
        with _rollback_on_error(self):
            return self._fit(X, y)

    def _fit(self, X, y):
        X = self._validate_X(X, reset=True)
        if self.estimator is None:
            estimator = AutoEncoder(random_state=self.random_state)
        else:
            estimator = clone(self.estimator)
            if self.random_state is not None and "random_state" in estimator.get_params():
                estimator.set_params(random_state=self.random_state)
        if self.error != "model" and not hasattr(estimator, "reconstruct"):
            raise ValueError(
                f"error={self.error!r} compares samples with their reconstruction, but "
                f"{type(estimator).__name__} has no reconstruct method; use error='model' "
                "to score with its score_samples, or a skae autoencoder."
            )
        if self.standardize:
            self.scaler_ = self._fit_scaler(X)
        elif hasattr(self, "scaler_"):
            del self.scaler_
        X = self._standardized(X)
        self.estimator_ = estimator.fit(X, y)
        self.offset_ = self._offset(self._score(X))
        return self

    def _validate_X(self, X, *, reset):
        def validate(X, *, streamed):
            if streamed:
                return validate_data(self, X, reset=reset, skip_check_array=True)
            return _check_input_values(
                lambda X: validate_data(
                    self, X, reset=reset, dtype=[np.float64, np.float32], allow_nd=True
                ),
                X,
            )

        X = _engine.validate_rows(X, validate)
        _check_float32_range(X if X.ndim == 2 else X.reshape(len(X), -1))
        return X

    def _fit_scaler(self, X):
        """The scaler of ``standardize``, fitted block by block (a memmap is never read whole)."""
        scaler = StandardScaler()
        for (chunk,) in _engine.row_chunks(X):
            scaler.partial_fit(chunk.reshape(len(chunk), -1))
        return scaler

    def _standardized(self, X):
        if not self.standardize:
            return X

        def standardize(block):
            flat = self.scaler_.transform(block.reshape(len(block), -1))
            return flat.reshape(block.shape).astype(block.dtype, copy=False)

        return _engine.map_blocks(X, standardize)

    def _score(self, X):
        if self.error == "model":
            scores = self.estimator_.score_samples(X)
        else:
            est = self.estimator_
            scores = -est._errors(*est._score_data(X), _ERRORS[self.error])
        return np.asarray(scores, dtype=np.float64).reshape(len(X))

    def _offset(self, scores):
        if self.contamination == "auto":
            median = np.median(scores)
            mad = np.median(np.abs(scores - median))
            return float(median - AUTO_MAD_FACTOR * MAD_TO_SIGMA * mad)
        return float(np.percentile(scores, 100.0 * self.contamination))

    def score_samples(self, X):
        """Normality score of each sample: higher is more normal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            The negative reconstruction error (``error="squared"`` or
            ``"absolute"``) or the estimator's ``score_samples``
            (``error="model"``).
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._score(self._standardized(X))

    def decision_function(self, X):
        """Score shifted by the threshold: negative for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label each sample as an inlier (+1) or an outlier (-1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            +1 where ``decision_function(X) >= 0``, -1 elsewhere.
        """
        return np.where(self.decision_function(X) >= 0, 1, -1)


_codec.register("skae.AutoEncoderOutlierDetector", AutoEncoderOutlierDetector)
