"""SeqAE: reconstruction and anomaly scores on synthetic multichannel series."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skae import SeqAE

T, F = 16, 2


def _series(n, seed):
    """Noisy sine/cosine pairs of random frequency, phase and amplitude: (n, T, F)."""
    rng = np.random.RandomState(seed)
    t = np.arange(T)[None, :, None]
    freq = rng.uniform(0.3, 0.5, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    amp = rng.uniform(0.5, 1.0, (n, 1, 1))
    X = np.concatenate([amp * np.sin(freq * t + phase), amp * np.cos(freq * t + phase)], axis=2)
    return X + 0.05 * rng.randn(*X.shape)


def _corrupt(X, seed):
    """Add a burst of noise over 6 steps at a random place of every series."""
    rng = np.random.RandomState(seed)
    X = X.copy()
    for row in X:
        start = rng.randint(0, T - 6)
        row[start : start + 6] += rng.normal(0, 0.5, (6, F))
    return X


@pytest.mark.parametrize(
    "cell, max_ratio, min_auc",
    # measured: MSE / variance 0.083 (lstm), 0.056 (gru); ROC-AUC 0.993, 0.9997
    [("lstm", 0.15, 0.95), pytest.param("gru", 0.15, 0.95, marks=pytest.mark.slow)],
)
def test_reconstructs_and_separates_corrupted_series(cell, max_ratio, min_auc):
    X_train, X_test = _series(200, 0), _series(60, 1)
    ae = SeqAE(
        4,
        sequence_shape=(T, F),
        cell=cell,
        hidden_size=16,
        lr=1e-2,
        batch_size=32,
        max_epochs=40,
        random_state=0,
    ).fit(X_train)
    assert -ae.score(X_test) < max_ratio * X_test.var()
    scores = np.r_[ae.score_samples(X_test), ae.score_samples(_corrupt(X_test, 2))]
    normal = np.r_[np.ones(len(X_test)), np.zeros(len(X_test))]
    assert roc_auc_score(normal, scores) > min_auc


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_three_d_input_matches_flat_input():
    X = _series(20, 0)
    ae = SeqAE(3, sequence_shape=(T, F), hidden_size=4, num_layers=2, max_epochs=2)
    ae.set_params(random_state=0).fit(X)
    flat = X.reshape(len(X), -1)
    np.testing.assert_allclose(ae.transform(X), ae.transform(flat))
    assert ae.transform(X).shape == (20, 3)
    assert ae.reconstruct(X).shape == (20, T * F)
    assert ae.sequence_shape_ == (T, F)
    # the features of one step are contiguous in the flat layout
    recon = ae.reconstruct(X).reshape(20, T, F)
    assert recon.shape == X.shape


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_no_sequence_shape_is_a_univariate_series():
    X = _series(20, 0)[:, :, 0]
    ae = SeqAE(2, hidden_size=4, max_epochs=2, random_state=0).fit(X)
    assert ae.sequence_shape_ == (T, 1)
    rows = ae.summary(print_fn=None).rows
    assert ("encoder.1.rnn", "LSTM", (T, 4)) in [row[:3] for row in rows]


@pytest.mark.parametrize(
    "params, X_shape, match",
    [
        ({"sequence_shape": (5, 2)}, (4, 12), r"sequence_shape=\(5, 2\) holds 10 values"),
        ({"sequence_shape": (12,)}, (4, 12), "sequence_shape must be"),
        ({}, (4, 6, 2), r"pass sequence_shape=\(6, 2\)"),
        ({"sequence_shape": (6, 2)}, (4, 2, 6), r"do not match sequence_shape"),
    ],
)
def test_errors_name_the_parameter(params, X_shape, match):
    X = np.random.RandomState(0).normal(size=X_shape)
    with pytest.raises(ValueError, match=match):
        SeqAE(max_epochs=1, **params).fit(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_same_seed_same_codes():
    X = _series(20, 0)
    params = {"sequence_shape": (T, F), "hidden_size": 4, "cell": "gru", "max_epochs": 2}
    a = SeqAE(2, random_state=3, **params).fit(X).transform(X)
    b = SeqAE(2, random_state=3, **params).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
