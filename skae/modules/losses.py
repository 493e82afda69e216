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


def kl_sparsity(code: torch.Tensor, target: float, eps: float = 1e-6) -> torch.Tensor:
    """KL divergence of the mean code activations from ``target``, summed over units.

    ``code`` holds activations in (0, 1) (a sigmoid code); each unit's mean
    over the batch is treated as the probability of a Bernoulli variable.
    """
    rho_hat = code.mean(dim=0).clamp(eps, 1 - eps)
    rho = torch.as_tensor(target, dtype=code.dtype, device=code.device)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.sum()


class SparseCodeLoss(ReconstructionLoss):
    """Reconstruction error plus sparsity penalties on the code.

    The module's ``forward`` returns ``(reconstruction, code)``. The loss is
    ``error + alpha * mean_batch(sum_units |code|) + sparsity_weight *
    KL(sparsity_target || mean_batch(code))``.
    """

    def __init__(
        self,
        kind: str = "mse",
        alpha: float = 0.0,
        sparsity_target: float = 0.05,
        sparsity_weight: float = 0.0,
    ):
        super().__init__(kind)
        self.alpha = alpha
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight

    def forward(self, output, target):
        loss = self.reconstruction(output, target)
        code = output[1]
        if self.alpha > 0:
            loss = loss + self.alpha * code.abs().sum(dim=1).mean()
        if self.sparsity_weight > 0:
            loss = loss + self.sparsity_weight * kl_sparsity(code, self.sparsity_target)
        return loss
