"""DenoisingAE, NoiseAugmenter, and noise inside Pipelines and GridSearchCV."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.manifold import TSNE
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

import skae
from skae import CVAE, VAE, AutoEncoder, DenoisingAE, NoiseAugmenter, add_noise
from skae._base import SCORE_SEED
from skae._engine import HoldOutSplit, TensorPair, seeded
from skae.noise import NoiseRecipe, NoisyArray, split_noisy

FAST = {"hidden_layer_sizes": (64,), "max_epochs": 8, "random_state": 0}


def psnr(estimate, clean):
    """Peak signal-to-noise ratio in dB for data in [0, 1]."""
    return 10 * np.log10(1.0 / np.mean(np.square(estimate - clean)))


def gaussian(level=0.4, **kwargs):
    return NoiseAugmenter("gaussian", level=level, clip=(0, 1), **kwargs)


# ----------------------------------------------------------------------------
# NoiseAugmenter
# ----------------------------------------------------------------------------
def test_augmenter_output_remembers_clean_source(digits):
    X = digits[0][:50]
    out = gaussian(random_state=0).fit_transform(X)
    assert isinstance(out, NoisyArray)
    np.testing.assert_array_equal(out.clean, X)
    assert out.recipe == NoiseRecipe("gaussian", 0.4, (0, 1))
    assert out.min() >= 0 and out.max() <= 1 and not np.array_equal(out, X)


def test_augmenter_keeps_image_arrays(digits):
    images = digits[0][:20].reshape(20, 8, 8)
    out = gaussian(random_state=0).fit_transform(images)
    assert out.shape == (20, 8, 8)
    np.testing.assert_array_equal(out.clean, images)
    np.testing.assert_array_equal(out[3:5].clean, images[3:5])


def test_augmenter_seeding_across_calls(digits):
    X = digits[0][:50]
    fixed = gaussian(random_state=0).fit(X)
    np.testing.assert_array_equal(fixed.corrupt(X), fixed.corrupt(X))
    np.testing.assert_array_equal(fixed.corrupt(X), gaussian(random_state=0).fit_transform(X))
    stream = gaussian(random_state=np.random.RandomState(0)).fit(X)
    assert not np.array_equal(stream.corrupt(X), stream.corrupt(X))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"kind": "masking", "level": 1.5}, r"level=1.5 is the fraction"),
        ({"clip": (1, 0)}, "has low > high"),
        ({"kind": "pink"}, "'kind' parameter"),
    ],
)
def test_augmenter_invalid_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        NoiseAugmenter(**params).fit(np.zeros((3, 2)))


# ----------------------------------------------------------------------------
# DenoisingAE on its own
# ----------------------------------------------------------------------------
@pytest.mark.slow
def test_dae_beats_noisy_input_and_pca_at_gaussian_04(digits_split):
    """Held-out digits, gaussian noise factor 0.4 clipped to [0, 1], fixed seeds."""
    X_train, X_test = digits_split[0], digits_split[1]
    noisy = add_noise(X_test, "gaussian", 0.4, clip=(0, 1), random_state=1)
    dae = DenoisingAE(32, noise=gaussian(), max_epochs=30, random_state=0).fit(X_train)
    pca = PCA(32, random_state=0).fit(X_train)
    psnr_dae = psnr(dae.denoise(noisy), X_test)
    psnr_noisy = psnr(noisy, X_test)
    psnr_pca = psnr(pca.inverse_transform(pca.transform(noisy)), X_test)
    # measured: DAE 16.21 dB, noisy input 10.71 dB, PCA(32) 13.03 dB
    assert psnr_dae > psnr_noisy + 3.5
    assert psnr_dae > psnr_pca + 1.3


def test_dae_score_corrupts_clean_data_under_fixed_seed(digits):
    X = digits[0][:300]
    params = dict(FAST, max_epochs=30)
    dae = DenoisingAE(8, noise="masking", noise_level=0.3, **params).fit(X)
    assert dae.noise_ == NoiseRecipe("masking", 0.3, (0.0, 1.0))
    noisy = add_noise(X, "masking", 0.3, random_state=SCORE_SEED)
    expected = -np.mean(np.square(dae.denoise(noisy) - X))
    assert dae.score(X) == pytest.approx(expected, rel=1e-6)
    assert dae.score(X) == dae.score(X)
    # denoising is harder than reconstructing the clean input
    # (measured: -0.027 against -0.014)
    assert dae.score(X) < AutoEncoder(8, **params).fit(X).score(X) - 0.005


def test_no_corruption_at_inference(digits):
    X = digits[0][:200]
    dae = DenoisingAE(4, noise_level=0.5, **FAST).fit(X)
    np.testing.assert_array_equal(dae.transform(X), dae.transform(X))
    codes = dae.transform(X)
    np.testing.assert_allclose(dae.predict(X), dae.inverse_transform(codes), rtol=1e-6)
    with torch.no_grad():
        module = dae.net_.module_.eval()
        expected = module(torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(dae.denoise(X), expected, rtol=1e-5, atol=1e-6)


def test_own_noise_keeps_unit_range_data_in_range(digits):
    X = digits[0][:200]  # pixels in [0, 1]
    dae = DenoisingAE(4, noise_level=0.5, **FAST).fit(X)
    assert dae.noise_ == NoiseRecipe("gaussian", 0.5, (0.0, 1.0))
    noisy = dae.noise_.apply(X, random_state=0)
    assert noisy.min() == 0 and noisy.max() == 1
    # other data: unclipped
    standard = (X - X.mean(0)) / (X.std(0) + 1)
    assert DenoisingAE(4, **FAST).fit(standard).noise_.clip is None
    # an augmenter given as noise clips as the denoiser's own noise does
    given = DenoisingAE(4, noise=NoiseAugmenter("gaussian", level=0.5), **FAST).fit(X)
    assert given.noise_ == NoiseRecipe("gaussian", 0.5, (0.0, 1.0))
    unclipped = NoiseAugmenter("gaussian", level=0.5, clip=None)
    assert DenoisingAE(4, noise=unclipped, **FAST).fit(X).noise_.clip is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_default_noise_level_is_the_default_strength(digits):
    X = digits[0][:100]
    default = DenoisingAE(4, **FAST).fit(X)
    assert default.noise_level is None
    assert default.noise_ == NoiseRecipe("gaussian", 0.2, (0.0, 1.0))
    explicit = DenoisingAE(4, noise_level=0.2, **FAST).fit(X)
    np.testing.assert_array_equal(default.transform(X), explicit.transform(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("in_pipeline", [False, True])
def test_noise_level_beside_an_augmenter_is_refused(
    digits, in_pipeline, state_of, assert_same_state
):
    X = digits[0][:100]
    augmenter = NoiseAugmenter("gaussian", level=0.4)
    dae = DenoisingAE(4, noise=augmenter, **FAST)
    data = augmenter.fit_transform(X) if in_pipeline else X
    dae.fit(data)
    before = state_of(dae)
    with pytest.raises(ValueError, match=r"noise_level=0.3 would be ignored.*own level=0.4"):
        dae.set_params(noise_level=0.3).fit(data)
    assert_same_state(before, state_of(dae.set_params(noise_level=None)))


def test_dae_invalid_noise_parameters():
    X = np.random.RandomState(0).rand(20, 4)
    with pytest.raises(ValueError, match=r"noise_level=1.5 is the fraction .* noise='masking'"):
        DenoisingAE(noise="masking", noise_level=1.5, max_epochs=1).fit(X)
    with pytest.raises(ValueError, match="'noise' parameter"):
        DenoisingAE(noise="pink", max_epochs=1).fit(X)
    with pytest.raises(NotFittedError):
        DenoisingAE().denoise(X)


def test_validation_input_is_corrupted_once_with_a_fixed_seed():
    X = torch.rand(40, 5)
    split = HoldOutSplit(0.25, seed=3, corrupt=NoiseRecipe("gaussian", 0.5))
    (train, valid), (_, valid_again) = split(TensorPair(X)), split(TensorPair(X))
    assert len(valid) == 10 and len(train) == 30
    assert not torch.equal(valid.X, valid.target)
    torch.testing.assert_close(valid.X, valid_again.X)


def test_dae_validation_loss_measures_denoising(digits):
    X = digits[0][:400]
    dae = DenoisingAE(8, noise_level=0.5, validation_fraction=0.25, loss="mse", **FAST).fit(X)
    # rebuild the held-out set and its corruption, as the engine makes them
    valid = X[np.random.RandomState(dae._seed).permutation(400)[:100]]
    valid = torch.as_tensor(valid, dtype=torch.float32)
    with seeded(dae._seed):
        noisy = dae.noise_(valid)
    with torch.no_grad():
        module = dae.net_.module_.eval()
        denoising = torch.mean((module(noisy) - valid) ** 2).item()
        clean = torch.mean((module(valid) - valid) ** 2).item()
    assert dae.validation_loss_curve_[-1] == pytest.approx(denoising, rel=1e-4)
    assert dae.validation_loss_curve_[-1] != pytest.approx(clean, rel=1e-4)


def test_dae_partial_fit_and_warm_start(digits):
    X = digits[0][:200]
    dae = DenoisingAE(4, **FAST).partial_fit(X).partial_fit(X)
    assert dae.n_iter_ == 2 and dae.noise_ == NoiseRecipe("gaussian", 0.2, (0.0, 1.0))
    warm = DenoisingAE(4, warm_start=True, **FAST).fit(X).fit(X)
    assert warm.n_iter_ == 16


# ----------------------------------------------------------------------------
# The Pipeline contract
# ----------------------------------------------------------------------------
@pytest.mark.slow
def test_pipeline_trained_dae_matches_dae_with_own_noise(digits_split):
    X_train, X_test = digits_split[0], digits_split[1]
    noisy = add_noise(X_test, "gaussian", 0.4, clip=(0, 1), random_state=1)
    params = {"max_epochs": 15, "random_state": 0}
    pipe = Pipeline([("noise", gaussian(random_state=0)), ("dae", DenoisingAE(16, **params))])
    pipe.fit(X_train)
    own = DenoisingAE(16, noise=gaussian(), **params).fit(X_train)
    assert pipe["dae"].noise_ == own.noise_
    psnr_pipe = psnr(pipe["dae"].denoise(noisy), X_test)
    psnr_own = psnr(own.denoise(noisy), X_test)
    # measured: both 15.83 dB (the same recipe redrawn under the same seed);
    # the noisy input is at 10.71 dB
    assert abs(psnr_pipe - psnr_own) < 0.1
    assert psnr_pipe > psnr(noisy, X_test) + 2.5


def test_pipeline_dae_redraws_fresh_noise_from_the_recipe(digits):
    X = digits[0][:300]
    fits = [
        Pipeline([("noise", gaussian(random_state=seed)), ("dae", DenoisingAE(4, **FAST))]).fit(X)
        for seed in (0, 1)
    ]
    # the fixed draw of the augmenter is not what the DAE trains on
    np.testing.assert_allclose(fits[0]["dae"].loss_curve_, fits[1]["dae"].loss_curve_)
    carried = Pipeline(
        [("noise", NoiseAugmenter("masking", level=0.3)), ("dae", DenoisingAE(4, **FAST))]
    ).fit(X)
    # the recipe the denoiser alone would use: [0, 1] data keep to [0, 1]
    assert carried["dae"].noise_ == NoiseRecipe("masking", 0.3, (0.0, 1.0))
    assert (
        carried["dae"].noise_
        == DenoisingAE(4, noise="masking", noise_level=0.3).set_params(**FAST).fit(X).noise_
    )


def test_any_autoencoder_learns_noisy_to_clean_in_a_pipeline(digits_split):
    X_train, X_test = digits_split[0], digits_split[1]
    augmenter = gaussian(random_state=0)
    params = dict(FAST, max_epochs=20)
    pipe = Pipeline([("noise", augmenter), ("ae", AutoEncoder(64, **params))]).fit(X_train)
    naive = AutoEncoder(64, **params).fit(augmenter.fit_transform(X_train).view(np.ndarray))
    noisy = add_noise(X_test, "gaussian", 0.4, clip=(0, 1), random_state=1)
    # measured: 15.14 dB through the pipeline (noisy -> clean), 12.15 dB when
    # trained noisy -> noisy on the same noisy array
    assert (
        psnr(pipe["ae"].reconstruct(noisy), X_test) > psnr(naive.reconstruct(noisy), X_test) + 0.6
    )
    # it keeps the recipe it learned to undo
    assert pipe["ae"].noise_ == NoiseRecipe("gaussian", 0.4, (0, 1))
    assert AutoEncoder(64, **params).fit(X_train).noise_ is None
    # corrupted data is scored against the clean source it carries
    noisy_test = augmenter.corrupt(X_test)
    expected = -np.mean(np.square(pipe["ae"].reconstruct(noisy_test) - X_test), axis=1)
    np.testing.assert_allclose(pipe["ae"].score_samples(noisy_test), expected, rtol=1e-6)
    assert pipe["ae"].score(noisy_test) == pytest.approx(expected.mean(), rel=1e-6)
    # the fitted pipeline's score corrupts clean held-out data with that recipe
    judged = add_noise(X_test, "gaussian", 0.4, clip=(0, 1), random_state=SCORE_SEED)
    denoised = pipe["ae"].reconstruct(judged)
    assert pipe.score(X_test) == pytest.approx(-np.mean(np.square(denoised - X_test)), rel=1e-6)
    # ... and its inference adds no noise: predict-like calls see X as given
    np.testing.assert_array_equal(pipe.transform(noisy), pipe["ae"].transform(noisy))
    np.testing.assert_array_equal(pipe.score_samples(noisy), pipe["ae"].score_samples(noisy))


@pytest.mark.slow
def test_grid_search_ranks_by_denoising_quality(digits):
    X = digits[0][:600]
    dae = DenoisingAE(**dict(FAST, max_epochs=30))
    pipe = Pipeline([("noise", gaussian(random_state=0)), ("dae", dae)])
    search = GridSearchCV(pipe, {"dae__n_components": [1, 24]}, cv=3).fit(X)
    assert search.best_params_ == {"dae__n_components": 24}
    # the pipeline's score corrupts the clean data with the learned recipe,
    # then compares the denoised data with the clean data
    best = search.best_estimator_
    judged = add_noise(X, "gaussian", 0.4, clip=(0, 1), random_state=SCORE_SEED)
    expected = -np.mean(np.square(best.predict(judged) - X))
    assert best.score(X) == pytest.approx(expected, rel=1e-6)
    scores = search.cv_results_["mean_test_score"]
    # measured: -0.0641 for 1 component, -0.0370 for 24
    assert scores[1] > scores[0] + 0.01


def test_pca_and_tsne_get_plain_noisy_arrays(digits):
    X = digits[0][:120]
    noisy = gaussian(random_state=0).fit_transform(X).view(np.ndarray)
    pipe = Pipeline([("noise", gaussian(random_state=0)), ("pca", PCA(5))])
    Z = pipe.fit_transform(X)
    assert type(Z) is np.ndarray and type(pipe["pca"].mean_) is np.ndarray
    np.testing.assert_allclose(Z, PCA(5).fit_transform(noisy), atol=1e-10)
    np.testing.assert_allclose(pipe["pca"].mean_, noisy.mean(axis=0))
    tsne = {"n_components": 2, "perplexity": 10, "max_iter": 250, "random_state": 0}
    with threadpool_limits(1):  # OpenMP threads of two test workers would contend
        pipe = Pipeline([("noise", gaussian(random_state=0)), ("tsne", TSNE(**tsne))])
        E = pipe.fit_transform(X)
        E_plain = TSNE(**tsne).fit_transform(noisy)
    assert type(E) is np.ndarray
    np.testing.assert_allclose(E, E_plain, rtol=1e-5, atol=1e-5)


def test_pipeline_survives_clone_and_pickle(digits):
    X = digits[0][:300]
    pipe = Pipeline([("noise", gaussian(random_state=0)), ("dae", DenoisingAE(4, **FAST))])
    fitted = clone(pipe).fit(X)
    again = clone(fitted)
    assert not hasattr(again["dae"], "net_")
    np.testing.assert_array_equal(again.fit(X).predict(X), fitted.predict(X))
    back = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(back.predict(X), fitted.predict(X))
    assert back.score(X) == fitted.score(X)
    dae = DenoisingAE(noise=gaussian(level=0.3))
    cloned = clone(dae)
    assert cloned.noise is not dae.noise and cloned.get_params()["noise__level"] == 0.3


def test_a_fitted_denoising_pipeline_adds_no_noise_at_inference(digits, tmp_path):
    # The augmenter corrupts in training only: a saved denoising pipeline
    # given real noisy data denoises it, as the denoiser alone does.
    X = digits[0][:300]
    pipe = Pipeline([("noise", gaussian(random_state=0)), ("dae", DenoisingAE(4, **FAST))])
    pipe.fit(X)
    noisy = add_noise(X[:50], "gaussian", 0.4, clip=(0, 1), random_state=7)
    dae = pipe["dae"]
    np.testing.assert_array_equal(pipe.predict(noisy), dae.denoise(noisy))
    np.testing.assert_array_equal(pipe.transform(noisy), dae.transform(noisy))
    np.testing.assert_array_equal(pipe.score_samples(noisy), dae.score_samples(noisy))
    assert pipe.score(X) == dae.score(X)  # clean data, corrupted by the learned recipe
    skae.save(pipe, tmp_path / "pipe.skae")
    loaded = skae.load(tmp_path / "pipe.skae")
    np.testing.assert_array_equal(loaded.predict(noisy), dae.denoise(noisy))
    # the augmenter itself: transform passes through, corrupt and fit_transform corrupt
    augmenter = pipe["noise"]
    np.testing.assert_array_equal(augmenter.transform(noisy), noisy)
    assert type(augmenter.transform(noisy)) is np.ndarray
    np.testing.assert_array_equal(augmenter.corrupt(X), clone(augmenter).fit_transform(X))


# a short fit: only the scoring path is under test
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Model", [VAE, CVAE])
def test_a_vae_after_an_augmenter_is_scored_on_denoising(digits, Model):
    X, y = digits[0][:300], digits[1][:300]
    params = {"n_components": 4, "hidden_layer_sizes": (32,), "max_epochs": 5, "random_state": 0}
    pipe = Pipeline([("noise", gaussian(random_state=0)), ("vae", Model(**params))]).fit(X, y)
    vae = pipe["vae"]
    assert vae.noise_ == NoiseRecipe("gaussian", 0.4, (0, 1))
    judged = add_noise(X, "gaussian", 0.4, clip=(0, 1), random_state=SCORE_SEED)
    carried = NoisyArray(judged, X, vae.noise_)  # the same corruption, carried
    assert pipe.score(X) == pytest.approx(vae.score(carried), rel=1e-9)
    assert pipe.score(X) != np.mean(vae.score_samples(X))  # not the clean data's ELBO


def test_cv_splitting_a_noisy_array_slices_the_clean_source(digits):
    X = digits[0][:240]
    noisy = gaussian(random_state=0).fit_transform(X)
    ae = AutoEncoder(4, **FAST)
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(ae, noisy, cv=cv)
    for score, (train, test) in zip(scores, cv.split(X), strict=True):
        fold = clone(ae).fit(noisy[train])
        denoised = fold.reconstruct(noisy[test].view(np.ndarray))
        assert score == pytest.approx(-np.mean(np.square(denoised - X[test])), rel=1e-6)


def test_set_output_pandas(digits):
    X = pd.DataFrame(digits[0][:300], columns=[f"px{i}" for i in range(64)])
    steps = [("noise", gaussian(random_state=0)), ("dae", DenoisingAE(4, **FAST))]
    pipe = Pipeline(steps).set_output(transform="pandas").fit(X)
    plain = clone(Pipeline(steps)).fit(X.to_numpy())
    out = pipe["noise"].corrupt(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(X.columns)
    passed = pipe["noise"].transform(X)  # inference: unchanged, as a frame
    pd.testing.assert_frame_equal(passed, X)
    _, clean, recipe = split_noisy(out)
    pd.testing.assert_frame_equal(clean, X)
    assert recipe == NoiseRecipe("gaussian", 0.4, (0, 1))
    # trained noisy -> clean exactly as with NumPy containers
    np.testing.assert_allclose(pipe["dae"].loss_curve_, plain["dae"].loss_curve_, rtol=1e-6)
    assert list(pipe["dae"].feature_names_in_) == list(X.columns)
    assert pipe.score(X) == pytest.approx(plain.score(X.to_numpy()), rel=1e-5)
    assert isinstance(pipe.transform(X), pd.DataFrame)
    # a frame cut from the output finds its clean rows by index
    part = out.iloc[[5, 2, 9]]
    pd.testing.assert_frame_equal(split_noisy(part)[1], X.iloc[[5, 2, 9]])
    both = pd.concat([out, pipe["noise"].corrupt(X)], axis=1)
    assert both.shape == (300, 128)


# ----------------------------------------------------------------------------
# A transformer between the augmenter and the autoencoder
# ----------------------------------------------------------------------------
LOST = "noisy -> noisy"


def _lost_warnings(record):
    return [w for w in record if LOST in str(w.message)]


@pytest.mark.parametrize("Model", [AutoEncoder, DenoisingAE])
def test_a_step_between_augmenter_and_model_is_warned_about(digits, Model, recwarn):
    from sklearn.preprocessing import MinMaxScaler

    X = digits[0][:200]
    model = Model(4, hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    pipe = Pipeline([("noise", gaussian(random_state=0)), ("scale", MinMaxScaler()), ("m", model)])
    with pytest.warns(UserWarning, match=r"step 'noise', but the step\(s\) 'scale' between") as w:
        pipe.fit(X)
    assert any("directly before the autoencoder" in str(x.message) for x in w)
    # a clone, and every fit of a grid search, is warned about as well
    with pytest.warns(UserWarning, match=LOST):
        clone(pipe).fit(X)
    recwarn.clear()
    GridSearchCV(pipe, {"m__lr": [1e-3]}, cv=2).fit(X)
    assert len(_lost_warnings(recwarn)) == 3  # two folds and the refit
    # nested: the inner Pipeline's last step is the model
    recwarn.clear()
    inner = Pipeline([("m", clone(model))])
    Pipeline([("noise", gaussian(random_state=0)), ("scale", MinMaxScaler()), ("in", inner)]).fit(X)
    assert len(_lost_warnings(recwarn)) == 1


def test_no_warning_where_the_clean_source_arrives(digits, recwarn):
    from sklearn.preprocessing import MinMaxScaler

    X = digits[0][:200]
    model = AutoEncoder(4, hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    for steps in (
        [("scale", MinMaxScaler()), ("noise", gaussian(random_state=0)), ("m", model)],
        [("noise", gaussian(random_state=0)), ("skip", "passthrough"), ("m", model)],
        [("noise", gaussian(random_state=0)), ("ae", clone(model)), ("m", model)],
        [("scale", MinMaxScaler()), ("m", model)],
    ):
        Pipeline(steps).fit(X)
    # outside a Pipeline nothing is looked up: noisy data given on purpose
    AutoEncoder(4, hidden_layer_sizes=(16,), max_epochs=1).fit(gaussian().fit_transform(X) * 1.0)
    assert _lost_warnings(recwarn) == []


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_and_pepper"])
def test_the_pipeline_form_trains_the_same_denoiser(digits, kind):
    # the same recipe, placed before the denoiser or given to it, gives the
    # same training noise, so the same model (measured on 4,000 real MNIST
    # digits at Gaussian noise 0.4: 19.05 dB both, 18.00 dB for the
    # pipeline with unclipped noise, the former default)
    X = digits[0][:300]
    alone = DenoisingAE(4, noise=kind, noise_level=0.3, **FAST).fit(X)
    pipe = Pipeline(
        [
            ("noise", NoiseAugmenter(kind, level=0.3, random_state=0)),
            ("dae", DenoisingAE(4, **FAST)),
        ]
    ).fit(X)
    assert pipe["dae"].noise_ == alone.noise_
    np.testing.assert_array_equal(pipe["dae"].transform(X), alone.transform(X))
