"""The core: one inference primitive, per-call fit settings, one precision object.

Regression tests of defects found in the core's structure: streamed scoring
that copied the file, loss code under autocast, a fit mode baked into the
net, a loaded model that could not continue, an interruption after
training, a raw torch error on divergence, and parameters silently ignored.
"""

import os
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

import skae
from skae import (
    CVAE,
    VAE,
    AutoEncoder,
    ConvAE,
    ConvDenoisingAE,
    DenoisingAE,
    NoiseAugmenter,
    SeqAE,
    _engine,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_ROWS, N_FEATURES = 6000, 256  # 6 MiB of float32: 24 blocks of the test's size
BLOCK = 256 * 2**10


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.RandomState(0)
    X = rng.rand(N_ROWS, N_FEATURES).astype(np.float32)
    path = tmp_path_factory.mktemp("core") / "X.npy"
    np.save(path, X)
    return path, X, rng.randint(0, 3, N_ROWS)


FAMILIES = {
    "AutoEncoder": lambda: AutoEncoder(4, hidden_layer_sizes=(16,)),
    "VAE": lambda: VAE(4, hidden_layer_sizes=(16,)),
    "conv VAE": lambda: VAE(
        4, backbone="conv", image_shape=(16, 16), channels=(4,), hidden_layer_sizes=(8,)
    ),
    "CVAE": lambda: CVAE(4, hidden_layer_sizes=(16,)),
    "DenoisingAE": lambda: DenoisingAE(4, hidden_layer_sizes=(16,)),
    "ConvDenoisingAE": lambda: ConvDenoisingAE(image_shape=(16, 16), channels=(4,)),
    "SeqAE": lambda: SeqAE(4, sequence_shape=(16, 16), hidden_size=8),
}
METHODS = {
    "AutoEncoder": ["score", "score_samples", "transform", "feature_errors"],
    "VAE": ["score", "score_samples", "transform"],
    "conv VAE": ["score", "score_samples", "transform"],
    "CVAE": ["score", "score_samples", "score_samples_y", "transform", "feature_errors"],
    "DenoisingAE": ["score", "score_samples", "transform", "denoise"],
    "ConvDenoisingAE": ["score", "denoise"],
    "SeqAE": ["score", "score_samples", "transform"],
}
CASES = [(family, method) for family, methods in METHODS.items() for method in methods]


@pytest.mark.parametrize(("family", "method"), CASES, ids=[f"{f}-{m}" for f, m in CASES])
def test_inference_on_a_memmap_holds_a_few_blocks(monkeypatch, data_file, family, method):
    path, X, y = data_file
    est = FAMILIES[family]().set_params(max_epochs=1, batch_size=64, random_state=0)
    est.fit(X[:300], y[:300]) if family == "CVAE" else est.fit(X[:300])
    monkeypatch.setattr(_engine, "BLOCK_BYTES", BLOCK)
    mm = np.load(path, mmap_mode="r")
    call = {
        "score_samples_y": lambda: est.score_samples(mm, y),
        "score": (lambda: est.score(mm, y)) if family == "CVAE" else (lambda: est.score(mm)),
    }.get(method, lambda: getattr(est, method)(mm))
    expected = {
        "score_samples_y": lambda: est.score_samples(X, y),
        "score": (lambda: est.score(X, y)) if family == "CVAE" else (lambda: est.score(X)),
    }.get(method, lambda: getattr(est, method)(X))()
    tracemalloc.start()
    try:
        out = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the same numbers as in memory, from a few blocks plus the output
    np.testing.assert_array_equal(out, expected)
    output = np.asarray(out).nbytes
    assert peak < 8 * BLOCK + 2 * output, (
        f"{family}.{method} on a {mm.nbytes / 2**20:.0f} MiB memmap peaked at "
        f"{peak / 2**20:.1f} MiB of numpy memory"
    )


def test_losses_run_outside_autocast():
    # autocast wraps the module's forward only; post (losses, ELBO) is float32
    module = torch.nn.Linear(4, 4)
    seen = {}

    def forward(x):
        seen["forward"] = torch.is_autocast_enabled("cpu")
        return module(x)

    def post(out, target):
        seen["post"] = torch.is_autocast_enabled("cpu")
        seen["dtype"] = out.dtype
        return (out - target).square().mean(dim=1)

    X = np.random.RandomState(0).rand(10, 4).astype(np.float32)
    precision = _engine.make_precision("bf16", "cpu")
    errors = _engine.map_rows(forward, X, X, module=module, post=post, precision=precision)
    assert seen == {"forward": True, "post": False, "dtype": torch.float32}
    assert errors.shape == (10,)


@pytest.mark.parametrize("family", ["VAE", "CVAE", "DenoisingAE"])
def test_bf16_scores_are_finite_and_close_to_float32(digits, family):
    X, y = digits
    est = FAMILIES[family]().set_params(max_epochs=2, random_state=0)
    bf16 = FAMILIES[family]().set_params(max_epochs=2, random_state=0, precision="bf16")
    args = (X[:400], y[:400]) if family == "CVAE" else (X[:400],)
    est.fit(*args)
    bf16.fit(*args)
    a, b = est.score(*args), bf16.score(*args)
    assert np.isfinite(b)
    assert abs(a - b) < 0.1 * abs(a)


def test_precision_is_one_object_per_net(digits):
    X, _ = digits
    est = AutoEncoder(2, max_epochs=1, precision="bf16", random_state=0).fit(X[:100])
    precision = est.net_.precision_
    assert isinstance(precision, _engine.Autocast)
    assert precision.dtype == torch.bfloat16
    assert not isinstance(precision, _engine.ScaledAutocast)  # only float16 scales
    assert type(_engine.make_precision("32", "cpu")) is _engine.Precision
    with pytest.raises(ValueError, match="'16-mixed' needs a CUDA device"):
        _engine.make_precision("16-mixed", "cpu")


@pytest.mark.parametrize("batch_size", [1, 64, 1_000_000])
def test_inference_batches_do_not_depend_on_the_training_batch_size(digits, batch_size):
    X, _ = digits
    est = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=1, batch_size=batch_size)
    est.set_params(random_state=0).fit(X[:200])
    shapes = []
    encoder = est.net_.module_.encoder
    hook = encoder.register_forward_pre_hook(lambda m, args: shapes.append(len(args[0])))
    try:
        est.transform(X[:1])
        est.score_samples(X[:3])
    finally:
        hook.remove()
    assert shapes == [_engine.inference_rows(X)] * 2
    assert shapes[0] == 1024  # 64 features: INFERENCE_ROWS, whatever batch_size


