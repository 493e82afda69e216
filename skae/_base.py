"""What every skae estimator shares: the sklearn face over the training engine.

A family subclasses :class:`BaseAutoEncoder`, lists its parameters in
``__init__`` and ``_parameter_constraints``, and implements
:meth:`BaseAutoEncoder._build_module` (a pure function of the parameters
and the fit plan). It may extend :meth:`~BaseAutoEncoder._plan` (what the
data decide, such as the output activation, and the parameter checks that
need the data), override :meth:`~BaseAutoEncoder._build_criterion` (a
different loss), :meth:`~BaseAutoEncoder._training_data` (what fit trains
on, e.g. a denoiser's clean source and noise recipe),
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
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _codec, _engine
from ._diagnostics import collapse_messages, warn
from ._summary import summarize
from .modules.losses import ReconstructionLoss, float64_error, per_sample_error
from .noise import lost_clean_source, split_noisy

__all__ = ["BaseAutoEncoder", "SaveMixin", "sample_errors"]


def _error_post(kind: str, per_feature: bool = False, exact: bool = False):
    """``post`` of :func:`skae._engine.map_rows` comparing an output with its target.

    Mean ``kind`` error of each row (float64,
    :func:`skae.modules.losses.per_sample_error`), or its per-feature values
    (:func:`~skae.modules.losses.float64_error`), ``exact`` as there: the row
    mean of the per-feature values is the row's error to float64 rounding.
    """

    if not per_feature:
        return lambda out, t: per_sample_error(out, t, kind, exact=exact)

    def post(out, t):
        n = t.shape[0]
        return float64_error(out.reshape(n, -1), t.reshape(n, -1), kind, exact=exact)

    return post


def _feature_frame(estimator, values: np.ndarray):
    """``values`` (one column a feature) as a DataFrame where the user works with pandas."""
    pandas = _get_output_config("transform", estimator)["dense"] == "pandas"
    names = getattr(estimator, "feature_names_in_", None)
    if not pandas and names is None:
        return values
    import pandas as pd

    columns = names if names is not None else [f"x{i}" for i in range(values.shape[1])]
    return pd.DataFrame(values, columns=list(columns))


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


# Seed of the corruption drawn by ``score`` for a model with a recipe: the
# same for every estimator, so all candidates of a grid search are scored on
# identical noise.
SCORE_SEED = 0


class FitCall(NamedTuple):
    """What kind of fit call a plan is resolved for (see :meth:`BaseAutoEncoder._plan`)."""

    continuing: bool  # warm_start or partial_fit on a fitted network
    incremental: bool  # partial_fit
    recipe: object  # the noise recipe carried by NoiseAugmenter data, or None
    classes: object  # partial_fit's classes=..., or None


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


def _copy_net(net):
    """A deep copy of a skorch net: weights, optimizer state, history, callbacks.

    The optimizer of the copy updates the copy's own parameters. Copies the
    attributes directly: ``copy.deepcopy(net)`` would go through skorch's
    pickling, which serialises every tensor and is ten times slower.
    """
    new = net.__class__.__new__(net.__class__)
    new.__dict__.update(copy.deepcopy(net.__dict__, {id(net): new}))
    return new


def _python_scalar(value):
    """``value`` with numpy scalars (also inside tuples and lists) as Python numbers."""
    if isinstance(value, np.generic) and not isinstance(value, np.str_ | np.bytes_):
        return value.item()
    if type(value) in (tuple, list):
        return type(value)(_python_scalar(v) for v in value)
    return value


@contextmanager
def _python_scalar_params(estimator):
    """Show numpy scalar parameters as Python numbers while the block runs.

    ``GridSearchCV`` over ``np.arange`` hands out ``np.int64`` values, which
    some torch layers refuse; converting them here, once, means no family
    has to. The parameters are put back as given afterwards.
    """
    given = estimator.get_params(deep=False)
    plain = {name: _python_scalar(value) for name, value in given.items()}
    changed = {name for name in given if plain[name] is not given[name]}
    for name in changed:
        setattr(estimator, name, plain[name])
    try:
        yield
    finally:
        for name in changed:
            setattr(estimator, name, given[name])


def _same(a, b) -> bool:
    """Whether two parameter values are equal: the same object, or equal values.

    Estimators (a ``NoiseAugmenter`` as ``noise``) compare by type and
    parameters, random generators by their state, so that a parameter and
    the snapshot of it that a loaded file holds as another object compare
    equal.
    """
    if a is b:
        return True
    if isinstance(a, BaseEstimator) and isinstance(b, BaseEstimator):
        pa, pb = a.get_params(deep=False), b.get_params(deep=False)
        return (
            type(a) is type(b) and pa.keys() == pb.keys() and all(_same(pa[k], pb[k]) for k in pa)
        )
    if isinstance(a, np.random.RandomState) and isinstance(b, np.random.RandomState):
        sa, sb = a.get_state(), b.get_state()
        return all(_same(x, y) for x, y in zip(sa, sb))
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays: elementwise ==
        try:
            return bool(np.array_equal(a, b))
        except (TypeError, ValueError):
            return False


def _check_input_values(validate, X):
    """Run ``validate(X)``, with errors that say what to do.

    pandas columns that are not numbers (text, categories, dates) are named,
    with the fix (encode them). numpy's and scikit-learn's messages for
    text, ragged rows, infinite values, complex numbers, N-D arrays and
    objects get the fix appended (``_VALUE_FIXES``); the error types stay.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(X, "columns"):
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        for column, dtype in dtypes.items():
            if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype)):
                raise ValueError(
                    f"Column {column!r} has dtype {dtype}, not numbers: skae networks take "
                    "numeric features only. Encode it first (e.g. OneHotEncoder or "
                    "OrdinalEncoder in a ColumnTransformer), or drop it."
                )
    try:
        return validate(X)
    except TypeError as error:
        message = str(error)
        if "argument must be" in message:  # an object array holding non-numbers
            raise TypeError(
                f"{message}. X must hold numbers only: convert or drop the cells that "
                "hold other objects."
            ) from error
        raise
    except ValueError as error:
        message = str(error)
        fix = next((fix for key, fix in _VALUE_FIXES.items() if key in message), None)
        if fix is not None:
            raise ValueError(f"{message.strip()} {fix}") from error
        raise


