"""summary(): a Keras-style table of layers, output shapes and parameter counts."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from skae import AutoEncoder, ConvAE, ModelSummary, ModuleAE, SeqAE, SparseAE

# one-epoch fits: the tables are checked, not what the models learnt
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_dense_summary_rows_and_totals(digits):
    X = digits[0][:50]
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=1, random_state=0).fit(X)
    printed = []
    summary = ae.summary(print_fn=printed.append)
    assert isinstance(summary, ModelSummary)
    assert printed == [str(summary)]
    assert summary.rows == [
        ("input", None, (64,), 0),
        ("encoder.0", "Linear", (16,), 64 * 16 + 16),
        ("encoder.1", "ReLU", (16,), 0),
        ("encoder.2", "Linear", (2,), 16 * 2 + 2),
        ("decoder.0", "Linear", (16,), 2 * 16 + 16),
        ("decoder.1", "ReLU", (16,), 0),
        ("decoder.2", "Linear", (64,), 16 * 64 + 64),
        ("decoder.3", "Sigmoid", (64,), 0),
    ]
    total = sum(p.numel() for p in ae.net_.module_.parameters())
    assert summary.total_params == summary.trainable_params == total == 2210
    text = str(summary)
    assert "encoder.0 (Linear)" in text and "(None, 16)" in text
    assert "Total params: 2,210" in text
    assert "Non-trainable params: 0" in text
    assert "2,210 parameters" in repr(summary)


def test_prints_by_default(capsys, digits):
    ConvAE(image_shape=(8, 8), channels=(2,), max_epochs=1).fit(digits[0][:10]).summary()
    out = capsys.readouterr().out
    assert "Conv2d" in out and "(None, 2, 8, 8)" in out


@pytest.mark.parametrize(
    "estimator",
    [
        ConvAE(4, image_shape=(8, 8), channels=(2, 3), upsample="transpose"),
        SparseAE(4, hidden_layer_sizes=(8,), dropout=0.5),
        SeqAE(2, sequence_shape=(16, 4), hidden_size=3, num_layers=2, cell="gru"),
    ],
)
def test_totals_match_the_module_and_mode_is_restored(estimator, digits):
    ae = estimator.set_params(max_epochs=1, random_state=0).fit(digits[0][:20])
    module = ae.net_.module_
    module.train()
    before = [p.detach().clone() for p in module.parameters()]
    summary = ae.summary(print_fn=None)
    assert module.training
    assert all(
        np.array_equal(a, b.detach()) for a, b in zip(before, module.parameters(), strict=True)
    )
    assert summary.total_params == sum(p.numel() for p in module.parameters())
    assert sum(row[3] for row in summary.rows) == summary.total_params
    assert summary.rows[-1][2] == (64,)  # the reconstruction


def test_needs_a_fitted_estimator():
    with pytest.raises(NotFittedError):
        AutoEncoder().summary()


class _Tied(torch.nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.encoder = torch.nn.Linear(n_features, 3)
        self.bias = torch.nn.Parameter(torch.zeros(n_features))

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return z @ self.encoder.weight + self.bias


def test_parameters_used_without_a_call_are_listed(digits):
    ae = ModuleAE(_Tied, max_epochs=1, random_state=0).fit(digits[0][:20])
    summary = ae.summary(print_fn=None)
    assert summary.rows[-1] == ("module", "_Tied", None, 64)
    assert sum(row[3] for row in summary.rows) == summary.total_params == 64 * 3 + 3 + 64
    assert "module (_Tied)" in str(summary)
