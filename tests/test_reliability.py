"""A fitted model never silently breaks: rollback, divergence, threads, interruption."""

import threading
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, LRScheduler

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
    SeqAE,
    SparseAE,
)
from skae._engine import LR_SCHEDULES

# Tiny models for a few epochs on tiny data end near the constant predictor,
# and fit says so; what these tests check is state, rollback and determinism.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Every autoencoder family, small, on 16 features (4 x 4 images, 4 x 4 sequences).
ESTIMATORS = {
    "AutoEncoder": AutoEncoder(n_components=2, hidden_layer_sizes=(8,)),
    "SparseAE": SparseAE(n_components=2, hidden_layer_sizes=(8,)),
    "DenoisingAE": DenoisingAE(n_components=2, hidden_layer_sizes=(8,)),
    "VAE": VAE(n_components=2, hidden_layer_sizes=(8,)),
    "CVAE": CVAE(n_components=2, hidden_layer_sizes=(8,)),
    "ConvAE": ConvAE(n_components=2, image_shape=(4, 4), channels=(2, 2)),
    "ConvDenoisingAE": ConvDenoisingAE(n_components=2, image_shape=(4, 4), channels=(2, 2)),
    "SeqAE": SeqAE(n_components=2, sequence_shape=(4, 4), hidden_size=4),
    "ModuleAE": ModuleAE(n_components=2),
}


def _make(name, **params):
    return clone(ESTIMATORS[name]).set_params(
        **{"max_epochs": 2, "batch_size": 8, "random_state": 0, **params}
    )


def _data(n=24, seed=0):
    rng = np.random.RandomState(seed)
    return rng.rand(n, 16), np.arange(n) % 3


def _fit(est, X, y, method="fit"):
    args = (X, y) if isinstance(est, CVAE) else (X,)
    return getattr(est, method)(*args)


# ----------------------------------------------------------------------
# 1-2. A failed fit leaves the model as it was; fit never returns inf/NaN
# ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_failed_continued_fit_leaves_model_bit_identical(name, how, state_of, assert_same_state):
    X, y = _data()
    # mse: with loss="auto" these [0, 1] data train with binary cross-entropy,
    # which refuses the scaled data before training (a clear error, no divergence)
    est = _fit(_make(name, loss="mse"), X, y)
    before, codes = state_of(est), est.transform(X)
    if how == "warm_start":
        est.set_params(warm_start=True)
    with pytest.raises(ValueError, match="Training diverged"):
        _fit(est, X * 1e30, y, "partial_fit" if how == "partial_fit" else "fit")
    est.set_params(warm_start=False)
    assert_same_state(before, state_of(est))
    np.testing.assert_array_equal(est.transform(X), codes)
    assert est.n_iter_ == len(est.net_.history) == len(est.loss_curve_) == 2


def test_fit_checks_the_weights_after_the_last_step(state_of, assert_same_state):
    # the recorded loss is finite (computed before the step) but the step overflows
    X = [[1e6], [-1e6]]
    with pytest.raises(ValueError, match="Training diverged: the network's .* inf or NaN"):
        AutoEncoder(optimizer="sgd", max_epochs=1, random_state=0).fit(X)
    est = AutoEncoder(optimizer="sgd", lr=1e-12, max_epochs=1, random_state=0).fit(X)
    before = state_of(est)
    with pytest.raises(ValueError, match="Lower lr"):
        est.set_params(warm_start=True, lr=1e-3).fit(X)
    assert_same_state(before, state_of(est.set_params(warm_start=False, lr=1e-12)))
    assert np.isfinite(est.reconstruct(X)).all()


