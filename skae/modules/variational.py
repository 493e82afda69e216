"""Variational heads and variational autoencoder modules.

A variational autoencoder here is any encoder body (input -> hidden vector),
a :class:`GaussianHead` on top of it (hidden -> posterior mean and log
variance) and any decoder (code -> output). The dense backbone is built by
:func:`dense_vae_module` and the convolutional one by :func:`conv_vae_module`;
other backbones (recurrent) only need to provide their encoder body, its
output width and a decoder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .conv import conv_stages
from .dense import MLP
from .init import init_scale_preserving

__all__ = [
    "ConditionalVAEModule",
    "GaussianHead",
    "VAEModule",
    "conv_vae_module",
    "dense_vae_module",
    "reparameterize",
]


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Draw ``z = mu + sigma * eps`` with ``eps ~ N(0, I)`` (differentiable in mu, logvar)."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


# Bounds of the posterior's log variance: exp(10) (a standard deviation of
# about 150 in the code's units) is still finite in float16; exp(-30) (a
# standard deviation of 3e-7) is far below any code's useful resolution.
LOGVAR_BOUNDS = (-30.0, 10.0)


class GaussianHead(nn.Module):
    """Diagonal Gaussian posterior: two linear maps to ``(mu, logvar)``.

    The log variance is clipped to ``LOGVAR_BOUNDS``: an encoder that sees
    inputs of a large scale (say values near 100) starts with log variances
    in the hundreds, whose ``exp`` is infinite, and the first step would turn
    every weight into NaN.

    Parameters
    ----------
    n_in : int
        Width of the encoder body's output.
    n_components : int
        Width of the code.
    """

    def __init__(self, n_in: int, n_components: int):
        super().__init__()
        self.n_components = n_components
        self.mu = nn.Linear(n_in, n_components)
        self.logvar = nn.Linear(n_in, n_components)

    def forward(self, h):
        return self.mu(h), self.logvar(h).clamp(*LOGVAR_BOUNDS)


class VAEModule(nn.Module):
    """Variational autoencoder around any encoder body and decoder.

    ``forward(x)`` returns ``(reconstruction, mu, logvar)``. In training mode
    the decoder sees a reparameterised draw ``z ~ N(mu, exp(logvar))``; in
    evaluation mode it sees ``mu``, so inference is deterministic.
    ``encode`` returns the posterior mean.

    Parameters
    ----------
    encoder : nn.Module
        Maps ``(n, n_features)`` inputs to ``(n, n_hidden)`` features.
    decoder : nn.Module
        Maps ``(n, n_components)`` codes to ``(n, n_features)`` outputs.
    n_hidden : int
        Width of the encoder's output.
    n_components : int
        Width of the code.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, n_hidden: int, n_components: int):
        super().__init__()
        self.n_components = n_components
        self.encoder = encoder
        self.head = GaussianHead(n_hidden, n_components)
        self.decoder = decoder

    def posterior(self, x):
        """Return the posterior ``(mu, logvar)`` of ``x``."""
        return self.head(self.encoder(x))

    def encode(self, x):
        return self.posterior(x)[0]

    def decode(self, z):
        return self.decoder(z)

    def _latent(self, mu, logvar):
        return reparameterize(mu, logvar) if self.training else mu

    def forward(self, x):
        mu, logvar = self.posterior(x)
        return self.decode(self._latent(mu, logvar)), mu, logvar


