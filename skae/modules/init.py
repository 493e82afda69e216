"""Initialisation that depends on the data: the output starts at the data mean."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["init_output_bias"]

_LAYERS_WITH_BIAS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)


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