# ----------------------------------------------------------------------
# 3. Inference mutates nothing shared
# ----------------------------------------------------------------------
def test_inference_never_switches_module_mode():
    X, _ = _data()
    est = AutoEncoder(n_components=2, dropout=0.5, max_epochs=2, random_state=0).fit(X)
    module = est.net_.module_
    assert not any(m.training for m in module.modules())

    def refuse(mode=True):
        raise AssertionError("inference switched the module's mode")

    module.train = refuse
    try:
        est.transform(X), est.score_samples(X), est.reconstruct(X), est.sample(3)
    finally:
        del module.train
    # training sets training mode itself: dropout is active in the next fit
    est.set_params(warm_start=True).fit(X)
    assert not module.training


@pytest.mark.parametrize(
    "est",
    [
        pytest.param(AutoEncoder(dropout=0.5), id="AutoEncoder-dropout"),
        pytest.param(VAE(), id="VAE-sampling", marks=pytest.mark.slow),
    ],
)
def test_concurrent_inference_on_a_model_random_in_training(est):
    # dropout and the VAE's sampled code are active in training mode only
    X, _ = _data(200)
    est = clone(est).set_params(n_components=2, batch_size=16, max_epochs=2, random_state=0)
    est.fit(X)
    expected = est.transform(X), est.score_samples(X)
    wrong = []

    def worker():
        for _ in range(20):
            got = est.transform(X), est.score_samples(X)
            wrong.extend(not np.array_equal(a, b) for a, b in zip(got, expected))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wrong) == 160 and not any(wrong)


@pytest.fixture(scope="module", params=["AutoEncoder", "VAE", "ConvAE", "SeqAE"])
def small_batch_model(request):
    X, _ = _data(40)
    return _make(request.param).fit(X), X


@settings(max_examples=15, deadline=None)
@given(rows=st.lists(st.integers(0, 39), min_size=1, max_size=40))
def test_rows_do_not_depend_on_their_batch(small_batch_model, rows):
    # each row is encoded the same alone, in any subset and in any order
    est, X = small_batch_model
    full = est.transform(X)
    np.testing.assert_array_equal(est.transform(X[rows]), full[rows])
    np.testing.assert_array_equal(est.score_samples(X[rows]), est.score_samples(X)[rows])


# ----------------------------------------------------------------------
# 5. numpy scalar parameters
# ----------------------------------------------------------------------
_NUMPY_PARAMS = {
    "AutoEncoder": {"hidden_layer_sizes": (np.int64(8),)},
    "SparseAE": {"hidden_layer_sizes": (np.int64(8),)},
    "DenoisingAE": {"noise_level": np.float64(0.2)},  # what None means
    "VAE": {"beta": np.float64(1.0)},
    "CVAE": {"beta": np.float32(1.0)},
    "ConvAE": {"channels": (np.int64(2), np.int64(2)), "image_shape": (np.int64(4),) * 2},
    "ConvDenoisingAE": {"kernel_size": np.int64(3)},
    "SeqAE": {"hidden_size": np.int64(4), "sequence_shape": (np.int32(4), np.int64(4))},
    "ModuleAE": {},
}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_numpy_scalar_parameters(name):
    X, y = _data()
    plain = _fit(_make(name), X, y)
    numpy_params = {
        "n_components": np.int64(2),
        "max_epochs": np.int64(2),
        "batch_size": np.int32(8),
        "lr": np.float64(3e-3),  # the default
        **_NUMPY_PARAMS[name],
    }
    est = _fit(_make(name, **numpy_params), X, y)
    np.testing.assert_array_equal(est.transform(X), plain.transform(X))
    # stored unchanged
    assert type(est.get_params()["n_components"]) is np.int64


def test_grid_search_over_numpy_range():
    X, _ = _data(30)
    search = GridSearchCV(
        SeqAE(sequence_shape=(4, 4), max_epochs=1, random_state=0),
        {"n_components": np.arange(1, 3), "hidden_size": np.arange(2, 4)},
        cv=2,
    ).fit(X)
    assert search.best_estimator_.n_components_ in (1, 2)