def test_early_stopping_applies_to_a_fit_after_partial_fit(digits):
    X, _ = digits
    est = AutoEncoder(
        2,
        hidden_layer_sizes=(8,),
        early_stopping=True,
        n_iter_no_change=1,
        tol=1e9,  # no epoch ever improves by this much: stop after the patience
        warm_start=True,
        max_epochs=30,
        random_state=0,
    )
    est.partial_fit(X)
    assert "valid_loss" not in est.net_.history[-1]
    est.fit(X)
    assert "valid_loss" in est.net_.history[-1]
    assert est.n_iter_ == 1 + 2  # the partial_fit epoch, then stopped early


@pytest.mark.parametrize(
    "make",
    [
        lambda: AutoEncoder(2, max_epochs=1, random_state=np.random.RandomState(0)),
        lambda: DenoisingAE(
            2, noise=NoiseAugmenter("masking", level=0.2), max_epochs=1, random_state=0
        ),
    ],
    ids=["random_state_object", "noise_augmenter"],
)
def test_a_loaded_model_continues_training(tmp_path, digits, make):
    X, _ = digits
    path = os.fspath(tmp_path / "model.skae")
    make().fit(X).save(path)
    loaded = skae.load(path)
    loaded.partial_fit(X)
    assert loaded.n_iter_ == 2
    warm = skae.load(path).set_params(warm_start=True)
    warm.fit(X)
    assert warm.n_iter_ == 2