_RAGGED = (
    "X is ragged: its rows have different lengths, so it is not a (n_samples, "
    "n_features) table. Pad or truncate every row to the same number of features."
)
# Parts of numpy's and scikit-learn's input errors, and what to do about each.
_VALUE_FIXES = {
    "could not convert": (
        "X holds text, not numbers: skae networks take numeric features only. Encode text "
        "columns first (e.g. OneHotEncoder or OrdinalEncoder), or drop them."
    ),
    "inhomogeneous": _RAGGED,
    "with a sequence": _RAGGED,
    "infinity": (
        "Replace or drop the infinite values (e.g. np.nan_to_num, or clip to a finite "
        "range) before fitting or transforming."
    ),
    "Complex data": "Pass real numbers: e.g. np.abs(X) or np.real(X), or stack both parts.",
    "Found array with dim": (
        "Flatten each sample to one row, X.reshape(len(X), -1), or use an estimator taking "
        "a shape parameter (image_shape, sequence_shape)."
    ),
}


# Largest magnitude float32 holds; larger float64 values would become inf.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_float32_range(X: np.ndarray, what: str = "X") -> None:
    """Refuse finite values that float32, the network's precision, cannot hold."""
    if X.dtype != np.float64 or X.size == 0:
        return
    if max(-X.min(), X.max()) <= _FLOAT32_MAX:  # a validated memmap answers from its range
        return
    # column by column and block by block: a memmap is never read whole
    low = np.min([chunk.min(axis=0) for (chunk,) in _engine.row_chunks(X)], axis=0)
    high = np.max([chunk.max(axis=0) for (chunk,) in _engine.row_chunks(X)], axis=0)
    bad = np.flatnonzero(np.maximum(-low, high) > _FLOAT32_MAX)
    if len(bad):
        column = int(bad[0])
        raise ValueError(
            f"{what} has values beyond float32 range in column {column} (range "
            f"[{low[column]:.3g}, {high[column]:.3g}]; float32 holds magnitudes up to "
            f"{_FLOAT32_MAX:.3g}), which the network computes in and which would turn "
            "them into inf. Scale the data first (e.g. StandardScaler or MinMaxScaler)."
        )


class SaveMixin:
    """``save(path)`` for every skae estimator: one file, no pickle (:mod:`skae.persistence`)."""

    def save(self, path):
        """Save this estimator to one file, without pickle; see :func:`skae.save`.

        Parameters
        ----------
        path : str or path-like
            File to write; read it back with :func:`skae.load`.
        """
        _codec.save(self, path)