# ----------------------------------------------------------------------
# 6. warm_start applies lr, batch_size and shuffle, refuses the rest
# ----------------------------------------------------------------------
def test_warm_start_applies_lr_batch_size_and_shuffle():
    X, _ = _data(32)
    est = AutoEncoder(n_components=2, max_epochs=1, batch_size=8, random_state=0).fit(X)
    est.set_params(warm_start=True, lr=0.05, batch_size=16, shuffle=False).fit(X)
    assert [g["lr"] for g in est.net_.optimizer_.param_groups] == [0.05]
    assert [len(row["batches"]) for row in est.net_.history] == [4, 2]
    assert est.net_.iterator_train__shuffle is False
    est.set_params(batch_size=32).partial_fit(X)
    assert len(est.net_.history[-1]["batches"]) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"optimizer": "sgd"},
        {"callbacks": [Callback()]},
        {"hidden_layer_sizes": (4,)},
        {"n_components": 3},
        {"weight_decay": 0.1},
        {"verbose": 1},
        {"random_state": 1},
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_warm_start_refuses_other_changes(change, method, state_of, assert_same_state):
    X, _ = _data()
    est = AutoEncoder(n_components=2, max_epochs=1, random_state=0).fit(X)
    before = state_of(est)
    (name,) = change
    original = est.get_params()[name]
    with pytest.raises(ValueError, match=f"{name}=.* differs from .* warm_start=False"):
        getattr(est.set_params(warm_start=True, **change), method)(X)
    assert_same_state(before, state_of(est.set_params(warm_start=False, **{name: original})))


# ----------------------------------------------------------------------
# 6b. lr_schedule: one cycle per fit, the optimizer steps at those rates
# ----------------------------------------------------------------------
class RecordStepRates(Callback):
    """Record the optimizer's learning rate at every training batch."""

    def initialize(self):
        self.rates_ = []
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self.rates_.append(net.optimizer_.param_groups[0]["lr"])


def _cosine(lr, epochs):
    return [lr * 0.5 * (1 + np.cos(np.pi * e / epochs)) for e in range(epochs)]


def _cooldown(lr, epochs):
    # lr until 80 % of the run, then half a cosine over the last 20 %
    over = np.arange(epochs) / epochs - 0.8
    return list(lr * np.where(over <= 0, 1.0, 0.5 * (1 + np.cos(np.pi * over / 0.2))))


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("schedule", ["cosine", "cooldown", "auto"])
def test_schedule_sets_the_rate_of_every_epoch(name, schedule):
    X, y = _data(32)
    est = _fit(_make(name, max_epochs=10, lr=0.01, lr_schedule=schedule), X, y)
    expected = _cosine(0.01, 10) if schedule == "cosine" else _cooldown(0.01, 10)
    np.testing.assert_allclose(est.net_.history[:, "lr"], expected)
    # restored once the run ends
    assert [g["lr"] for g in est.net_.optimizer_.param_groups] == [0.01]


def test_cooldown_keeps_lr_for_four_fifths_then_lowers_it_to_near_zero():
    np.testing.assert_allclose(_cooldown(1.0, 10), [1.0] * 9 + [0.5])
    factors = [LR_SCHEDULES["cooldown"](e, 30) for e in range(30)]
    assert factors[:25] == [1.0] * 25
    np.testing.assert_allclose(
        factors[25:], [np.cos(np.pi / 12) ** 2, 0.75, 0.5, 0.25, np.sin(np.pi / 12) ** 2]
    )
    # the default lr_schedule="auto" is the cooldown
    assert AutoEncoder().lr_schedule == "auto"
    assert [LR_SCHEDULES["cooldown"](e, 1) for e in range(1)] == [1.0]