def test_interrupt_after_training_leaves_the_model_as_it_was(
    monkeypatch, digits, state_of, assert_same_state
):
    X, _ = digits
    est = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=2, random_state=0).fit(X)
    before = state_of(est)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(AutoEncoder, "_collapse_messages", interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X)
    assert_same_state(before, state_of(est))


def test_divergence_with_binary_cross_entropy_says_what_to_do(digits, state_of, assert_same_state):
    X, _ = digits
    est = VAE(2, hidden_layer_sizes=(16,), max_epochs=1, random_state=0).fit(X)
    assert est.loss_ == "bce"
    est.set_params(optimizer="sgd", lr=1e4, max_epochs=3)
    before = state_of(est)
    with pytest.raises(ValueError, match="Training diverged.*Lower lr"):
        est.fit(X)
    assert_same_state(before, state_of(est))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: VAE(2, kernel_size=5), "kernel_size=5 sets the convolutions of backbone='conv'"),
        (lambda: VAE(2, channels=(7, 7)), "channels=\\(7, 7\\) sets the convolutions"),
        (lambda: SeqAE(2, dropout=0.5), "num_layers=1 has none to drop between"),
        (
            lambda: ConvAE(code_activation="tanh", image_shape=(8, 8)),
            "n_components=None gives none",
        ),
    ],
    ids=["vae_kernel_size", "vae_channels", "seq_dropout", "conv_code_activation"],
)
def test_parameters_that_would_do_nothing_are_refused(digits, make, match):
    X, _ = digits
    with pytest.raises(ValueError, match=match):
        make().set_params(max_epochs=1).fit(X)


def test_the_parameters_that_do_something_still_fit(digits):
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SeqAE(2, dropout=0.5, num_layers=2, max_epochs=1, random_state=0).fit(X[:50])
        ConvAE(4, code_activation="tanh", image_shape=(8, 8), max_epochs=1).fit(X[:50])
        VAE(2, backbone="conv", image_shape=(8, 8), kernel_size=5, max_epochs=1).fit(X[:50])


PLAN_FAMILIES = {
    **FAMILIES,
    "ConvAE": lambda: ConvAE(4, image_shape=(8, 8), channels=(4,)),
    "SparseAE": lambda: skae.SparseAE(4, hidden_layer_sizes=(16,)),
    "ModuleAE": lambda: skae.ModuleAE(n_components=4),
}


@pytest.mark.parametrize("family", sorted(PLAN_FAMILIES))
def test_the_plan_is_resolved_without_side_effects_and_builds_the_module(digits, family):
    X, y = digits
    X = X[:, :64]
    est = PLAN_FAMILIES[family]().set_params(max_epochs=1, random_state=0)
    if family == "SeqAE":
        est.set_params(sequence_shape=(8, 8))
    elif family in ("conv VAE", "ConvDenoisingAE"):
        est.set_params(image_shape=(8, 8))
    est.fit(X[:100], y[:100]) if family == "CVAE" else est.fit(X[:100])
    before = dict(vars(est))
    call = skae._base.FitCall(continuing=False, incremental=False, recipe=None, classes=None)
    plan = est._plan(X[:100], X[:100], y[:100], call)
    module = est._build_module(X.shape[1], X[:100])
    # neither the plan nor the module builder touches the estimator
    assert vars(est).keys() == before.keys()
    assert all(vars(est)[k] is before[k] for k in before)
    # the plan holds what fit assigned, and the module it builds has the fitted layout
    for name, value in plan.items():
        assert np.array_equal(np.asarray(value), np.asarray(getattr(est, name))), name
    assert [p.shape for p in module.parameters()] == [
        p.shape for p in est.net_.module_.parameters()
    ]
    # nothing passes between hooks through attributes once fit returns
    assert not {"_given_classes", "_merge_counts", "_training_label_index"} & vars(est).keys()


