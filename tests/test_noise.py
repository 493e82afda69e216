"""Corruption kernels: statistical properties of every kind, seeding, NoisyArray."""

import copy
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils import _safe_indexing

from skae import NoiseAugmenter, add_noise
from skae.noise import KINDS, NoiseRecipe, NoisyArray, corrupt, split_noisy

SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**31 - 2)
shapes = st.tuples(st.integers(40, 80), st.integers(40, 80))


def _data(shape, seed, low=0.1, high=0.9):
    """Values strictly inside (0, 1), so corrupted entries are recognisable."""
    return np.random.RandomState(seed).uniform(low, high, size=shape)


@SETTINGS
@given(kind=st.sampled_from(KINDS), shape=shapes, seed=seeds)
def test_level_zero_is_identity(kind, shape, seed):
    X = _data(shape, seed)
    np.testing.assert_array_equal(add_noise(X, kind, 0.0, random_state=seed), X)


@SETTINGS
@given(level=st.floats(0.05, 2.0), shape=shapes, seed=seeds)
def test_gaussian_residual_has_requested_std(level, shape, seed):
    X = _data(shape, seed)
    residual = add_noise(X, "gaussian", level, random_state=seed) - X
    # >= 1600 entries: the sample std is within ~2% of level (1.8% at 1 sd);
    # 10% leaves a wide margin.
    assert abs(residual.std() / level - 1) < 0.10
    assert abs(residual.mean()) < 0.15 * level


@SETTINGS
@given(level=st.floats(0.05, 1.0), shape=shapes, seed=seeds)
def test_speckle_and_uniform_residuals(level, shape, seed):
    X = _data(shape, seed)
    relative = (add_noise(X, "speckle", level, random_state=seed) - X) / X
    assert abs(relative.std() / level - 1) < 0.10
    residual = add_noise(X, "uniform", level, random_state=seed) - X
    assert np.all(np.abs(residual) <= level + 1e-12)
    assert abs(residual.std() / (level / np.sqrt(3)) - 1) < 0.10


@SETTINGS
@given(level=st.floats(0.0, 1.0), shape=shapes, seed=seeds)
def test_salt_and_pepper_fraction(level, shape, seed):
    X = _data(shape, seed)
    noisy = add_noise(X, "salt_and_pepper", level, random_state=seed)
    changed = noisy != X
    assert np.all(np.isin(noisy[changed], [0.0, 1.0]))
    # binomial sd of the fraction is at most 0.5 / sqrt(1600) = 0.0125
    assert abs(changed.mean() - level) < 0.05
    if level > 0.2:
        salt = (noisy == 1.0).sum() / changed.sum()
        assert abs(salt - 0.5) < 0.15


@SETTINGS
@given(level=st.floats(0.0, 1.0), shape=shapes, seed=seeds)
def test_masking_fraction(level, shape, seed):
    X = _data(shape, seed)
    noisy = add_noise(X, "masking", level, random_state=seed)
    masked = noisy == 0
    np.testing.assert_array_equal(noisy[~masked], X[~masked])
    assert abs(masked.mean() - level) < 0.05


@SETTINGS
@given(kind=st.sampled_from(KINDS), level=st.floats(0.0, 1.0), shape=shapes, seed=seeds)
def test_clip_holds_and_salt_and_pepper_uses_its_bounds(kind, level, shape, seed):
    X = _data(shape, seed, 0.0, 1.0) * 4 - 2
    noisy = add_noise(X, kind, level, clip=(-0.5, 0.5), random_state=seed)
    assert noisy.min() >= -0.5 and noisy.max() <= 0.5
    upper = add_noise(X, kind, level, clip=(None, 0.25), random_state=seed)
    assert upper.max() <= 0.25


@SETTINGS
@given(
    kind=st.sampled_from(KINDS),
    level=st.floats(0.01, 1.0),
    seed=seeds,
    dtype=st.sampled_from([np.float32, np.float64]),
    shape=st.sampled_from([(7,), (5, 3), (2, 3, 4)]),
)
def test_same_seed_same_output_and_shape_dtype_kept(kind, level, seed, dtype, shape):
    X = _data(shape, seed).astype(dtype)
    a = add_noise(X, kind, level, random_state=seed)
    b = add_noise(X, kind, level, random_state=seed)
    np.testing.assert_array_equal(a, b)
    assert a.shape == X.shape and a.dtype == dtype


@pytest.mark.parametrize("kind", KINDS)
def test_different_seeds_differ(kind):
    X = _data((20, 10), 0)
    a = add_noise(X, kind, 0.3, random_state=0)
    assert not np.array_equal(a, add_noise(X, kind, 0.3, random_state=1))


def test_integer_input_becomes_float64_and_input_is_not_modified():
    X = np.ones((3, 4), dtype=np.int64)
    out = add_noise(X, "gaussian", 0.5, random_state=0)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(X, 1)


