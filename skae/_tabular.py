"""The autoencoder of mixed tables: numeric and categorical columns."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_array,
    check_is_fitted,
)

from . import _codec, _engine
from ._base import BaseAutoEncoder, _check_float32_range, _check_input_values
from ._diagnostics import collapse_messages
from ._docstrings import fill_doc
from ._shared import DENSE_CONSTRAINTS, dense_layers, plan_dense_layers
from .modules.dense import DenseAutoEncoderModule
from .modules.init import init_output_bias
from .modules.losses import TabularLoss

__all__ = ["TabularAE"]

# Category probabilities are clipped to this before the log that starts the
# output logits at the training frequencies.
_MIN_FREQUENCY = 1e-3


def _is_frame(X) -> bool:
    return hasattr(X, "columns") and hasattr(X, "iloc") and hasattr(X, "dtypes")


def _is_categorical_dtype(dtype) -> bool:
    """Whether a pandas column of ``dtype`` is categorical: category, object or string."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    return str(dtype) == "category" or is_object_dtype(dtype) or is_string_dtype(dtype)


def _missing(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the missing cells (None, NaN, pandas' NA) of a 1-D object array."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is how most tables arrive
        return np.array([v is None or (isinstance(v, float) and v != v) for v in values])
    return np.asarray(pd.isna(values), dtype=bool)


def _describe_dtype(dtype):
    """A storable description of a pandas column dtype: its name, and a category's categories."""
    if str(dtype) == "category":
        return ("category", np.asarray(dtype.categories), bool(dtype.ordered))
    return str(dtype)


def _restore_dtype(description):
    if isinstance(description, tuple):
        import pandas as pd

        _, categories, ordered = description
        return pd.CategoricalDtype(categories, ordered=ordered)
    return description


def _unique_categories(values: np.ndarray, column, dtype) -> np.ndarray:
    """The categories of a training column: in the category dtype's order, else sorted."""
    if dtype is not None and str(dtype) == "category":
        seen = set(values.tolist())
        return np.asarray([c for c in dtype.categories.tolist() if c in seen], dtype=object)
    try:
        return np.unique(values.astype(object))
    except TypeError:
        kinds = sorted({type(v).__name__ for v in values.tolist()})
        raise ValueError(
            f"Categorical column {column!r} mixes values of types {kinds}, which have no "
            "order to list them in. Convert the column to one type first (e.g. "
            "X[column].astype(str))."
        ) from None


@fill_doc
class TabularAE(BaseAutoEncoder):
    """Dense autoencoder of mixed tables: numeric and categorical columns.

    Takes a pandas DataFrame, or an array, with numeric and categorical
    columns (``categorical_features``). Inside, each numeric column is
    standardised with the training mean and standard deviation (a constant
    column is only centred) and each categorical column one-hot encoded; the
    dense network (the one of :class:`AutoEncoder`) reads the concatenation,
    and its output holds a value per numeric column and a block of logits
    per categorical column.

    The loss treats every column alike: a numeric column costs its squared
    error in standard deviations, a categorical column the cross-entropy of
    the softmax over its block divided by ``log(n_categories)``. Both cost 1
    for a model that knows nothing (the column mean; the uniform
    distribution over the categories), so neither kind outweighs the other
    by its encoding: a column of 20 categories weighs as much as a binary
    one or a number, not 20 times as much. The loss is the mean over the
    columns, and ``score_samples`` is minus that mean for each row.

    Categoricals enter one-hot rather than through learned embeddings: the
    first dense layer of a one-hot input is an embedding (one weight column
    per category), and categories with few rows, as in small tables, have
    no data to learn a separate embedding from.

    ``transform`` encodes, ``inverse_transform`` decodes back to the table:
    numeric columns in their original scale and dtype, categorical columns
    as their most likely category; a DataFrame with the original columns,
    dtypes and categories when fitted on one.

    Parameters
    ----------
    n_components : int, default=4
        Size of the code. Tables have few columns: a code as wide as the
        table can copy it and learns nothing about how the columns go
        together. Four summarise the eight columns of the penguins table
        (see the user guide).
    categorical_features : "from_dtype", array-like of bool, int or str, or None, \
default="from_dtype"
        Which columns are categorical, as in
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.
        ``"from_dtype"``: the columns of a DataFrame whose dtype is
        ``category``, ``object`` or a string dtype (an array is all
        numeric). A boolean mask over the columns, their integer indices,
        or their names (of a DataFrame). ``None``: every column numeric.
        Resolved at ``fit``: ``categorical_features_``.
    handle_unknown : {"error", "ignore"}, default="error"
        A category unseen in fit, at transform or scoring: ``"error"``
        raises a ``ValueError`` naming the column and the value;
        ``"ignore"`` encodes it as all zeros, as
        :class:`~sklearn.preprocessing.OneHotEncoder` does, and its column
        then contributes no error to ``score_samples``.
    {dense_layer_parameters}
    {dense_regularization_parameters}
    {optimization_parameters}

    Attributes
    ----------
    activation_ : str
        The hidden activation used (``activation`` with "auto" resolved).
    categorical_features_ : ndarray of bool of shape (n_features_in_,)
        Which input columns are categorical.
    categories_ : list of ndarray
        The categories of each categorical column, in column order: in the
        order of a ``category`` dtype, sorted otherwise.
    numeric_mean_ : ndarray of shape (n_numeric,)
        Training mean of each numeric column.
    numeric_scale_ : ndarray of shape (n_numeric,)
        Training standard deviation of each numeric column (1 where constant).
    {fitted_attributes}

    See Also
    --------
    AutoEncoder : The dense autoencoder of numeric data.
    AutoEncoderOutlierDetector : Hands a TabularAE its table as given.

    Notes
    -----
    Missing values (NaN, None) are refused, in fit and at transform, with a
    message naming the column: impute them first, e.g. with
    :class:`~sklearn.impute.SimpleImputer` in a Pipeline, or give a
    categorical column's gaps a category of their own
    (``X[column].fillna("missing")``).

    Examples
    --------
    >>> import pandas as pd
    >>> from skae import TabularAE
    >>> X = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0] * 10,
    ...                   "kind": pd.Categorical(["a", "a", "b", "b"] * 10)})
    >>> ae = TabularAE(n_components=2, max_epochs=20, random_state=0).fit(X)
    >>> ae.categories_
    [array(['a', 'b'], dtype=object)]
    >>> ae.transform(X[:3]).shape
    (3, 2)
    >>> ae.inverse_transform(ae.transform(X[:3]))["kind"].cat.categories.tolist()
    ['a', 'b']
    """

    _parameter_constraints: dict = {
        **{k: v for k, v in BaseAutoEncoder._parameter_constraints.items() if k != "loss"},
        **DENSE_CONSTRAINTS,
        "categorical_features": ["array-like", StrOptions({"from_dtype"}), None],
        "handle_unknown": [StrOptions({"error", "ignore"})],
    }

    # The detector hands this estimator its data as given: it validates,
    # scales and encodes its columns itself.
    _prepares_own_input = True

    def __init__(
        self,
        n_components=4,
        *,
        categorical_features="from_dtype",
        handle_unknown="error",
        hidden_layer_sizes=(512,),
        activation="auto",
        code_activation="linear",
        dropout=0.0,
        input_dropout=0.0,
        normalization="auto",
        optimizer="adam",
        optimizer_kwargs=None,
        lr=3e-3,
        lr_schedule="auto",
        weight_decay=0.0,
        batch_size="auto",
        max_epochs=100,
        shuffle=True,
        early_stopping=False,
        validation_fraction=None,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        callbacks=None,
        verbose=0,
        device="cpu",
        precision="32",
        random_state=None,
    ):
        # no ``loss`` parameter: the loss is the tabular one (see the class docstring)
        self.n_components = n_components
        self.categorical_features = categorical_features
        self.handle_unknown = handle_unknown
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.code_activation = code_activation
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.normalization = normalization
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
    # The columns: resolved once in fit, applied at every call
    # ------------------------------------------------------------------
    def _resolve_categorical(self, X):
        """``categorical_features`` as a boolean mask over the columns of ``X``; None: none."""
        spec = self.categorical_features
        frame = _is_frame(X)
        if spec is None or (isinstance(spec, str) and spec == "from_dtype" and not frame):
            return None
        if isinstance(spec, str) and spec == "from_dtype":
            mask = np.array([_is_categorical_dtype(d) for d in X.dtypes], dtype=bool)
            return mask if mask.any() else None
        spec = np.asarray(spec)
        if spec.size == 0:
            return None
        if spec.ndim != 1:
            raise ValueError(
                f"categorical_features must be 1-D (a mask, indices or names), got shape "
                f"{spec.shape}."
            )
        shape = getattr(X, "shape", None)
        if shape is None or len(shape) != 2:
            shape = check_array(X, dtype=object, ensure_all_finite=False).shape
        n_features = int(shape[1])
        mask = np.zeros(n_features, dtype=bool)
        if spec.dtype.kind == "b":
            if len(spec) != n_features:
                raise ValueError(
                    f"categorical_features is a mask of {len(spec)} values, but X has "
                    f"{n_features} columns; give one value per column."
                )
            mask[:] = spec
        elif spec.dtype.kind in "iu":
            bad = spec[(spec < 0) | (spec >= n_features)]
            if len(bad):
                raise ValueError(
                    f"categorical_features holds the index {int(bad[0])}, outside the "
                    f"{n_features} columns of X (0 to {n_features - 1})."
                )
            mask[spec] = True
        elif spec.dtype.kind in "UO":
            if not frame:
                raise ValueError(
                    "categorical_features names columns, but X has no column names; pass a "
                    "DataFrame, or the columns' integer indices or a boolean mask."
                )
            columns = [str(c) for c in X.columns]
            unknown = [name for name in spec.tolist() if name not in columns]
            if unknown:
                raise ValueError(
                    f"categorical_features names {unknown[0]!r}, which is not a column of X; "
                    f"its columns are {columns}."
                )
            mask[[columns.index(name) for name in spec.tolist()]] = True
        else:
            raise ValueError(
                "categorical_features must be 'from_dtype', None, a boolean mask, integer "
                f"indices or column names, got {self.categorical_features!r}."
            )
        return mask if mask.any() else None

    def _validate_X(self, X, *, reset: bool):
        """``X`` validated and encoded: the network's input, ``(n_samples, width)`` floats.

        With ``reset`` (a new fit) the columns are resolved and the encoding
        fitted first: ``categorical_features_``, ``categories_``,
        ``numeric_mean_`` and ``numeric_scale_``, as scikit-learn's
        validation sets ``n_features_in_`` (inside the fit's rollback).
        A table with no categorical column is validated as
        :class:`AutoEncoder` validates its data (memmaps streamed too).
        """
        if reset:
            mask = self._resolve_categorical(X)
        else:
            mask = self.categorical_features_ if self.categorical_features_.any() else None
        if mask is None:
            numeric = super()._validate_X(X, reset=reset)
            mask = np.zeros(numeric.shape[1], dtype=bool)
            categorical = []
            frame_dtypes = list(X.dtypes) if _is_frame(X) else None
        else:
            numeric, categorical, frame_dtypes = self._split_columns(X, mask, reset=reset)
        if reset:
            self._fit_encoding(numeric, categorical, mask, frame_dtypes)
        return self._encode(numeric, categorical)

    def _split_columns(self, X, mask, *, reset):
        """The numeric block (validated floats) and the categorical columns of a mixed ``X``."""
        if _is_frame(X):
            _check_feature_names(self, X, reset=reset)
            _check_n_features(self, X, reset=reset)
            dtypes = list(X.dtypes)
            columns = [X.iloc[:, j].to_numpy(dtype=object) for j in range(X.shape[1])]
            names = [str(c) for c in X.columns]
            numeric = X.iloc[:, np.flatnonzero(~mask)].to_numpy()
            if numeric.dtype == object:  # pandas' NA as NaN, which the checks name
                numeric[_missing(numeric)] = np.nan
        else:
            _check_feature_names(self, X, reset=reset)
            X = check_array(
                X, dtype=object, ensure_all_finite=False, ensure_min_samples=1, estimator=self
            )
            _check_n_features(self, X, reset=reset)
            dtypes = None
            columns = list(X.T)
            names = list(range(X.shape[1]))
            numeric = X[:, ~mask]
        if numeric.shape[1]:
            numeric = _check_input_values(
                lambda A: check_array(
                    A, dtype=[np.float64, np.float32], estimator=self, input_name="X"
                ),
                numeric,
            )
            _check_float32_range(numeric)
        else:
            numeric = np.empty((len(columns[0]), 0), dtype=np.float64)
        categorical = []
        for j in np.flatnonzero(mask):
            values = columns[j]
            missing = _missing(values)
            if missing.any():
                raise ValueError(
                    f"Categorical column {names[j]!r} has missing values (NaN or None) in "
                    f"{int(missing.sum())} row(s), first row {int(np.argmax(missing))}, which "
                    f"{type(self).__name__} does not encode. Impute them first, e.g. with an "
                    "imputer in a Pipeline (SimpleImputer(strategy='most_frequent')), or "
                    "give them a category of their own (X[column].fillna('missing'))."
                )
            categorical.append(values)
        return numeric, categorical, dtypes

    def _fit_encoding(self, numeric, categorical, mask, frame_dtypes):
        """Fit the encoding of the columns (the numeric scaling, the categories)."""
        mean = _engine.column_mean(numeric)
        squares = np.zeros_like(mean)
        for (chunk,) in _engine.row_chunks(numeric):
            squares += np.square(chunk - mean).sum(axis=0)
        std = np.sqrt(squares / len(numeric))
        # a constant column is only centred (its rounding noise not blown up)
        constant = std <= 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mean))
        names = getattr(self, "feature_names_in_", None)
        index = np.flatnonzero(mask)
        self.categorical_features_ = np.asarray(mask, dtype=bool)
        self.categories_ = [
            _unique_categories(
                values,
                names[j] if names is not None else int(j),
                frame_dtypes[j] if frame_dtypes is not None else None,
            )
            for j, values in zip(index, categorical)
        ]
        self.numeric_mean_ = mean
        self.numeric_scale_ = np.where(constant, 1.0, std)
        self._frame_dtypes = (
            None if frame_dtypes is None else [_describe_dtype(d) for d in frame_dtypes]
        )

    def _layout(self):
        """Positions in the encoded row: numeric columns, categorical blocks, column order."""
        n_numeric = len(self.numeric_mean_)
        blocks, start = [], n_numeric
        for categories in self.categories_:
            blocks.append((start, start + len(categories)))
            start += len(categories)
        kinds = self.categorical_features_
        order = np.empty(len(kinds), dtype=np.intp)
        order[np.flatnonzero(~kinds)] = np.arange(n_numeric)
        order[np.flatnonzero(kinds)] = n_numeric + np.arange(kinds.sum())
        # column j of the table is entry order[j] of numeric + categorical
        return list(range(n_numeric)), blocks, order.tolist(), start

    def _module_features(self) -> int:
        return self._layout()[3]

    def _encode(self, numeric, categorical):
        """Standardised numeric columns, then one one-hot block per categorical column."""
        mean, scale = self.numeric_mean_, self.numeric_scale_
        dtype = numeric.dtype if numeric.dtype == np.float32 else np.dtype(np.float64)

        def standardize(block):
            return ((block - mean) / scale).astype(block.dtype, copy=False)

        if not categorical:
            return _engine.map_blocks(numeric, standardize)
        blocks = [standardize(np.asarray(numeric, dtype=dtype))]
        names = getattr(self, "feature_names_in_", None)
        for j, values, categories in zip(
            np.flatnonzero(self.categorical_features_), categorical, self.categories_
        ):
            lookup = {c: i for i, c in enumerate(categories.tolist())}
            codes = np.fromiter(
                (lookup.get(v, -1) for v in values.tolist()), dtype=np.intp, count=len(values)
            )
            unknown = codes < 0
            if unknown.any() and self.handle_unknown == "error":
                row = int(np.argmax(unknown))
                column = names[j] if names is not None else int(j)
                shown = categories.tolist()
                raise ValueError(
                    f"Categorical column {column!r} holds {values[row]!r} (row {row}), a "
                    f"category unseen in fit, whose categories are "
                    f"{shown[:10]}{' ...' if len(shown) > 10 else ''}. Pass "
                    "handle_unknown='ignore' to encode unseen categories as all zeros, or "
                    "fit on data that holds it."
                )
            one_hot = np.zeros((len(values), len(categories)), dtype=dtype)
            one_hot[np.flatnonzero(~unknown), codes[~unknown]] = 1
            blocks.append(one_hot)
        return np.ascontiguousarray(np.hstack(blocks))

    # ------------------------------------------------------------------
    # The fit plan, the network and its loss
    # ------------------------------------------------------------------
    def _resolve_loss(self, target):
        return "mse+cross_entropy" if self.categorical_features_.any() else "mse"

    def _plan(self, X, target, y, call):
        plan = super()._plan(X, target, y, call)
        plan.update(plan_dense_layers(self, X.shape[1]))
        return plan

    def _build_module(self, n_features, target):
        module = DenseAutoEncoderModule(
            n_features, self.n_components, output_activation="linear", **dense_layers(self)
        )
        if target is not None:  # the output starts at the constant predictor
            init_output_bias(
                module.decoder, torch.from_numpy(self._constant_output(target)), "linear"
            )
        return module

    def _constant_output(self, target) -> np.ndarray:
        """The best constant output: the numeric means, the logits of the training frequencies."""
        output = _engine.column_mean(target)
        for a, b in self._layout()[1]:
            output[a:b] = np.log(np.clip(output[a:b], _MIN_FREQUENCY, None))
        return output

    def _collapse_messages(self, inputs, target):
        """The collapse check, comparing the tabular loss with the constant predictor's."""
        rows = self._training_rows(len(target), self._collapse_check_rows)
        target = np.asarray(_engine.take_rows(target, rows), dtype=np.float64)
        model_error = float(self._errors(target, target).mean())
        constant = np.tile(self._constant_output(target), (len(target), 1))
        mean_error = float(
            self._column_loss("mse")
            .column_errors(torch.from_numpy(constant), torch.from_numpy(target))
            .mean()
        )
        return collapse_messages(model_error, mean_error, self.code_mean_, self.code_std_)

    def _build_criterion(self):
        return self._column_loss("mse")

    def _column_loss(self, kind):
        numeric, blocks, order, _ = self._layout()
        return TabularLoss(numeric, blocks, order, kind)

    def _error_post(self, kind, per_feature, exact=False):
        # float64 throughout (the columns' scales are float64): always exact
        loss = self._column_loss(kind)

        def post(out, target):
            errors = loss.column_errors(out.double(), target.double())
            return errors if per_feature else errors.mean(dim=1)

        return post

    # ------------------------------------------------------------------
    # Back to the table
    # ------------------------------------------------------------------
    def _pandas_output(self) -> bool:
        return (
            self._frame_dtypes is not None
            or _get_output_config("transform", self)["dense"] == "pandas"
        )

    def _decode(self, out: np.ndarray, index=None):
        """The table of the network outputs ``out``: numbers rescaled, categories by argmax.

        A DataFrame takes ``index`` (that of the rows or codes decoded), when given.
        """
        n_numeric = len(self.numeric_mean_)
        numeric = out[:, :n_numeric] * self.numeric_scale_ + self.numeric_mean_
        kinds = self.categorical_features_
        if not kinds.any() and not self._pandas_output():
            return numeric.astype(out.dtype, copy=False)
        columns = [None] * len(kinds)
        for j, values in zip(np.flatnonzero(~kinds), numeric.T):
            columns[j] = values
        _, blocks, _, _ = self._layout()
        for j, (a, b), categories in zip(np.flatnonzero(kinds), blocks, self.categories_):
            columns[j] = categories[np.argmax(out[:, a:b], axis=1)]
        if not self._pandas_output():
            table = np.empty((len(out), len(kinds)), dtype=object)
            for j, values in enumerate(columns):
                table[:, j] = values
            return table
        import pandas as pd

        names = getattr(self, "feature_names_in_", None)
        names = list(names) if names is not None else [f"x{i}" for i in range(len(kinds))]
        dtypes = self._frame_dtypes or [None] * len(kinds)
        data = {}
        for name, values, kind, dtype in zip(names, columns, kinds, dtypes):
            data[name] = pd.Series(
                self._as_dtype(values, kind, _restore_dtype(dtype)), dtype=None, copy=False
            )
        return pd.DataFrame(data).set_axis(index) if index is not None else pd.DataFrame(data)

    @staticmethod
    def _as_dtype(values, categorical, dtype):
        """A decoded column in its training dtype (numbers rounded for an integer dtype)."""
        import pandas as pd

        if dtype is None:
            return pd.Series(values, dtype=object if categorical else np.float64)
        if categorical:
            return pd.Series(values, dtype=object).astype(dtype)
        dtype = pd.api.types.pandas_dtype(dtype)
        if dtype.kind == "b":
            return pd.Series(values > 0.5).astype(dtype)
        if dtype.kind in "iu":
            info = np.iinfo(getattr(dtype, "numpy_dtype", dtype))
            return pd.Series(np.clip(np.rint(values), info.min, info.max)).astype(dtype)
        return pd.Series(values).astype(dtype)

    def inverse_transform(self, X):
        """Decode codes back into the table.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Codes, as returned by ``transform``.

        Returns
        -------
        X_original : DataFrame or ndarray of shape (n_samples, n_features_in_)
            Numeric columns in their original scale, categorical columns as
            their most likely category. A DataFrame with the training
            columns and dtypes (integer columns rounded, ``category``
            columns with their categories) when fitted on one, or under
            ``set_output(transform="pandas")`` (with the index of codes
            given as a DataFrame); otherwise an array, of object dtype when
            there are categorical columns.
        """
        return self._decode(super().inverse_transform(X), getattr(X, "index", None))

    def reconstruct(self, X):
        """Encode then decode ``X``: ``inverse_transform(transform(X))``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows to reconstruct.

        Returns
        -------
        X_rec : DataFrame or ndarray of shape (n_samples, n_features_in_)
            As :meth:`inverse_transform` returns them; a DataFrame keeps the
            index of ``X``.
        """
        check_is_fitted(self)
        return self._decode(
            self._reconstruct(self._validate_X(X, reset=False)), getattr(X, "index", None)
        )

    def sample(self, n_samples=1, *, random_state=None):
        """Generate rows by decoding codes drawn from the training codes' Gaussian.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.
        random_state : int, RandomState instance or None, default=None
            Seeds the drawn codes.

        Returns
        -------
        X_new : DataFrame or ndarray of shape (n_samples, n_features_in_)
            As :meth:`inverse_transform` returns them.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        Z = self._sample_codes(int(n_samples), check_random_state(random_state))
        return self._decode(self._map(self.net_.module_.decode, Z))

    def score_samples(self, X):
        """Per-row score, higher for better reconstructed (more normal) rows.

        Minus the mean over the columns of each column's loss: the squared
        error of a numeric column in training standard deviations, the
        cross-entropy of a categorical column divided by the log of its
        number of categories. Deterministic.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-feature_errors(X).mean(axis=1)``.
        """
        return super().score_samples(X)

    def feature_errors(self, X):
        """Each row's loss per original column: which columns made it unusual.

        One value per column of the table (not per one-hot value): the
        squared error of a numeric column in training standard deviations,
        the cross-entropy of a categorical column over its categories
        divided by ``log(n_categories)`` (0 for an unseen category under
        ``handle_unknown="ignore"``). The row mean is minus
        ``score_samples``: ``feature_errors(X).mean(axis=1) ==
        -score_samples(X)``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows to explain.

        Returns
        -------
        errors : ndarray or DataFrame of shape (n_samples, n_features_in_)
            A DataFrame named by the columns when fitted on one, or under
            ``set_output(transform="pandas")``.
        """
        return super().feature_errors(X)


_codec.register("skae.TabularAE", TabularAE)
