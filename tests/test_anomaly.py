"""AutoEncoderOutlierDetector: detector conventions, thresholds, errors, separation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, clone
from sklearn.covariance import LedoitWolf
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skae import (
    VAE,
    AutoEncoder,
    AutoEncoderOutlierDetector,
    ConvAE,
    DenoisingAE,
    ModuleAE,
    SeqAE,
    SparseAE,
    TabularAE,
)
from skae._anomaly import AUTO_MAD_FACTOR, MAD_TO_SIGMA


def small_ae(**params):
    return AutoEncoder(
        **{
            "n_components": 4,
            "hidden_layer_sizes": (32,),
            "max_epochs": 20,
            "random_state": 0,
            **params,
        }
    )


def _code_distance(detector, X):
    """Squared Mahalanobis distance of the codes of ``X`` from the detector's training codes."""
    codes = detector.estimator_.transform(detector._standardized(X))
    centred = codes - detector.code_mean_
    return np.sum((centred @ detector.code_precision_) * centred, axis=1)


@pytest.fixture(scope="module")
def zeros(digits):
    """Digit 0 as normal data: 120 for training, the rest held out; other digits."""
    X, y = digits
    normal = X[y == 0]
    return normal[:120], normal[120:], X[y != 0][:300]


@pytest.fixture(scope="module")
def fitted(zeros):
    X_train, _, _ = zeros
    return AutoEncoderOutlierDetector(small_ae(), contamination=0.1).fit(X_train)