@pytest.mark.parametrize("error", ["model", "squared"])
@pytest.mark.parametrize("standardize", [True, False])
def test_the_outlier_detector_streams_a_memmap(monkeypatch, data_file, error, standardize):
    path, X, _ = data_file
    monkeypatch.setattr(_engine, "BLOCK_BYTES", BLOCK)
    mm = np.load(path, mmap_mode="r")
    params = {"error": error, "standardize": standardize}
    est = AutoEncoder(4, hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    streamed = skae.AutoEncoderOutlierDetector(est, **params).fit(mm)
    tracemalloc.start()
    try:
        scores = streamed.score_samples(mm)
        labels = streamed.predict(mm)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the scores of the in-memory data, from a few blocks plus the scores
    np.testing.assert_array_equal(scores, streamed.score_samples(X))
    np.testing.assert_array_equal(labels, streamed.predict(X))
    assert peak < 8 * BLOCK + 4 * scores.nbytes, f"peak {peak / 2**20:.1f} MiB"
    if standardize:  # fitted block by block, as in memory
        scaler = skae.AutoEncoderOutlierDetector(est, **params).fit(X).scaler_
        np.testing.assert_allclose(streamed.scaler_.mean_, scaler.mean_, rtol=1e-12)
        np.testing.assert_allclose(streamed.scaler_.scale_, scaler.scale_, rtol=1e-9)


def test_convolutional_inference_batches_are_sized_by_the_feature_maps():
    # 32 channels at 28x28: 100 KB of activations a row, 41 rows in 4 MiB
    X = np.random.RandomState(0).rand(60, 784)
    est = ConvAE(image_shape=(28, 28), channels=(32,), max_epochs=1, random_state=0).fit(X)
    shapes = []
    first = est.net_.module_.encoder[0]
    hook = first.register_forward_pre_hook(lambda m, args: shapes.append(len(args[0])))
    try:
        est.transform(X[:1])
    finally:
        hook.remove()
    assert shapes == [_engine.INFERENCE_BYTES // (4 * 32 * 784)] == [41]


# ----------------------------------------------------------------------------
# Threads: small batches train on one thread, and the caller's setting returns
# ----------------------------------------------------------------------------
_THREADS_SEEN = []


class _ThreadsSeen(Callback):  # the fit trains with a copy: record in the module
    def on_batch_begin(self, net, **kwargs):
        _THREADS_SEEN.append(torch.get_num_threads())


@pytest.mark.parametrize("hidden, expected", [((16,), 1), ((2048, 2048), 2)])
def test_small_batches_train_on_one_thread_and_the_setting_is_restored(hidden, expected):
    assert _threads_of_a_fit(hidden) == {expected}  # the helper checks the restored setting


def test_the_thread_count_is_restored_when_a_fit_fails():
    class Boom(Callback):
        def on_batch_end(self, net, **kwargs):
            raise RuntimeError("boom")

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            AutoEncoder(2, max_epochs=1, callbacks=[Boom()]).fit(np.random.rand(40, 5))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def _threads_of_a_fit(hidden, **context):
    """The threads each batch of a one-epoch fit ran on, under ``skae.cpu_threads`` if given."""
    X = np.random.RandomState(0).rand(128, 64).astype(np.float32)
    _THREADS_SEEN.clear()
    ae = AutoEncoder(
        4, hidden_layer_sizes=hidden, max_epochs=1, random_state=0, callbacks=[_ThreadsSeen()]
    )
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        if context:
            with skae.cpu_threads(context["n_threads"]):
                ae.fit(X)
        else:
            ae.fit(X)
        assert torch.get_num_threads() == 2  # restored
        return set(_THREADS_SEEN)
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("hidden, expected", [((16,), 1), ((2048, 2048), 2)])
def test_the_post_fit_passes_run_on_the_threads_of_the_fit(hidden, expected, monkeypatch):
    seen = []
    for name in ("_check_finite", "_fit_code_distribution", "_collapse_messages"):
        original = getattr(AutoEncoder, name)

        def spy(self, *args, _original=original, **kwargs):
            seen.append(torch.get_num_threads())
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(AutoEncoder, name, spy)
    assert _threads_of_a_fit(hidden) == {expected}
    assert seen == [expected] * 3


def test_cpu_threads_sets_the_threads_of_every_fit_inside():
    assert _threads_of_a_fit((16,), n_threads=2) == {2}  # small work too: asked for
    assert _threads_of_a_fit((2048, 2048), n_threads=1) == {1}
    assert _threads_of_a_fit((2048, 2048)) == {2}  # outside: torch's threads again
    assert _engine.THREADS.get() is None


def test_cpu_threads_auto_takes_the_cores_other_processes_leave(monkeypatch):
    monkeypatch.setattr(_engine, "free_cores", lambda samples=5: 1)
    assert _threads_of_a_fit((2048, 2048), n_threads="auto") == {1}
    # never above the caller's threads
    monkeypatch.setattr(_engine, "free_cores", lambda samples=5: 8)
    assert _threads_of_a_fit((2048, 2048), n_threads="auto") == {2}
    monkeypatch.setattr(_engine, "free_cores", lambda samples=5: None)  # no run queue to read
    assert _threads_of_a_fit((2048, 2048), n_threads="auto") == {2}
    # small work keeps its one thread
    monkeypatch.setattr(_engine, "free_cores", lambda samples=5: 2)
    assert _threads_of_a_fit((16,), n_threads="auto") == {1}


def test_inference_runs_on_the_threads_of_a_cpu_threads_block(monkeypatch):
    X = np.random.RandomState(0).rand(64, 16).astype(np.float32)
    ae = AutoEncoder(4, hidden_layer_sizes=(16,), max_epochs=1, random_state=0).fit(X)
    seen = []
    first = next(m for m in ae.net_.module_.modules() if isinstance(m, torch.nn.Linear))
    first.register_forward_hook(lambda *args: seen.append(torch.get_num_threads()))
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = ae.transform(X)
        with skae.cpu_threads(1):
            np.testing.assert_allclose(ae.reconstruct(X), ae.reconstruct(X))
        monkeypatch.setattr(_engine, "free_cores", lambda samples=1: 1)
        with skae.cpu_threads("auto"):
            np.testing.assert_allclose(ae.transform(X), expected, rtol=1e-6)
        ae.transform(X)  # outside: the caller's threads, untouched
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
    # one batch per call: transform, reconstruct twice and transform inside, transform
    assert seen == [2, 1, 1, 1, 2]


def test_free_cores_sees_a_busy_process():
    if not os.path.exists("/proc/loadavg"):
        pytest.skip("reads Linux's run queue")
    cores = len(os.sched_getaffinity(0))
    idle = _engine.free_cores()
    assert 1 <= idle <= cores
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        seen = min(_engine.free_cores() for _ in range(5))
    finally:
        busy.kill()
        busy.wait()
    assert seen <= max(1, cores - 1)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "all"])
