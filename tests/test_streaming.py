"""Training and inference on memmaps stream by blocks, never reading the file whole."""

import sys
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from skae import VAE, AutoEncoder, DenoisingAE, _engine

FAST = {"max_epochs": 2, "batch_size": 32, "random_state": 0}


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 100 rows of 64 float32 features, and a record of every read."""
    monkeypatch.setattr(_engine, "BLOCK_BYTES", 100 * 64 * 4)
    reads = []
    read = _engine.read_rows

    def recording_read(X, rows):
        block = read(X, rows)
        reads.append(len(block))
        return block

    monkeypatch.setattr(_engine, "read_rows", recording_read)

    def no_whole_copy(X, device="cpu"):
        assert not isinstance(X, np.memmap), "a memmap was converted whole"
        return torch.from_numpy(np.require(X, np.float32, ["C", "W"])).to(device)

    monkeypatch.setattr(_engine, "to_tensor", no_whole_copy)
    return reads


@pytest.fixture
def memmap(tmp_path, digits):
    X = digits[0].astype(np.float32)
    path = tmp_path / "X.npy"
    np.save(path, X)
    return np.load(path, mmap_mode="r"), X


def test_fit_and_inference_read_blocks_only(small_blocks, memmap):
    mm, X = memmap
    ae = AutoEncoder(**FAST).fit(mm)
    ae.transform(mm)
    ae.score_samples(mm)
    # blocks, and the fixed number of scattered rows the collapse check
    # reconstructs (read in groups, each group's pages released after it)
    assert small_blocks and max(small_blocks) <= max(100, ae._collapse_check_rows)
    assert sorted(small_blocks)[-2] <= 100
    # training and the chunked validation read every row at least once
    assert sum(small_blocks) >= 3 * len(X)


def test_streamed_inference_equals_in_memory(memmap):
    mm, X = memmap
    ae = AutoEncoder(**FAST).fit(X)
    assert_array_equal(ae.transform(mm), ae.transform(X))
    assert_array_equal(ae.reconstruct(mm), ae.reconstruct(X))
    assert_array_equal(ae.score_samples(mm), ae.score_samples(X))


def test_streamed_fit_is_reproducible_and_learns(small_blocks, memmap):
    mm, X = memmap
    a = AutoEncoder(**FAST).fit(mm)
    b = AutoEncoder(**FAST).fit(mm)
    assert_array_equal(a.transform(X), b.transform(X))
    assert a.loss_curve_[-1] < a.loss_curve_[0]
    c = AutoEncoder(**{**FAST, "random_state": 1}).fit(mm)
    assert not np.array_equal(a.transform(X), c.transform(X))


def test_streamed_validation_split_and_denoising(small_blocks, memmap):
    mm, _ = memmap
    ae = DenoisingAE(early_stopping=True, **FAST).fit(mm)
    assert len(ae.validation_loss_curve_) == ae.n_iter_
    assert np.all(np.isfinite(ae.validation_loss_curve_))
    assert np.all(np.isfinite(ae.code_std_))
    assert ae.sample(3, random_state=0).shape == (3, mm.shape[1])


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 300),
    batch_size=st.integers(1, 70),
    block=st.integers(1, 50),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_every_row_once_per_epoch(n, batch_size, block, shuffle, seed):
    X = np.arange(n, dtype=np.float32)[:, None].repeat(2, axis=1)
    source = _engine.MemmapSource(X)
    old = _engine.BLOCK_BYTES
    _engine.BLOCK_BYTES = block * 8
    try:
        with _engine.seeded(seed):
            batches = list(source.batches(batch_size, shuffle))
    finally:
        _engine.BLOCK_BYTES = old
    seen = torch.cat([xb for xb, _ in batches])[:, 0].numpy()
    assert_array_equal(np.sort(seen), np.arange(n))
    assert all(len(xb) == batch_size for xb, _ in batches[:-1])
    if not shuffle:
        assert_array_equal(seen, np.arange(n))


@given(rows=st.integers(1, 10**6), features=st.integers(1, 10**5), batch_size=st.integers(1, 5000))
def test_a_block_holds_whole_batches(rows, features, batch_size):
    size = _engine.block_rows(np.empty((0, features), np.float32), batch_size)
    assert size >= batch_size and size % batch_size == 0
    assert size <= max(batch_size, _engine.BLOCK_BYTES // (4 * features))


def test_the_next_block_is_read_while_one_trains(monkeypatch):
    import threading

    X = np.arange(400, dtype=np.float32).reshape(200, 2)
    monkeypatch.setattr(_engine, "BLOCK_BYTES", 50 * 2 * 4)  # blocks of 50 rows
    source = _engine.MemmapSource(X)
    started = {start: threading.Event() for start in range(0, 200, 50)}
    threads, load = set(), source._load

    def recording_load(start, stop, device):
        threads.add(threading.current_thread().name)
        started[start].set()
        return load(start, stop, device)

    monkeypatch.setattr(source, "_load", recording_load)
    firsts = []
    for xb, _ in source.batches(25, shuffle=False):
        first = int(xb[0, 0]) // 2
        firsts.append(first)
        if first % 50 == 0 and first < 150:
            # while block k trains, block k + 1 is read: without a reader
            # running ahead, it would be read only after block k's batches
            assert started[first + 50].wait(timeout=30)
    assert all(name.startswith("skae-read") for name in threads)
    # whole batches from whole blocks: nothing carried, nothing concatenated
    assert firsts == list(range(0, 200, 25))


def test_a_read_error_reaches_the_caller_and_an_abandoned_epoch_stops(monkeypatch):
    X = np.arange(400, dtype=np.float32).reshape(200, 2)
    monkeypatch.setattr(_engine, "BLOCK_BYTES", 50 * 2 * 4)
    source = _engine.MemmapSource(X)
    batches = source.batches(25, shuffle=True)
    next(batches)
    batches.close()  # the reader thread finishes its block and ends
    load = source._load

    def failing_load(start, stop, device):
        if start == 100:
            raise OSError("disk gone")
        return load(start, stop, device)

    monkeypatch.setattr(source, "_load", failing_load)
    with pytest.raises(OSError, match="disk gone"):
        list(source.batches(25, shuffle=False))


def test_the_reader_thread_gets_the_callers_cuda_device(monkeypatch):
    # torch.cuda.set_device is per thread: a bare "cuda" must be resolved where
    # the epoch starts, not in the reader thread, whose current device is 0
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 3)
    assert _engine.explicit_device(torch.device("cuda")) == torch.device("cuda", 3)
    assert _engine.explicit_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert _engine.explicit_device(torch.device("cpu")) == torch.device("cpu")
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    source, placed = _engine.MemmapSource(X, device="cuda"), []
    load = source._load

    def recording_load(start, stop, device):
        placed.append(device)
        return load(start, stop, torch.device("cpu"))  # no GPU here: read to the CPU

    monkeypatch.setattr(source, "_load", recording_load)
    seen = torch.cat([xb for xb, _ in source.batches(8, shuffle=False)])
    assert_array_equal(seen.numpy(), X)
    assert placed == [torch.device("cuda", 3)]


def test_subset_and_fixed_corruption():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    source = _engine.MemmapSource(X).subset(np.array([7, 3, 11]))
    ((xb, yb),) = source.batches(8, shuffle=False)
    assert_array_equal(xb.numpy(), X[[3, 7, 11]])
    source = source.corrupted(lambda x: x + torch.rand_like(x), 5)
    first = [xb for xb, _ in source.batches(2, shuffle=False)]
    again = [xb for xb, _ in source.batches(2, shuffle=False)]
    for a, b in zip(first, again):
        assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(first[0].numpy(), X[[3, 7]])


def test_bad_memmaps_raise_and_leave_the_model(tmp_path, memmap):
    mm, X = memmap
    ae = AutoEncoder(**FAST).fit(X)
    before = ae.transform(X)
    bad = X.copy()
    bad[150, 3] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match="NaN"):
        ae.fit(np.load(tmp_path / "bad.npy", mmap_mode="r"))
    np.save(tmp_path / "int.npy", X.astype(np.int32))
    with pytest.raises(ValueError, match="float32"):
        ae.fit(np.load(tmp_path / "int.npy", mmap_mode="r"))
    assert_array_equal(ae.transform(X), before)
    with pytest.raises(ValueError, match="features"):
        ae.transform(mm[:, :10])


def test_range_checks_use_the_streamed_range(tmp_path, memmap):
    _, X = memmap
    np.save(tmp_path / "wide.npy", X * 2 - 0.5)
    wide = np.load(tmp_path / "wide.npy", mmap_mode="r")
    with pytest.raises(ValueError, match=r"\[-0.5, 1.5\]"):
        AutoEncoder(loss="bce", **FAST).fit(wide)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [AutoEncoder, VAE])
def test_training_never_reads_a_tensor_per_batch(monkeypatch, Estimator):
    X = np.random.default_rng(0).random((320, 6))
    calls = []
    item, to_float = torch.Tensor.item, torch.Tensor.__float__
    monkeypatch.setattr(torch.Tensor, "item", lambda t: (calls.append(1), item(t))[1])
    monkeypatch.setattr(torch.Tensor, "__float__", lambda t: (calls.append(1), to_float(t))[1])
    est = Estimator(2, max_epochs=2, batch_size=16, early_stopping=True, random_state=0).fit(X)
    monkeypatch.undo()
    assert calls == []  # 40 batches: skorch alone would read 40 losses
    batch = est.net_.history[-1]["batches"][0]
    assert all(isinstance(v, (int, float)) for v in batch.values())
    assert len(est.loss_curve_) == 2 and np.isfinite(est.loss_curve_).all()


# ----------------------------------------------------------------------------
# Precision
# ----------------------------------------------------------------------------
def test_bf16_trains_and_predicts_on_cpu(digits):
    X = digits[0][:400]
    full = AutoEncoder(**FAST).fit(X)
    half = AutoEncoder(precision="bf16", **FAST).fit(X)
    assert np.isfinite(half.loss_curve_).all()
    assert half.loss_curve_[-1] < half.loss_curve_[0]
    Z, Z_full = half.transform(X), full.transform(X)
    assert Z.dtype == np.float64 and np.isfinite(Z).all()
    # bfloat16 keeps 8 bits of mantissa: close to, but not, the float32 result
    assert not np.array_equal(Z, Z_full)
    assert np.abs(Z - Z_full).max() < 0.2 * np.abs(Z_full).max()
    assert_array_equal(half.transform(X), AutoEncoder(precision="bf16", **FAST).fit(X).transform(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [AutoEncoder, VAE, DenoisingAE])
def test_16_mixed_on_cpu_raises_and_keeps_the_model(digits, Estimator):
    X = digits[0][:200]
    est = Estimator(**FAST).fit(X)
    before = est.transform(X)
    est.set_params(precision="16-mixed")
    with pytest.raises(ValueError, match="precision='bf16'"):
        est.fit(X)
    assert_array_equal(est.transform(X), before)


def test_unknown_precision_is_refused(digits):
    with pytest.raises(ValueError, match="precision"):
        AutoEncoder(precision="64", **FAST).fit(digits[0][:50])


# ----------------------------------------------------------------------------
# Images to a memmap
# ----------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_images_to_memmap_matches_load_image_folder(tmp_path):
    from PIL import Image

    from skae.datasets import images_to_memmap, load_image_folder

    rng = np.random.default_rng(0)
    for label, sizes in {"a": [(20, 30), (7, 9)], "b": [(40, 40)]}.items():
        (tmp_path / "img" / label).mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "img" / label / f"{i}.png")
    for grey in (True, False):
        X, y = images_to_memmap(
            tmp_path / "img", tmp_path / "X.npy", (8, 12), grey=grey, progress=False
        )
        X_ref, y_ref = load_image_folder(tmp_path / "img", size=(8, 12), grayscale=grey)
        assert isinstance(X, np.memmap) and X.dtype == np.float32
        assert_array_equal(X, X_ref)
        assert_array_equal(y, y_ref)
    ae = AutoEncoder(**FAST).fit(X)
    assert ae.transform(X).shape == (3, ae.n_components_)
    (tmp_path / "img" / "b" / "bad.png").write_text("not an image")
    with pytest.raises(ValueError, match="bad.png"):
        images_to_memmap(tmp_path / "img", tmp_path / "Y.npy", 8, progress=False)


def test_scattered_rows_are_read_in_groups(monkeypatch, memmap):
    mm, X = memmap
    monkeypatch.setattr(_engine, "SCATTERED_ROWS", 7)
    releases = []
    release = _engine._release
    monkeypatch.setattr(_engine, "_release", lambda a: (releases.append(1), release(a)))
    rows = np.sort(np.random.default_rng(0).choice(len(X), 100, replace=False))
    assert_array_equal(_engine.read_rows(mm, rows), X[rows])
    assert len(releases) == 15  # ceil(100 / 7)


def test_data_too_large_for_the_device_streams(monkeypatch, digits):
    X = digits[0].astype(np.float32)
    assert isinstance(_engine.make_source(X), _engine.TensorPair)
    monkeypatch.setattr(_engine, "_device_room", lambda device: 1000.0)
    # a CUDA device is only named here: nothing is moved until batches are drawn
    source = _engine.make_source(X, device=torch.device("cuda"))
    assert isinstance(source, _engine.MemmapSource) and source.device.type == "cuda"


def _mapped_kib(path) -> int:
    """KiB of ``path``'s pages mapped into this process (Linux ``/proc/self/smaps``)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            if "-" in line.split(" ", 1)[0]:  # the header of a mapping
                inside = line.rstrip().endswith(str(path))
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


