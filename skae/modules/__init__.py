"""Plain PyTorch modules behind the skae estimators.

Nothing here imports scikit-learn or skorch: every module is an ordinary
``torch.nn.Module`` that takes flat ``(n_samples, n_features)`` float tensors
and exposes ``encode``, ``decode`` and ``forward``, plus the attribute
``n_components`` (the width of the code).
"""

from .conv import ConvAutoEncoderModule
from .custom import UserAutoEncoderModule
from .dense import MLP, DenseAutoEncoderModule, make_activation
from .losses import ReconstructionLoss, SparseCodeLoss
from .recurrent import RecurrentAutoEncoderModule
from .sparse import SparseAutoEncoderModule

__all__ = [
    "MLP",
    "ConvAutoEncoderModule",
    "DenseAutoEncoderModule",
    "ReconstructionLoss",
    "RecurrentAutoEncoderModule",
    "SparseAutoEncoderModule",
    "SparseCodeLoss",
    "UserAutoEncoderModule",
    "make_activation",
]
