"""skae: autoencoders as first-class scikit-learn estimators.

Every estimator is a scikit-learn transformer trained through skorch over
PyTorch: ``fit``, ``transform`` (encode), ``inverse_transform`` (decode),
``score`` and ``score_samples``.
"""

from ._autoencoder import AutoEncoder
from ._conv import ConvAE
from ._custom import ModuleAE
from ._sequence import SeqAE
from ._sparse import SparseAE
from ._summary import ModelSummary

__version__ = "0.1.0"

__all__ = [
    "AutoEncoder",
    "ConvAE",
    "ModelSummary",
    "ModuleAE",
    "SeqAE",
    "SparseAE",
    "__version__",
]