def test_detector_conventions(fitted, zeros):
    X_train, held_out, others = zeros
    X = np.vstack([held_out, others])
    scores = fitted.score_samples(X)
    decision = fitted.decision_function(X)
    labels = fitted.predict(X)
    assert scores.shape == decision.shape == labels.shape == (len(X),)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(decision, scores - fitted.offset_)
    np.testing.assert_array_equal(labels, np.where(decision >= 0, 1, -1))
    assert set(np.unique(labels)) == {-1, 1}
    assert isinstance(fitted.estimator_, AutoEncoder)
    assert fitted.n_features_in_ == 64
    # fit_predict (outlier detection) is fit followed by predict on the same data
    with pytest.raises(AttributeError, match="fit_predict") as refused:
        clone(fitted).fit_predict(X_train)
    assert "set novelty=False" in str(refused.value.__cause__)  # the reason, and the fix
    assert not hasattr(fitted, "fit_predict")
    detector = clone(fitted).set_params(novelty=False)
    np.testing.assert_array_equal(
        detector.fit_predict(X_train), clone(detector).fit(X_train).predict(X_train)
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_is_cloned_not_fitted(zeros):
    ae = small_ae(max_epochs=2)
    detector = AutoEncoderOutlierDetector(ae).fit(zeros[0])
    assert detector.estimator_ is not ae
    assert not hasattr(ae, "net_")


def test_default_estimator_is_an_autoencoder():
    X = np.random.default_rng(0).normal(size=(40, 5))
    detector = AutoEncoderOutlierDetector().fit(X)
    assert type(detector.estimator_) is AutoEncoder
    assert detector.estimator_.get_params() == AutoEncoder().get_params()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("contamination", [0.01, 0.05, 0.1, 0.25, 0.5])
def test_contamination_is_the_outlier_fraction_of_the_held_out_scores(zeros, contamination):
    X_train = zeros[0]
    detector = AutoEncoderOutlierDetector(small_ae(max_epochs=3), contamination=contamination)
    detector.fit(X_train)
    calibration = detector.calibration_scores_
    n = len(calibration)
    assert n == round(0.2 * len(X_train))
    # the k-th smallest calibration score, k / (n + 1) nearest to contamination
    k = min(max(1, round(contamination * (n + 1))), n)
    assert detector.offset_ == calibration[k - 1]
    assert (
        abs(k / (n + 1) - contamination) <= max(0.5 / (n + 1), 1 / (n + 1) - contamination) + 1e-12
    )
    # without calibration rows the threshold is set on the training scores
    detector.set_params(novelty=False)
    labels = detector.fit_predict(X_train)
    assert abs(np.mean(labels == -1) - contamination) <= 1.0 / len(X_train)


class _FirstColumn(BaseEstimator):
    """A stand-in model whose score is the first feature."""

    def fit(self, X, y=None):
        return self

    def score_samples(self, X):
        return X[:, 0]


@settings(max_examples=50, deadline=None)
@given(
    contamination=st.floats(0.01, 0.5),
    n_samples=st.integers(20, 200),
    seed=st.integers(0, 2**16),
)
def test_contamination_fraction_property(contamination, n_samples, seed):
    # The threshold does not depend on the model; a stand-in makes this quick.
    X = np.random.default_rng(seed).normal(size=(n_samples, 3))
    detector = AutoEncoderOutlierDetector(_FirstColumn(), contamination=contamination)
    detector.fit(X)
    n = len(detector.calibration_scores_)
    assert n == round(0.2 * n_samples)
    # k - 1 calibration scores lie strictly below the k-th (continuous scores)
    k = min(max(1, round(contamination * (n + 1))), n)
    assert np.sum(detector.calibration_scores_ < detector.offset_) == k - 1
    # outlier detection: that fraction of the training rows
    detector.set_params(novelty=False)
    flagged = np.sum(detector.fit_predict(X) == -1)
    expected = contamination * (n_samples - 1)  # np.percentile's linear interpolation
    assert np.floor(expected) <= flagged <= np.ceil(expected)


def test_auto_contamination_is_a_robust_three_sigma_rule(zeros):
    X_train, held_out, others = zeros
    detector = AutoEncoderOutlierDetector(small_ae()).fit(X_train)
    scores = detector.calibration_scores_
    median = np.median(scores)
    mad = np.median(np.abs(scores - median))
    assert AUTO_MAD_FACTOR == 3.0 and MAD_TO_SIGMA == pytest.approx(1.4826)
    assert detector.offset_ == pytest.approx(median - 3.0 * 1.4826 * mad)
    # few held-out zeros are flagged, nearly every other digit is
    assert np.mean(detector.predict(held_out) == -1) < 0.15
    assert np.mean(detector.predict(others) == -1) > 0.9


def test_auto_contamination_on_gaussian_scores():
    # Standard normal scores: 3 sigma below the median leaves 0.135 % in the tail.
    scores = np.random.default_rng(0).normal(size=(20000, 1))
    labels = AutoEncoderOutlierDetector(_FirstColumn(), novelty=False).fit_predict(scores)
    assert 0.0005 < np.mean(labels == -1) < 0.003


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_errors_squared_absolute_and_model(zeros):
    X_train, held_out, _ = zeros
    plain = dict(standardize=False, code_distance=False)  # the error alone
    model = AutoEncoderOutlierDetector(small_ae(max_epochs=3), **plain).fit(X_train)
    squared = AutoEncoderOutlierDetector(small_ae(max_epochs=3), error="squared", **plain).fit(
        X_train
    )
    absolute = AutoEncoderOutlierDetector(small_ae(max_epochs=3), error="absolute", **plain).fit(
        X_train
    )
    rec = squared.estimator_.reconstruct(held_out)
    # "model" defers to the autoencoder's score_samples: the negative MSE
    np.testing.assert_allclose(
        model.score_samples(held_out), model.estimator_.score_samples(held_out)
    )
    np.testing.assert_allclose(
        squared.score_samples(held_out), -np.mean((held_out - rec) ** 2, axis=1), rtol=1e-6
    )
    np.testing.assert_allclose(
        absolute.score_samples(held_out), -np.mean(np.abs(held_out - rec), axis=1), rtol=1e-6
    )
    np.testing.assert_allclose(model.score_samples(held_out), squared.score_samples(held_out))


class _ModelScoredAE(AutoEncoder):
    """An autoencoder whose score_samples is its own (as a VAE's ELBO is)."""

    def score_samples(self, X):
        return -np.sum(self.transform(X) ** 2, axis=1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_model_error_defers_to_the_estimators_own_score(zeros):
    X_train, held_out, _ = zeros
    est = _ModelScoredAE(**small_ae(max_epochs=3).get_params())
    model = AutoEncoderOutlierDetector(est, standardize=False, code_distance=False).fit(X_train)
    np.testing.assert_allclose(
        model.score_samples(held_out), -np.sum(model.estimator_.transform(held_out) ** 2, axis=1)
    )
    squared = AutoEncoderOutlierDetector(
        est, error="squared", standardize=False, code_distance=False
    ).fit(X_train)
    np.testing.assert_allclose(
        squared.score_samples(held_out),
        AutoEncoder.score_samples(squared.estimator_, held_out),
        rtol=1e-6,
    )


class _SequenceAE(AutoEncoder):
    """Takes (n, T, F) arrays and flattens them, as a sequence model does."""

    def _reshape_input(self, X):
        X = np.asarray(X)
        return X.reshape(len(X), -1) if X.ndim == 3 else X


@pytest.mark.parametrize("standardize", [False, True])
def test_nd_input_reaches_the_estimator(standardize):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5, 3))
    detector = AutoEncoderOutlierDetector(
        _SequenceAE(n_components=2, max_epochs=3, random_state=0),
        error="absolute",
        standardize=standardize,
        code_distance=False,
    ).fit(X)
    scores = detector.score_samples(X)
    assert scores.shape == (60,)
    Xs = detector.scaler_.transform(X.reshape(60, -1)) if standardize else X.reshape(60, -1)
    rec = detector.estimator_.reconstruct(X.reshape(60, -1) if not standardize else Xs)
    np.testing.assert_allclose(scores, -np.mean(np.abs(Xs - rec), axis=1), rtol=1e-6)
    # the code distance counts the residual over every value of a row
    detector.set_params(code_distance="auto").fit(X)
    assert detector.code_distance_ and detector.residual_dof_ == 5 * 3 - 2
    assert np.all(np.isfinite(detector.score_samples(X)))


