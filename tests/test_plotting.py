"""The displays draw what the estimator returned."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline, make_pipeline
from threadpoolctl import threadpool_limits

from skae import AutoEncoder, AutoEncoderOutlierDetector, NoiseAugmenter
from skae.plotting import (
    FeatureErrorDisplay,
    ImageErrorDisplay,
    LatentGridDisplay,
    LatentSpaceDisplay,
    LossCurveDisplay,
    ReconstructionDisplay,
    SamplesDisplay,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def ae2(digits):
    X, _ = digits
    return AutoEncoder(n_components=2, max_epochs=3, validation_fraction=0.2, random_state=0).fit(
        X[:400]
    )


def _shown(image):
    return np.asarray(image.get_array())


def test_loss_curve_lines_equal_curves(ae2):
    display = LossCurveDisplay.from_estimator(ae2)
    np.testing.assert_allclose(display.line_.get_ydata(), ae2.loss_curve_)
    np.testing.assert_allclose(display.validation_line_.get_ydata(), ae2.validation_loss_curve_)
    np.testing.assert_array_equal(display.line_.get_xdata(), [1, 2, 3])
    assert [t.get_text() for t in display.ax_.get_legend().get_texts()] == [
        "training",
        "validation",
    ]
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_title() == "AutoEncoder"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_loss_curve_without_validation_and_given_ax(digits):
    X, _ = digits
    ae = AutoEncoder(max_epochs=2, random_state=0).fit(X[:100])
    _, ax = plt.subplots()
    display = LossCurveDisplay.from_estimator(make_pipeline(ae), ax=ax, log_scale=True)
    assert display.ax_ is ax
    assert display.validation_line_ is None
    assert len(ax.lines) == 1
    assert ax.get_yscale() == "log"


def test_reconstruction_shows_estimator_output(ae2, digits):
    X, _ = digits
    display = ReconstructionDisplay.from_estimator(ae2, X, n_images=6)
    assert display.ax_.shape == (2, 6)
    assert len(display.figure_.axes) == 12
    expected = ae2.reconstruct(X[:6])
    for j in range(6):
        np.testing.assert_allclose(_shown(display.images_[0, j]), X[j].reshape(8, 8))
        np.testing.assert_allclose(_shown(display.images_[1, j]), expected[j].reshape(8, 8))
    assert display.ax_[0, 0].get_ylabel() == "original"
    assert display.ax_[1, 0].get_ylabel() == "reconstructed"


def test_reconstruction_with_noisy_row_and_pipeline(digits):
    X, _ = digits
    rng = np.random.RandomState(0)
    X_noisy = np.clip(X[:300] + rng.normal(0, 0.2, X[:300].shape), 0, 1)
    pipe = make_pipeline(PCA(n_components=10, random_state=0)).fit(X[:300])
    display = ReconstructionDisplay.from_estimator(pipe, X[:300], X_noisy=X_noisy, n_images=4)
    assert display.ax_.shape == (3, 4)
    np.testing.assert_allclose(_shown(display.images_[1, 2]), X_noisy[2].reshape(8, 8))
    denoised = pipe.inverse_transform(pipe.transform(X_noisy[:4]))
    np.testing.assert_allclose(_shown(display.images_[2, 3]), denoised[3].reshape(8, 8))
    assert display.ax_[2, 0].get_ylabel() == "denoised"


def test_reconstruction_of_a_noise_pipeline(digits):
    # A NoiseAugmenter -> autoencoder Pipeline has no inverse_transform; the
    # display shows the pipeline's own noisy input and the autoencoder's output.
    X, _ = digits
    augmenter = NoiseAugmenter("gaussian", level=0.3, clip=(0, 1), random_state=0)
    pipe = Pipeline([("noise", augmenter), ("ae", AutoEncoder(max_epochs=2, random_state=0))])
    pipe.fit(X[:200])
    display = ReconstructionDisplay.from_estimator(pipe, X, n_images=4)
    assert display.ax_.shape == (3, 4)
    noisy = np.asarray(augmenter.corrupt(X[:4]))
    assert not np.allclose(noisy, X[:4])
    denoised = pipe["ae"].reconstruct(noisy)
    for j in range(4):
        np.testing.assert_allclose(_shown(display.images_[0, j]), X[j].reshape(8, 8))
        np.testing.assert_allclose(_shown(display.images_[1, j]), noisy[j].reshape(8, 8))
        np.testing.assert_allclose(_shown(display.images_[2, j]), denoised[j].reshape(8, 8))
    with pytest.raises(ValueError, match="corrupted twice"):
        ReconstructionDisplay.from_estimator(pipe, X, X_noisy=noisy, n_images=4)


def test_reconstruction_rgb_channels_first_and_ax_area():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(3, 3 * 4 * 5))  # (C, H, W) = (3, 4, 5), not square
    _, ax = plt.subplots()
    display = ReconstructionDisplay.from_predictions(X, X[::-1], image_shape=(3, 4, 5), ax=ax)
    assert display.ax_.shape == (2, 3)
    shown = _shown(display.images_[0, 1])
    assert shown.shape == (4, 5, 3)
    np.testing.assert_allclose(shown, np.moveaxis(X[1].reshape(3, 4, 5), 0, -1))
    assert not ax.axison  # the given axes became the area of the grid


def test_image_shape_taken_from_estimator():
    class Fake:
        image_shape = (2, 6)

        def reconstruct(self, X):
            return X * 0.5

    X = np.arange(24, dtype=float).reshape(2, 12) / 24
    display = ReconstructionDisplay.from_estimator(Fake(), X)
    np.testing.assert_allclose(_shown(display.images_[1, 1]), (X[1] * 0.5).reshape(2, 6))


def test_image_shape_errors():
    X = np.zeros((2, 10))
    with pytest.raises(ValueError, match="image_shape"):
        ReconstructionDisplay(X, X).plot()
    with pytest.raises(ValueError, match="does not hold 10 features"):
        ReconstructionDisplay(X, X, image_shape=(3, 3)).plot()


def test_latent_space_legend_and_points(ae2, digits):
    X, y = digits
    display = LatentSpaceDisplay.from_estimator(ae2, X[:200], y[:200])
    codes = ae2.transform(X[:200])
    assert [t.get_text() for t in display.legend_.get_texts()] == [str(k) for k in range(10)]
    assert len(display.scatters_) == 10
    for k, scatter in enumerate(display.scatters_):
        np.testing.assert_allclose(scatter.get_offsets(), codes[y[:200] == k], rtol=1e-6)
    assert display.ax_.get_xlabel() == "code 1"


@pytest.mark.parametrize("projection", ["pca", "tsne"])
def test_latent_space_projects_wide_codes(projection, digits):
    X, y = digits
    pca = PCA(n_components=5, random_state=0).fit(X)
    with threadpool_limits(limits=1):
        display = LatentSpaceDisplay.from_estimator(
            pca, X[:60], y[:60], projection=projection, random_state=0
        )
    total = sum(len(s.get_offsets()) for s in display.scatters_)
    assert total == 60
    assert display.projection == projection
    assert display.ax_.get_xlabel() == {"pca": "PCA 1", "tsne": "t-SNE 1"}[projection]


def test_latent_space_without_labels_and_errors(ae2, digits):
    X, _ = digits
    display = LatentSpaceDisplay.from_estimator(ae2, X[:50])
    assert len(display.scatters_) == 1 and display.legend_ is None
    with pytest.raises(ValueError, match="projection must be"):
        LatentSpaceDisplay.from_estimator(ae2, X[:50], projection="umap")
    one_d = PCA(n_components=1).fit(X)
    with pytest.raises(ValueError, match="at least 2 components"):
        LatentSpaceDisplay.from_estimator(one_d, X[:50])


def test_latent_grid_decodes_through_inverse_transform(ae2, digits):
    X, _ = digits
    display = LatentGridDisplay.from_estimator(ae2, X[:400], n_per_side=4)
    assert display.mosaic_.shape == (4 * 9 - 1, 4 * 9 - 1)  # 8x8 tiles, 1 pixel apart
    shown = np.ma.filled(_shown(display.image_), np.nan)
    np.testing.assert_array_equal(shown, display.mosaic_)
    assert np.isnan(display.mosaic_[8, :]).all() and np.isnan(display.mosaic_[:, 17]).all()
    # tile (row 1, col 2) is the decoding of (grid_x[2], grid_y[1])
    code = np.array([[display.grid_x[2], display.grid_y[1]]])
    tile = ae2.inverse_transform(code).reshape(8, 8)
    np.testing.assert_allclose(display.mosaic_[9:17, 18:26], tile, rtol=1e-5, atol=1e-6)
    unpadded = LatentGridDisplay(display.images, display.grid_x, display.grid_y).plot(padding=0)
    np.testing.assert_array_equal(unpadded.mosaic_[8:16, 16:24], display.mosaic_[9:17, 18:26])
    assert display.grid_y[0] > display.grid_y[-1]  # top row = highest code 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_latent_grid_prior_extent_and_wrong_width(ae2, digits):
    X, _ = digits
    display = LatentGridDisplay.from_estimator(ae2, n_per_side=3)
    np.testing.assert_allclose(display.grid_x, [-1.6449, 0, 1.6449], atol=1e-4)
    display = LatentGridDisplay.from_estimator(ae2, extent=(0, 1, 0, 2), n_per_side=3)
    np.testing.assert_allclose(display.grid_y, [2, 1, 0])
    wide = AutoEncoder(n_components=3, max_epochs=1, random_state=0).fit(X[:50])
    with pytest.raises(ValueError, match="n_components=2"):
        LatentGridDisplay.from_estimator(wide, X[:50])


def test_samples_display_calls_sample():
    class Generator:
        def sample(self, n_samples, random_state=None, y=None):
            rng = np.random.RandomState(random_state)
            return rng.uniform(size=(n_samples, 16)) * (1 if y is None else 0.5)

    display = SamplesDisplay.from_estimator(Generator(), 5, random_state=0, y=3)
    expected = Generator().sample(5, random_state=0, y=3)
    assert display.ax_.shape == (2, 3)
    shown = [im for im in display.images_.ravel() if im is not None]
    assert len(shown) == 5
    for image, flat in zip(shown, expected, strict=True):
        np.testing.assert_allclose(_shown(image), flat.reshape(4, 4))


def test_samples_display_needs_sample(digits):
    with pytest.raises(TypeError, match="no sample method"):
        SamplesDisplay.from_estimator(PCA(2).fit(digits[0]), 4)


def test_samples_display_shows_the_estimators_samples(ae2):
    display = SamplesDisplay.from_estimator(ae2, 6, random_state=3, n_cols=3)
    expected = ae2.sample(6, random_state=3)
    shown = [ax.get_images()[0].get_array() for ax in display.ax_.ravel()]
    assert len(shown) == 6
    for image, sample in zip(shown, expected):
        np.testing.assert_allclose(np.asarray(image), sample.reshape(8, 8), rtol=1e-6)


def test_given_axes_array_is_used():
    X = np.random.RandomState(0).uniform(size=(4, 9))
    _, axes = plt.subplots(2, 2)
    display = SamplesDisplay(X, n_cols=2).plot(ax=axes)
    assert display.ax_[1, 1] is axes[1, 1]
    with pytest.raises(ValueError, match="holds 3 axes but the display needs 1 x 4"):
        SamplesDisplay(X, n_cols=4).plot(ax=np.array([axes[0, 0], axes[0, 1], axes[1, 0]]))


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 4),
    channels=st.sampled_from([None, 1, 3]),
    height=st.integers(1, 6),
    width=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_each_image_shows_its_own_pixels(n, channels, height, width, seed):
    shape = (height, width) if channels is None else (channels, height, width)
    X = np.random.RandomState(seed).uniform(size=(n, int(np.prod(shape))))
    display = SamplesDisplay(X, image_shape=shape, n_cols=n).plot()
    try:
        for image, flat in zip(display.images_[0], X, strict=True):
            expected = flat.reshape(shape)
            if channels is not None:
                expected = np.moveaxis(expected, 0, -1)
                if channels == 1:
                    expected = expected[..., 0]
            np.testing.assert_allclose(_shown(image), expected)
    finally:
        plt.close(display.figure_)


# ----------------------------------------------------------------------
# Per-feature error displays
# ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def ae8(digits):
    X, _ = digits
    return AutoEncoder(n_components=8, max_epochs=3, random_state=0).fit(X[:300])


def test_image_error_display_shows_input_reconstruction_and_feature_errors(ae8, digits):
    X, _ = digits
    display = ImageErrorDisplay.from_estimator(ae8, X[:50], rows=[3, 0])
    assert display.ax_.shape == display.images_.shape == (2, 3)
    errors = ae8.feature_errors(X[[3, 0]])
    rec = ae8.reconstruct(X[[3, 0]])
    for i in range(2):
        np.testing.assert_allclose(_shown(display.images_[i, 0]), X[[3, 0]][i].reshape(8, 8))
        np.testing.assert_allclose(_shown(display.images_[i, 1]), rec[i].reshape(8, 8), rtol=1e-6)
        np.testing.assert_allclose(_shown(display.images_[i, 2]), errors[i].reshape(8, 8))
    # the error maps share one scale from zero to the largest error, with its colour bar
    assert display.images_[0, 2].get_clim() == display.images_[1, 2].get_clim()
    assert display.images_[0, 2].get_clim() == pytest.approx((0.0, errors.max()))
    assert display.colorbar_.mappable is display.images_[0, 2]
    assert [a.get_ylabel() for a in display.ax_[:, 0]] == ["row 3", "row 0"]
    assert [a.get_title() for a in display.ax_[0]] == ["input", "reconstructed", "error"]


def test_error_displays_default_to_the_rows_of_largest_error(ae8, digits):
    X, _ = digits
    X = X[:40].copy()
    X[7] = 1.0 - X[7]  # an inverted digit reconstructs worst
    order = np.argsort(-ae8.feature_errors(X).mean(axis=1))
    assert order[0] == 7
    display = ImageErrorDisplay.from_estimator(ae8, X, n_rows=3)
    assert [a.get_ylabel() for a in display.ax_[:, 0]] == [f"row {i}" for i in order[:3]]
    bars = FeatureErrorDisplay.from_estimator(ae8, X, n_rows=2)
    assert [a.get_title() for a in bars.ax_] == [f"row {i}" for i in order[:2]]


def test_image_error_display_of_a_detector_is_in_the_units_of_x(digits):
    X, _ = digits
    detector = AutoEncoderOutlierDetector(
        AutoEncoder(max_epochs=3, random_state=0), error="squared", code_distance=False
    ).fit(X[:300])
    display = ImageErrorDisplay.from_estimator(detector, X[300:320], rows=[0])
    errors = detector.feature_errors(X[300:301])
    # the detector's errors: those of the standardised input, whose row mean it scores
    # (with the code distance off; with it, the row mean is the score's error part)
    np.testing.assert_allclose(_shown(display.images_[0, 2]), errors.reshape(8, 8))
    np.testing.assert_allclose(errors.mean(axis=1), -detector.score_samples(X[300:301]))
    scaler = detector.scaler_
    rec = scaler.inverse_transform(detector.estimator_.reconstruct(scaler.transform(X[300:301])))
    np.testing.assert_allclose(_shown(display.images_[0, 1]), rec.reshape(8, 8), rtol=1e-6)


def test_feature_error_display_finds_the_corrupted_columns():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((600, 2))
    X = latent @ rng.standard_normal((2, 8)) + 0.05 * rng.standard_normal((600, 8))
    columns = [f"col_{c}" for c in "abcdefgh"]
    frame = pd.DataFrame(X, columns=columns)
    detector = AutoEncoderOutlierDetector(
        AutoEncoder(n_components=2, max_epochs=60, random_state=0), error="squared"
    ).fit(frame.iloc[:500])
    test = frame.iloc[500:540].copy()
    # two columns of each row shifted by 6 standard deviations
    picks = np.random.default_rng(1)
    corrupted = {row: list(picks.choice(columns, 2, replace=False)) for row in range(len(test))}
    for row, cols in corrupted.items():
        test.iloc[row, [columns.index(c) for c in cols]] += 6 * X.std(axis=0)[0]
    display = FeatureErrorDisplay.from_estimator(detector, test, rows=list(corrupted), n_features=4)
    # an error spreads over the columns a projection mixes, so a shifted
    # column is not always in its row's top two; most are (0.90 measured)
    found = [
        len(set(display.top_features_[row][:2]) & set(cols)) for row, cols in corrupted.items()
    ]
    assert np.mean(found) / 2 >= 0.75
    errors = detector.feature_errors(test).to_numpy()
    # bars: largest on top, lengths equal to the errors
    widths = [p.get_width() for p in display.bars_[0]]
    np.testing.assert_allclose(widths[::-1], np.sort(errors[0])[::-1][:4])
    assert [t.get_text() for t in display.ax_[0].get_yticklabels()][::-1] == (
        display.top_features_[0]
    )


def test_feature_error_display_from_arrays_and_one_axes():
    errors = np.array([[0.1, 2.0, 0.3], [1.0, 0.0, 0.5]])
    display = FeatureErrorDisplay(errors, n_features=5).plot()
    assert display.top_features_ == [["x1", "x2", "x0"], ["x0", "x2", "x1"]]
    fig, ax = plt.subplots()
    display = FeatureErrorDisplay(errors, feature_names=["a", "b", "c"], n_features=1).plot(ax=ax)
    assert display.figure_ is fig and display.ax_.shape == (2,)
    assert display.top_features_ == [["b"], ["a"]]


def test_error_displays_reject_bad_input(ae8, digits):
    X, _ = digits
    with pytest.raises(TypeError, match="no feature_errors method"):
        FeatureErrorDisplay.from_estimator(PCA(2).fit(X), X)
    with pytest.raises(ValueError, match="outside the 10 rows"):
        ImageErrorDisplay.from_estimator(ae8, X[:10], rows=[10])
    with pytest.raises(ValueError, match="non-empty list of row positions"):
        FeatureErrorDisplay.from_estimator(ae8, X[:10], rows=[])
    with pytest.raises(ValueError, match="NaN or inf"):
        FeatureErrorDisplay(np.array([[np.nan, 1.0]])).plot()
    with pytest.raises(ValueError, match="2 names for 3 features"):
        FeatureErrorDisplay(np.ones((1, 3)), feature_names=["a", "b"]).plot()
    with pytest.raises(ValueError, match="n_features must be a positive int"):
        FeatureErrorDisplay(np.ones((1, 3)), n_features=0).plot()
    with pytest.raises(ValueError, match="one error per pixel"):
        ImageErrorDisplay(X[:2], X[:2], np.ones((2, 3))).plot()