def test_cosine_schedule_spans_one_fit():
    X, _ = _data(32)
    record = RecordStepRates()
    est = AutoEncoder(
        n_components=2,
        max_epochs=3,
        batch_size=16,
        lr=0.01,
        lr_schedule="cosine",
        callbacks=[("record", record)],
        random_state=0,
    ).fit(X)
    steps = dict(est.net_.callbacks_)["record"].rates_
    np.testing.assert_allclose(steps, np.repeat(_cosine(0.01, 3), 2))
    # a warm-started fit runs a new cycle over its max_epochs
    est.set_params(warm_start=True, max_epochs=2).fit(X)
    np.testing.assert_allclose(est.net_.history[:, "lr"], [*_cosine(0.01, 3), *_cosine(0.01, 2)])
    # partial_fit (one epoch) trains at lr, as does a constant schedule
    est.partial_fit(X)
    est.set_params(lr_schedule="constant", lr=0.02).fit(X)
    assert est.net_.history[:, "lr"][-3:] == [0.01, 0.02, 0.02]


def test_cosine_schedule_changes_training_and_is_deterministic():
    X, _ = _data(48)
    fits = [
        AutoEncoder(n_components=2, max_epochs=5, lr_schedule=schedule, random_state=0).fit(X)
        for schedule in ("cosine", "cosine", "constant")
    ]
    np.testing.assert_array_equal(fits[0].transform(X), fits[1].transform(X))
    assert not np.array_equal(fits[0].transform(X), fits[2].transform(X))


@given(epochs=st.integers(1, 500))
def test_schedules_start_at_lr_and_never_rise(epochs):
    for schedule in LR_SCHEDULES.values():
        factors = [schedule(e, epochs) for e in range(epochs)]
        assert factors[0] == 1.0
        assert all(0 < f <= 1 for f in factors)
        assert all(b <= a for a, b in zip(factors, factors[1:]))


@pytest.mark.parametrize("as_pair", [False, True])
def test_a_schedule_refuses_an_lr_scheduler_callback(as_pair, state_of, assert_same_state):
    X, _ = _data()
    scheduler = LRScheduler(torch.optim.lr_scheduler.StepLR, step_size=1)
    callbacks = [("sched", scheduler)] if as_pair else [scheduler]
    est = AutoEncoder(n_components=2, max_epochs=2, callbacks=callbacks, random_state=0)
    for schedule in ("cosine", "cooldown"):
        with pytest.raises(
            ValueError,
            match=f"lr_schedule='{schedule}' sets the learning rate.*'auto' or 'constant'",
        ):
            clone(est).set_params(lr_schedule=schedule).fit(X)
    # the default "auto", like "constant", leaves the rate to the user's scheduler
    est.fit(X)
    np.testing.assert_allclose(est.net_.history[:, "lr"], [est.lr_, est.lr_ / 10])
    constant = clone(est).set_params(lr_schedule="constant").fit(X)
    np.testing.assert_array_equal(est.transform(X), constant.transform(X))
    before = state_of(est)
    with pytest.raises(ValueError, match="LRScheduler in callbacks"):
        est.set_params(warm_start=True, lr_schedule="cosine").fit(X)
    assert_same_state(before, state_of(est.set_params(warm_start=False, lr_schedule="auto")))


