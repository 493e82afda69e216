"""Training criteria. A criterion takes ``(module_output, target)``."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

_ERRORS = {
    "mse": F.mse_loss,
    "mae": F.l1_loss,
    "bce": lambda output, target, reduction: F.binary_cross_entropy(
        output.clamp(0.0, 1.0), target, reduction=reduction
    ),
}


def reconstruction_error(
    output: torch.Tensor, target: torch.Tensor, kind: str = "mse", reduction: str = "none"
) -> torch.Tensor:
    """Reconstruction error between ``output`` and ``target``.

    ``kind`` is ``"mse"`` (squared error), ``"mae"`` (absolute error) or
    ``"bce"`` (binary cross-entropy; ``output`` are probabilities in [0, 1]).
    ``reduction`` is ``"none"`` (elementwise), ``"mean"`` or ``"sum"``; the
    reduced forms use PyTorch's fused kernels.
    """
    try:
        error = _ERRORS[kind]
    except KeyError:
        raise ValueError(
            f"Unknown reconstruction error {kind!r}; use one of {sorted(_ERRORS)}."
        ) from None
    return error(output, target, reduction=reduction)


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
        return reconstruction_error(recon, target, self.kind, reduction="mean")

    def forward(self, output, target):
        return self.reconstruction(output, target)
