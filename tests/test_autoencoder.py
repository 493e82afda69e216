"""The dense AutoEncoder and the behaviour every estimator shares through the base."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from skae import AutoEncoder

FAST = {"max_epochs": 3, "random_state": 0}


def _pca_mse(X_train, X_test, n_components):
    pca = PCA(n_components).fit(X_train)
    return np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)


# ----------------------------------------------------------------------------
# Quality of the defaults
# ----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    "standardize, output_activation",
    [
        # measured: ae 0.0100, PCA(8) 0.0246, mean predictor 0.0740
        (False, "sigmoid"),
        # measured: ae 0.284, PCA(8) 0.780, mean predictor 1.344
        (True, "linear"),
    ],
    ids=["unit-range-images", "standardized-tabular"],
)
def test_defaults_beat_mean_predictor_and_pca(digits_split, standardize, output_activation):
    X_train, X_test, _, _ = digits_split
    if standardize:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    ae = AutoEncoder(n_components=8, random_state=0).fit(X_train)
    mse = -ae.score(X_test)
    mean_mse = np.mean((X_test - X_train.mean(axis=0)) ** 2)
    assert ae.output_activation_ == output_activation
    assert mse < 0.4 * mean_mse
    assert mse < 0.7 * _pca_mse(X_train, X_test, 8)


# ----------------------------------------------------------------------------
# The architectures of the classic labs
# ----------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "params, linear_shapes",
    [
        # simple one-hidden-layer model: 784 -> 32 -> 784
        ({"n_components": 32, "hidden_layer_sizes": ()}, [(32, 784), (784, 32)]),
        # deep model: 784-128-64-32, mirrored
        (
            {"n_components": 32, "hidden_layer_sizes": (128, 64)},
            [(128, 784), (64, 128), (32, 64), (64, 32), (128, 64), (784, 128)],
        ),
        # 2-D latent: 784 -> 200 -> 200 -> 2 (tanh code)
        (
            {"n_components": 2, "hidden_layer_sizes": (200, 200), "code_activation": "tanh"},
            [(200, 784), (200, 200), (2, 200), (200, 2), (200, 200), (784, 200)],
        ),
    ],
)
def test_expresses_the_classic_lab_models(params, linear_shapes):
    X = np.random.RandomState(0).rand(20, 784)
    ae = AutoEncoder(**params, max_epochs=1, random_state=0).fit(X)
    shapes = [
        tuple(m.weight.shape) for m in ae.net_.module_.modules() if isinstance(m, torch.nn.Linear)
    ]
    assert shapes == linear_shapes
    Z = ae.transform(X)
    assert Z.shape == (20, params["n_components"])
    if params.get("code_activation") == "tanh":
        assert np.all(np.abs(Z) <= 1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_input_dropout_and_bce_train():
    X = np.random.RandomState(0).rand(64, 10)
    ae = AutoEncoder(n_components=3, input_dropout=0.15, dropout=0.1, loss="bce", **FAST).fit(X)
    assert isinstance(ae.net_.module_.encoder[0], torch.nn.Dropout)
    assert ae.net_.module_.encoder[0].p == 0.15
    assert len(ae.loss_curve_) == 3


# ----------------------------------------------------------------------------
# Fitted state, training options
# ----------------------------------------------------------------------------
def test_fitted_attributes(digits):
    X, _ = digits
    ae = AutoEncoder(n_components=4, max_epochs=4, validation_fraction=0.2, random_state=0).fit(X)
    assert ae.n_iter_ == 4
    assert len(ae.loss_curve_) == len(ae.validation_loss_curve_) == 4
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]
    assert ae.n_components_ == 4
    assert ae.n_features_in_ == 64
    assert_array_equal(ae.get_feature_names_out(), [f"autoencoder{i}" for i in range(4)])


def test_no_validation_curve_without_validation(digits):
    X, _ = digits
    ae = AutoEncoder(**FAST).fit(X)
    assert not hasattr(ae, "validation_loss_curve_")


def test_early_stopping_stops_and_restores_best(digits):
    X, _ = digits
    ae = AutoEncoder(
        n_components=2,
        early_stopping=True,
        n_iter_no_change=2,
        tol=0.05,
        max_epochs=50,
        random_state=0,
    ).fit(X)
    # tol is large, so no epoch improves enough: it stops after patience epochs.
    assert ae.n_iter_ < 50
    # the restored weights are those of the best validation epoch
    best = int(np.argmin(ae.validation_loss_curve_))
    valid = ae.net_.history[best, "valid_loss"]
    assert ae.net_.history[best, "valid_loss_best"]
    assert valid == min(ae.validation_loss_curve_)


def test_warm_start_continues_training(digits):
    X, _ = digits
    ae = AutoEncoder(n_components=4, warm_start=True, **FAST).fit(X)
    first = ae.net_.module_.encoder[0].weight.detach().clone()
    ae.fit(X)
    assert ae.n_iter_ == 6
    assert len(ae.loss_curve_) == 6
    assert not torch.equal(first, ae.net_.module_.encoder[0].weight)
    cold = AutoEncoder(n_components=4, **FAST).fit(X).fit(X)
    assert cold.n_iter_ == 3


def test_partial_fit_on_chunks(digits):
    X, _ = digits
    ae = AutoEncoder(n_components=4, random_state=0)
    for chunk in np.array_split(X, 5):
        ae.partial_fit(chunk)
    assert ae.n_iter_ == 5
    assert len(ae.loss_curve_) == 5
    with pytest.raises(ValueError, match="64 features"):
        ae.partial_fit(X[:, :10])


def test_partial_fit_after_fit_with_validation(digits):
    X, _ = digits
    ae = AutoEncoder(n_components=4, max_epochs=2, early_stopping=True, random_state=0).fit(X)
    ae.partial_fit(X[:30])
    assert ae.n_iter_ == 3
    assert np.isnan(ae.validation_loss_curve_[-1])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "optimizer, kwargs, lr, expected",
    [
        ("sgd", {"momentum": 0.9}, 0.05, torch.optim.SGD),
        ("adamw", None, 1e-3, torch.optim.AdamW),
        ("rmsprop", None, 1e-3, torch.optim.RMSprop),
        (torch.optim.NAdam, None, 1e-3, torch.optim.NAdam),
    ],
)
def test_optimizers(digits, optimizer, kwargs, lr, expected):
    X, _ = digits
    ae = AutoEncoder(optimizer=optimizer, optimizer_kwargs=kwargs, lr=lr, **FAST).fit(X)
    assert type(ae.net_.optimizer_) is expected
    # batch_size="auto": 1,797 rows give 32 batches of 32 an epoch, at the rate scaled to them
    assert ae.batch_size_ == 32
    assert ae.lr_ == pytest.approx(lr * (32 / 64) ** 0.5)
    assert ae.net_.optimizer_.param_groups[0]["lr"] == ae.lr_
    if kwargs:
        assert ae.net_.optimizer_.param_groups[0]["momentum"] == 0.9
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]


def test_callbacks_are_passed_through_and_not_mutated(digits):
    X, _ = digits

    class CountBatches(Callback):
        def initialize(self):
            self.count = 0
            return self

        def on_batch_end(self, net, **kwargs):
            self.count += 1

    callback = CountBatches()
    ae = AutoEncoder(callbacks=[("count", callback)], batch_size=600, **FAST).fit(X)
    assert dict(ae.net_.callbacks_)["count"].count == 3 * 3  # 3 epochs x 3 batches
    assert not hasattr(callback, "count")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_verbose_prints_table_and_progress(digits, capsys):
    X, _ = digits
    AutoEncoder(verbose=1, max_epochs=2, random_state=0).fit(X[:100])
    captured = capsys.readouterr()
    assert "train_loss" in captured.out
    assert "epoch" in captured.out


def test_dropout_without_hidden_layers_is_refused(digits):
    X, _ = digits
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(\) has none; use input_dropout"):
        AutoEncoder(hidden_layer_sizes=(), dropout=0.15, **FAST).fit(X)
    ae = AutoEncoder(hidden_layer_sizes=(), input_dropout=0.15, **FAST).fit(X)
    assert isinstance(ae.net_.module_.encoder[0], torch.nn.Dropout)


# ----------------------------------------------------------------------------
# Determinism and random state
# ----------------------------------------------------------------------------
def test_same_seed_bit_identical_also_after_clone(digits):
    X, _ = digits
    a = AutoEncoder(dropout=0.2, **FAST).fit(X)
    b = clone(a).fit(X)
    assert_array_equal(a.transform(X), b.transform(X))
    c = AutoEncoder(dropout=0.2, max_epochs=3, random_state=1).fit(X)
    assert not np.array_equal(a.transform(X), c.transform(X))


def test_global_random_state_untouched(digits):
    X, _ = digits
    torch.manual_seed(123)
    np.random.seed(123)
    expected_torch = torch.rand(3)
    expected_np = np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(123)
    AutoEncoder(dropout=0.1, **FAST).fit(X)
    assert torch.equal(torch.rand(3), expected_torch)
    assert_array_equal(np.random.rand(3), expected_np)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    X=arrays(
        np.float64,
        st.tuples(st.integers(2, 12), st.integers(1, 6)),
        elements=st.floats(-5, 5, allow_nan=False, width=32),
    ),
    n_components=st.integers(1, 4),
)
def test_shapes_and_determinism_property(X, n_components):
    ae = AutoEncoder(
        n_components=n_components, hidden_layer_sizes=(5,), max_epochs=1, random_state=0
    )
    Z = ae.fit_transform(X)
    assert Z.shape == (X.shape[0], n_components)
    assert Z.dtype == X.dtype
    assert ae.inverse_transform(Z).shape == X.shape
    assert ae.score_samples(X).shape == (X.shape[0],)
    assert np.all(ae.score_samples(X) <= 0)
    assert_array_equal(ae.transform(X), Z)
    assert_array_equal(clone(ae).fit_transform(X), Z)


def test_score_matches_score_samples_and_reconstruction(digits):
    X, _ = digits
    ae = AutoEncoder(**FAST).fit(X)
    X_rec = ae.reconstruct(X)
    assert_allclose(X_rec, ae.inverse_transform(ae.transform(X)), rtol=1e-6)
    assert_allclose(ae.score_samples(X), -np.mean((X_rec - X) ** 2, axis=1))
    assert ae.score(X) == pytest.approx(ae.score_samples(X).mean())


# ----------------------------------------------------------------------------
# Persistence and composition
# ----------------------------------------------------------------------------
def test_pickle_round_trip(digits):
    X, _ = digits
    ae = AutoEncoder(**FAST).fit(X)
    loaded = pickle.loads(pickle.dumps(ae))
    assert_array_equal(loaded.transform(X), ae.transform(X))
    assert_array_equal(loaded.inverse_transform(ae.transform(X)), ae.reconstruct(X))
    assert loaded.loss_curve_ == ae.loss_curve_


def test_pipeline_with_scaler_and_classifier(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    pipe = make_pipeline(
        StandardScaler(),
        AutoEncoder(n_components=8, max_epochs=30, random_state=0),
        KNeighborsClassifier(),
    )
    accuracy = pipe.fit(X_train, y_train).score(X_test, y_test)
    # measured 0.951
    assert accuracy > 0.88


def test_grid_search_over_n_components(digits):
    X, _ = digits
    search = GridSearchCV(
        AutoEncoder(max_epochs=10, random_state=0), {"n_components": [2, 16]}, cv=2
    )
    search.fit(X[:600])
    # a larger code reconstructs better, and score ranks it first
    assert search.best_params_ == {"n_components": 16}
    assert search.cv_results_["mean_test_score"][1] > search.cv_results_["mean_test_score"][0]


def test_set_output_pandas_and_dataframe_input(digits):
    pd = pytest.importorskip("pandas")
    X, _ = digits
    frame = pd.DataFrame(X[:200], columns=[f"pixel{i}" for i in range(64)])
    ae = AutoEncoder(n_components=3, **FAST).set_output(transform="pandas").fit(frame)
    out = ae.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["autoencoder0", "autoencoder1", "autoencoder2"]
    assert_array_equal(ae.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        ae.transform(X[:5])


def test_float32_and_float64_preserved(digits):
    X, _ = digits
    ae = AutoEncoder(**FAST).fit(X)
    assert ae.transform(X.astype(np.float32)).dtype == np.float32
    assert ae.transform(X).dtype == np.float64
    assert ae.transform(X.astype(int)).dtype == np.float64


def test_lists_and_readonly_memmap(tmp_path, digits):
    X, _ = digits
    path = tmp_path / "X.npy"
    np.save(path, X[:100])
    mm = np.load(path, mmap_mode="r")
    ae = AutoEncoder(**FAST).fit(mm)
    assert_array_equal(ae.transform(mm), ae.transform(X[:100].tolist()))


# ----------------------------------------------------------------------------
# Bad input: clear errors, nothing half-fitted
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), "infinity"),
        (np.empty((0, 3)), "0 sample"),
        (np.arange(5.0), "Expected 2D array"),
        (np.array([[1 + 1j, 2], [3, 4]]), "Complex data not supported"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), "could not convert"),
    ],
)
def test_bad_input_errors(X, match):
    with pytest.raises(ValueError, match=match):
        AutoEncoder(**FAST).fit(X)


def test_sparse_input_refused_with_fix():
    sp = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="toarray"):
        AutoEncoder(**FAST).fit(sp.random(10, 5, format="csr", random_state=0))


def test_feature_count_error_names_both_numbers(digits):
    X, _ = digits
    ae = AutoEncoder(**FAST).fit(X)
    with pytest.raises(ValueError, match="X has 10 features, but AutoEncoder is expecting 64"):
        ae.transform(X[:, :10])
    with pytest.raises(ValueError, match="n_components_=8"):
        ae.inverse_transform(np.zeros((2, 3)))


def test_not_fitted():
    with pytest.raises(NotFittedError):
        AutoEncoder().transform(np.zeros((2, 2)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "n_components"),
        ({"lr": -1.0}, "lr"),
        ({"activation": "swish"}, "activation"),
        ({"optimizer": "adamx"}, "optimizer"),
        ({"optimizer": dict}, "torch.optim.Optimizer subclass"),
        ({"hidden_layer_sizes": (10, -2)}, "hidden_layer_sizes must be a sequence of positive"),
        ({"loss": "bce", "output_activation": "linear"}, "output_activation='sigmoid'"),
        ({"device": "gpu"}, "not a torch device"),
        ({"validation_fraction": 0.01}, "validation_fraction=0.01 leaves"),
    ],
)
def test_bad_parameters_name_the_parameter(params, match):
    X = np.random.RandomState(0).rand(20, 4)
    ae = AutoEncoder(**params, max_epochs=1)
    with pytest.raises((ValueError, TypeError), match=match):
        ae.fit(X)
    assert not hasattr(ae, "n_features_in_")
    assert not hasattr(ae, "net_")


def test_bce_needs_unit_range():
    with pytest.raises(ValueError, match=r"loss='bce' needs targets in \[0, 1\]"):
        AutoEncoder(loss="bce", max_epochs=1).fit(np.array([[0.0, 2.0], [1.0, 0.5]]))


def test_cuda_unavailable_message():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="device='auto'"):
        AutoEncoder(device="cuda", max_epochs=1).fit(np.zeros((4, 2)))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_device_auto_falls_back_to_cpu(digits):
    X, _ = digits
    ae = AutoEncoder(device="auto", **FAST).fit(X[:50])
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert str(ae.net_.device).startswith(expected)


def test_failed_refit_keeps_previous_fit(digits):
    X, _ = digits
    ae = AutoEncoder(**FAST).fit(X)
    Z = ae.transform(X)
    ae.set_params(lr=1e6, optimizer="sgd")
    with pytest.raises(ValueError, match="Training diverged"):
        ae.fit(X * 1e3)
    assert_array_equal(ae.transform(X), Z)


def test_named_adam_is_fused_unless_told_otherwise(digits):
    X, _ = digits
    fused = AutoEncoder(**FAST).fit(X[:100])
    assert fused.net_.optimizer_.defaults["fused"] is True
    plain = AutoEncoder(optimizer_kwargs={"foreach": False}, **FAST).fit(X[:100])
    assert not plain.net_.optimizer_.defaults["fused"]
    # the fused kernel computes the same update up to float rounding
    assert_allclose(fused.loss_curve_, plain.loss_curve_, rtol=1e-4)


def test_training_and_validation_batches_run_in_their_modes(digits):
    X, _ = digits

    class Modes(Callback):
        def initialize(self):
            self.seen = set()
            return self

        def on_batch_end(self, net, batch=None, training=False, **kwargs):
            modes = {m.training for m in net.module_.modules()}
            self.seen.add((training, *modes))

    ae = AutoEncoder(
        dropout=0.2, validation_fraction=0.2, callbacks=[("modes", Modes())], **FAST
    ).fit(X[:300])
    # every submodule trains in training batches and evaluates in validation ones
    assert dict(ae.net_.callbacks_)["modes"].seen == {(True, True), (False, False)}


@given(
    n_features=st.integers(1, 2000),
    code=st.sampled_from(["linear", "tanh", "sigmoid", "relu"]),
    given_activation=st.sampled_from(["relu", "elu", "gelu", "tanh"]),
)
def test_auto_activation_is_elu_for_a_linear_code_of_many_features(
    n_features, code, given_activation
):
    from skae._shared import ELU_FROM_FEATURES, resolve_activation

    wide = n_features >= ELU_FROM_FEATURES
    expected = "elu" if code == "linear" and wide else "relu"
    assert resolve_activation("auto", code, n_features) == expected
    assert resolve_activation(given_activation, code, n_features) == given_activation


@pytest.mark.parametrize(
    ("n_features", "params", "expected"),
    [
        (784, {}, "elu"),
        (64, {}, "relu"),
        (784, {"code_activation": "tanh"}, "relu"),
        (784, {"activation": "gelu"}, "gelu"),
    ],
)
def test_the_resolved_activation_is_fitted_kept_and_saved(n_features, params, expected, tmp_path):
    from skae import load, save

    X = np.random.RandomState(0).rand(64, n_features).astype(np.float32)
    ae = AutoEncoder(4, hidden_layer_sizes=(16,), max_epochs=1, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch of noise
        ae.fit(X)
        ae.set_params(warm_start=True).fit(X)  # a continued fit keeps its network
    assert ae.activation_ == expected
    layers = {type(m).__name__.lower() for m in ae.net_.module_.encoder}
    assert expected in layers
    save(ae, tmp_path / "ae.skae")
    loaded = load(tmp_path / "ae.skae")
    assert loaded.activation_ == expected
    assert_array_equal(loaded.transform(X), ae.transform(X))
