"""SparseAE: the code penalties make codes sparser at similar reconstruction error."""

import numpy as np
import pytest
import torch

from skae import AutoEncoder, SparseAE
from skae.modules.losses import SparseCodeLoss, kl_sparsity

# alpha is weighed against the squared error, as in the classic sparse-coding lab
PARAMS = {
    "n_components": 32,
    "hidden_layer_sizes": (64,),
    "loss": "mse",
    "lr": 3e-3,
    "max_epochs": 20,
}


def test_l1_penalty_gives_sparser_code_at_similar_error(digits_split):
    X_train, X_test, _, _ = digits_split
    plain = SparseAE(alpha=0.0, random_state=0, **PARAMS).fit(X_train)
    sparse = SparseAE(alpha=3e-4, random_state=0, **PARAMS).fit(X_train)
    zeros_plain = np.mean(plain.transform(X_test) == 0)
    zeros_sparse = np.mean(sparse.transform(X_test) == 0)
    # measured: 8% zeros without the penalty, 66% with it
    assert zeros_sparse > zeros_plain + 0.2
    # measured: test MSE 0.0113 without, 0.0157 with (ratio 1.39)
    assert -sparse.score(X_test) < 1.5 * -plain.score(X_test)


@pytest.mark.slow
def test_kl_penalty_reaches_the_sparsity_target(digits_split):
    X_train, X_test, _, _ = digits_split
    params = {**PARAMS, "alpha": 0.0, "code_activation": "sigmoid"}
    plain = SparseAE(random_state=0, **params).fit(X_train)
    sparse = SparseAE(sparsity_weight=0.1, sparsity_target=0.05, random_state=0, **params)
    sparse.fit(X_train)
    # measured mean activations: 0.36 without the penalty, 0.050 with it
    assert plain.transform(X_test).mean() > 0.3
    assert abs(sparse.transform(X_test).mean() - 0.05) < 0.02


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_zero_penalties_train_as_the_dense_autoencoder(digits):
    X = digits[0][:200]
    params = {"n_components": 4, "hidden_layer_sizes": (16,), "max_epochs": 3, "random_state": 0}
    sparse = SparseAE(alpha=0.0, code_activation="linear", **params).fit(X)
    dense = AutoEncoder(**params).fit(X)
    np.testing.assert_allclose(sparse.transform(X), dense.transform(X), rtol=1e-5, atol=1e-6)


def test_loss_terms():
    code = torch.tensor([[0.0, 0.5], [1.0, -0.5]])
    recon, target = torch.zeros(2, 3), torch.ones(2, 3)
    loss = SparseCodeLoss("mse", alpha=0.1)((recon, code), target)
    # error 1 + 0.1 * mean(|0| + |0.5|, |1| + |-0.5|) = 1 + 0.1 * 1.0
    assert loss.item() == pytest.approx(1.1)
    on_target = torch.full((4, 3), 0.2)
    assert kl_sparsity(on_target, 0.2).item() == pytest.approx(0.0, abs=1e-6)
    assert kl_sparsity(torch.full((4, 3), 0.5), 0.2).item() > 0


def test_kl_needs_a_sigmoid_code(digits):
    with pytest.raises(ValueError, match="sparsity_weight=0.1 .* code_activation='sigmoid'"):
        SparseAE(sparsity_weight=0.1, max_epochs=1).fit(digits[0][:20])
