"""NoiseAugmenter: corruption as a scikit-learn transformer."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _codec, _engine
from ._base import SaveMixin, _check_input_values, _rollback_on_error
from .noise import ATTRS_KEY, KINDS, CleanSource, NoiseRecipe, NoisyArray, check_noise

__all__ = ["NoiseAugmenter"]


class NoiseAugmenter(SaveMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Corrupt training data with random noise, remembering the clean source.

    An augmentation step: it corrupts in training only, as
    imbalanced-learn's samplers resample in training only.
    ``fit_transform`` (what a :class:`~sklearn.pipeline.Pipeline` calls
    when it is fitted) returns the corrupted data; ``transform`` (what a
    fitted Pipeline calls in ``predict``, ``transform``, ``score`` and the
    rest) returns the data unchanged, so a fitted denoising Pipeline
    applied to real noisy data denoises it and adds nothing. :meth:`corrupt`
    corrupts on demand, and :func:`~skae.add_noise` is the function form.

    Placed before a skae autoencoder in a Pipeline, it makes the autoencoder
    learn noisy -> clean with no extra arguments; the autoencoder keeps the
    recipe (``noise_``), and its ``score`` corrupts the held-out data it is
    given with it, so :class:`~sklearn.model_selection.GridSearchCV` ranks
    by denoising quality. To any other estimator (PCA, t-SNE, a classifier)
    its training output is a plain noisy array.

    The corrupted output is a :class:`~skae.noise.NoisyArray`: an
    ``ndarray`` whose attribute ``clean`` holds the clean source (sliced in
    step by indexing, kept by pickling) and ``recipe`` the corruption. With
    ``set_output(transform="pandas")`` it is a DataFrame carrying the same in
    ``DataFrame.attrs``. Other containers (polars) do not carry the clean
    source.

    Image data may also be given as an N-D array ``(n_samples, H, W)`` or
    ``(n_samples, C, H, W)``, for image autoencoders that accept it.

    Parameters
    ----------
    kind : {"gaussian", "salt_and_pepper", "masking", "speckle", "uniform"}, \
default="gaussian"
        Kind of noise:

        - "gaussian": ``X + level * N(0, 1)``;
        - "salt_and_pepper": a fraction ``level`` of the entries set to the
          low or the high value (the ``clip`` bounds, else 0 and 1);
        - "masking": a fraction ``level`` of the entries set to 0;
        - "speckle": ``X + X * level * N(0, 1)``;
        - "uniform": ``X + U(-level, level)``.
    level : float, default=0.2
        Noise strength; a fraction in [0, 1] for "salt_and_pepper" and
        "masking". 0 leaves the data unchanged.
    clip : "auto", tuple (low, high) or None, default="auto"
        Range to clip the corrupted data to, e.g. ``(0, 1)`` for images;
        either bound may be None. ``"auto"`` clips to ``(0, 1)`` when the
        data given to ``fit`` lie in [0, 1] (images, intensities), as the
        denoisers' own noise does, so the same recipe gives the same
        training noise before a denoiser in a Pipeline as given to it; and
        does not clip other data. ``None`` never clips.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise. With an int, every call of ``fit_transform`` or
        ``corrupt`` draws the same noise for an input of the same shape, so
        repeated corruptions are reproducible. A ``RandomState`` gives new
        noise at each call; ``None`` gives unpredictable noise.

    Attributes
    ----------
    clip_ : tuple or None
        The clipping range used (``clip`` with "auto" resolved at ``fit``).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column names.

    See Also
    --------
    add_noise : The same corruption as a function.
    DenoisingAE : Autoencoder trained to undo the corruption.

    Notes
    -----
    ``fit_transform(X)`` is not ``fit(X).transform(X)``: the first corrupts
    (training), the second passes ``X`` on (inference), as scikit-learn's
    ``TargetEncoder`` also distinguishes the two. A sample's noise depends
    on its position in the array corrupted, not on the sample alone.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import NoiseAugmenter
    >>> X = np.full((4, 3), 0.5)
    >>> augmenter = NoiseAugmenter("masking", level=0.5, random_state=0)
    >>> noisy = augmenter.fit_transform(X)
    >>> noisy.shape, bool(np.all((noisy == 0) | (noisy == 0.5)))
    ((4, 3), True)
    >>> noisy.clean is not None
    True
    >>> bool(np.array_equal(augmenter.transform(X), X))  # inference: unchanged
    True
    """

    _parameter_constraints: dict = {
        "kind": [StrOptions(set(KINDS))],
        "level": [Interval(Real, 0, None, closed="left")],
        "clip": [StrOptions({"auto"}), tuple, list, None],
        "random_state": ["random_state"],
    }

    def __init__(self, kind="gaussian", *, level=0.2, clip="auto", random_state=None):
        self.kind = kind
        self.level = level
        self.clip = clip
        self.random_state = random_state

    def _check_loaded_params(self):
        """The checks ``fit`` makes of the parameters, run on a loaded augmenter."""
        self._recipe()

    def _recipe(self, X=None) -> NoiseRecipe:
        """The corruption recipe of the current parameters (validated).

        ``clip="auto"`` is resolved from ``X`` when given (a denoiser holding
        this augmenter as its ``noise`` passes its training data), else as
        ``fit`` resolved it.
        """
        clip = self.clip
        if isinstance(clip, str) and clip == "auto":
            if X is not None:
                clip = (0.0, 1.0) if _engine.in_unit_range(X) else None
            else:
                clip = getattr(self, "clip_", None)
        check_noise(self.kind, self.level, clip)
        return NoiseRecipe(self.kind, float(self.level), None if clip is None else tuple(clip))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and record the number of features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; only its shape and feature names are used.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        with _rollback_on_error(self):
            X = _check_input_values(
                lambda X: validate_data(
                    self, X, reset=True, dtype=[np.float64, np.float32], allow_nd=True
                ),
                X,
            )
            self.clip_ = self._recipe(X).clip
        return self

    def fit_transform(self, X, y=None):
        """Fit, then return a corrupted copy of ``X`` that remembers ``X``.

        What a Pipeline calls when it is fitted: the training data are
        corrupted, as :meth:`corrupt` does.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean training data.
        y : None
            Ignored.

        Returns
        -------
        X_noisy : NoisyArray of shape (n_samples, n_features)
            The corrupted data, with ``X_noisy.clean`` the validated ``X``.
            A DataFrame carrying the clean frame in ``attrs`` when pandas
            output is set.
        """
        return self.fit(X, y).corrupt(X)

    def transform(self, X):
        """Return ``X`` unchanged (validated): noise is added in training only.

        A fitted Pipeline calls this in ``predict``, ``transform``,
        ``score`` and the rest, so real noisy data given to a fitted
        denoising Pipeline is denoised without further noise. Use
        :meth:`corrupt` (or ``fit_transform``) to corrupt data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features)
            A validated copy of ``X``; a DataFrame when pandas output is set.
        """
        check_is_fitted(self)
        return self._check_X(X)

    def corrupt(self, X):
        """Return a corrupted copy of ``X`` that remembers ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean data.

        Returns
        -------
        X_noisy : NoisyArray of shape (n_samples, n_features)
            The corrupted data, with ``X_noisy.clean`` the validated ``X``.
            A DataFrame carrying the clean frame in ``attrs`` when pandas
            output is set.
        """
        check_is_fitted(self)
        X_checked = self._check_X(X)
        recipe = self._recipe()
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        noisy = recipe.apply(X_checked, random_state=int(seed))
        if _get_output_config("transform", self)["dense"] == "pandas":
            return self._to_frame(noisy, X_checked, X, recipe)
        return NoisyArray(noisy, X_checked, recipe)

    def _check_X(self, X):
        return _check_input_values(
            lambda X: validate_data(
                self, X, reset=False, dtype=[np.float64, np.float32], copy=True, allow_nd=True
            ),
            X,
        )

    # Its output carries the clean source to the next step (noise.lost_clean_source).
    _skae_carries_clean_source = True

    def _to_frame(self, noisy, clean, X, recipe):
        import pandas as pd

        index = X.index if hasattr(X, "iloc") else None
        columns = self.get_feature_names_out()
        clean_frame = pd.DataFrame(clean, index=index, columns=columns)
        frame = pd.DataFrame(noisy, index=clean_frame.index, columns=columns)
        reference = pd.DataFrame(noisy, index=clean_frame.index, columns=columns, copy=True)
        frame.attrs[ATTRS_KEY] = CleanSource(clean_frame, recipe, reference)
        return frame

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


_codec.register("skae.NoiseAugmenter", NoiseAugmenter)
