"""Training criteria. A criterion takes ``(module_output, target)``."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .output import emits_logits

_ERRORS = {
    "mse": F.mse_loss,
    "mae": F.l1_loss,
    "bce": lambda output, target, reduction: F.binary_cross_entropy(
        output.clamp(0.0, 1.0), target, reduction=reduction
    ),
}
# The errors that have a form on the logits of a sigmoid output: the same
# values as on its probabilities, computed without them (no clamp, finite
# for any finite logit) by one fused kernel.
_LOGIT_ERRORS = {"bce": F.binary_cross_entropy_with_logits}


def reconstruction_error(
    output: torch.Tensor,
    target: torch.Tensor,
    kind: str = "mse",
    reduction: str = "none",
    *,
    logits: bool = False,
) -> torch.Tensor:
    """Reconstruction error between ``output`` and ``target``.

    ``kind`` is ``"mse"`` (squared error), ``"mae"`` (absolute error) or
    ``"bce"`` (binary cross-entropy; ``output`` are probabilities in [0, 1],
    or, with ``logits=True``, the logits whose sigmoid they are).
    ``reduction`` is ``"none"`` (elementwise), ``"mean"`` or ``"sum"``; the
    reduced forms use PyTorch's fused kernels.
    """
    errors = _LOGIT_ERRORS if logits else _ERRORS
    try:
        error = errors[kind]
    except KeyError:
        raise ValueError(
            f"Unknown reconstruction error {kind!r}"
            + (" on logits" if logits else "")
            + f"; use one of {sorted(errors)}."
        ) from None
    return error(output, target, reduction=reduction)


# The errors that are a function of the difference alone, as the kernels of
# _ERRORS compute them elementwise, and the order of the vector norm whose
# power (2 or 1) sums them per row.
_DIFFERENCE_ERRORS = {"mse": torch.square, "mae": torch.abs}
_DIFFERENCE_NORMS = {"mse": 2, "mae": 1}


def float64_error(output: torch.Tensor, target: torch.Tensor, kind: str = "mse", *, exact=False):
    """Elementwise ``kind`` error of ``output`` against ``target``, in float64.

    The squared and absolute errors take the difference in the inputs' own
    (promoted) dtype and cast only it: for float32 data half the memory
    traffic of casting both. That difference is float32's rounding of the
    exact one (exact for values within a factor of two of each other), and
    overflows to inf only where it passes float32's range (3.4e38);
    ``exact=True`` casts both inputs first, as every other kind does.
    """
    if exact or kind not in _DIFFERENCE_ERRORS:
        return reconstruction_error(output.double(), target.double(), kind)
    return _DIFFERENCE_ERRORS[kind]((output - target).double())


def float64_row_error(
    output: torch.Tensor, target: torch.Tensor, kind: str = "mse", *, exact=False
):
    """Row mean of :func:`float64_error` over 2-D ``output`` and ``target``, shape ``(n,)``.

    The squared and absolute errors are summed by one vector norm that
    reads the difference and accumulates in float64, without writing the
    float64 values of every element.
    """
    if exact or kind not in _DIFFERENCE_NORMS:
        return float64_error(output, target, kind, exact=exact).mean(dim=1)
    order = _DIFFERENCE_NORMS[kind]
    norm = torch.linalg.vector_norm(output - target, order, dim=1, dtype=torch.float64)
    return (norm.square() if order == 2 else norm) / output.shape[1]


def per_sample_error(output: torch.Tensor, target: torch.Tensor, kind: str = "mse", *, exact=False):
    """Mean reconstruction error of each sample in float64, shape ``(n_samples,)``.

    ``output`` and ``target`` hold the same number of values per sample but
    may differ in layout (flat ``(n, T * F)`` against ``(n, T, F)``); both are
    flattened per sample before :func:`float64_row_error` (``exact`` as there).
    """
    n = target.shape[0]  # a symbolic batch size in an exported graph
    return float64_row_error(output.reshape(n, -1), target.reshape(n, -1), kind, exact=exact)


class ReconstructionLoss(nn.Module):
    """Mean elementwise reconstruction error.

    Modules whose ``forward`` returns a tuple put the reconstruction first;
    only that element is compared with the target.

    The training loop calls :meth:`use_logits` with the module once: a
    sigmoid output (:class:`~skae.modules.output.Sigmoid`) trained with
    binary cross-entropy then hands the criterion its logits (the loop runs
    the forward pass inside :func:`~skae.modules.output.output_logits`), and
    ``logits`` is True.
    """

    # Whether the reconstruction reaches the criterion as logits; set by use_logits.
    logits = False

    def __init__(self, kind: str = "mse"):
        super().__init__()
        self.kind = kind

    def use_logits(self, module: nn.Module) -> bool:
        """Take ``module``'s logits where this error has a form on them and its output gives them.

        Returns the new value of ``logits``: whether the training loop is to
        run ``module`` inside :func:`~skae.modules.output.output_logits`.
        """
        self.logits = self.kind in _LOGIT_ERRORS and emits_logits(module)
        return self.logits

    def error(self, recon, target, reduction="none"):
        """The elementwise (or reduced) error of ``recon``, probabilities or logits as it comes."""
        return reconstruction_error(recon, target, self.kind, reduction, logits=self.logits)

    def reconstruction(self, output, target):
        recon = output[0] if isinstance(output, tuple) else output
        return self.error(recon, target, reduction="mean")

    def forward(self, output, target):
        return self.reconstruction(output, target)


# Additive constant that turns a summed reconstruction error into a negative
# log-likelihood per feature: Gaussian with variance 1/2 for "mse" (so the
# squared error is exactly the exponent), Laplace with scale 1 for "mae", and
# Bernoulli (no constant) for "bce".
NLL_CONSTANT = {"mse": 0.5 * math.log(math.pi), "mae": math.log(2.0), "bce": 0.0}


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-sample ``KL(N(mu, exp(logvar)) || N(0, I))``, summed over the code."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(dim=1)


class VAELoss(ReconstructionLoss):
    """Negative (beta-)ELBO: reconstruction summed over features plus ``beta`` x KL.

    Takes ``output = (reconstruction, mu, logvar)``. The reconstruction
    error is summed over the features of each sample (the usual ELBO
    convention, so that one KL nat weighs against one nat of likelihood)
    and both terms are averaged over the batch. ``kl_weight`` multiplies
    ``beta``; a warm-up schedule raises it from 0 to 1 during training.

    After each call, ``terms`` holds the batch means of ``"kl"`` and
    ``"reconstruction"`` as detached 0-d tensors, for monitoring: reading
    them (``float``) waits for the device, so a training loop should read
    them once per epoch rather than per batch.

    Parameters
    ----------
    kind : {"mse", "bce", "mae"}
        Reconstruction error.
    beta : float
        Weight of the KL term (1 is the plain VAE).
    """

    def __init__(self, kind: str = "mse", beta: float = 1.0):
        super().__init__(kind)
        self.beta = beta
        self.kl_weight = 1.0
        self.terms: dict[str, torch.Tensor] = {}

    def forward(self, output, target):
        recon, mu, logvar = output
        rec = self.error(recon, target).sum(dim=1).mean()
        kl = gaussian_kl(mu, logvar).mean()
        self.terms = {"kl": kl.detach(), "reconstruction": rec.detach()}
        return rec + self.beta * self.kl_weight * kl


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


class TabularLoss(nn.Module):
    """Per-column reconstruction loss of a mixed table's encoded rows.

    The encoded row holds the standardised numeric columns at the positions
    ``numeric`` and one block of category logits per categorical column,
    ``blocks[j] = (start, stop)``; the target holds the standardised values
    and the one-hot categories at the same positions. A numeric column's
    loss is its squared error (``kind="mse"``) or absolute error
    (``"mae"``); a categorical column's is the cross-entropy of the softmax
    over its block, divided by ``log(n_categories)``, so that predicting the
    uniform distribution costs 1, as predicting the mean costs a
    standardised column. A target block of zeros (an ignored unknown
    category) costs 0. ``order`` puts the numeric columns, then the
    categorical ones, back into the table's column order.

    The criterion is the mean over rows and columns of :meth:`column_errors`.

    Parameters
    ----------
    numeric : sequence of int
        Positions of the numeric columns in the encoded row.
    blocks : sequence of (int, int)
        ``(start, stop)`` of each categorical column's block.
    order : sequence of int
        Index into ``numeric + categorical`` giving the table's column order.
    kind : {"mse", "mae"}
        Error of the numeric columns.
    """

    def __init__(self, numeric, blocks, order, kind: str = "mse"):
        super().__init__()
        self.numeric = [int(i) for i in numeric]
        self.blocks = [(int(a), int(b)) for a, b in blocks]
        self.order = [int(i) for i in order]
        self.kind = kind
        self.weights = [1.0 / math.log(b - a) if b - a > 1 else 1.0 for a, b in self.blocks]

    def column_errors(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of each row and column, shape ``(n_samples, n_columns)``, in column order."""
        parts = []
        if self.numeric:
            parts.append(
                reconstruction_error(output[:, self.numeric], target[:, self.numeric], self.kind)
            )
        for (start, stop), weight in zip(self.blocks, self.weights):
            log_p = F.log_softmax(output[:, start:stop], dim=1)
            parts.append((-(target[:, start:stop] * log_p).sum(dim=1, keepdim=True)) * weight)
        errors = torch.cat(parts, dim=1)
        return errors if self.order == sorted(self.order) else errors[:, self.order]

    def forward(self, output, target):
        return self.column_errors(output, target).mean()