def test_standardize_is_a_scaler_in_front(zeros):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)) * [1, 10, 100, 0.1, 1, 5] + 50
    X_new = rng.normal(size=(20, 6)) * 10 + 50
    detector = AutoEncoderOutlierDetector(small_ae(max_epochs=5), novelty=False)
    detector.fit(X)
    scaler = StandardScaler().fit(X)
    plain = AutoEncoderOutlierDetector(small_ae(max_epochs=5), standardize=False, novelty=False)
    plain.fit(scaler.transform(X))
    np.testing.assert_allclose(detector.scaler_.mean_, scaler.mean_)
    np.testing.assert_allclose(
        detector.score_samples(X_new), plain.score_samples(scaler.transform(X_new)), rtol=1e-5
    )
    assert detector.offset_ == pytest.approx(plain.offset_)
    # refitting without standardisation drops the scaler
    detector.set_params(standardize=False).fit(X)
    assert not hasattr(detector, "scaler_")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_deterministic(zeros):
    X_train, held_out, _ = zeros
    a = AutoEncoderOutlierDetector(small_ae(max_epochs=5)).fit(X_train)
    b = AutoEncoderOutlierDetector(small_ae(max_epochs=5)).fit(X_train)
    np.testing.assert_array_equal(a.score_samples(held_out), b.score_samples(held_out))
    assert a.offset_ == b.offset_
    np.testing.assert_array_equal(a.score_samples(held_out), a.score_samples(held_out))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pandas_input(zeros):
    pd = pytest.importorskip("pandas")
    X_train, held_out, _ = zeros
    columns = [f"pixel{i}" for i in range(64)]
    df_train = pd.DataFrame(X_train, columns=columns)
    detector = AutoEncoderOutlierDetector(small_ae(max_epochs=3), standardize=True).fit(df_train)
    np.testing.assert_array_equal(detector.feature_names_in_, columns)
    from_df = detector.score_samples(pd.DataFrame(held_out, columns=columns))
    np.testing.assert_allclose(from_df, clone(detector).fit(X_train).score_samples(held_out))
    labels = detector.predict(pd.DataFrame(held_out, columns=columns))
    assert labels.shape == (len(held_out),)
    with pytest.raises(ValueError, match="feature names"):
        detector.predict(pd.DataFrame(held_out, columns=columns[::-1]))


def test_separates_digits(digits):
    """Each of three digits as the normal class against all the other digits."""
    X, y = digits
    rng = np.random.default_rng(0)
    aucs = []
    for digit in (0, 1, 7):
        normal = X[y == digit][rng.permutation(np.sum(y == digit))]
        train, held_out = normal[:120], normal[120:]
        others = X[y != digit]
        detector = AutoEncoderOutlierDetector(small_ae(max_epochs=20)).fit(train)
        scores = detector.score_samples(np.vstack([held_out, others]))
        is_outlier = np.r_[np.zeros(len(held_out)), np.ones(len(others))]
        aucs.append(roc_auc_score(is_outlier, -scores))
    # Measured ROC-AUC: 0.9995, 0.963, 0.994 (0.999, 0.83, 0.984 without
    # standardisation, at 30 epochs).
    assert min(aucs) > 0.93
    assert np.mean(aucs) > 0.96