def test_random_state_forms():
    X = np.zeros((5, 5))
    a = add_noise(X, random_state=np.random.RandomState(3))
    b = add_noise(X, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(a, b)
    add_noise(X, random_state=np.random.default_rng(0))
    assert not np.array_equal(add_noise(X), add_noise(X))
    with pytest.raises(ValueError, match="random_state="):
        add_noise(X, random_state="zero")


def test_kernel_draws_from_explicit_generator_and_seeded_global():
    x = torch.zeros(4, 6)
    recipe = NoiseRecipe("gaussian", 0.3)
    a = recipe(x, generator=torch.Generator().manual_seed(5))
    b = recipe(x, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)
    state = torch.random.get_rng_state()
    torch.manual_seed(11)
    c = recipe(x)
    torch.manual_seed(11)
    torch.testing.assert_close(c, recipe(x))
    torch.random.set_rng_state(state)
    assert corrupt(x.double(), "masking", 0.5).dtype == torch.float64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "pink"}, "Unknown noise kind='pink'"),
        ({"level": -1.0}, r"level=-1.0 must be a finite number >= 0"),
        ({"kind": "masking", "level": 1.5}, r"level=1.5 is the fraction"),
        ({"clip": (1, 0)}, r"clip=\(1, 0\) has low > high"),
        ({"clip": (0, 1, 2)}, "must be None or a pair"),
    ],
)
def test_invalid_noise_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NoiseRecipe(**kwargs)


def test_recipe_pickles():
    recipe = NoiseRecipe("salt_and_pepper", 0.1, [0, 1])
    assert recipe.clip == (0, 1)
    assert pickle.loads(pickle.dumps(recipe)) == recipe


# ----------------------------------------------------------------------------
# NoisyArray
# ----------------------------------------------------------------------------
@pytest.fixture
def noisy():
    clean = np.arange(12.0).reshape(6, 2)
    recipe = NoiseRecipe("gaussian", 0.1)
    return NoisyArray(clean + 100, clean, recipe)


def test_noisy_array_indexing_slices_clean_in_step(noisy):
    for key in ([4, 0, 2], np.array([True, False] * 3), slice(1, 5, 2), (slice(None), [1])):
        part = noisy[key]
        assert isinstance(part, NoisyArray)
        np.testing.assert_array_equal(part.clean, part.view(np.ndarray) - 100)
        assert part.recipe is noisy.recipe
    part = _safe_indexing(noisy, [5, 1])
    np.testing.assert_array_equal(part.clean, noisy.clean[[5, 1]])
    assert noisy[0, 1] == 101


def test_noisy_array_is_a_plain_array_to_numpy(noisy):
    assert type(np.asarray(noisy)) is np.ndarray
    assert type(noisy + 1) is np.ndarray
    assert type(noisy.mean(axis=0)) is np.ndarray
    assert type(np.exp(noisy)) is np.ndarray
    # a transposed view no longer matches its source and forgets it
    assert type(noisy.T) is np.ndarray
    assert split_noisy(noisy.reshape(2, 6))[1] is None
    assert noisy.astype(np.float32).clean is noisy.clean


@pytest.mark.parametrize("dump", [pickle.dumps, lambda a: pickle.dumps(a, protocol=5)])
def test_noisy_array_pickles(noisy, dump):
    back = pickle.loads(dump(noisy))
    assert isinstance(back, NoisyArray)
    np.testing.assert_array_equal(back, noisy)
    np.testing.assert_array_equal(back.clean, noisy.clean)
    assert back.recipe == noisy.recipe


def test_noisy_array_deepcopy(noisy):
    copied = copy.deepcopy(noisy)
    np.testing.assert_array_equal(copied.clean, noisy.clean)
    assert copied.clean is not noisy.clean


def test_noisy_array_needs_matching_shapes():
    with pytest.raises(ValueError, match="clean has shape"):
        NoisyArray(np.zeros((2, 3)), np.zeros((3, 2)))


def test_pandas_output_drops_its_clean_source_through_arithmetic_as_numpy_does():
    pd = pytest.importorskip("pandas")
    from skae import NoiseAugmenter
    from skae.noise import split_noisy

    X = np.random.RandomState(0).rand(30, 4)
    frame = (
        NoiseAugmenter(random_state=0).set_output(transform="pandas").fit_transform(pd.DataFrame(X))
    )
    array = NoiseAugmenter(random_state=0).fit_transform(X)
    assert split_noisy(frame)[1] is not None and split_noisy(array)[1] is not None
    for changed in (frame * 255, frame + 1.0):
        assert split_noisy(changed)[1] is None
    assert split_noisy(array * 255)[1] is None
    cut = frame.iloc[5:12]  # rows cut from it keep theirs
    np.testing.assert_array_equal(split_noisy(cut)[1].to_numpy(), X[5:12])


@pytest.mark.parametrize("kind", ["gaussian", "speckle", "uniform", "salt_and_pepper"])
def test_augmenter_clips_unit_range_data_by_default(kind):
    rng = np.random.RandomState(0)
    images, table = rng.rand(50, 16), rng.normal(size=(50, 16))
    augmenter = NoiseAugmenter(kind, level=0.5, random_state=0)
    noisy = augmenter.fit_transform(images)
    assert augmenter.clip_ == (0.0, 1.0)
    assert noisy.min() >= 0 and noisy.max() <= 1
    # the same noise as the denoisers' own recipe draws
    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max)  # the augmenter's draw
    np.testing.assert_array_equal(
        noisy, NoiseRecipe(kind, 0.5, (0.0, 1.0)).apply(images, random_state=int(seed))
    )
    assert augmenter.fit(table).clip_ is None  # other data are not clipped
    assert NoiseAugmenter(kind, level=0.5, clip=None).fit(images).clip_ is None
