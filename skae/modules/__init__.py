"""Plain PyTorch modules behind the skae estimators.

Nothing here imports scikit-learn or skorch: every module is an ordinary
``torch.nn.Module`` that takes flat ``(n_samples, n_features)`` float tensors
and exposes ``encode``, ``decode`` and ``forward``, plus the attribute
``n_components`` (the width of the code). A sigmoid output gives
probabilities, or its logits inside :func:`output_logits` (what a loss on
logits, such as ``binary_cross_entropy_with_logits``, takes).
"""

from .conv import ConvAutoEncoderModule, conv_stages
from .custom import UserAutoEncoderModule
from .dense import MLP, DenseAutoEncoderModule, make_activation
from .init import init_output_bias, init_scale_preserving
from .losses import ReconstructionLoss, SparseCodeLoss, TabularLoss, VAELoss
from .output import output_logits
from .recurrent import RecurrentAutoEncoderModule
from .sparse import SparseAutoEncoderModule
from .variational import (
    ConditionalVAEModule,
    GaussianHead,
    VAEModule,
    conv_vae_module,
    dense_vae_module,
)

__all__ = [
    "MLP",
    "ConditionalVAEModule",
    "ConvAutoEncoderModule",
    "DenseAutoEncoderModule",
    "GaussianHead",
    "ReconstructionLoss",
    "RecurrentAutoEncoderModule",
    "SparseAutoEncoderModule",
    "SparseCodeLoss",
    "TabularLoss",
    "UserAutoEncoderModule",
    "VAELoss",
    "VAEModule",
    "conv_stages",
    "conv_vae_module",
    "dense_vae_module",
    "init_output_bias",
    "init_scale_preserving",
    "make_activation",
    "output_logits",
]