@pytest.mark.parametrize(
    "params, match",
    [
        ({"contamination": 0.0}, "contamination"),
        ({"contamination": 0.6}, "contamination"),
        ({"contamination": "fraction"}, "contamination"),
        ({"error": "cosine"}, "error"),
        ({"standardize": "yes"}, "standardize"),
        ({"estimator": StandardScaler()}, "estimator"),
        ({"trim": 0.5}, "trim"),
        ({"trim": -0.1}, "trim"),
    ],
)
def test_invalid_parameters(zeros, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        AutoEncoderOutlierDetector(**params).fit(zeros[0])


def test_reconstruction_errors_need_reconstruct(zeros):
    detector = AutoEncoderOutlierDetector(GaussianMixture(), error="squared")
    with pytest.raises(ValueError, match="no reconstruct method; use error='model'"):
        detector.fit(zeros[0])


def test_inner_parameters_are_validated(zeros):
    with pytest.raises(InvalidParameterError, match="n_components"):
        AutoEncoderOutlierDetector(AutoEncoder(n_components=0)).fit(zeros[0])


def test_not_fitted_and_wrong_width(fitted, zeros):
    with pytest.raises(NotFittedError):
        AutoEncoderOutlierDetector(small_ae()).predict(zeros[1])
    with pytest.raises(ValueError, match="64 features"):
        fitted.score_samples(zeros[1][:, :10])


def test_labels_reach_a_conditional_autoencoder(digits):
    from skae import CVAE

    X, y = digits
    normal = y < 5
    detector = AutoEncoderOutlierDetector(
        CVAE(n_components=4, max_epochs=20, loss="bce", random_state=0), standardize=False
    ).fit(X[normal], y[normal])
    assert list(detector.estimator_.classes_) == [0, 1, 2, 3, 4]
    # without labels at scoring time the CVAE marginalises the class
    scores = detector.score_samples(X)
    assert scores.shape == (len(X),)
    with pytest.raises(ValueError, match="requires y"):
        AutoEncoderOutlierDetector(CVAE(max_epochs=1)).fit(X)
    assert not hasattr(AutoEncoderOutlierDetector(CVAE(max_epochs=1)), "scaler_")


def test_failed_fit_leaves_nothing_behind(digits):
    X, _ = digits
    from skae import AutoEncoder

    detector = AutoEncoderOutlierDetector(AutoEncoder(loss="bce", max_epochs=1))
    with pytest.raises(ValueError, match="loss='bce'"):
        detector.fit(X * 10)  # standardized data leave [0, 1]
    assert not hasattr(detector, "scaler_")
    assert not hasattr(detector, "n_features_in_")


# ----------------------------------------------------------------------
# Calibrated thresholds, conformal p-values, false discovery rate
# ----------------------------------------------------------------------
def _gaussian_detector(n=2000, seed=0, **params):
    X = np.random.default_rng(seed).normal(size=(n, 2))
    return AutoEncoderOutlierDetector(_FirstColumn(), standardize=False, **params).fit(X)


@pytest.mark.parametrize("contamination", [0.05, 0.1])
def test_new_normal_data_is_flagged_at_the_contamination(contamination):
    # scores exchangeable with the calibration scores (the stand-in model
    # does not learn its training rows): new rows are flagged at the rate asked
    detector = _gaussian_detector(n=20000, contamination=contamination)
    new = np.random.default_rng(1).normal(size=(20000, 2))
    # 4,000 calibration scores: the flagged fraction's spread is about 0.005
    assert abs(np.mean(detector.predict(new) == -1) - contamination) < 0.015


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_contamination_and_threshold_change_without_refitting(zeros):
    detector = AutoEncoderOutlierDetector(small_ae(max_epochs=3), contamination=0.05)
    detector.fit(zeros[0])
    model = detector.estimator_
    low = detector.offset_
    detector.set_params(contamination=0.25)
    assert detector.estimator_ is model
    assert detector.offset_ > low
    n = len(detector.calibration_scores_)
    assert detector.offset_ == detector.calibration_scores_[round(0.25 * (n + 1)) - 1]
    flagged = np.mean(detector.predict(zeros[1]) == -1)
    assert flagged >= np.mean(detector.set_params(contamination=0.05).predict(zeros[1]) == -1)


def test_pvalues_are_conformal():
    detector = _gaussian_detector(n=5000)
    calibration = detector.calibration_scores_
    new = np.random.default_rng(1).normal(size=(20000, 2))
    p = detector.pvalues(new)
    assert p.shape == (20000,) and np.all((p > 0) & (p <= 1))
    # (1 + #{calibration scores <= score}) / (n + 1), exactly
    np.testing.assert_array_equal(
        p, (1 + (calibration[None, :] <= new[:, :1]).sum(axis=1)) / (len(calibration) + 1)
    )
    # valid: P(p <= a) <= a over calibration sets; for this one set of 1,000
    # scores the fraction is within a few of its standard deviations of a
    for a in (0.01, 0.05, 0.1, 0.5):
        assert abs(np.mean(p <= a) - a) <= 3 * np.sqrt(a * (1 - a) / 1000) + 0.002


def _benjamini_hochberg(p, alpha):
    order = np.argsort(p)
    m = len(p)
    passed = [k for k in range(1, m + 1) if p[order[k - 1]] <= alpha * k / m]
    rejected = np.zeros(m, dtype=bool)
    if passed:
        rejected[order[: max(passed)]] = True
    return rejected


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_outliers=st.integers(0, 30),
    alpha=st.sampled_from([0.05, 0.1, 0.2]),
)
def test_fdr_threshold_flags_the_benjamini_hochberg_rejections(seed, n_outliers, alpha):
    detector = _gaussian_detector(n=300, seed=seed, threshold="fdr", alpha=alpha)
    rng = np.random.default_rng(seed + 1)
    X = np.vstack([rng.normal(size=(100, 2)), rng.normal(-4, 1, size=(n_outliers, 2))])
    decision = detector.decision_function(X)
    assert np.all(np.isfinite(decision))
    expected = _benjamini_hochberg(detector.pvalues(X), alpha)
    np.testing.assert_array_equal(detector.predict(X) == -1, expected)


def test_fdr_is_controlled_on_average():
    # the mean false discovery proportion over many batches stays below alpha
    detector = _gaussian_detector(n=1000, threshold="fdr", alpha=0.1)
    rng = np.random.default_rng(3)
    proportions = []
    for _ in range(200):
        X = np.vstack([rng.normal(size=(90, 2)), rng.normal(-3, 1, size=(10, 2))])
        flagged = detector.predict(X) == -1
        proportions.append(flagged[:90].sum() / max(flagged.sum(), 1))
    assert np.mean(proportions) <= 0.1 + 0.02


