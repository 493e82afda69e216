"""Training criteria. A criterion takes ``(module_output, target)``."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def reconstruction_error(output: torch.Tensor, target: torch.Tensor, kind: str = "mse"):
    """Elementwise reconstruction error between ``output`` and ``target``.

    ``kind`` is ``"mse"`` (squared error), ``"mae"`` (absolute error) or
    ``"bce"`` (binary cross-entropy; ``output`` are probabilities in [0, 1]).
    """
    if kind == "mse":
        return (output - target).square()
    if kind == "mae":
        return (output - target).abs()
    if kind == "bce":
        return F.binary_cross_entropy(output.clamp(0.0, 1.0), target, reduction="none")
    raise ValueError(f"Unknown reconstruction error {kind!r}; use 'mse', 'mae' or 'bce'.")


def per_sample_error(output: torch.Tensor, target: torch.Tensor, kind: str = "mse"):
    """Mean reconstruction error of each sample, shape ``(n_samples,)``.

    ``output`` and ``target`` hold the same number of values per sample but
    may differ in layout (flat ``(n, T * F)`` against ``(n, T, F)``); both are
    flattened per sample before :func:`reconstruction_error` is averaged.
    """
    n = len(target)
    return reconstruction_error(output.reshape(n, -1), target.reshape(n, -1), kind).mean(dim=1)


class ReconstructionLoss(nn.Module):
    """Mean elementwise reconstruction error.

    Modules whose ``forward`` returns a tuple put the reconstruction first;
    only that element is compared with the target.
    """

    def __init__(self, kind: str = "mse"):
        super().__init__()
        self.kind = kind

    def reconstruction(self, output, target):
        recon = output[0] if isinstance(output, tuple) else output
        return reconstruction_error(recon, target, self.kind).mean()

    def forward(self, output, target):
        return self.reconstruction(output, target)