@pytest.fixture
def large_memmap(tmp_path, monkeypatch):
    """A 10 MiB memmap (20,000 x 128 float32 in [0, 1]) streamed in blocks of 256 KiB."""
    monkeypatch.setattr(_engine, "BLOCK_BYTES", 2**18)
    path = tmp_path / "large.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(20_000, 128))
    out[:] = np.random.default_rng(0).random(out.shape, dtype=np.float32)
    out.flush()
    del out
    return np.load(path, mmap_mode="r"), path


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_memory_of_a_streamed_fit_is_that_of_a_block(large_memmap):
    mm, path = large_memmap
    ae = AutoEncoder(4, hidden_layer_sizes=(8,), max_epochs=1, batch_size=250, random_state=0)
    ae.fit(np.array(mm[:500]))  # the modules a first fit imports are not data
    tracemalloc.start()
    try:
        ae.fit(mm)
        ae.transform(mm)
        ae.score_samples(mm)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # numpy memory (traced) stays a few blocks and the 4,096 rows of the code
    # statistics (2 MiB): no whole copy of the 10 MiB file (such as a float64
    # one for the output bias at the data mean)
    assert peak < mm.nbytes / 2, f"peak {peak / 2**20:.1f} MiB of numpy memory"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_no_page_of_the_file_stays_mapped(large_memmap):
    mm, path = large_memmap
    mm[::1000].sum()  # maps some pages, as user code may do before fitting
    assert _mapped_kib(path) > 0
    # the scattered rows of the collapse check and of the code statistics
    # are released too (their neighbours would stay mapped otherwise)
    ae = AutoEncoder(4, hidden_layer_sizes=(8,), max_epochs=1, batch_size=250, random_state=0)
    ae.fit(mm)
    assert _mapped_kib(path) == 0
    ae.transform(mm)
    assert _mapped_kib(path) == 0


def test_column_mean_streams_and_matches_numpy(small_blocks, memmap):
    mm, X = memmap
    np.testing.assert_allclose(_engine.column_mean(mm), X.astype(np.float64).mean(axis=0))
    assert max(small_blocks) <= 100
    # the same bits in memory: a streamed fit starts at the same output bias
    assert_array_equal(_engine.column_mean(mm), _engine.column_mean(X))


def test_big_endian_float32_memmap_is_streamed_in_native_order(tmp_path, memmap):
    mm, X = memmap
    np.save(tmp_path / "big.npy", X.astype(">f4"))
    big = np.load(tmp_path / "big.npy", mmap_mode="r")
    assert big.dtype.str == ">f4"
    ae = AutoEncoder(**FAST).fit(big)
    reference = AutoEncoder(**FAST).fit(mm)
    assert_array_equal(ae.transform(big), reference.transform(mm))
    assert_array_equal(ae.transform(X), reference.transform(X))
    np.save(tmp_path / "big8.npy", X.astype(">f8"))
    with pytest.raises(ValueError, match=r"other byte order \('>f8'\).*'<f8'"):
        AutoEncoder(**FAST).fit(np.load(tmp_path / "big8.npy", mmap_mode="r"))