def test_calibration_needs_samples_on_both_sides():
    X = np.random.default_rng(0).normal(size=(3, 2))
    with pytest.raises(ValueError, match="calibration_fraction=0.1 holds out 0 of 3"):
        AutoEncoderOutlierDetector(_FirstColumn(), calibration_fraction=0.1).fit(X)


# ----------------------------------------------------------------------
# Which features made a sample unusual
# ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_ae(digits):
    X, _ = digits
    return AutoEncoder(16, max_epochs=50, random_state=0).fit(X[:1400]), X[1400:]


def test_feature_errors_add_up_to_the_score(digits_ae):
    ae, X = digits_ae
    errors = ae.feature_errors(X)
    assert errors.shape == X.shape and errors.dtype == np.float64
    assert np.all(errors >= 0)
    np.testing.assert_allclose(errors.mean(axis=1), -ae.score_samples(X), rtol=1e-12)
    np.testing.assert_allclose(errors, (ae.reconstruct(X) - X) ** 2, rtol=1e-6, atol=1e-12)


@pytest.mark.slow
def test_feature_errors_find_the_corrupted_features(digits_ae):
    # k pixels of each held-out digit flipped (x -> 1 - x): the k largest
    # errors recover most of them. Measured recall: 0.72, 0.65 and 0.61 for
    # k = 1, 3, 5 (chance: k / 64)
    ae, X = digits_ae
    rng = np.random.RandomState(0)
    k = 3
    corrupted, truth = X.copy(), np.zeros(X.shape, dtype=bool)
    for i in range(len(X)):
        columns = rng.choice(X.shape[1], k, replace=False)
        corrupted[i, columns] = 1 - corrupted[i, columns]
        truth[i, columns] = True
    top = np.argsort(-ae.feature_errors(corrupted), axis=1)[:, :k]
    recall = np.mean(np.take_along_axis(truth, top, axis=1))
    assert recall > 0.55


def test_feature_errors_are_a_frame_where_the_user_has_pandas(digits_ae):
    pd = pytest.importorskip("pandas")
    ae, X = digits_ae
    columns = [f"pixel{i}" for i in range(64)]
    named = clone(ae).set_params(max_epochs=2).fit(pd.DataFrame(X, columns=columns))
    errors = named.feature_errors(pd.DataFrame(X, columns=columns))
    assert list(errors.columns) == columns
    assert list(clone(ae).set_output(transform="pandas").fit(X).feature_errors(X).columns) == [
        f"x{i}" for i in range(64)
    ]
    assert isinstance(ae.feature_errors(X), np.ndarray)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_detector_feature_errors_are_those_of_its_scores(zeros):
    X_train, held_out, _ = zeros
    for error in ("squared", "absolute"):
        plain = AutoEncoderOutlierDetector(small_ae(max_epochs=3), error=error, code_distance=False)
        errors = plain.fit(X_train).feature_errors(held_out)
        assert errors.shape == held_out.shape
        np.testing.assert_allclose(errors.mean(axis=1), -plain.score_samples(held_out), rtol=1e-12)
        # with the code distance, the same mean is the error part of the score
        detector = AutoEncoderOutlierDetector(small_ae(max_epochs=3), error=error).fit(X_train)
        assert detector.code_distance_
        errors = detector.feature_errors(held_out)
        np.testing.assert_allclose(errors, plain.feature_errors(held_out), rtol=1e-12)
        distance = _code_distance(detector, held_out)
        np.testing.assert_allclose(
            distance + detector.residual_dof_ * errors.mean(axis=1) / detector.error_scale_,
            -detector.score_samples(held_out),
            rtol=1e-10,
        )
    with pytest.raises(TypeError, match="use a skae autoencoder"):
        AutoEncoderOutlierDetector(_FirstColumn()).fit(X_train).feature_errors(held_out)


