"""Initialisation: weights that keep the signal's scale, an output that starts at the data mean."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["init_output_bias", "init_scale_preserving"]

_LAYERS_WITH_BIAS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)

# Activations whose gain torch knows; the other ReLU-like ones take ReLU's.
_TORCH_GAINS = frozenset({"relu", "leaky_relu", "tanh", "sigmoid", "selu", "linear"})


@torch.no_grad()
def init_scale_preserving(module: nn.Module, activation: str) -> nn.Module:
    """Give every linear and convolution layer of ``module`` He (fan-in) weights and zero bias.

    PyTorch's default initialisation draws weights of variance
    ``1 / (3 * fan_in)``: behind a ReLU each layer keeps about a sixth of
    the signal's second moment, so after the five layers of a small
    convolutional encoder the features are about 1% of the input's scale.
    Most autoencoders do not mind (Adam rescales the steps), but a VAE's
    encoder does: its posterior mean starts a hundred times smaller than the
    unit noise of the reparameterisation, the decoder learns to ignore the
    code, and the KL term pulls the posterior onto the prior for good
    (posterior collapse: a convolutional VAE with dense layers on 28x28
    digits ends at KL 0 and a chance-level code). Weights of variance
    ``gain**2 / fan_in`` keep the scale from layer to layer (gain
    ``sqrt(2)`` for ReLU and the ReLU-like activations, torch's
    ``calculate_gain`` for tanh, sigmoid and SELU). skae applies it to the
    convolutional VAE, whose stack in front of the code is the deepest; a
    dense VAE keeps torch's weights (with these, a dense ``VAE(32)`` on
    MNIST digits lost its code instead).

    Parameters
    ----------
    module : nn.Module
        Its ``Linear``, ``Conv1d``, ``Conv2d`` and ``ConvTranspose2d`` layers
        are re-initialised in place.
    activation : str
        The hidden activation (a key of :data:`~skae.modules.dense.ACTIVATIONS`).

    Returns
    -------
    module : nn.Module
        The same module.
    """
    nonlinearity = activation if activation in _TORCH_GAINS else "relu"
    for layer in module.modules():
        if isinstance(layer, _LAYERS_WITH_BIAS):
            nn.init.kaiming_normal_(layer.weight, nonlinearity=nonlinearity)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


@torch.no_grad()
def init_output_bias(
    decoder: nn.Module, mean: torch.Tensor, output_activation: str, eps: float = 1e-3
) -> bool:
    """Set the bias of the decoder's last layer so that the output starts near ``mean``.

    With the default initialisation a sigmoid output starts at 0.5 for every
    pixel, while images such as handwritten digits are mostly 0: the first
    phase of training is spent only on moving the output down, and with a
    squared error whose gradient vanishes as the sigmoid saturates it can end
    there, at a constant dark image. Starting from the data mean (through the
    logit for a sigmoid output) removes that phase; it is the bias a
    constant predictor would have, and the weights then learn the rest.

    Parameters
    ----------
    decoder : nn.Module
        The decoder; its last ``Linear`` or convolution is the output layer.
    mean : tensor of shape (n_features,)
        Mean of the training targets per feature.
    output_activation : str
        "sigmoid" (the bias is the logit of ``mean``, clipped to
        ``[eps, 1 - eps]``) or "linear" (the bias is ``mean``); for any other
        activation nothing is changed.
    eps : float
        Clipping of ``mean`` before the logit.

    Returns
    -------
    changed : bool
        Whether a bias was set. A last layer with one bias per feature gets
        the per-feature mean; a convolution with one bias per channel gets the
        mean of each channel (``mean`` read as ``(C, -1)``).
    """
    layers = [m for m in decoder.modules() if isinstance(m, _LAYERS_WITH_BIAS)]
    if not layers or layers[-1].bias is None or output_activation not in ("sigmoid", "linear"):
        return False
    bias = layers[-1].bias
    mean = torch.as_tensor(mean, dtype=bias.dtype, device=bias.device).reshape(-1)
    if len(mean) != len(bias):
        if len(mean) % len(bias):
            return False
        mean = mean.reshape(len(bias), -1).mean(dim=1)
    if output_activation == "sigmoid":
        mean = torch.logit(mean.clamp(eps, 1 - eps))
    bias.copy_(mean)
    return True