def test_cpu_threads_refuses_what_is_not_a_thread_count(bad):
    with pytest.raises(ValueError, match="number of threads >= 1 or 'auto'"):
        skae.cpu_threads(bad)


def test_batch_work_counts_dense_and_convolution_multiply_adds():
    dense = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.ReLU(), torch.nn.Linear(4, 10))
    assert _engine.batch_work(dense, torch.zeros(3, 10), 8) == 8 * (10 * 4 + 4 + 4 * 10 + 10)
    conv = torch.nn.Conv2d(1, 2, 3, padding=1)  # applied at 5 x 5 positions
    assert _engine.batch_work(conv, torch.zeros(1, 1, 5, 5), 2) == 2 * (2 * 9 + 2) * 25


def test_counting_the_work_draws_nothing_from_the_fits_random_stream():
    class Drawing(torch.nn.Module):  # a module of one's own that samples in forward
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.layer(x) + torch.randn_like(x)

    module = Drawing()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    assert _engine.batch_work(module, torch.zeros(1, 4), 10) == 10 * (16 + 4)
    np.testing.assert_array_equal(torch.rand(3), expected)


@given(st.integers(1, 10**7), st.floats(1e-5, 1.0))
def test_the_automatic_batch_is_the_largest_that_fills_the_epochs(n_rows, lr):
    size, rate = _engine.auto_batch(n_rows, lr)
    low, high = _engine.AUTO_BATCH_BOUNDS
    assert size in (8, 16, 32, 64) and low <= size <= high
    steps = _engine.AUTO_BATCHES_PER_EPOCH
    # enough batches an epoch, unless even the smallest batch gives fewer
    assert n_rows >= steps * size or size == low
    # and no larger batch would still give enough
    assert size == high or n_rows < steps * 2 * size
    assert rate == pytest.approx(lr * (size / high) ** 0.5)
    assert _engine.auto_batch(None, lr) == (high, lr)


