"""Bad and edge input, table-driven, against every public estimator.

Each bad input must raise the stated error with a message naming the problem
and the fix, at ``fit`` on a new estimator and at inference on a fitted one;
and a fitted estimator must be bit-identical after a failed ``fit``,
``partial_fit`` or ``warm_start`` fit. Edge inputs must simply work.
"""

import copy
import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import InvalidParameterError

import skae
from skae import (
    CVAE,
    VAE,
    AutoEncoder,
    AutoEncoderOutlierDetector,
    ConvAE,
    ConvDenoisingAE,
    DenoisingAE,
    ModuleAE,
    NoiseAugmenter,
    SeqAE,
    SparseAE,
    TabularAE,
)

N, F = 12, 16  # samples, features (4 x 4 images and sequences)
SMALL = {"max_epochs": 1, "batch_size": 8, "random_state": 0}
# One epoch on 12 samples ends near the constant predictor, and fit says so;
# these tests are about input checks, not about what the models learn.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
ESTIMATORS = {
    "AutoEncoder": AutoEncoder(n_components=2, hidden_layer_sizes=(4,), **SMALL),
    "SparseAE": SparseAE(n_components=2, hidden_layer_sizes=(4,), **SMALL),
    "DenoisingAE": DenoisingAE(n_components=2, hidden_layer_sizes=(4,), **SMALL),
    "VAE": VAE(n_components=2, hidden_layer_sizes=(4,), **SMALL),
    "CVAE": CVAE(n_components=2, hidden_layer_sizes=(4,), **SMALL),
    "ConvAE": ConvAE(n_components=2, image_shape=(4, 4), channels=(2, 2), **SMALL),
    "ConvDenoisingAE": ConvDenoisingAE(
        n_components=2, image_shape=(4, 4), channels=(2, 2), **SMALL
    ),
    "SeqAE": SeqAE(n_components=2, sequence_shape=(4, 4), hidden_size=3, **SMALL),
    "ModuleAE": ModuleAE(n_components=2, **SMALL),
    "TabularAE": TabularAE(n_components=2, hidden_layer_sizes=(4,), **SMALL),
    "AutoEncoderOutlierDetector": AutoEncoderOutlierDetector(
        AutoEncoder(n_components=2, hidden_layer_sizes=(4,), **SMALL)
    ),
    "NoiseAugmenter": NoiseAugmenter(random_state=0),
}


def test_every_public_estimator_is_in_the_matrix():
    public = {
        name
        for name in skae.__all__
        if inspect.isclass(getattr(skae, name)) and issubclass(getattr(skae, name), BaseEstimator)
    }
    assert public == set(ESTIMATORS)


def _X():
    return np.random.RandomState(0).rand(N, F)


def _y():
    return np.arange(N) % 3


def _with(X, row, col, value, dtype=object):
    X = X.astype(dtype)
    X[row, col] = value
    return X


def _frame(**extra):
    frame = pd.DataFrame(
        _X()[:, : F - len(extra)], columns=[f"f{i}" for i in range(F - len(extra))]
    )
    for name, values in extra.items():
        frame[name] = values
    return frame


# Columns that a new TabularAE fit encodes as categorical: bad input for the others.
CATEGORICAL_COLUMNS = ("pandas_text", "pandas_category")


@dataclass
class Bad:
    """A bad input: data (``X``), a parameter (``params``) or labels (``y``)."""

    X: Any = None
    params: dict = field(default_factory=dict)
    y: Any = None  # with ``labels``: a callable giving the labels, or None for none
    labels: bool = False  # a bad-labels case, for estimators taking labels
    error: type = ValueError
    match: str = ""
    at_fit: bool = True
    at_inference: bool = True
    network_only: bool = False  # NoiseAugmenter adds noise in numpy, at any magnitude