# ----------------------------------------------------------------------
class InterruptAt(Callback):
    """Raise KeyboardInterrupt once, after training batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch, batch):
        self.epoch = epoch
        self.batch = batch

    def initialize(self):
        self.fired_ = False
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        row = net.history[-1]
        at = len(net.history) == self.epoch and len(row["batches"]) == self.batch
        if training and at and not self.fired_:
            self.fired_ = True
            raise KeyboardInterrupt


@pytest.mark.parametrize("name", ["AutoEncoder", "VAE", "CVAE"])
def test_interrupted_fit_keeps_the_completed_epochs(name):
    X, y = _data(32)
    est = _make(name, max_epochs=5, callbacks=[InterruptAt(3, 2)])
    with pytest.warns(UserWarning, match="interrupted during epoch 3"):
        _fit(est, X, y)
    assert est.n_iter_ == len(est.net_.history) == len(est.loss_curve_) == 2
    assert np.isfinite(est.transform(X)).all()
    # the weights keep the two batches of epoch 3: not those of two epochs
    two = _fit(_make(name, max_epochs=2), X, y)
    assert not np.array_equal(est.transform(X), two.transform(X))
    # and training continues from there (the callback fires once per net)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)  # tiny data, few epochs
        _fit(est.set_params(warm_start=True, max_epochs=1), X, y)
    assert est.n_iter_ == len(est.loss_curve_) == 3


def test_interrupt_before_any_epoch_raises_and_keeps_the_model(state_of, assert_same_state):
    X, _ = _data(32)
    est = AutoEncoder(n_components=2, max_epochs=1, batch_size=8, callbacks=[InterruptAt(1, 2)])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X)
    assert not hasattr(est, "net_")
    est = AutoEncoder(n_components=2, max_epochs=1, batch_size=8, random_state=0)
    est.set_params(callbacks=[InterruptAt(2, 1)]).fit(X)  # epoch 1 runs uninterrupted
    before = state_of(est)
    with pytest.raises(KeyboardInterrupt):
        est.set_params(warm_start=True).fit(X)
    assert_same_state(before, state_of(est.set_params(warm_start=False)))


def test_early_stopping_is_not_an_interruption():
    X, _ = _data(40)
    est = AutoEncoder(n_components=2, early_stopping=True, n_iter_no_change=1, tol=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)  # tiny data, few epochs
        est.set_params(max_epochs=20, random_state=0).fit(X)
    assert est.n_iter_ == 2


# ----------------------------------------------------------------------
# 8. Code statistics over every partial_fit chunk; CVAE classes=
# ----------------------------------------------------------------------
@settings(max_examples=8, deadline=None)
@given(sizes=st.lists(st.integers(1, 12), min_size=1, max_size=4))
def test_code_statistics_pool_every_chunk(sizes):
    X, _ = _data(sum(sizes))
    est = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), random_state=0)
    codes, start = [], 0
    for size in sizes:
        chunk = X[start : start + size]
        start += size
        codes.append(est.partial_fit(chunk).transform(chunk))
    Z = np.vstack(codes)
    np.testing.assert_allclose(est.code_mean_, Z.mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.code_std_, Z.std(axis=0), rtol=1e-9, atol=1e-12)


def test_fit_restarts_code_statistics():
    X, _ = _data(30)
    est = AutoEncoder(n_components=2, max_epochs=1, random_state=0).partial_fit(X[:10])
    est.set_params(warm_start=True).fit(X)
    np.testing.assert_allclose(est.code_mean_, est.transform(X).mean(axis=0), rtol=1e-9)


def test_cvae_partial_fit_classes():
    X, y = _data(30)
    cvae = CVAE(n_components=2, random_state=0)
    cvae.partial_fit(X[y < 2], y[y < 2], classes=[2, 0, 1])
    np.testing.assert_array_equal(cvae.classes_, [0, 1, 2])
    np.testing.assert_array_equal(cvae.class_prior_, [0.5, 0.5, 0])
    cvae.partial_fit(X[y == 2], y[y == 2])
    np.testing.assert_array_equal(cvae.class_prior_, [1 / 3] * 3)
    assert cvae.sample(2, y=2, random_state=0).shape == (2, 16)
    with pytest.raises(ValueError, match=r"classes=\[0, 1\] differs from classes_=\[0, 1, 2\]"):
        cvae.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="not seen in fit: \\[1\\].*classes=... on the first"):
        CVAE(n_components=2).partial_fit(X[y != 1], y[y != 1]).partial_fit(X, y)
    with pytest.raises(ValueError, match="y contains labels not seen"):
        CVAE(n_components=2).partial_fit(X, y, classes=[0, 1])


# ----------------------------------------------------------------------
# 10. Same seed, same result: what is promised
# ----------------------------------------------------------------------
@pytest.mark.parametrize("threads", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_same_seed_same_threads_same_result(threads):
    X, _ = _data(32)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = (
            ConvAE(n_components=2, image_shape=(4, 4), channels=(4, 4), max_epochs=3)
            .set_params(random_state=0)
            .fit(X)
            .transform(X)
            for _ in range(2)
        )
    finally:
        torch.set_num_threads(previous)
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------
# 11. The outlier detector's random_state
# ----------------------------------------------------------------------
def test_detector_random_state():
    X, _ = _data(30)
    base = AutoEncoder(n_components=2, max_epochs=2, random_state=5)
    scores = [
        AutoEncoderOutlierDetector(base, random_state=seed).fit(X).score_samples(X)
        for seed in (0, 0, None)
    ]
    np.testing.assert_array_equal(scores[0], scores[1])
    own = AutoEncoderOutlierDetector(base).fit(X)
    np.testing.assert_array_equal(scores[2], own.score_samples(X))
    assert own.estimator_.random_state == 5
    assert AutoEncoderOutlierDetector(base, random_state=0).fit(X).estimator_.random_state == 0
    default = AutoEncoderOutlierDetector(random_state=3).fit(X)
    assert default.estimator_.random_state == 3


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_continued_fit_keeps_the_resolved_loss(how, state_of, assert_same_state):
    # loss="auto" chose binary cross-entropy for the [0, 1] data of the first fit
    X, _ = _data()
    est = _make("AutoEncoder").fit(X)
    assert est.loss_ == "bce"
    before = state_of(est)
    if how == "warm_start":
        est.set_params(warm_start=True)
    with pytest.raises(ValueError, match=r"loss='auto' chose binary cross-entropy.*\[0, 1\]"):
        getattr(est, "partial_fit" if how == "partial_fit" else "fit")(X * 2 - 0.5)
    assert_same_state(before, state_of(est.set_params(warm_start=False)))


# ----------------------------------------------------------------------
# Optimizers without weight_decay, and batch sizes beyond the data
# ----------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", [torch.optim.Rprop, torch.optim.LBFGS])
def test_optimizers_without_weight_decay_train(optimizer, tmp_path):
    X = np.random.RandomState(0).rand(40, 6)
    ae = AutoEncoder(n_components=2, max_epochs=2, optimizer=optimizer, random_state=0).fit(X)
    assert len(ae.loss_curve_) == 2 and np.isfinite(ae.loss_curve_).all()
    assert type(ae.net_.optimizer_) is optimizer
    ae.save(tmp_path / "m.skae")
    assert skae.load(tmp_path / "m.skae").optimizer is optimizer


def test_weight_decay_for_an_optimizer_without_it_is_refused():
    X = np.random.RandomState(0).rand(40, 6)
    ae = AutoEncoder(max_epochs=1, optimizer=torch.optim.Rprop, weight_decay=0.1)
    with pytest.raises(ValueError, match="Rprop takes no weight_decay"):
        ae.fit(X)
    assert not hasattr(ae, "net_")
    with pytest.raises(ValueError, match="SparseAdam needs sparse gradients"):
        AutoEncoder(max_epochs=1, optimizer=torch.optim.SparseAdam).fit(X)


@pytest.mark.parametrize("batch_size", [2**63, 2**64 + 1])
def test_a_batch_size_beyond_the_data_trains_as_the_whole_data(batch_size):
    X = np.random.RandomState(0).rand(40, 6)
    kwargs = dict(n_components=2, max_epochs=2, random_state=0)
    whole = AutoEncoder(batch_size=40, **kwargs).fit(X)
    huge = AutoEncoder(batch_size=batch_size, **kwargs).fit(X)
    assert huge.loss_curve_ == whole.loss_curve_
    np.testing.assert_array_equal(huge.transform(X[:1]), whole.transform(X[:1]))


def test_fits_in_threads_give_what_they_give_alone():
    X = np.random.RandomState(0).rand(120, 8)

    def fit():
        return AutoEncoder(
            n_components=2, hidden_layer_sizes=(8,), dropout=0.3, max_epochs=3, random_state=7
        ).fit(X)

    alone = fit().transform(X)
    results = [None] * 4

    def run(i):
        results[i] = fit().transform(X)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for out in results:
        np.testing.assert_array_equal(out, alone)


@pytest.mark.slow
def test_a_threaded_grid_search_gives_the_sequential_result():
    # joblib's threading backend runs the candidates' fits concurrently
    from joblib import parallel_backend

    X = np.random.RandomState(1).rand(90, 6)
    ae = AutoEncoder(hidden_layer_sizes=(8,), dropout=0.2, max_epochs=3, random_state=3)
    grid = {"n_components": [1, 2, 3]}
    sequential = GridSearchCV(ae, grid, cv=2).fit(X)
    with parallel_backend("threading", n_jobs=2):
        threaded = GridSearchCV(ae, grid, cv=2, n_jobs=2).fit(X)
    np.testing.assert_array_equal(
        threaded.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(threaded.transform(X), sequential.transform(X))


def test_cvae_scalar_labels_are_not_cast_to_a_class():
    rng = np.random.RandomState(0)
    X, y = rng.rand(60, 6), np.arange(60) % 3
    model = CVAE(n_components=2, max_epochs=1, random_state=0).fit(X, y)
    for label in (1.5, "1", np.nan):
        with pytest.raises(ValueError, match="labels not seen in fit"):
            model.sample(2, y=label, random_state=0)
    np.testing.assert_array_equal(
        model.sample(2, y=1.0, random_state=0), model.sample(2, y=1, random_state=0)
    )
    names = CVAE(n_components=2, max_epochs=1, random_state=0).fit(
        X, np.array(["cat", "dog", "dog"])[y]
    )
    with pytest.raises(ValueError, match=r"labels not seen in fit: \['doggo'\]"):
        names.sample(2, y="doggo", random_state=0)
    assert names.sample(2, y="dog", random_state=0).shape == (2, 6)


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_the_elbo_of_large_finite_inputs_is_finite(loss):
    X = np.random.RandomState(0).rand(60, 16)
    vae = VAE(n_components=2, hidden_layer_sizes=(8,), loss=loss, max_epochs=1, random_state=0)
    vae.fit(X)
    big = X[:3] * 1e20
    scores = vae.score_samples(big)
    assert np.isfinite(scores).all() and np.isfinite(vae.score(big))
    assert vae.score(big) == pytest.approx(scores.mean())


def test_verbose_in_a_notebook_without_widgets_draws_a_text_bar(monkeypatch, capsys):
    import tqdm.notebook
    from skorch.callbacks import ProgressBar

    monkeypatch.setattr(ProgressBar, "in_ipynb", staticmethod(lambda: True))
    monkeypatch.setattr(tqdm.notebook, "IProgress", None)
    X = np.random.RandomState(0).rand(40, 6)
    ae = AutoEncoder(n_components=2, max_epochs=2, verbose=1, random_state=0).fit(X)
    assert ae.n_iter_ == 2
    # skorch's own bar would draw a widget (tqdm then raises "IProgress not
    # found"); skae's draws text
    from skae._engine import TextFallbackProgressBar

    assert ProgressBar()._use_notebook()
    assert not TextFallbackProgressBar()._use_notebook()


def test_an_onnx_exporter_too_old_is_named(monkeypatch):
    # torch 2.4 (the floor) to 2.7 export graphs that do not hold for every batch
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    monkeypatch.setattr(torch, "__version__", "2.7.1")
    ae = AutoEncoder(2, hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
    ae.fit(np.random.RandomState(0).rand(20, 3))
    with pytest.raises(ImportError, match=r"needs torch 2.8 or newer.*this is torch 2.7.1"):
        skae.to_onnx(ae, np.zeros((1, 3), dtype=np.float32))
