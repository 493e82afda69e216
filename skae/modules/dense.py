"""Fully connected encoder and decoder."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .output import Sigmoid

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "linear": nn.Identity,
}


def make_activation(name: str, *, network_output: bool = False) -> nn.Module:
    """Return a fresh activation module for ``name`` (a key of ``ACTIVATIONS``).

    ``network_output=True`` is for the activation of the network's output: a
    sigmoid there is :class:`~skae.modules.output.Sigmoid`, which hands its
    logits to a binary cross-entropy in training.
    """
    if network_output and name == "sigmoid":
        return Sigmoid()
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}."
        ) from None


class MLP(nn.Sequential):
    """Stack of ``Linear -> activation -> Dropout`` blocks ending in ``Linear``.

    Parameters
    ----------
    sizes : sequence of int
        Widths from input to output, e.g. ``(784, 128, 32)``.
    activation : str
        Activation between hidden layers.
    output_activation : str
        Activation after the last layer.
    network_output : bool
        Whether the last layer is the network's output (see
        :func:`make_activation`).
    dropout : float
        Dropout after each hidden activation.
    input_dropout : float
        Dropout applied to the input itself (as in denoising labs).
    normalization : {"layer"} or None
        ``"layer"`` puts a :class:`~torch.nn.LayerNorm` after every hidden
        ``Linear`` (before its activation). It keeps hidden units centred, so
        a bounded code (tanh) does not saturate on non-negative inputs such as
        images. It normalises each sample on its own: no batch statistics.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        output_activation: str = "linear",
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        normalization: str | None = None,
        network_output: bool = False,
    ):
        if normalization not in (None, "layer"):
            raise ValueError(f"normalization must be 'layer' or None, got {normalization!r}.")
        layers: list[nn.Module] = []
        if input_dropout > 0:
            layers.append(nn.Dropout(input_dropout))
        n_layers = len(sizes) - 1
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < n_layers - 1:
                if normalization == "layer":
                    layers.append(nn.LayerNorm(n_out))
                layers.append(make_activation(activation))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        if output_activation != "linear":
            layers.append(make_activation(output_activation, network_output=network_output))
        super().__init__(*layers)


class DenseAutoEncoderModule(nn.Module):
    """Dense autoencoder: an MLP encoder and its mirrored MLP decoder.

    Parameters
    ----------
    n_features : int
        Width of the input.
    n_components : int
        Width of the code.
    hidden_layer_sizes : sequence of int
        Encoder hidden widths; the decoder uses them in reverse.
    activation, code_activation, output_activation : str
        Activations of hidden layers, of the code and of the output.
    dropout, input_dropout : float
        Dropout after hidden layers and on the input.
    normalization : {"layer"} or None
        Normalisation of the hidden layers (see :class:`MLP`).
    """

    def __init__(
        self,
        n_features: int,
        n_components: int,
        hidden_layer_sizes: Sequence[int] = (),
        activation: str = "relu",
        code_activation: str = "linear",
        output_activation: str = "linear",
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        normalization: str | None = None,
    ):
        super().__init__()
        hidden = tuple(hidden_layer_sizes)
        self.n_features = n_features
        self.n_components = n_components
        self.encoder = MLP(
            (n_features, *hidden, n_components),
            activation=activation,
            output_activation=code_activation,
            dropout=dropout,
            input_dropout=input_dropout,
            normalization=normalization,
        )
        self.decoder = MLP(
            (n_components, *reversed(hidden), n_features),
            activation=activation,
            output_activation=output_activation,
            dropout=dropout,
            normalization=normalization,
            network_output=True,
        )

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decoder(self.encoder(x))