class BaseAutoEncoder(
    SaveMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base class of the skae autoencoders. Not for direct use."""

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions({"auto", "mse", "bce", "mae"})],
        "optimizer": [StrOptions(set(_engine.OPTIMIZERS)), type],
        "optimizer_kwargs": [dict, None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"auto", *_engine.LR_SCHEDULES})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
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
        lr_schedule,
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
        self.lr_schedule = lr_schedule
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
    # Plan entries the network is built from: a continued fit keeps them.
    _built_from = frozenset(
        {
            "loss_",
            "output_activation_",
            "activation_",
            "image_shape_",
            "sequence_shape_",
            "classes_",
        }
    )

    def _plan(self, X: np.ndarray, target: np.ndarray, y, call: FitCall) -> dict:
        """Resolve everything this fit decides from the data: ``{fitted attribute: value}``.

        Called once per fit, after validation and before anything is built;
        :meth:`_fit` assigns the plan in one place, then builds the module
        from it (:meth:`_build_module`). A family extends it (``super()``
        first) with what it resolves (``output_activation_``,
        ``image_shape_``, ``noise_``, ``classes_``, ...) and raises
        ``ValueError`` for a parameter that does not suit the data or would do
        nothing. A continued fit (``call.continuing``) keeps the entries in
        :attr:`_built_from` as fitted, so the plan's other entries are
        per-call settings. A loaded model has its plan from its file, so its
        network is rebuilt without the training data.
        """
        # the loss the network trains with: resolved by a new fit, or kept
        loss = self.loss_ if call.continuing else self._resolve_loss(target)
        if loss == "bce" and (target.min() < 0 or target.max() > 1):
            chosen = (
                "loss='auto' chose binary cross-entropy for the [0, 1] data of the first fit, and "
                if self.loss == "auto"
                else "loss='bce' "
            )
            raise ValueError(
                f"{chosen}needs targets in [0, 1], but the data range over "
                f"[{target.min():.3g}, {target.max():.3g}]. Scale the data "
                "(e.g. MinMaxScaler) or use loss='mse'."
            )
        # this call's batch and rate; noise_: the corruption learned from a
        # NoiseAugmenter's data, which score undoes
        batch, lr = self._resolve_batch(None if call.incremental else len(X))
        return {"loss_": loss, "noise_": call.recipe, "batch_size_": batch, "lr_": lr}

    def _resolve_batch(self, n_rows: int | None) -> tuple[int, float]:
        """The ``(batch_size_, lr_)`` this call trains with: "auto" resolved (``_engine.auto_batch``).

        ``n_rows`` is None in ``partial_fit``, which sees a chunk, not the
        data set. An explicit batch size trains at ``lr`` as given.
        """
        if self.batch_size == "auto":
            return _engine.auto_batch(n_rows, self.lr)
        return int(self.batch_size), float(self.lr)

    @abstractmethod
    def _build_module(self, n_features: int, target: np.ndarray | None) -> torch.nn.Module:
        """Return a fresh torch module for ``n_features`` inputs.

        Built from the parameters and the fitted plan (:meth:`_plan`), and
        nothing else: it sets no attribute. ``target`` is the validated training target,
        for a data-dependent initialisation (such as output biases at the
        data mean); ``None`` when the network is rebuilt to receive saved
        weights.
        """

    def _build_criterion(self) -> torch.nn.Module:
        """Return the training criterion, called as ``criterion(output, target)``."""
        return ReconstructionLoss(self.loss_)

    def _resolve_loss(self, target: np.ndarray) -> str:
        """Resolve ``loss="auto"``: "bce" for [0, 1] targets with a sigmoid output, else "mse".

        Binary cross-entropy keeps a useful gradient where a sigmoid output
        saturates (dark pixels of sparse images), where the squared error's
        gradient vanishes and training can settle on a constant image.
        """
        if self.loss != "auto":
            return self.loss
        sigmoid = getattr(self, "output_activation", None) in ("auto", "sigmoid")
        return "bce" if _engine.in_unit_range(target) and sigmoid else "mse"

    def _reshape_input(self, X):
        """Return ``X`` as a 2-D ``(n_samples, n_features)`` array.

        Families with structured inputs (images, sequences) flatten N-D arrays
        here; the default leaves the array to sklearn's validation.
        """
        return X

    def _training_data(self, X):
        """Return fit's ``(input, target, recipe)``; target ``None`` means the input itself.

        Data from :class:`~skae.NoiseAugmenter` trains noisy -> clean; its
        recipe goes to :meth:`_plan` (a denoiser trains on the clean source
        with it).
        """
        return split_noisy(X)

    def _warn_lost_clean_source(self):
        """Warn when a Pipeline step between a NoiseAugmenter and this model dropped its clean source."""
        lost = lost_clean_source(self)
        if lost is None:
            return
        augmenter, between = lost
        steps = ", ".join(repr(name) for name in between)
        warn(
            f"{type(self).__name__} is fitted after the NoiseAugmenter step {augmenter!r}, but "
            f"the step(s) {steps} between them hand on the noisy data without its clean "
            "source, so the model learns noisy -> noisy and scores against noisy data. Put "
            "the NoiseAugmenter directly before the autoencoder, after any scaling: "
            "Pipeline([('scale', MinMaxScaler()), ('noise', NoiseAugmenter(...)), "
            "('model', ...)]).",
            UserWarning,
        )

    def _training_corruption(self):
        """Return a callable corrupting training batches, or ``None``."""
        return None

    def _network_input(self, X: np.ndarray, y) -> np.ndarray:
        """Return the array the network trains on, from validated ``X`` and fit's ``y``.

        The default is ``X`` itself (``y`` ignored). A family that feeds
        more than the data (a conditional model appending a one-hot label)
        builds it here from the fitted plan; ``y`` was validated by
        :meth:`_plan`. The reconstruction target stays the data.
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

        def validate(X, *, streamed):
            if streamed:  # shape, dtype and values are the data source's to check
                return validate_data(self, X, reset=reset, skip_check_array=True)
            return _check_input_values(
                lambda X: validate_data(
                    self, X, reset=reset, dtype=[np.float64, np.float32], ensure_min_samples=1
                ),
                X,
            )

        X = _engine.validate_rows(X, validate)
        _check_float32_range(X)
        return X

    def _check_optimizer(self):
        """Refuse an optimizer class or a learning-rate schedule that cannot be used."""
        optimizer = self.optimizer
        if isinstance(optimizer, type) and not issubclass(optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"optimizer={optimizer!r} is not a torch.optim.Optimizer subclass; "
                f"pass one of {sorted(_engine.OPTIMIZERS)} or a class such as torch.optim.Adam."
            )
        _engine.optimizer_arguments(optimizer, self.weight_decay, self.optimizer_kwargs)
        _engine.resolve_lr_schedule(self.lr_schedule, self.callbacks)

    def _check_loaded_params(self):
        """What ``fit`` checks of the parameters without data, run on a loaded model.

        The device must name one (``"meta"`` is refused) but may be missing
        on this machine: the network then loads on the CPU.
        """
        self._check_optimizer()
        _engine.check_device_name(self.device)

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
        self._validate_params()  # which sklearn skips in partial_fit once fitted
        return self._fit(X, y, incremental=True)

    # Parameters that a continued fit (``warm_start=True`` or ``partial_fit``)
    # applies to the existing network; changing any other parameter between
    # such fits is refused, since the network was built from it.
    _continued_params = frozenset(
        {"max_epochs", "warm_start", "lr", "lr_schedule", "batch_size", "shuffle"}
    )

    def _fit(self, X, y, *, incremental: bool, classes=None):
        continuing = (incremental or self.warm_start) and hasattr(self, "net_")
        with _rollback_on_error(self), _python_scalar_params(self):
            if continuing:
                self._check_continued_params()
            X, target, recipe = self._training_data(X)
            if target is None and recipe is None:
                self._warn_lost_clean_source()
            X = self._validate_X(X, reset=not continuing)
            if target is not None:
                target = self._validate_X(target, reset=False)
            self._check_optimizer()
            clean = X if target is None else target
            plan = self._plan(X, clean, y, FitCall(continuing, incremental, recipe, classes))
            if continuing:
                plan.update({name: getattr(self, name) for name in plan.keys() & self._built_from})
            for name, value in plan.items():  # the plan, assigned in one place
                setattr(self, name, value)
            if continuing:
                # Train a copy: the fitted net stays untouched (weights,
                # optimizer state, history) should this fit fail.
                net, seed = _copy_net(self.net_), self._seed
                net.corrupt = self._training_corruption()
                self._apply_continued_params(net)
                device = torch.device(net.device)
                epochs_done = len(net.history)
            else:
                seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
                device = _engine.resolve_device(self.device)
                _engine.make_precision(self.precision, device)  # refused before training
                net = self._net_factory(X.shape[1], clean, seed, device)
                epochs_done = 0
            inputs = self._network_input(X, y)
            data = _engine.make_source(
                inputs, None if inputs is X and target is None else clean, device
            )
            self._n_inputs = int(data.X.shape[1])  # the network's input width
            # partial_fit trains one epoch without validation (early stopping is
            # idle); a fit validates and stops early as configured, whatever
            # calls came before it
            net = _engine.train(
                net,
                data,
                epochs=1 if incremental else self.max_epochs,
                seed=seed + epochs_done,
                validate=not incremental,
            )
            if len(net.history) == epochs_done:
                # interrupted before an epoch of this call completed: nothing to keep
                raise KeyboardInterrupt
            self._set_fitted(net, seed)
            # the post-fit passes over the data run on the threads the fit trained on
            with _engine.use_threads(net.fit_threads):
                self._check_finite(net, inputs[: self._finite_check_rows])
                if not continuing:
                    self._built_params = self.get_params(deep=False)
                self._fit_code_distribution(clean, y, merge=continuing and incremental)
                # judged inside the rollback, so that an interruption here (Ctrl-C)
                # leaves the model as it was; one partial_fit epoch is too early
                collapse = [] if incremental else self._collapse_messages(inputs, clean)
        if collapse:
            warn(
                f"{type(self).__name__} did not learn to reconstruct its data: "
                + " ".join(collapse),
                ConvergenceWarning,
            )
        if net.interrupted:
            warn(
                f"Training was interrupted during epoch {len(net.history) + 1}: the weights "
                f"trained so far are kept, and n_iter_={self.n_iter_} counts the completed "
                "epochs. Call fit again with warm_start=True, or partial_fit, to continue.",
            )
        return self

    def _check_finite(self, net, inputs):
        """Raise the divergence error when the trained network gives inf or NaN.

        The recorded losses are computed before each step, so the last step
        may still have broken the weights: check every weight and buffer,
        and the outputs of a forward pass over the first (at most
        ``_finite_check_rows``) training rows, which catches finite weights
        too large for float32 outputs.
        """
        module = net.module_
        broken = next(
            (
                name
                for name, tensor in module.state_dict().items()
                if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
            ),
            None,
        )
        if broken is None:

            def finite_rows(x):
                out = module(x)
                outs = [
                    t for t in (out if isinstance(out, tuple) else (out,)) if torch.is_tensor(t)
                ]
                return torch.stack(
                    [torch.isfinite(t.reshape(len(x), -1)).all(1) for t in outs]
                ).all(0)

            if not self._map(finite_rows, inputs, dtype=bool).all():
                broken = "output"
        if broken is not None:
            raise ValueError(
                f"Training diverged: the network's {broken} became inf or NaN by epoch "
                f"{len(net.history)} (the last recorded loss was {self.loss_curve_[-1]:.3g}). "
                "Lower lr, scale the input (e.g. StandardScaler), or use a bounded "
                "output_activation."
            )

    def _check_continued_params(self):
        """Refuse parameters changed since the network was built, where it cannot take them."""
        built = getattr(self, "_built_params", None)
        if built is None:
            return
        current = self.get_params(deep=False)
        changed = [
            name
            for name, value in current.items()
            if name not in self._continued_params and not _same(value, built.get(name))
        ]
        if changed:
            name = changed[0]
            raise ValueError(
                f"{name}={current[name]!r} differs from {name}={built.get(name)!r} that the "
                "fitted network was built with; a continued fit (warm_start=True or partial_fit) "
                f"can only change {', '.join(sorted(self._continued_params))}. Set "
                f"{name} back, or set warm_start=False and call fit to train a new model."
            )

    def _apply_continued_params(self, net):
        """Give a continued net this call's ``lr_``, ``batch_size_``, ``lr_schedule`` and ``shuffle``."""
        lr = self.lr_
        net.lr = lr
        net.lr_schedule = self.lr_schedule
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
        net.batch_size = self.batch_size_
        net.iterator_train__shuffle = bool(self.shuffle)

    # Rows whose forward pass is checked for inf and NaN after training: a
    # weight blow-up shows in any row, and a few batches cost a small
    # fraction of an epoch even for the small chunks of partial_fit.
    _finite_check_rows = 256

    # Rows of the training data reconstructed to check for a collapse.
    _collapse_check_rows = 1024

    def _collapse_messages(self, inputs, target) -> list[str]:
        """What to tell the user when training ended at a constant predictor (else ``[]``)."""
        rows = self._training_rows(len(target), self._collapse_check_rows)
        module = self.net_.module_

        def reconstruct(x):
            out = module(x)
            return (out[0] if isinstance(out, tuple) else out).reshape(len(x), -1)

        target_rows = _engine.take_rows(target, rows)
        input_rows = (
            self._judged_input(target_rows) if inputs is target else _engine.take_rows(inputs, rows)
        )
        target = np.asarray(target_rows, dtype=np.float64)
        model_error = float(sample_errors(self._map(reconstruct, input_rows), target).mean())
        mean_error = float(
            sample_errors(np.broadcast_to(target.mean(axis=0), target.shape), target).mean()
        )
        return collapse_messages(model_error, mean_error, self.code_mean_, self.code_std_)

    def _judged_input(self, X: np.ndarray, seed: int = SCORE_SEED) -> np.ndarray:
        """The input a model is judged on for clean rows ``X``.

        ``X`` itself, or for a model trained to undo a corruption (``noise_``:
        a denoiser, or a model fitted on a NoiseAugmenter's data) ``X``
        corrupted by it under ``seed``: by ``score`` and by the check for a
        collapse at the end of ``fit``.
        """
        noise = getattr(self, "noise_", None)
        return X if noise is None else noise.apply(X, random_state=seed)

    def _training_rows(self, n: int, limit: int) -> np.ndarray:
        """Sorted indices of at most ``limit`` of ``n`` training rows, a seeded random subset.

        The post-fit steps read these rather than the whole data, so their
        cost is bounded however large the data.
        """
        if n <= limit:
            return np.arange(n)
        return np.sort(np.random.RandomState(self._seed).choice(n, limit, replace=False))

    # Rows of the training data encoded to estimate the code distribution:
    # enough for a diagonal Gaussian, and a bounded cost for large data.
    _code_distribution_rows = 4096

    def _fit_code_distribution(self, X, y=None, *, merge=False):
        """Store the mean and standard deviation of the codes of ``X``.

        At most ``_code_distribution_rows`` rows, a seeded random subset, are
        encoded, so this step costs a bounded fraction of one epoch. With
        ``merge`` (a ``partial_fit`` chunk) the statistics of this chunk are
        pooled with those of the earlier chunks (Chan et al.'s parallel
        update of counts, means and sums of squared deviations), so that they
        describe all the data seen, each chunk weighted by its size.

        Returns the indices of the encoded rows and their codes, for a
        subclass that fits more statistics of the same codes.
        """
        n = len(X)
        rows = self._training_rows(n, self._code_distribution_rows)
        Z = self._map(self.net_.module_.encode, X if len(rows) == n else _engine.take_rows(X, rows))
        mean, m2 = Z.mean(axis=0), Z.var(axis=0) * n
        count = getattr(self, "_code_count", None)
        if merge and count is not None and len(self.code_mean_) == len(mean):
            total = count + n
            delta = mean - self.code_mean_
            mean = self.code_mean_ + delta * (n / total)
            m2 = self.code_std_**2 * count + m2 + delta**2 * (count * n / total)
            n = total
        self._code_count = n
        self.code_mean_ = mean
        self.code_std_ = np.sqrt(m2 / n)
        return rows, Z

    def _net_factory(self, n_features, target, seed, device):
        """A zero-argument function building the skorch net for ``n_features`` inputs.

        ``target`` is passed on to :meth:`_build_module`; the factory runs
        inside the seeded block of :func:`skae._engine.train`.
        """
        validation = None
        fraction = self.validation_fraction
        if fraction is None and self.early_stopping:
            fraction = 0.1
        corrupt = self._training_corruption()
        if fraction is not None:
            validation = _engine.HoldOutSplit(fraction, seed, corrupt=corrupt)
        callbacks = [*copy.deepcopy(self.callbacks or []), *self._training_callbacks()]

        def factory():
            return _engine.make_net(
                self._build_module(n_features, target),
                self._build_criterion(),
                optimizer=self.optimizer,
                optimizer_kwargs=self.optimizer_kwargs,
                lr=self.lr_,
                lr_schedule=self.lr_schedule,
                weight_decay=self.weight_decay,
                batch_size=self.batch_size_,
                shuffle=self.shuffle,
                validation=validation,
                early_stopping_patience=self.n_iter_no_change if self.early_stopping else None,
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
    # Saving and loading: the hooks skae files use (see skae._codec)
    # ------------------------------------------------------------------
    # Parameters holding code, which a file does not keep (saved as None).
    _unsaved_params = ("callbacks",)
    # The parameters the network was built with, saved as parameters are.
    _param_snapshots = ("_built_params",)

    def _get_net_state(self) -> dict:
        """The state of the fitted network that a skae file keeps.

        ``{"device", "module", "criterion", "history"}``: the device it is
        on, the ``state_dict`` of the module and of the criterion, and the
        training history. The network itself is not kept:
        :meth:`_restore_net` rebuilds it from the parameters and the fitted
        attributes.
        """
        net = self.net_
        return {
            "device": str(net.device),
            "module": net.module_.state_dict(),
            "criterion": net.criterion_.state_dict(),
            "history": net.history,
        }

    def _restore_net(self, module_state, criterion_state, history, *, saved_device, device=None):
        """Rebuild ``net_`` as ``fit`` built it, then copy the saved state into it.

        Called on a loaded estimator whose parameters and other fitted
        attributes are already set: the network is built from them (the
        resolved ``output_activation_`` and shapes, not the data), under the
        training seed, on ``device`` when given (which also becomes the
        ``device`` parameter), else on ``saved_device``, or on the CPU, with
        a warning, when this machine lacks it. Weights that do not fit the
        rebuilt network raise ``ValueError``.
        """
        if device is not None:
            placed = _engine.resolve_device(device)
            self.device = device
            built = getattr(self, "_built_params", None)
            if isinstance(built, dict) and "device" in built:
                built["device"] = device
        else:
            try:
                placed = _engine.resolve_device(str(saved_device))
            except ValueError:
                warn(
                    f"{type(self).__name__} was trained on {saved_device!r}, which this machine "
                    "does not have; it is loaded on the CPU. Pass device= to load to choose."
                )
                placed = _engine.resolve_device("cpu")
        if not hasattr(self, "batch_size_"):  # a file from before batch_size="auto"
            self.batch_size_, self.lr_ = self._resolve_batch(None)
        seed = int(self._seed)
        n_features = self._module_features()
        self._check_saved_shapes(n_features, module_state)
        factory = self._net_factory(n_features, None, seed, placed)
        with _engine.seeded(seed, placed):
            net = factory()
            net.initialize()
        for part, state in ((net.module_, module_state), (net.criterion_, criterion_state)):
            try:
                part.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise ValueError(
                    f"The saved weights do not fit the {type(self).__name__} network rebuilt "
                    f"from the file's parameters: {exc}"
                ) from None
        net.history = history
        self.net_ = net

    def _check_saved_shapes(self, n_features, module_state):
        """Refuse saved weights of other shapes than the network, before building it.

        The network is first built on the meta device, which holds shapes and
        no values, so a file whose parameters ask for a huge network costs
        nothing before it is refused.
        """
        try:
            with torch.device("meta"):
                skeleton = self._build_module(n_features, None)
        except Exception:  # noqa: BLE001  user code that needs real tensors: built for real
            return
        wanted = {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}
        saved = {key: tuple(value.shape) for key, value in module_state.items()}
        if wanted != saved:
            differ = sorted(
                f"{key}: saved {saved.get(key)}, built {wanted.get(key)}"
                for key in wanted.keys() | saved.keys()
                if wanted.get(key) != saved.get(key)
            )
            raise ValueError(
                f"The saved weights do not fit the {type(self).__name__} network rebuilt "
                f"from the file's parameters: {'; '.join(differ[:5])}"
            )

    # ------------------------------------------------------------------
    # Inference
    # ------------------------------------------------------------------
    def _map(self, forward, *arrays, post=None, prepare=None, dtype=np.float64):
        """Run the fitted network over aligned row arrays: :func:`skae._engine.map_rows`.

        Every inference method goes through here: ``forward`` runs under the
        net's precision, ``post`` computes per-row results (errors, ELBO
        terms) in float32 outside it, and memmaps stream block by block.
        """
        out = _engine.map_rows(
            forward,
            *arrays,
            module=self.net_.module_,
            post=post,
            prepare=prepare,
            precision=self.net_.precision_,
            row_values=self._activation_values(),
        )
        return out.astype(dtype, copy=False)

    def _module_features(self) -> int:
        """The ``n_features`` a loaded model's module is rebuilt for (see :meth:`_build_module`).

        ``n_features_in_``; a family whose network sees an encoding of its
        input of another width says so.
        """
        return int(self.n_features_in_)

    def _activation_values(self) -> int:
        """Values of the network's largest activation for one row, which sizes inference batches.

        The input of a dense network; families whose layers are wider
        (convolutions over an image) say so.
        """
        return int(self._n_inputs)

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
        return self._map(self.net_.module_.encode, X, dtype=X.dtype)

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
        return self._map(self.net_.module_.decode, Z, dtype=Z.dtype)

    def _validate_codes(self, Z):
        Z = _check_input_values(lambda Z: check_array(Z, dtype=[np.float64, np.float32]), Z)
        _check_float32_range(Z)
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
        return self._map(self._reconstruction, X, dtype=X.dtype)

    def _reconstruction(self, x):
        """The network's reconstruction of a batch ``x``, flat: ``(x.shape[0], n_outputs)``."""
        module = self.net_.module_
        return module.decode(module.encode(x)).reshape(x.shape[0], -1)

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
        return self._map(self.net_.module_.decode, Z)

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
        X, target = self._score_data(X)
        return -self._errors(X, target, "mse")

    def _score_data(self, X):
        """Validated ``(input, target)`` of a scoring call; the target is the clean source."""
        X, target, _ = split_noisy(X)  # NoiseAugmenter data scores against its clean source
        X = self._validate_X(X, reset=False)
        target = X if target is None else self._validate_X(target, reset=False)
        return X, target

    def _errors(self, inputs, target, kind="mse", corrupt=None, per_feature=False):
        """Mean reconstruction error of each row of ``target`` from network input ``inputs``.

        ``corrupt(index, block)``, when given, turns each block of ``inputs``
        into what the network sees (a denoiser's judged input), block by
        block. The error is computed in float64 outside autocast, from the
        difference in the data's dtype (:func:`skae.modules.losses.float64_error`;
        again from float64 inputs should that difference overflow float32);
        with ``per_feature`` it is not averaged: shape ``(n_samples, n_features)``.
        """
        errors = self._map_errors(inputs, target, self._error_post(kind, per_feature), corrupt)
        if not np.isfinite(errors).all():
            # a difference beyond float32's range: again, from float64 inputs
            post = self._error_post(kind, per_feature, exact=True)
            errors = self._map_errors(inputs, target, post, corrupt)
        return errors

    def _errors_and_codes(self, X, kind="mse"):
        """:meth:`_errors` of the rows of ``X`` and their flat codes, from one pass.

        Each batch is encoded once and its code decoded for the error, so a
        caller that needs both (the outlier detector's code distance) pays
        for one forward pass, not a reconstruction and a :meth:`transform`.
        Bit for bit the values of those two calls, the same batches through
        the same functions. For the families whose reconstruction is
        ``decode(encode(x))`` (:meth:`_reconstruction`), the deterministic
        autoencoders.
        """
        check_is_fitted(self)
        inputs, target = self._score_data(X)
        module = self.net_.module_

        def forward(x):
            code = module.encode(x)
            return module.decode(code).reshape(x.shape[0], -1), code.reshape(x.shape[0], -1)

        def errors_and_codes(exact):
            error = self._error_post(kind, False, exact)
            return self._map(
                forward,
                *((inputs,) if inputs is target else (inputs, target)),
                post=lambda out, t: torch.cat([error(out[0], t)[:, None], out[1].double()], 1),
                prepare=lambda index, *blocks: (blocks[0], blocks[-1]),
            )

        out = errors_and_codes(exact=False)
        if not np.isfinite(out[:, 0]).all():  # as in _errors: again, from float64 inputs
            out = errors_and_codes(exact=True)
        return out[:, 0], out[:, 1:]

    def _map_errors(self, inputs, target, post, corrupt):
        """``post(reconstruction, target)`` over the rows: the map behind :meth:`_errors`."""
        same = inputs is target

        def prepare(index, *blocks):
            x = blocks[0] if corrupt is None else corrupt(index, blocks[0])
            return x, blocks[-1]

        return self._map(
            self._reconstruction,
            *((inputs,) if same else (inputs, target)),
            post=post,
            prepare=prepare,
        )

    def _error_post(self, kind: str, per_feature: bool, exact: bool = False):
        """``post`` of :meth:`_errors`: each row's mean ``kind`` error, or its per-feature values.

        The default compares every value of the output with the target; a
        family whose network sees an encoding of its input (a table's
        one-hot categories) gives one error per input column instead.
        """
        return _error_post(kind, per_feature, exact)

    def feature_errors(self, X):
        """Per-feature reconstruction error of each sample: which features made it unusual.

        The squared difference between each feature of ``X`` and of its
        reconstruction (``reconstruct(X)``; a denoiser's ``denoise``). For
        the deterministic autoencoders the row mean is minus
        ``score_samples``: ``feature_errors(X).mean(axis=1) ==
        -score_samples(X)``. For the VAE and CVAE, whose ``score_samples`` is
        the ELBO, it is the squared error of the reconstruction from the
        posterior mean. Memmaps stream block by block.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to explain. An array from :class:`~skae.NoiseAugmenter`
            is compared with the clean source it carries.

        Returns
        -------
        errors : ndarray or DataFrame of shape (n_samples, n_features_in_)
            A pandas DataFrame named by the features (``feature_names_in_``,
            or ``x0``, ``x1``, ...) when the estimator was fitted on one or
            ``set_output(transform="pandas")`` is set.
        """
        check_is_fitted(self)
        X, target = self._score_data(X)
        return _feature_frame(self, self._errors(X, target, "mse", per_feature=True))

    def score(self, X, y=None):
        """Negative mean squared reconstruction error (higher is better).

        A model trained to undo a corruption (a denoiser, or any skae
        autoencoder fitted after a :class:`~skae.NoiseAugmenter`: its
        ``noise_`` is set) is judged on that task: ``X`` is clean data,
        corrupted with ``noise_`` under a fixed seed, reconstructed, and
        compared with ``X``, so :class:`~sklearn.model_selection.GridSearchCV`
        ranks by denoising quality. Data from
        :meth:`NoiseAugmenter.corrupt <skae.NoiseAugmenter.corrupt>` is
        compared with the clean source it carries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to reconstruct (clean data, for a model with ``noise_``).
        y : None
            Ignored.

        Returns
        -------
        score : float
            ``score_samples(X).mean()``, or the mean denoising error's
            negative for a model with ``noise_``.
        """
        check_is_fitted(self)
        corrupt = self._held_out_corruption(X)
        if corrupt is None:
            return float(np.mean(self.score_samples(X)))
        X = self._validate_X(X, reset=False)
        return float(-np.mean(self._errors(X, X, corrupt=corrupt)))

    def _held_out_corruption(self, X):
        """``corrupt(k, block)`` for the clean ``X`` a scoring call judges, or None.

        A model with a corruption recipe (``noise_``) is scored on the
        task it was trained for: block ``k`` of ``X`` is corrupted under the
        seed ``SCORE_SEED + k``, so every candidate of a grid search is
        scored on identical noise, and a block never needs the whole data.
        None for a model without one, or for data that carries its own
        corrupted and clean versions.
        """
        if getattr(self, "noise_", None) is None or split_noisy(X)[1] is not None:
            return None
        return lambda k, block: self._judged_input(block, SCORE_SEED + k)

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
