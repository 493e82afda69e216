"""Outlier detection with any skae autoencoder."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, OutlierMixin, _fit_context, clone
from sklearn.covariance import LedoitWolf
from sklearn.preprocessing import StandardScaler
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _num_samples,
    check_is_fitted,
    validate_data,
)

from . import _codec, _engine
from ._autoencoder import AutoEncoder
from ._base import (
    _FLOAT32_MAX,
    BaseAutoEncoder,
    SaveMixin,
    _check_float32_range,
    _check_input_values,
    _feature_frame,
    _rollback_on_error,
)

__all__ = ["AutoEncoderOutlierDetector"]


def _prepares_own_input(estimator) -> bool:
    """Whether ``estimator`` takes the detector's data as given (a table, see ``standardize``).

    The one place the detector asks: such an estimator (:class:`~skae.TabularAE`)
    validates, scales and encodes its own columns, so the detector neither
    converts the data to numbers nor standardises them.
    """
    return bool(getattr(estimator, "_prepares_own_input", False))


def _rows(y, rows):
    """The labels ``y`` (array-like, or a pandas Series) of the sorted ``rows``."""
    return y.iloc[rows] if hasattr(y, "iloc") else np.asarray(y)[rows]


# contamination="auto": offset_ = median - AUTO_MAD_FACTOR * MAD_TO_SIGMA * MAD
AUTO_MAD_FACTOR = 3.0
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its sigma

# The detector's error names, mapped to the kinds of ``sample_errors``.
_ERRORS = {"squared": "mse", "absolute": "mae"}

# The smallest median calibration error the code distance divides by: a model
# that reconstructs its calibration rows exactly still gives finite scores.
_MIN_ERROR_SCALE = 1e-12


def _code_distance_refusal(estimator) -> str | None:
    """Why the code distance cannot apply to ``estimator``'s kind, or None when it can.

    It needs a skae autoencoder whose score is a reconstruction error: a
    variational model scores by its own likelihood, whose KL term already
    measures the code. (The code must also be narrower than the input,
    which only the fitted model tells.)
    """
    name = type(estimator).__name__
    if not isinstance(estimator, BaseAutoEncoder):
        return f"{name} is not a skae autoencoder, whose score is a reconstruction error"
    if hasattr(estimator, "_elbo_post"):
        return (
            f"{name} scores by its evidence lower bound, whose KL term already measures "
            "how unusual a sample's code is"
        )
    return None


def _refuse_code_distance(reason: str):
    raise ValueError(
        f"code_distance=True weighs a sample's code against its reconstruction error, but "
        f"{reason}. Use code_distance='auto' or False."
    )


class AutoEncoderOutlierDetector(SaveMixin, OutlierMixin, MetaEstimatorMixin, BaseEstimator):
    """Outlier detector scoring samples by how well an autoencoder reconstructs them.

    Fits a clone of ``estimator`` (any skae autoencoder) on data assumed to
    be mostly normal. A sample's score is minus how unusual it is: its
    reconstruction error and, for a deterministic autoencoder, how far its
    code lies from the training codes (``code_distance``), or the
    estimator's own ``score_samples`` (the per-sample ELBO of a variational
    model): higher is more normal, as in scikit-learn's detectors.
    ``predict`` flags as outliers (-1) the samples scoring below ``offset_``, which ``contamination`` sets from the scores of
    calibration samples held out of training (``calibration_fraction``):
    an autoencoder reconstructs its own training data far better than new
    data, so a threshold set on the training scores flags many times
    ``contamination`` of new normal data. ``pvalues`` gives conformal
    p-values against the calibration scores, and ``threshold="fdr"`` flags
    by the Benjamini-Hochberg procedure at level ``alpha`` instead.
    ``contamination``, ``threshold`` and ``alpha`` take effect at once when
    changed after ``fit`` (``set_params``), without retraining.

    Parameters
    ----------
    estimator : skae autoencoder or None, default=None
        The model to fit, cloned at ``fit``. Anything with ``fit`` and
        ``score_samples`` works with ``error="model"``; ``"squared"`` and
        ``"absolute"`` also need ``reconstruct``. ``None`` means
        ``AutoEncoder(random_state=random_state)``.
    contamination : "auto" or float in (0, 0.5], default="auto"
        How ``offset_`` is chosen from the calibration scores. A float is
        the fraction of new normal samples to flag: ``offset_`` is the
        ``k``-th smallest of the ``n`` calibration scores with ``k`` the
        nearest integer to ``contamination * (n + 1)``, so that a new sample
        drawn like the calibration samples is predicted -1 with probability
        ``k / (n + 1)``, within ``0.5 / (n + 1)`` of ``contamination``. With
        ``novelty=False`` it is that percentile of the training scores. ``"auto"`` assumes no fraction and applies a robust
        3-sigma rule: ``offset_ = median - 3 * 1.4826 * MAD`` of the
        calibration scores (MAD: median absolute deviation from the median;
        1.4826 * MAD estimates the standard deviation of normally
        distributed scores), which flags about 0.1 % of normally distributed
        scores and more of the right-skewed reconstruction errors of real
        data.
    threshold : {"contamination", "fdr"}, default="contamination"
        ``"contamination"`` flags samples below ``offset_``. ``"fdr"`` flags,
        in each call of ``predict`` or ``decision_function``, the samples
        the Benjamini-Hochberg procedure rejects over their ``pvalues`` at
        level ``alpha``: among the flagged samples of a batch, the expected
        fraction of normal ones is at most ``alpha`` (for independent
        calibration and test samples; the p-values are positively dependent
        through the shared calibration set, under which BH keeps its
        guarantee). A sample's label then depends on the batch it comes in.
    alpha : float in (0, 1), default=0.1
        False discovery rate of ``threshold="fdr"``.
    novelty : bool, default=True
        What the threshold is for, as in
        :class:`~sklearn.neighbors.LocalOutlierFactor`. ``True`` (novelty
        detection): new data, so it is set on calibration samples held out
        of training. ``False`` (outlier detection): the training data
        itself, so the autoencoder trains on every sample and the threshold
        is set on the training scores (``contamination`` is then the
        fraction of training samples flagged); new normal data are then
        flagged far more often than ``contamination`` says.
    calibration_fraction : float in (0, 1), default=0.2
        With ``novelty=True``, the fraction of the training samples held out
        of the autoencoder's training and scored to set the threshold: a
        random subset, drawn from ``random_state`` (a fixed subset when it
        is None, so that a seeded ``estimator`` gives the same detector
        every time).
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
        position. An estimator that prepares its own input,
        :class:`~skae.TabularAE`, which standardises its numeric columns and
        encodes its categorical ones, is handed the data as given (a
        DataFrame stays one), and ``standardize`` does not apply.
    code_distance : "auto" or bool, default="auto"
        Whether the score also measures how far a sample's code lies from
        the codes of the training samples. A reconstruction error sees only
        what the model cannot rebuild; a sample far out along the directions
        the code does rebuild (an unusually large value of a feature the
        normal data vary in) is reconstructed well and would pass. With the
        code distance, minus the score is ``D2 + dof * error /
        error_scale_``: ``D2`` the squared Mahalanobis distance of the code
        from the training codes' mean (Ledoit-Wolf covariance of the
        training codes, ``code_mean_`` and ``code_precision_``), ``error``
        the sample's reconstruction error, ``error_scale_`` its median over
        the calibration samples (a robust estimate of its mean, which a few
        rows with huge errors would inflate) and ``dof``
        (``residual_dof_``) the number of features less the code's width.
        It is twice the negative log-likelihood, up to a constant, of a
        Gaussian code with a Gaussian residual of the calibration samples'
        scale in the remaining dimensions: probabilistic PCA's, with the autoencoder in
        place of the linear projection. ``"auto"`` turns it on where it
        applies: a deterministic skae autoencoder (a variational model's
        ELBO has its own term for the code) whose code is narrower than the
        input. ``True`` asks for it (an error where it does not apply),
        ``False`` scores by the error alone.
    trim : float in [0, 0.5), default=0.0
        The fraction of the training samples to leave out of the final fit,
        as the likely outliers among them. Unlabelled training data often
        hold outliers, which a model trained on them learns to reconstruct
        and then scores as normal. With ``trim > 0`` the training samples
        are split in two halves at random; a clone of ``estimator`` fitted
        on each half scores the other with the detector's statistic (so no
        sample is scored by a model that learned it), each half drops the
        fraction ``trim`` of its samples that score lowest, and the final
        model (the same seed) trains on the rest. Set it to the expected
        fraction of outliers in the training data; on clean training data it
        only removes the hardest normal samples, which costs accuracy. The
        calibration samples (``novelty=True``) are never trimmed, so the
        threshold keeps its meaning. Fitting takes about twice as long
        (two half fits, then the final one). ``n_trimmed_`` tells how many
        samples were dropped.
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
    calibration_scores_ : ndarray of shape (n_calibration,)
        Sorted scores of the calibration samples (of the training samples
        with ``novelty=False``).
    code_distance_ : bool
        Whether the scores include the code distance (``code_distance``).
    code_mean_ : ndarray of shape (code_width,)
        Mean code of the training samples (with the code distance only).
    code_precision_ : ndarray of shape (code_width, code_width)
        Inverse of the Ledoit-Wolf covariance of the training codes (with
        the code distance only).
    error_scale_ : float
        Median reconstruction error of the calibration samples (of the
        training samples with ``novelty=False``), with the code distance
        only.
    residual_dof_ : int
        Number of features less the code's width, with the code distance
        only.
    n_trimmed_ : int
        Number of training samples left out of the final fit (``trim``).
    offset_ : float
        Threshold on ``score_samples`` for the current ``contamination``:
        ``decision_function`` is ``score_samples - offset_`` and samples
        below zero are outliers.
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
    >>> flagged = detector.predict(X[y == 0]) == -1
    >>> bool(0.0 < flagged.mean() < 0.15)
    True
    >>> bool(detector.score_samples(X[y == 0]).mean() > detector.score_samples(X[y != 0]).mean())
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "score_samples"]), None],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "threshold": [StrOptions({"contamination", "fdr"})],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "novelty": ["boolean"],
        "calibration_fraction": [Interval(Real, 0, 1, closed="neither")],
        "error": [StrOptions({"model", *_ERRORS})],
        "standardize": ["boolean"],
        "code_distance": [StrOptions({"auto"}), "boolean"],
        "trim": [Interval(Real, 0, 0.5, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        contamination="auto",
        threshold="contamination",
        alpha=0.1,
        novelty=True,
        calibration_fraction=0.2,
        error="model",
        standardize=True,
        code_distance="auto",
        trim=0.0,
        random_state=None,
    ):
        self.estimator = estimator
        self.contamination = contamination
        self.threshold = threshold
        self.alpha = alpha
        self.novelty = novelty
        self.calibration_fraction = calibration_fraction
        self.error = error
        self.standardize = standardize
        self.code_distance = code_distance
        self.trim = trim
        self.random_state = random_state

    # The wrapped estimator validates its own parameters when it is fitted.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the autoencoder on ``X`` and keep the scores of held-out calibration samples.

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

    def _check_outlier_detection(self):
        if self.novelty:
            raise AttributeError(
                "fit_predict labels the training data itself, which is outlier detection: "
                "set novelty=False for it. With novelty=True (the threshold set for new "
                "data) use fit(X).predict(X_new)."
            )
        return True

    @available_if(_check_outlier_detection)
    def fit_predict(self, X, y=None):
        """Fit on ``X`` and label its samples (outlier detection, ``novelty=False``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or None, default=None
            Passed on to the autoencoder's ``fit`` (labels of a CVAE).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            +1 for inliers, -1 for outliers: ``contamination`` of them.
        """
        return self.fit(X, y).predict(X)

    def _fit(self, X, y):
        if self.estimator is None:
            estimator = AutoEncoder(random_state=self.random_state)
        else:
            estimator = clone(self.estimator)
            if self.random_state is not None and "random_state" in estimator.get_params():
                estimator.set_params(random_state=self.random_state)
        X = self._validate_X(X, reset=True, estimator=estimator)
        refusal = _code_distance_refusal(estimator)
        if self.code_distance is True and refusal is not None:  # before any training
            _refuse_code_distance(refusal)
        if self.error != "model" and not hasattr(estimator, "reconstruct"):
            raise ValueError(
                f"error={self.error!r} compares samples with their reconstruction, but "
                f"{type(estimator).__name__} has no reconstruct method; use error='model' "
                "to score with its score_samples, or a skae autoencoder."
            )
        train, calibration = self._calibration_split(_num_samples(X))
        take = _safe_indexing if _prepares_own_input(estimator) else _engine.take_rows
        if self.standardize and not _prepares_own_input(estimator):
            self.scaler_ = self._fit_scaler(take(X, train))
        elif hasattr(self, "scaler_"):
            del self.scaler_
        X = self._standardized(X)
        X_train = X if calibration is None else take(X, train)
        y_train = y if y is None or calibration is None else _rows(y, train)
        self.n_trimmed_ = 0
        if self.trim > 0:
            kept = self._untrimmed(estimator, X_train, y_train, take)
            self.n_trimmed_ = _num_samples(X_train) - len(kept)
            X_train = take(X_train, kept)
            y_train = None if y_train is None else _rows(y_train, kept)
        self.estimator_ = estimator.fit(X_train, y_train)
        self._fit_code_distance(X_train, take)
        # outlier detection (no calibration rows) scores every training row
        held_out = X if calibration is None else take(X, calibration)
        self.calibration_scores_ = np.sort(self._reference_scores(held_out))
        return self

    def _reference_scores(self, X):
        """The scores of ``X``, rows new to the model, with ``error_scale_`` set from them.

        The calibration rows (and ``trim``'s scored halves): with the code
        distance, the error is scaled by its median over these rows.
        """
        error, codes = self._error_and_codes(X)
        if self.code_distance_:
            self.error_scale_ = max(float(np.median(error)), _MIN_ERROR_SCALE)
        return self._combined(error, codes)

    # ``trim`` fits a model on each half of the training rows: at least this many a half
    _min_trim_rows = 5

    def _untrimmed(self, estimator, X_train, y_train, take):
        """The sorted rows of ``X_train`` that ``trim`` keeps for the final fit.

        The rows are split in two halves at random (the detector's own
        stream); a clone of ``estimator`` fitted on each half scores the
        other with the detector's statistic (:meth:`_reference_scores`), and
        each half drops its lowest scoring fraction ``trim``: scored by a
        model that never saw them, outliers cannot pass for normal by having
        been learned.
        """
        n = _num_samples(X_train)
        if n // 2 < self._min_trim_rows:
            raise ValueError(
                f"trim={self.trim} fits a model on each half of the {n} training samples "
                f"to find the outliers among them, which needs at least "
                f"{2 * self._min_trim_rows} samples. Pass more samples or set trim=0."
            )
        order = np.random.RandomState(self._split_seed() + 1).permutation(n)
        halves = np.sort(order[: n // 2]), np.sort(order[n // 2 :])
        kept = []
        for fit_rows, score_rows in (halves, halves[::-1]):
            fit_X = take(X_train, fit_rows)
            self.estimator_ = clone(estimator).fit(
                fit_X, None if y_train is None else _rows(y_train, fit_rows)
            )
            self._fit_code_distance(fit_X, take)
            scores = self._reference_scores(take(X_train, score_rows))
            n_dropped = int(round(self.trim * len(scores)))
            kept.append(score_rows[np.argsort(scores, kind="stable")[n_dropped:]])
        return np.sort(np.concatenate(kept))

    # Training rows encoded for the code distance's mean and covariance: a
    # seeded subset beyond this, so that its cost is bounded however large the data.
    _code_distance_rows = 4096

    def _fit_code_distance(self, X_train, take):
        """Resolve ``code_distance``; fit the statistics of the training codes.

        The scale of the error, ``error_scale_``, is set by ``fit`` from the
        calibration rows' errors, computed with their codes in one pass.
        """
        for name in ("code_mean_", "code_precision_", "error_scale_", "residual_dof_"):
            self.__dict__.pop(name, None)
        self.code_distance_ = False
        est = self.estimator_
        if self.code_distance is False or _code_distance_refusal(est) is not None:
            return  # True was refused before training
        n = _num_samples(X_train)
        if n > self._code_distance_rows:
            rows = np.random.RandomState(0).choice(n, self._code_distance_rows, replace=False)
            X_train = take(X_train, np.sort(rows))
        codes = np.asarray(est.transform(X_train), dtype=np.float64)
        codes = codes.reshape(len(codes), -1)
        n_features = int(np.prod(np.shape(X_train)[1:]))
        if codes.shape[1] >= n_features:
            if self.code_distance == "auto":
                return
            _refuse_code_distance(
                f"its code has {codes.shape[1]} values for {n_features} features: with no "
                "fewer features than code values there is no residual to weigh the code against"
            )
        covariance = LedoitWolf().fit(codes)
        self.code_mean_ = covariance.location_
        self.code_precision_ = covariance.get_precision()
        self.residual_dof_ = n_features - codes.shape[1]
        self.code_distance_ = True

    def _calibration_split(self, n):
        """Sorted training and calibration rows of ``n`` (calibration ``None``: none held out)."""
        if not self.novelty:
            return np.arange(n), None
        n_calibration = int(round(self.calibration_fraction * n))
        if n_calibration < 1 or n_calibration >= n:
            raise ValueError(
                f"calibration_fraction={self.calibration_fraction} holds out {n_calibration} "
                f"of {n} samples to set the threshold; that leaves "
                f"{'none' if n_calibration < 1 else 'no training sample'}. Pass more samples, "
                "change calibration_fraction, or set novelty=False to set the threshold from "
                "the training scores."
            )
        order = np.random.RandomState(self._split_seed()).permutation(n)
        return np.sort(order[n_calibration:]), np.sort(order[:n_calibration])

    def _split_seed(self) -> int:
        """The seed of the detector's own splits of its rows (calibration, ``trim``'s halves).

        A stream of its own, so that the splits do not consume the estimator's
        seed; with random_state=None they are fixed, so that a seeded
        estimator gives the same detector every time.
        """
        if self.random_state is None:
            return 0
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _validate_X(self, X, *, reset, estimator=None):
        if _prepares_own_input(self.estimator_ if estimator is None else estimator):
            # the estimator validates, scales and encodes its columns itself
            _check_feature_names(self, X, reset=reset)
            _check_n_features(self, X, reset=reset)
            return X

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
        if not self.standardize or not hasattr(self, "scaler_"):  # or a table: no scaler
            return X

        def standardize(block):
            flat = self.scaler_.transform(block.reshape(len(block), -1))
            if np.abs(flat).max(initial=0.0) > _FLOAT32_MAX:
                self._refuse_standardized(X, flat)
            return flat.reshape(block.shape).astype(block.dtype, copy=False)

        return _engine.map_blocks(X, standardize)

    def _refuse_standardized(self, X, flat):
        """Name the column whose values ``standardize`` scales beyond float32, in the user's range."""
        column = int(np.argmax(np.abs(flat).max(axis=0)))
        chunks = [chunk.reshape(len(chunk), -1)[:, column] for (chunk,) in _engine.row_chunks(X)]
        low = min(float(c.min()) for c in chunks)
        high = max(float(c.max()) for c in chunks)
        mean, scale = float(self.scaler_.mean_[column]), float(self.scaler_.scale_[column])
        raise ValueError(
            f"X has values in column {column} (range [{low:.3g}, {high:.3g}]) that "
            f"standardize=True scales by the training data's mean {mean:.3g} and standard "
            f"deviation {scale:.3g} to magnitudes up to {np.abs(flat[:, column]).max():.3g}, "
            f"beyond float32 range ({_FLOAT32_MAX:.3g}), which the network computes in. "
            "The column varies far more than it did in the training data: check the data, "
            "or fit with standardize=False and scale the data yourself."
        )

    def _error(self, X):
        """Minus the estimator's score of each sample: its reconstruction error, or minus its ELBO."""
        if self.error == "model":
            scores = self.estimator_.score_samples(X)
        else:
            est = self.estimator_
            scores = -est._errors(*est._score_data(X), _ERRORS[self.error])
        return -np.asarray(scores, dtype=np.float64).reshape(len(X))

    def _error_and_codes(self, X):
        """:meth:`_error` of each sample and, with the code distance, its flat code (else None).

        One pass of the network gives both
        (:meth:`~skae.BaseAutoEncoder._errors_and_codes`): the code distance
        applies to skae's deterministic autoencoders only, whose
        ``score_samples`` (``error="model"``) is minus the squared error.
        """
        if not self.__dict__.get("code_distance_", False):  # or a file from before it
            return self._error(X), None
        kind = "mse" if self.error == "model" else _ERRORS[self.error]
        return self.estimator_._errors_and_codes(X, kind)

    def _combined(self, error, codes):
        """The scores of samples with ``error`` and ``codes`` (None: the error alone)."""
        if codes is None:
            return -error
        centred = codes - self.code_mean_
        # a matrix product, then a row sum: einsum's three-operand loop takes
        # seconds on wide codes (a ConvAE's 392)
        distance = np.sum((centred @ self.code_precision_) * centred, axis=1)
        return -(distance + self.residual_dof_ * error / self.error_scale_)

    def _score(self, X):
        return self._combined(*self._error_and_codes(X))

    @property
    def offset_(self) -> float:
        """Threshold on ``score_samples`` set by ``contamination`` from the calibration scores.

        Computed from ``calibration_scores_`` and the current
        ``contamination``, so ``set_params(contamination=...)`` moves it
        without refitting.
        """
        check_is_fitted(self)
        scores = self.__dict__.get("calibration_scores_")
        if scores is None:  # a file written before calibration scores were kept
            return self.__dict__["offset_"]
        if self.contamination == "auto":
            median = np.median(scores)
            mad = np.median(np.abs(scores - median))
            return float(median - AUTO_MAD_FACTOR * MAD_TO_SIGMA * mad)
        if not self.novelty:  # outlier detection: that fraction of the training rows
            return float(np.percentile(scores, 100.0 * self.contamination))
        # A new score exchangeable with the n calibration scores falls below
        # the k-th smallest of them with probability k / (n + 1): the k
        # nearest to contamination flags that fraction of new normal rows.
        k = min(max(1, round(self.contamination * (len(scores) + 1))), len(scores))
        return float(scores[k - 1])

    def feature_errors(self, X):
        """Per-feature error of each sample, as the detector sees it: which features made it unusual.

        The autoencoder's :meth:`~skae.AutoEncoder.feature_errors` of the
        standardised ``X`` (``standardize=True``), squared, or absolute for
        ``error="absolute"``: for ``error="squared"`` and ``"absolute"`` the
        row mean is the error in ``score_samples``, which is minus that mean
        without the code distance (``code_distance_`` False) and minus
        ``D2 + residual_dof_ * mean / error_scale_`` with it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to explain.

        Returns
        -------
        errors : ndarray or DataFrame of shape (n_samples, n_features)
            A pandas DataFrame named by the features when the detector was
            fitted on one, or under
            ``sklearn.set_config(transform_output="pandas")``.
        """
        check_is_fitted(self)
        est = self.estimator_
        if not hasattr(est, "_errors"):
            raise TypeError(
                f"feature_errors compares samples with their reconstruction, which "
                f"{type(est).__name__} does not give; use a skae autoencoder as estimator."
            )
        X = self._standardized(self._validate_X(X, reset=False))
        errors = est._errors(*est._score_data(X), _ERRORS.get(self.error, "mse"), per_feature=True)
        return _feature_frame(self, errors)

    def pvalues(self, X):
        """Conformal p-value of each sample: how unusual its score is among the calibration scores.

        ``(1 + #{calibration scores <= score}) / (n_calibration + 1)``: small
        for samples scoring below the held-out normal data. For a new sample
        drawn like the calibration samples (exchangeable with them: the
        same distribution, not used to train the autoencoder), ``P(p <= a)
        <= a`` for every ``a``; this holds with ``novelty=True``, not for
        the training scores of ``novelty=False``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to test.

        Returns
        -------
        pvalues : ndarray of shape (n_samples,)
            Values in ``(0, 1]``.
        """
        scores = self.score_samples(X)
        calibration = self.calibration_scores_
        below = np.searchsorted(calibration, scores, side="right")
        return (1.0 + below) / (len(calibration) + 1.0)

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
            (``error="model"``); with the code distance
            (``code_distance_``), minus ``D2 + residual_dof_ * error /
            error_scale_`` (see ``code_distance``).
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
            ``score_samples(X) - offset_``, or with ``threshold="fdr"``
            ``score_samples(X)`` minus the Benjamini-Hochberg cutoff of this
            batch (negative where a sample is flagged).
        """
        if self.threshold == "contamination":
            return self.score_samples(X) - self.offset_
        scores = self.score_samples(X)
        return scores - self._fdr_cutoff(scores)

    def _fdr_cutoff(self, scores) -> float:
        """The Benjamini-Hochberg score cutoff at ``alpha`` for one batch of scores.

        The step-up procedure over the batch's conformal p-values rejects
        every sample whose p-value is at most the largest ``p_(k) <= alpha *
        k / m``; as p-values rise with the score, these are the samples
        scoring below the returned cutoff (a finite number whatever the
        batch).
        """
        calibration = self.calibration_scores_
        below = np.searchsorted(calibration, scores, side="right")
        p = np.sort((1.0 + below) / (len(calibration) + 1.0))
        m = len(p)
        passed = np.flatnonzero(p <= self.alpha * np.arange(1, m + 1) / m)
        if len(passed) == 0:  # nothing rejected: below every score
            return float(np.min(scores))
        # rejected: at most as many calibration scores below them as the k-th
        count = int(round(p[passed[-1]] * (len(calibration) + 1))) - 1
        if count >= len(calibration):  # every sample rejected
            return float(np.nextafter(np.max(scores), np.inf))
        return float(calibration[count])

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