def test_standardized_overflow_quotes_the_users_range():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 4))
    X[:, 1] *= 1e-20  # a column that barely varies in training
    detector = AutoEncoderOutlierDetector(AutoEncoder(max_epochs=1, random_state=0)).fit(X)
    before = detector.score_samples(X)
    X_new = X.copy()
    X_new[0, 1] = 1e20  # within float32, but 1e40 once standardised
    message = (
        r"column 1 \(range \[.*, 1e\+20\]\).*standard deviation .*e-2.*1.06e\+40.*standardize=False"
    )
    with pytest.raises(ValueError, match=message):
        detector.score_samples(X_new)
    np.testing.assert_array_equal(detector.score_samples(X), before)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_code_distance_is_probabilistic_pcas_statistic(zeros):
    X_train, held_out, _ = zeros
    detector = AutoEncoderOutlierDetector(small_ae(max_epochs=3), random_state=0).fit(X_train)
    assert detector.code_distance_  # "auto": a deterministic model with a narrow code
    train, calibration = detector._calibration_split(len(X_train))
    S = detector._standardized(X_train)
    codes = detector.estimator_.transform(S[train]).astype(np.float64)
    covariance = LedoitWolf().fit(codes)
    np.testing.assert_allclose(detector.code_mean_, covariance.location_)
    np.testing.assert_allclose(detector.code_precision_, covariance.get_precision())
    assert detector.residual_dof_ == X_train.shape[1] - 4
    error = -detector.estimator_.score_samples(S[calibration])
    np.testing.assert_allclose(detector.error_scale_, np.median(error), rtol=1e-12)
    # minus the score: D2 + dof * error / scale, for new rows and the calibration rows alike
    for X, scores in (
        (held_out, detector.score_samples(held_out)),
        (X_train[calibration], detector.calibration_scores_),
    ):
        error = -detector.estimator_.score_samples(detector._standardized(X))
        expected = _code_distance(detector, X) + detector.residual_dof_ * error / (
            detector.error_scale_
        )
        np.testing.assert_allclose(np.sort(-expected), np.sort(scores), rtol=1e-10)


def test_code_distance_catches_what_the_reconstruction_misses():
    # normal rows on a plane in 6-D; outliers on the same plane, far out along
    # it: a linear autoencoder with a 2-D code rebuilds both exactly
    rng = np.random.RandomState(0)
    basis = np.linalg.qr(rng.normal(size=(6, 2)))[0].T
    X_train = rng.normal(size=(300, 2)) @ basis + 0.01 * rng.normal(size=(300, 6))
    normal = rng.normal(size=(100, 2)) @ basis + 0.01 * rng.normal(size=(100, 6))
    angle = rng.uniform(0, 2 * np.pi, size=20)  # 6 standard deviations out, any direction
    far = 6 * np.c_[np.cos(angle), np.sin(angle)] @ basis + 0.01 * rng.normal(size=(20, 6))
    X_test, y_test = np.vstack([normal, far]), np.r_[np.zeros(100), np.ones(20)]
    linear = AutoEncoder(2, hidden_layer_sizes=(), max_epochs=60, random_state=0)
    auc = {}
    for code_distance in (False, True):
        detector = AutoEncoderOutlierDetector(linear, code_distance=code_distance).fit(X_train)
        auc[code_distance] = roc_auc_score(y_test, -detector.score_samples(X_test))
    assert auc[True] > 0.99
    assert auc[False] < 0.8, auc


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_code_distance_applies_where_it_has_a_meaning(zeros):
    X_train, _, _ = zeros
    vae = VAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=1, random_state=0)
    detector = AutoEncoderOutlierDetector(vae).fit(X_train)
    assert not detector.code_distance_  # the ELBO has its own code term
    assert not hasattr(detector, "code_mean_")
    with pytest.raises(ValueError, match="evidence lower bound.*code_distance='auto' or False"):
        AutoEncoderOutlierDetector(vae, code_distance=True).fit(X_train)
    wide = small_ae(n_components=X_train.shape[1], max_epochs=1)
    assert not AutoEncoderOutlierDetector(wide).fit(X_train).code_distance_
    with pytest.raises(ValueError, match="64 values for 64 features"):
        AutoEncoderOutlierDetector(wide, code_distance=True).fit(X_train)
    # a refit without it drops the statistics of the last fit
    detector = AutoEncoderOutlierDetector(small_ae(max_epochs=1)).fit(X_train)
    assert detector.code_distance_ and hasattr(detector, "code_precision_")
    detector.set_params(code_distance=False).fit(X_train)
    assert not detector.code_distance_
    assert not hasattr(detector, "code_precision_") and not hasattr(detector, "error_scale_")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_code_statistics_come_from_a_bounded_seeded_subset(zeros, monkeypatch):
    X_train, held_out, _ = zeros
    monkeypatch.setattr(AutoEncoderOutlierDetector, "_code_distance_rows", 50)
    first = AutoEncoderOutlierDetector(small_ae(max_epochs=2), random_state=0).fit(X_train)
    train, _ = first._calibration_split(len(X_train))
    rows = np.sort(np.random.RandomState(0).choice(len(train), 50, replace=False))
    S = first._standardized(X_train)[train][rows]
    covariance = LedoitWolf().fit(first.estimator_.transform(S).astype(np.float64))
    np.testing.assert_allclose(first.code_precision_, covariance.get_precision())
    again = AutoEncoderOutlierDetector(small_ae(max_epochs=2), random_state=0).fit(X_train)
    np.testing.assert_array_equal(first.score_samples(held_out), again.score_samples(held_out))