TEXT = "holds text, not numbers.*Encode text columns"
RAGGED = "ragged.*Pad or truncate every row"
NAN = "contains NaN.*imputer"
INF = "infinity.*Replace or drop the infinite values"
FLOAT32 = r"beyond float32 range in column 3 .*Scale the data"
DIM = "dim 4.*Flatten each sample|do not match (image|sequence)_shape|pass image_shape="
N_FEATURES = rf"has 15 features, but \w+ is expecting {F} features"

BAD = {
    # data
    "text_cell": Bad(X=lambda: _with(_X(), 2, 3, "abc"), match=TEXT),
    "text_str_array": Bad(X=lambda: _with(_X(), 0, 0, "abc", dtype="U32"), match=TEXT),
    "pandas_text": Bad(
        X=lambda: _frame(city=["x"] * N), match="Column 'city' has dtype (object|str).*Encode"
    ),
    "pandas_category": Bad(
        X=lambda: _frame(kind=pd.Categorical(["a", "b"] * (N // 2))),
        match="Column 'kind' has dtype category.*Encode",
    ),
    "pandas_datetime": Bad(
        X=lambda: _frame(when=pd.date_range("2026-01-01", periods=N)),
        match="Column 'when' has dtype datetime64.*Encode",
    ),
    "ragged_list": Bad(X=lambda: [list(row) for row in _X()[:-1]] + [[0.5] * 3], match=RAGGED),
    "dict_cell": Bad(
        X=lambda: _with(_X(), 1, 1, {"a": 1}),
        error=TypeError,
        match="argument must be a string.*number.*numbers only",
    ),
    "nan": Bad(X=lambda: _with(_X(), 4, 5, np.nan, dtype=float), match=NAN),
    "none_cell": Bad(X=lambda: _with(_X(), 4, 5, None), match=NAN),
    "pandas_na": Bad(X=lambda: _frame(gap=[np.nan] + [1.0] * (N - 1)), match=NAN),
    "inf": Bad(X=lambda: _with(_X(), 0, 2, np.inf, dtype=float), match=INF),
    "minus_inf": Bad(X=lambda: _with(_X(), 0, 2, -np.inf, dtype=float), match=INF),
    "float32_overflow": Bad(
        X=lambda: _with(_X(), 3, 3, 1e300, dtype=float), match=FLOAT32, network_only=True
    ),
    "float32_overflow_negative": Bad(
        X=lambda: _with(_X(), 5, 3, -1e39, dtype=float), match=FLOAT32, network_only=True
    ),
    "complex": Bad(X=lambda: _X() + 1j, match="Complex data not supported.*real numbers"),
    "no_samples": Bad(X=lambda: np.empty((0, F)), match=r"0 sample\(s\).*minimum of 1"),
    "no_features": Bad(
        X=lambda: np.empty((N, 0)), match=r"0 feature\(s\).*minimum of 1", at_inference=False
    ),
    "one_dim": Bad(X=lambda: _X()[0], match="Expected 2D array, got 1D array.*Reshape"),
    "scalar": Bad(X=lambda: 3.0, match="Expected 2D array, got scalar array.*Reshape"),
    "four_dim": Bad(X=lambda: _X().reshape(N, 2, 2, 4), match=DIM),
    "sparse": Bad(
        X=lambda: scipy.sparse.csr_matrix(_X()), error=TypeError, match=r"dense data.*\.toarray"
    ),
    "mixed_column_names": Bad(
        X=lambda: pd.DataFrame(_X(), columns=[*range(F - 1), "last"]),
        error=TypeError,
        match="only supported if all input features have string names.*astype\\(str\\)",
    ),
    "wrong_n_features": Bad(X=lambda: _X()[:, :-1], match=N_FEATURES, at_fit=False),
    # parameters (checked at fit; a continued fit refuses the change itself)
    "device_meta": Bad(params={"device": "meta"}, match="device='meta' holds no data"),
    "device_unknown": Bad(params={"device": "gpu"}, match="not a torch device; use 'cpu'"),
    "n_components_zero": Bad(
        params={"n_components": 0},
        error=InvalidParameterError,
        match="'n_components' parameter .* must be",
    ),
    "lr_negative": Bad(
        params={"lr": -1.0}, error=InvalidParameterError, match="'lr' parameter .* must be"
    ),
    "batch_size_zero": Bad(
        params={"batch_size": 0},
        error=InvalidParameterError,
        match="'batch_size' parameter .* must be",
    ),
    "max_epochs_float": Bad(
        params={"max_epochs": 1.5},
        error=InvalidParameterError,
        match="'max_epochs' parameter .* must be",
    ),
    "optimizer_unknown": Bad(
        params={"optimizer": "adamm"},
        error=InvalidParameterError,
        match="'optimizer' parameter .* must be",
    ),
    "optimizer_not_torch": Bad(
        params={"optimizer": dict}, match="not a torch.optim.Optimizer subclass"
    ),
    "bce_outside_unit_range": Bad(
        X=lambda: _X() * 3, params={"loss": "bce"}, match=r"needs targets in \[0, 1\].*Scale"
    ),
    "contamination_too_large": Bad(
        params={"contamination": 0.9},
        error=InvalidParameterError,
        match="'contamination' parameter .* must be",
    ),
    "noise_level_negative": Bad(
        params={"noise_level": -0.1},
        error=InvalidParameterError,
        match="'noise_level' parameter .* must be",
    ),
    # labels (estimators with labels)
    "labels_missing": Bad(labels=True, match="requires y to be passed.*fit\\(X, y\\)"),
    "labels_mixed_types": Bad(
        labels=True,
        y=lambda: np.array([1, "a"] * (N // 2), dtype=object),
        match="mixes text and other labels.*labels of one type",
    ),
    "labels_continuous": Bad(
        labels=True, y=lambda: np.linspace(0, 1, N), match="Unknown label type"
    ),
}


def _params_for(est, params):
    """``params`` for ``est``, routed to a detector's inner estimator; None: n/a."""
    own = est.get_params()
    routed = {}
    for name, value in params.items():
        if name in own and not isinstance(est, AutoEncoderOutlierDetector | NoiseAugmenter):
            routed[name] = value
        elif f"estimator__{name}" in own:
            routed[f"estimator__{name}"] = value
        elif name in own:
            routed[name] = value
        else:
            return None
    return routed


def _case(kind, name):
    """(estimator, X, y) for the bad input ``kind`` on estimator ``name``; skip if n/a."""
    bad = BAD[kind]
    est = clone(ESTIMATORS[name])
    if bad.labels and not isinstance(est, CVAE):
        pytest.skip("takes no labels")
    if bad.network_only and isinstance(est, NoiseAugmenter):
        pytest.skip("values beyond float32 are fine for numpy noise")
    params = _params_for(est, bad.params)
    if params is None:
        pytest.skip("no such parameter")
    if kind == "four_dim" and isinstance(est, NoiseAugmenter | AutoEncoderOutlierDetector):
        pytest.skip("takes N-D arrays")
    X = _X() if bad.X is None else bad.X()
    y = (bad.y and bad.y()) if bad.labels else _y()
    return est, params, X, y


def _fit_args(est, X, y):
    return (X, y) if isinstance(est, CVAE) else (X,)


@pytest.fixture(scope="module")
def fitted():
    """Every estimator fitted once on clean data."""
    fitted = {name: clone(est) for name, est in ESTIMATORS.items()}
    for est in fitted.values():
        est.fit(*_fit_args(est, _X(), _y()))
    return fitted


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("kind", BAD)
def test_bad_input_at_fit(kind, name):
    bad = BAD[kind]
    if not bad.at_fit:
        pytest.skip("fine at fit")
    est, params, X, y = _case(kind, name)
    if kind in CATEGORICAL_COLUMNS and isinstance(est, TabularAE):
        pytest.skip("a categorical column, which TabularAE encodes")
    with pytest.raises(bad.error, match=f"(?s){bad.match}"):
        est.set_params(**params).fit(*_fit_args(est, X, y))


# a frame continuing a fit on an array: sklearn warns about the names, then the NaN fails
@pytest.mark.filterwarnings("ignore:X has feature names")
@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("how", ["fit", "partial_fit", "warm_start"])
def test_failed_fit_leaves_fitted_model_bit_identical(
    kind, name, how, fitted, state_of, assert_same_state
):
    bad = BAD[kind]
    _, params, X, y = _case(kind, name)
    est = copy.deepcopy(fitted[name])
    if how == "partial_fit" and not hasattr(est, "partial_fit"):
        pytest.skip("no partial_fit")
    if how == "warm_start" and "warm_start" not in est.get_params():
        pytest.skip("no warm_start")
    given = est.get_params()
    before = state_of(est)
    est.set_params(**params, **({"warm_start": True} if how == "warm_start" else {}))
    continued = how != "fit" and params and bad.error is not InvalidParameterError
    match = "differs from .* warm_start=False" if continued else bad.match
    if kind == "wrong_n_features" and how != "fit":
        match = N_FEATURES
    if not bad.at_fit and how == "fit":
        pytest.skip("fine at fit")
    if kind in CATEGORICAL_COLUMNS and isinstance(est, TabularAE) and how == "fit":
        pytest.skip("a categorical column, which a new TabularAE fit encodes")
    with pytest.raises(bad.error if not continued else ValueError, match=f"(?s){match}"):
        getattr(est, "fit" if how == "warm_start" else how)(*_fit_args(est, X, y))
    est.set_params(**given)
    assert_same_state(before, state_of(est))


def _inference_methods(est):
    return [m for m in ("transform", "score_samples", "reconstruct") if hasattr(est, m)]


@pytest.mark.filterwarnings("ignore:X has feature names")
@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("kind", [k for k, bad in BAD.items() if bad.X and bad.at_inference])
def test_bad_input_at_inference(kind, name, fitted, state_of, assert_same_state):
    bad = BAD[kind]
    if bad.params or bad.labels:
        pytest.skip("a fit-time input")
    _, _, X, _ = _case(kind, name)
    est = fitted[name]
    before = state_of(est)
    for method in _inference_methods(est):
        with pytest.raises(bad.error, match=f"(?s){bad.match}"):
            getattr(est, method)(X)
    assert_same_state(before, state_of(est))


# Edge inputs: unusual but valid, so they must work.
EDGE = {
    "ints": lambda: (_X() * 10).astype(np.int64),
    "bools": lambda: _X() > 0.5,
    "float32": lambda: _X().astype(np.float32),
    "list_of_lists": lambda: _X().tolist(),
    "fortran_order": lambda: np.asfortranarray(_X()),
    "read_only": lambda: _read_only(_X()),
    "numeric_frame": lambda: _frame(flag=[True, False] * (N // 2)),
    "one_sample": lambda: _X()[:1],
    "float32_max_ok": lambda: _with(_X(), 0, 0, 1e30, dtype=float),
}


def _read_only(X):
    X.setflags(write=False)
    return X


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("kind", EDGE)
def test_edge_input_works(kind, name):
    est = clone(ESTIMATORS[name])
    X = EDGE[kind]()
    y = _y()[: len(X)]
    if kind == "float32_max_ok" and not isinstance(est, NoiseAugmenter):
        # representable in float32: accepted by validation (training may still diverge)
        est = clone(est).set_params(**_params_for(est, {"lr": 1e-6}) or {})
        try:
            est.fit(*_fit_args(est, X, y))
        except ValueError as error:
            assert "Training diverged" in str(error)
        return
    if kind == "one_sample" and isinstance(est, AutoEncoderOutlierDetector):
        # a novelty detector holds rows out to set its threshold: one row is too few
        with pytest.raises(ValueError, match="holds out 0 of 1 samples.*novelty=False"):
            est.fit(*_fit_args(est, X, y))
        est.set_params(novelty=False)
    est.fit(*_fit_args(est, X, y))
    out = est.transform(X) if hasattr(est, "transform") else est.score_samples(X)
    assert len(out) == len(X)
    assert np.isfinite(np.asarray(out, dtype=float)).all()
