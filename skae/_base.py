"""What every skae estimator shares: the sklearn face over the training engine.

A family subclasses :class:`BaseAutoEncoder`, lists its parameters in
``__init__`` and ``_parameter_constraints``, and implements
:meth:`BaseAutoEncoder._build_module`. It may override
:meth:`~BaseAutoEncoder._build_criterion` (a different loss),
:meth:`~BaseAutoEncoder._check_data` (parameter checks that need the data),
:meth:`~BaseAutoEncoder._reshape_input` (N-D inputs such as images),
:meth:`~BaseAutoEncoder._network_input` (extra network inputs such as a
class label), :meth:`~BaseAutoEncoder._training_callbacks` (engine callbacks
such as a loss-weight warm-up) and :meth:`~BaseAutoEncoder._code_distribution`
(the code distribution that :meth:`~BaseAutoEncoder.sample` decodes).
"""

from __future__ import annotations

import copy
import math
from abc import ABCMeta, abstractmethod
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _engine
from ._summary import summarize
from .modules.losses import ReconstructionLoss, per_sample_error
from .noise import split_noisy

__all__ = ["BaseAutoEncoder", "sample_errors"]


def sample_errors(X_rec, target, kind: str = "mse") -> np.ndarray:
    """Mean reconstruction error of each sample, as float64 numpy.

    The numpy face of :func:`skae.modules.losses.per_sample_error`, so that
    training losses, ``score_samples`` and the outlier detector share one
    formula. ``kind`` is ``"mse"``, ``"mae"`` or ``"bce"``.
    """
    X_rec, target = (
        torch.from_numpy(np.require(a, dtype=np.float64, requirements=["C", "W"]))
        for a in (X_rec, target)
    )
    return per_sample_error(X_rec, target, kind).numpy()


@contextmanager
def _rollback_on_error(estimator):
    """Leave ``estimator`` exactly as it was if the block raises."""
    saved = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise


class BaseAutoEncoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base class of the skae autoencoders. Not for direct use."""

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions({"mse", "bce", "mae"})],
        "optimizer": [StrOptions(set(_engine.OPTIMIZERS)), type],
        "optimizer_kwargs": [dict, None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "device": [str],
        "precision": [StrOptions(set(_engine.PRECISIONS))],
        "random_state": ["random_state"],
    }

    @abstractmethod
    def __init__(
        self,
        n_components,
        *,
        loss,
        optimizer,
        optimizer_kwargs,
        lr,
        weight_decay,
        batch_size,
        max_epochs,
        shuffle,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        tol,
        warm_start,
        callbacks,
        verbose,
        device,
        precision,
        random_state,
    ):
        self.n_components = n_components
        self.loss = loss
        self.optimizer = optimizer
        self.optimizer_kwargs = optimizer_kwargs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.verbose = verbose
        self.device = device
        self.precision = precision
        self.random_state = random_state

    # ------------------------------------------------------------------
    # Hooks for the families
    # ------------------------------------------------------------------
    @abstractmethod
    def _build_module(self, n_features: int, target: np.ndarray) -> torch.nn.Module:
        """Return a fresh torch module for ``n_features`` inputs.

        ``target`` is the validated training target, for choices that depend
        on the data (such as a sigmoid output for data in [0, 1]).
        """

    def _build_criterion(self) -> torch.nn.Module:
        """Return the training criterion, called as ``criterion(output, target)``."""
        return ReconstructionLoss(self.loss)

    def _check_data(self, X: np.ndarray, target: np.ndarray) -> None:
        """Raise ``ValueError`` when a parameter does not suit the training data."""
        if self.loss == "bce" and (target.min() < 0 or target.max() > 1):
            raise ValueError(
                f"loss='bce' needs targets in [0, 1], but the data range over "
                f"[{target.min():.3g}, {target.max():.3g}]. Scale the data "
                "(e.g. MinMaxScaler) or use loss='mse'."
            )

    def _reshape_input(self, X):
        """Return ``X`` as a 2-D ``(n_samples, n_features)`` array.

        Families with structured inputs (images, sequences) flatten N-D arrays
        here; the default leaves the array to sklearn's validation.
        """
        return X

    def _split_target(self, X):
        """Return ``(input, target)``; target ``None`` means the input itself.

        Data from :class:`~skae.NoiseAugmenter` (a :class:`~skae.noise.NoisyArray`
        or its pandas form) gives its noisy values and its clean source, so
        every autoencoder learns noisy -> clean and scores against clean.
        """
        X, clean, _ = split_noisy(X)
        return X, clean

    def _training_corruption(self):
        """Return a callable corrupting training batches, or ``None``."""
        return None

    def _network_input(self, X: np.ndarray, y, *, reset: bool) -> np.ndarray:
        """Return the array the network trains on, from validated ``X`` and fit's ``y``.

        The default is ``X`` itself (``y`` ignored). A family that feeds
        more than the data (a conditional model appending a one-hot label)
        validates ``y`` here, setting label attributes when ``reset``. The
        reconstruction target stays the data.
        """
        return X

    def _training_callbacks(self) -> list:
        """Return engine callbacks the family adds to the user's ``callbacks``."""
        return []

    def _code_distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(mean, std)`` of the diagonal Gaussian over codes that generates.

        The default is fitted to the training codes (``code_mean_``,
        ``code_std_``); variational families return their prior.
        """
        return self.code_mean_, self.code_std_

    # ------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------
    def _validate_X(self, X, *, reset: bool) -> np.ndarray:
        X = self._reshape_input(X)
        if _engine.is_streamed(X):
            return self._validate_streamed(X, reset=reset)
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_min_samples=1,
        )
        return X

    def _validate_streamed(self, X: np.memmap, *, reset: bool) -> np.memmap:
        """Validate a memmap without copying it: shape and dtype, then finiteness by chunks."""
        if X.ndim != 2:
            raise ValueError(
                f"Expected 2D array, got a memmap of shape {X.shape}. Save the data as "
                "(n_samples, n_features), or reshape the memmap."
            )
        if X.dtype not in (np.float32, np.float64):
            raise ValueError(
                f"A memmap is streamed as it is, so it must hold float32 or float64 values, "
                f"not {X.dtype}. Save the data as float32 (e.g. np.lib.format.open_memmap("
                "path, mode='w+', dtype=np.float32, shape=...)), or pass an in-memory array."
            )
        if X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(
                f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) "
                f"(shape={X.shape}) while a minimum of 1 is required."
            )
        validate_data(self, X, reset=reset, skip_check_array=True)
        return _engine.check_streamed(X)

    def _check_optimizer(self):
        optimizer = self.optimizer
        if isinstance(optimizer, type) and not issubclass(optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"optimizer={optimizer!r} is not a torch.optim.Optimizer subclass; "
                f"pass one of {sorted(_engine.OPTIMIZERS)} or a class such as torch.optim.Adam."
            )

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. An array returned by
            :class:`~skae.NoiseAugmenter` trains noisy -> clean.
        y : None
            Ignored; present for Pipeline compatibility.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch on ``X``, continuing from the current weights.

        The first call builds the network as ``fit`` would. No validation
        split is made, so ``early_stopping`` does not apply here.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        return self._fit(X, y, incremental=True)

    def _fit(self, X, y, *, incremental: bool):
        continuing = (incremental or self.warm_start) and hasattr(self, "net_")
        with _rollback_on_error(self):
            X, target = self._split_target(X)
            X = self._validate_X(X, reset=not continuing)
            if target is not None:
                target = self._validate_X(target, reset=False)
            self._check_optimizer()
            self._check_data(X, X if target is None else target)
            if continuing:
                net, seed = self.net_, self._seed
                net.corrupt = self._training_corruption()
                device = torch.device(net.device)
                epochs_done = len(net.history)
            else:
                seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
                device = _engine.resolve_device(self.device)
                _engine.check_precision(self.precision, device)
                net = self._net_factory(X, target, seed, device, incremental=incremental)
                epochs_done = 0
            inputs = self._network_input(X, y, reset=not continuing)
            clean = X if target is None else target
            data = _engine.make_source(
                inputs, None if inputs is X and target is None else clean, device
            )
            self._n_inputs = int(data.X.shape[1])  # the network's input width
            epochs = 1 if incremental else self.max_epochs
            split = net.train_split if continuing else None
            if continuing and incremental:
                net.train_split = None
            try:
                net = _engine.train(net, data, epochs=epochs, seed=seed + epochs_done)
            finally:
                if continuing and incremental:
                    net.train_split = split
            self._set_fitted(net, seed)
            self._fit_code_distribution(clean)
        return self

    # Rows of the training data encoded to estimate the code distribution:
    # enough for a diagonal Gaussian, and a bounded cost for large data.
    _code_distribution_rows = 4096

    def _fit_code_distribution(self, X):
        """Store the mean and standard deviation of the codes of ``X``.

        At most ``_code_distribution_rows`` rows, a seeded random subset, are
        encoded, so this step costs a bounded fraction of one epoch.
        """
        if len(X) > self._code_distribution_rows:
            rows = np.random.RandomState(self._seed).choice(
                len(X), self._code_distribution_rows, replace=False
            )
            rows = np.sort(rows)
            X = _engine.read_rows(X, rows) if _engine.is_streamed(X) else X[rows]
        Z = self._apply(self.net_.module_.encode, X, np.float64)
        self.code_mean_ = Z.mean(axis=0)
        self.code_std_ = Z.std(axis=0)

    def _net_factory(self, X, target, seed, device, *, incremental):
        validation = None
        fraction = self.validation_fraction
        if fraction is None and self.early_stopping:
            fraction = 0.1
        corrupt = self._training_corruption()
        if fraction is not None and not incremental:
            validation = _engine.HoldOutSplit(fraction, seed, corrupt=corrupt)
        callbacks = [*copy.deepcopy(self.callbacks or []), *self._training_callbacks()]
        n_features = X.shape[1]
        target_values = X if target is None else target

        def factory():
            return _engine.make_net(
                self._build_module(n_features, target_values),
                self._build_criterion(),
                optimizer=self.optimizer,
                optimizer_kwargs=self.optimizer_kwargs,
                lr=self.lr,
                weight_decay=self.weight_decay,
                batch_size=self.batch_size,
                shuffle=self.shuffle,
                validation=validation,
                early_stopping_patience=(
                    self.n_iter_no_change if self.early_stopping and not incremental else None
                ),
                tol=self.tol,
                callbacks=callbacks,
                verbose=self.verbose,
                device=device,
                corrupt=corrupt,
                precision=self.precision,
            )

        return factory

    def _set_fitted(self, net, seed):
        history = net.history
        loss_curve = [float(row["train_loss"]) for row in history]
        if not all(math.isfinite(v) for v in loss_curve):
            epoch = next(i for i, v in enumerate(loss_curve) if not math.isfinite(v)) + 1
            raise ValueError(
                f"Training diverged: the training loss became {loss_curve[epoch - 1]} at "
                f"epoch {epoch}. Lower lr, scale the input (e.g. StandardScaler), or use a "
                "bounded output_activation."
            )
        self.net_ = net
        self._seed = seed
        self.loss_curve_ = loss_curve
        valid = [row.get("valid_loss") for row in history]
        if any(v is not None for v in valid):
            self.validation_loss_curve_ = [math.nan if v is None else float(v) for v in valid]
        elif hasattr(self, "validation_loss_curve_"):
            del self.validation_loss_curve_
        self.n_iter_ = len(history)
        self.n_components_ = int(net.module_.n_components)

    # ------------------------------------------------------------------
    # Inference
    # ------------------------------------------------------------------
    def _apply(self, fn, X, out_dtype):
        out = _engine.predict_batches(
            fn,
            self.net_.module_,
            X,
            batch_size=self.batch_size,
            device=self.net_.device,
            precision=getattr(self.net_, "precision", "32"),
        )
        return out.astype(out_dtype, copy=False)

    def transform(self, X):
        """Encode ``X`` into the code space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_)
            Codes (the posterior mean for variational models).
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._apply(self.net_.module_.encode, X, X.dtype)

    def inverse_transform(self, X):
        """Decode codes back into the data space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Codes, as returned by ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Reconstructions.
        """
        check_is_fitted(self)
        Z = self._validate_codes(X)
        return self._apply(self.net_.module_.decode, Z, Z.dtype)

    def _validate_codes(self, Z):
        Z = check_array(Z, dtype=[np.float64, np.float32])
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}.inverse_transform "
                f"expects codes with n_components_={self.n_components_} features: pass the "
                "output of transform."
            )
        return Z

    def reconstruct(self, X):
        """Encode then decode ``X``: the reconstruction, ``inverse_transform(transform(X))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to reconstruct.

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features_in_)
            Reconstructions.
        """
        check_is_fitted(self)
        return self._reconstruct(self._validate_X(X, reset=False))

    def _reconstruct(self, X):
        module = self.net_.module_
        return self._apply(lambda x: module.decode(module.encode(x)), X, X.dtype)

    def sample(self, n_samples=1, *, random_state=None):
        """Generate samples by decoding random codes.

        Plain autoencoders draw codes from a diagonal Gaussian fitted to the
        codes of the training data (``code_mean_``, ``code_std_``);
        variational models draw from their prior. For a Gaussian mixture
        over the codes, see :func:`skae.sample_latent`.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the drawn codes; the same integer gives the same samples.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_)
            Decoded samples.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        Z = self._sample_codes(int(n_samples), check_random_state(random_state))
        return self._apply(self.net_.module_.decode, Z, np.float64)

    def _sample_codes(self, n_samples, random_state):
        mean, std = self._code_distribution()
        return mean + std * random_state.standard_normal((n_samples, self.n_components_))

    def score_samples(self, X):
        """Per-sample score, higher for better reconstructed (more normal) samples.

        The negative mean squared reconstruction error of each sample;
        deterministic (no dropout, no sampling).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Negative mean squared error per sample.
        """
        check_is_fitted(self)
        X, target = self._split_target(X)
        X = self._validate_X(X, reset=False)
        target = X if target is None else self._validate_X(target, reset=False)
        if _engine.is_streamed(X) or _engine.is_streamed(target):
            chunks = _engine.row_chunks(X, target, batch_size=self.batch_size)
            return np.concatenate(
                [-sample_errors(self._reconstruct(x), t, "mse") for x, t in chunks]
            )
        return -sample_errors(self._reconstruct(X), target, "mse")

    def score(self, X, y=None):
        """Negative mean squared reconstruction error (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to reconstruct.
        y : None
            Ignored.

        Returns
        -------
        score : float
            ``score_samples(X).mean()``.
        """
        return float(np.mean(self.score_samples(X)))

    def summary(self, print_fn=print):
        """Print and return a table of the network's layers, like Keras's ``model.summary()``.

        Parameters
        ----------
        print_fn : callable or None, default=print
            Called with the table's text; ``None`` only returns it.

        Returns
        -------
        summary : ModelSummary
            ``str(summary)`` is the table: every layer in the order a forward
            pass runs it, its output shape (``None`` for the batch) and
            parameter count, then the totals. ``summary.rows`` and
            ``summary.total_params`` hold the numbers.
        """
        check_is_fitted(self)
        table = summarize(
            self.net_.module_,
            self._n_inputs,
            title=f"{type(self).__name__} ({type(self.net_.module_).__name__})",
            device=self.net_.device,
        )
        if print_fn is not None:
            print_fn(str(table))
        return table

    # ------------------------------------------------------------------
    # sklearn plumbing
    # ------------------------------------------------------------------
    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