@pytest.fixture(scope="module")
def plane_detector():
    """A detector around a linear 2-D code of rows on a plane in 6-D."""
    rng = np.random.RandomState(0)
    basis = np.linalg.qr(rng.normal(size=(6, 2)))[0].T
    X = rng.normal(size=(300, 2)) @ basis + 0.05 * rng.normal(size=(300, 6))
    linear = AutoEncoder(2, hidden_layer_sizes=(), max_epochs=30, random_state=0)
    return AutoEncoderOutlierDetector(linear).fit(X), basis


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e3),
    along=st.floats(1.5, 20.0),
)
def test_code_distance_score_laws(plane_detector, seed, scale, along):
    detector, basis = plane_detector
    rng = np.random.default_rng(seed)
    X = scale * rng.normal(size=(20, 6))
    scores = detector.score_samples(X)
    # minus the score is a distance plus a weighted error: finite and never positive
    assert np.all(np.isfinite(scores)) and np.all(scores <= 0)
    # a row moved out along the plane, which the code rebuilds, scores lower
    row = rng.normal(size=(1, 2)) @ basis
    assert detector.score_samples(along * row)[0] < detector.score_samples(row)[0]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_refused_code_distance_fails_before_training_and_keeps_the_fitted_detector(zeros):
    X_train, held_out, _ = zeros
    detector = AutoEncoderOutlierDetector(small_ae(max_epochs=2), random_state=0).fit(X_train)
    before = detector.score_samples(held_out)
    fits = []

    class _CountedVAE(VAE):
        def fit(self, X, y=None):
            fits.append(1)
            return super().fit(X, y)

    vae = _CountedVAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=1)
    with pytest.raises(ValueError, match="evidence lower bound"):
        detector.set_params(estimator=vae, code_distance=True).fit(X_train)
    assert fits == []  # refused before any training
    detector.set_params(estimator=small_ae(max_epochs=2), code_distance="auto")
    np.testing.assert_array_equal(detector.score_samples(held_out), before)


