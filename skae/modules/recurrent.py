"""Recurrent (LSTM or GRU) sequence-to-sequence autoencoder."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .dense import make_activation

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class LastStep(nn.Module):
    """Output of a recurrent layer at its last time step: ``(n, T, H) -> (n, H)``."""

    def forward(self, x):
        return x[:, -1]


class RepeatSteps(nn.Module):
    """Repeat a code over ``n_steps`` time steps: ``(n, K) -> (n, T, K)``."""

    def __init__(self, n_steps: int):
        super().__init__()
        self.n_steps = n_steps

    def forward(self, z):
        return z.unsqueeze(1).expand(-1, self.n_steps, -1)

    def extra_repr(self) -> str:
        return f"n_steps={self.n_steps}"


class RNNOutput(nn.Module):
    """A recurrent layer returning only its output sequence (for use in ``Sequential``)."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int, dropout):
        super().__init__()
        self.rnn = CELLS[cell](
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )

    def forward(self, x):
        return self.rnn(x)[0]


class RecurrentAutoEncoderModule(nn.Module):
    """Sequence-to-sequence autoencoder over flat ``(n, T * F)`` inputs.

    Encoder: a recurrent network over the ``T`` steps of ``F`` features, its
    last output mapped to a code of ``n_components``. Decoder: the code
    repeated over ``T`` steps, a second recurrent network, and a linear
    layer at each step back to ``F`` features.

    Parameters
    ----------
    sequence_shape : tuple of int
        ``(T, F)``: time steps and features per step.
    n_components : int
        Width of the code.
    hidden_size : int
        Units of the recurrent layers.
    num_layers : int
        Stacked recurrent layers in the encoder and in the decoder.
    cell : {"lstm", "gru"}
        Recurrent cell.
    dropout : float
        Dropout between stacked recurrent layers.
    code_activation, output_activation : str
        Activations of the code and of the output.
    """

    def __init__(
        self,
        sequence_shape: Sequence[int],
        n_components: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        code_activation: str = "linear",
        output_activation: str = "linear",
    ):
        super().__init__()
        n_steps, n_channels = (int(s) for s in sequence_shape)
        self.sequence_shape = (n_steps, n_channels)
        self.n_features = n_steps * n_channels
        self.n_components = int(n_components)
        encoder = [
            nn.Unflatten(1, self.sequence_shape),
            RNNOutput(cell, n_channels, hidden_size, num_layers, dropout),
            LastStep(),
            nn.Linear(hidden_size, n_components),
        ]
        if code_activation != "linear":
            encoder.append(make_activation(code_activation))
        decoder = [
            RepeatSteps(n_steps),
            RNNOutput(cell, n_components, hidden_size, num_layers, dropout),
            nn.Linear(hidden_size, n_channels),
        ]
        if output_activation != "linear":
            decoder.append(make_activation(output_activation, network_output=True))
        decoder.append(nn.Flatten())
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decoder(self.encoder(x))