def test_the_automatic_batch_is_resolved_per_call_and_saved(tmp_path, digits):
    X, _ = digits
    ae = AutoEncoder(n_components=4, max_epochs=2, random_state=0).fit(X[:500])
    # 500 rows: batches of 8 leave 62 an epoch, of 16 only 31
    assert (ae.batch_size_, ae.lr_) == (8, pytest.approx(3e-3 * (8 / 64) ** 0.5))
    assert ae.net_.optimizer_.param_groups[0]["lr"] == ae.lr_
    assert set(ae.net_.history[-1, "batches", :, "train_batch_size"]) == {8, 500 % 8}
    ae.fit(X)  # a new fit resolves it anew: 1,797 rows, batches of 32
    assert (ae.batch_size_, ae.lr_) == (32, pytest.approx(3e-3 * 0.5**0.5))
    loaded = skae.load(_saved(ae, tmp_path))
    assert (loaded.batch_size_, loaded.lr_) == (ae.batch_size_, ae.lr_)
    # partial_fit sees one chunk, not the data set: the upper bound, at lr
    ae.partial_fit(X[:100])
    assert (ae.batch_size_, ae.lr_) == (64, 3e-3)
    assert ae.net_.optimizer_.param_groups[0]["lr"] == 3e-3
    # a batch size given trains at lr as given
    given_size = AutoEncoder(n_components=4, batch_size=50, max_epochs=1, random_state=0).fit(X)
    assert (given_size.batch_size_, given_size.lr_) == (50, 3e-3)


def _saved(est, tmp_path):
    path = tmp_path / "model.skae"
    est.save(path)
    return path


def test_errors_of_float32_data_agree_with_float64_arithmetic(digits):
    """The difference is taken in float32, then squared and averaged in float64."""
    X, _ = digits
    X32 = X.astype(np.float32)
    est = AutoEncoder(4, hidden_layer_sizes=(16,), max_epochs=2, random_state=0).fit(X32)
    rec = est.reconstruct(X32).astype(np.float64)
    squared = (rec - X32.astype(np.float64)) ** 2
    np.testing.assert_allclose(-est.score_samples(X32), squared.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(est.feature_errors(X32), squared, rtol=1e-6, atol=1e-12)
    # the two stay one formula: the row mean of the feature errors is the score
    np.testing.assert_allclose(
        est.feature_errors(X32).mean(axis=1), -est.score_samples(X32), rtol=1e-12
    )


def test_errors_beyond_float32s_range_are_computed_from_float64(digits):
    """A difference that overflows float32 (output 3e38, data -1e38) is still finite."""
    X, _ = digits
    X32 = X.astype(np.float32)
    est = AutoEncoder(
        2, hidden_layer_sizes=(8,), output_activation="linear", max_epochs=1, random_state=0
    ).fit(X32)
    last = [m for m in est.net_.module_.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(3e38)
    rows = np.full((2, X.shape[1]), -1e38, dtype=np.float32)
    scores = est.score_samples(rows)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores, -((3e38 + 1e38) ** 2), rtol=1e-6)
    assert np.isfinite(est.feature_errors(rows)).all()