ONE_PASS_FAMILIES = {
    "AutoEncoder": lambda: AutoEncoder(4, hidden_layer_sizes=(16,)),
    "DenoisingAE": lambda: DenoisingAE(4, hidden_layer_sizes=(16,)),
    "SparseAE": lambda: SparseAE(4, hidden_layer_sizes=(16,)),
    "ConvAE": lambda: ConvAE(image_shape=(8, 8), channels=(4,)),
    "SeqAE": lambda: SeqAE(4, sequence_shape=(8, 8), hidden_size=8),
    "ModuleAE": lambda: ModuleAE(n_components=4),
    "TabularAE": lambda: TabularAE(4, hidden_layer_sizes=(16,)),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("family", list(ONE_PASS_FAMILIES))
def test_one_pass_gives_the_errors_and_codes_of_two(family, digits, tmp_path):
    X = digits[0][:150]
    est = ONE_PASS_FAMILIES[family]().set_params(max_epochs=1, random_state=0).fit(X[:100])
    path = tmp_path / "X.npy"
    np.save(path, X)
    for rows in (X, np.load(path, mmap_mode="r")):  # in memory, and streamed from a memmap
        for kind in ("mae", "mse"):
            errors, codes = est._errors_and_codes(rows, kind)
            np.testing.assert_array_equal(errors, est._errors(*est._score_data(rows), kind))
        np.testing.assert_array_equal(errors, -est.score_samples(rows))
        np.testing.assert_array_equal(
            codes, np.asarray(est.transform(rows), dtype=np.float64).reshape(len(X), -1)
        )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("error", ["model", "squared", "absolute"])
def test_code_distance_scores_match_their_two_pass_formula(error, zeros):
    X_train, held_out, others = zeros
    detector = AutoEncoderOutlierDetector(
        ConvAE(n_components=4, image_shape=(8, 8), channels=(4,), max_epochs=2),
        error=error,
        random_state=0,
    ).fit(X_train)
    assert detector.code_distance_
    X = np.vstack([held_out, others])
    S = detector._standardized(X)
    if error == "model":
        error_ = -detector.estimator_.score_samples(S)
    else:
        kind = {"squared": "mse", "absolute": "mae"}[error]
        error_ = detector.estimator_._errors(*detector.estimator_._score_data(S), kind)
    expected = _code_distance(detector, X) + detector.residual_dof_ * error_ / (
        detector.error_scale_
    )
    np.testing.assert_allclose(detector.score_samples(X), -expected, rtol=1e-12)


# ----------------------------------------------------------------------
# trim: the outliers among unlabelled training rows left out of the final fit
# ----------------------------------------------------------------------
class _RecordingAE(AutoEncoder):
    """An AutoEncoder that records the rows of every fit (the clones share the list)."""

    fits: list = []

    def fit(self, X, y=None):
        type(self).fits.append(np.asarray(X).copy())
        return super().fit(X, y)


@pytest.fixture(scope="module")
def contaminated(digits):
    """140 zeros with 14 other digits among them (unlabelled training data); new ones of both."""
    X, y = digits
    zeros, ones = X[y == 0], X[y != 0]
    train = np.vstack([zeros[:140], ones[:14]])
    is_one = np.r_[np.zeros(140, bool), np.ones(14, bool)]
    order = np.random.RandomState(0).permutation(len(train))
    new = np.vstack([zeros[140:], ones[14:64]])
    return train[order], is_one[order], new, np.r_[np.zeros(len(zeros) - 140), np.ones(50)]


def _fitted_rows(rows, X):
    """Which rows of ``X`` are among ``rows`` (exact copies)."""
    return np.array([np.any(np.all(rows == x, axis=1)) for x in X])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_trim_fits_cross_fitted_halves_then_leaves_their_outliers_out(contaminated):
    X, is_one, new, new_is_one = contaminated
    _RecordingAE.fits = []
    model = _RecordingAE(4, hidden_layer_sizes=(64,), max_epochs=60, random_state=0)
    detector = AutoEncoderOutlierDetector(
        model, contamination=0.1, trim=0.1, standardize=False, random_state=0
    ).fit(X)
    first, second, final = _RecordingAE.fits
    n_calibration = int(round(0.2 * len(X)))
    n_train = len(X) - n_calibration
    # the halves split the training rows; the calibration rows are never trimmed
    assert len(first) + len(second) == n_train
    assert not _fitted_rows(first, second).any()
    assert len(detector.calibration_scores_) == n_calibration
    expected = round(0.1 * len(first)) + round(0.1 * len(second))
    assert detector.n_trimmed_ == expected == n_train - len(final)
    # each half's model found the other digits of the other half: few reach the final fit
    trained = np.vstack([first, second])
    ones_trained = _fitted_rows(trained, X[is_one]).sum()
    ones_kept = _fitted_rows(final, X[is_one]).sum()
    assert ones_trained >= 8 and ones_kept <= 0.25 * ones_trained, (ones_trained, ones_kept)
    untrimmed = AutoEncoderOutlierDetector(
        model, contamination=0.1, standardize=False, random_state=0
    ).fit(X)
    # the final model never learned the other digits, so more of them are flagged
    flagged = [np.mean(d.predict(X[is_one]) == -1) for d in (detector, untrimmed)]
    assert flagged[0] > flagged[1], flagged
    auc = roc_auc_score(new_is_one, -detector.score_samples(new))
    assert auc >= roc_auc_score(new_is_one, -untrimmed.score_samples(new)) > 0.9
    # the same seed gives the same detector
    again = clone(detector).fit(X)
    np.testing.assert_array_equal(again.score_samples(new), detector.score_samples(new))
    assert untrimmed.n_trimmed_ == 0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_trim_in_outlier_detection_scores_every_training_row(contaminated):
    X, _, _, _ = contaminated
    detector = AutoEncoderOutlierDetector(
        small_ae(max_epochs=3), novelty=False, contamination=0.1, trim=0.2, random_state=0
    ).fit(X)
    assert detector.n_trimmed_ == round(0.2 * (len(X) // 2)) + round(0.2 * (len(X) - len(X) // 2))
    assert len(detector.calibration_scores_) == len(X)
    assert np.mean(detector.fit_predict(X) == -1) == pytest.approx(0.1, abs=0.01)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_trim_needs_rows_for_two_halves(zeros):
    fitted = AutoEncoderOutlierDetector(small_ae(max_epochs=1), random_state=0).fit(zeros[0])
    before = fitted.score_samples(zeros[1])
    with pytest.raises(ValueError, match="trim=0.1 fits a model on each half of the 8 training"):
        fitted.set_params(trim=0.1).fit(zeros[0][:10])
    fitted.set_params(trim=0.0)
    np.testing.assert_array_equal(fitted.score_samples(zeros[1]), before)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_trimmed_detector_saves_and_loads(zeros, tmp_path):
    from skae import load

    detector = AutoEncoderOutlierDetector(small_ae(max_epochs=2), trim=0.1, random_state=0)
    detector.fit(zeros[0])
    detector.save(tmp_path / "d.skae")
    loaded = load(tmp_path / "d.skae")
    assert loaded.n_trimmed_ == detector.n_trimmed_ > 0
    np.testing.assert_array_equal(loaded.score_samples(zeros[1]), detector.score_samples(zeros[1]))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_trim_keeps_labels_and_tables_aligned(digits):
    from skae import CVAE

    pd = pytest.importorskip("pandas")
    X, y = digits
    cvae = CVAE(n_components=4, max_epochs=2, loss="bce", random_state=0)
    detector = AutoEncoderOutlierDetector(cvae, standardize=False, trim=0.1, random_state=0)
    detector.fit(X[y < 3], y[y < 3])
    assert detector.n_trimmed_ > 0
    assert list(detector.estimator_.classes_) == [0, 1, 2]
    rng = np.random.RandomState(0)
    table = pd.DataFrame(
        {
            "size": rng.normal(size=120),
            "kind": pd.Categorical(rng.choice(["a", "b", "c"], size=120)),
        }
    )
    tabular = AutoEncoderOutlierDetector(TabularAE(max_epochs=2, random_state=0), trim=0.2)
    tabular.fit(table)
    assert tabular.n_trimmed_ == round(0.2 * 48) * 2
    assert np.isfinite(tabular.score_samples(table)).all()