class ConditionalVAEModule(VAEModule):
    """Conditional VAE: the decoder also sees a one-hot class label.

    The label travels with the data: ``forward`` takes ``x`` with the one-hot
    label appended as its last ``n_classes`` columns, and ``decode`` takes
    ``z`` with the label appended likewise. The encoder sees ``x`` alone, so
    ``encode(x)`` needs no label: the code is free to carry what the label
    does not (style), and codes of unlabelled data are exact.

    Parameters
    ----------
    encoder : nn.Module
        Maps ``(n, n_features)`` inputs to ``(n, n_hidden)`` features.
    decoder : nn.Module
        Maps ``(n, n_components + n_classes)`` to ``(n, n_features)``.
    n_hidden, n_components : int
        As in :class:`VAEModule`.
    n_classes : int
        Width of the one-hot label.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        n_hidden: int,
        n_components: int,
        n_classes: int,
    ):
        super().__init__(encoder, decoder, n_hidden, n_components)
        self.n_classes = n_classes

    def forward(self, xy):
        x, label = xy[:, : -self.n_classes], xy[:, -self.n_classes :]
        mu, logvar = self.posterior(x)
        z = self._latent(mu, logvar)
        return self.decode(torch.cat([z, label], dim=1)), mu, logvar


def dense_vae_module(
    n_features: int,
    n_components: int,
    hidden_layer_sizes: Sequence[int] = (),
    activation: str = "relu",
    output_activation: str = "linear",
    n_classes: int = 0,
) -> VAEModule:
    """Build a VAE with MLP encoder and mirrored MLP decoder.

    ``n_classes > 0`` gives a :class:`ConditionalVAEModule` whose decoder
    takes the one-hot label after the code.
    """
    hidden = tuple(hidden_layer_sizes)
    encoder = (
        MLP((n_features, *hidden), activation=activation, output_activation=activation)
        if hidden
        else nn.Identity()
    )
    n_hidden = hidden[-1] if hidden else n_features
    decoder = MLP(
        (n_components + n_classes, *reversed(hidden), n_features),
        activation=activation,
        output_activation=output_activation,
        network_output=True,
    )
    return _vae_module(encoder, decoder, n_hidden, n_components, n_classes)


def conv_vae_module(
    image_shape: Sequence[int],
    n_components: int,
    channels: Sequence[int],
    kernel_size: int = 3,
    downsample: str = "pool",
    upsample: str = "upsample",
    activation: str = "relu",
    output_activation: str = "linear",
    n_classes: int = 0,
    hidden_layer_sizes: Sequence[int] = (),
) -> VAEModule:
    """Build a VAE with a convolutional encoder and decoder over flat images.

    The encoder body is the convolution stages of
    :func:`~skae.modules.conv.conv_stages` over ``(C, H, W)`` images,
    flattened, then the dense ``hidden_layer_sizes`` layers, then the
    Gaussian head. The decoder maps the code (with the one-hot label after
    it when ``n_classes > 0``) through the mirrored dense layers to the last
    feature map, then upsamples through the mirrored stages to exactly the
    image size and returns flat ``(n, C * H * W)`` outputs.
    """
    image_shape = tuple(int(s) for s in image_shape)
    encoder_layers, decoder_layers, code_shape = conv_stages(
        image_shape,
        channels,
        kernel_size=kernel_size,
        downsample=downsample,
        upsample=upsample,
        activation=activation,
        output_activation=output_activation,
    )
    n_flat = math.prod(code_shape)
    hidden = tuple(hidden_layer_sizes)
    encoder = nn.Sequential(
        nn.Unflatten(1, image_shape),
        *encoder_layers,
        *(
            MLP((n_flat, *hidden), activation=activation, output_activation=activation)
            if hidden
            else ()
        ),
    )
    n_hidden = hidden[-1] if hidden else n_flat
    # The dense layers are spliced in, not nested: without hidden layers the
    # modules (and the saved weights' names) are those of a plain Linear.
    decoder = nn.Sequential(
        *MLP(
            (n_components + n_classes, *reversed(hidden), n_flat),
            activation=activation,
            output_activation=activation,
        ),
        *decoder_layers,
    )
    # Scale-preserving weights: behind torch's default ones the posterior
    # mean of this deep stack (convolutions, then dense layers) starts at
    # about 1% of the unit noise of the reparameterisation, and the code is
    # ignored for good (posterior collapse). The shallower dense backbone
    # keeps torch's weights: with He weights a dense VAE(32) on MNIST digits
    # collapsed instead (its decoder's output swung with the initial noise).
    init_scale_preserving(encoder, activation)
    init_scale_preserving(decoder, activation)
    return _vae_module(encoder, decoder, n_hidden, n_components, n_classes)


def _vae_module(encoder, decoder, n_hidden, n_components, n_classes) -> VAEModule:
    if n_classes:
        return ConditionalVAEModule(encoder, decoder, n_hidden, n_components, n_classes)
    return VAEModule(encoder, decoder, n_hidden, n_components)
