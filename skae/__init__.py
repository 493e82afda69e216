"""skae: autoencoders as first-class scikit-learn estimators.

Every estimator is a scikit-learn transformer trained through skorch over
PyTorch: ``fit``, ``transform`` (encode), ``inverse_transform`` (decode),
``score``, ``score_samples`` and ``sample`` (generate).
"""

from ._anomaly import AutoEncoderOutlierDetector
from ._augment import NoiseAugmenter
from ._autoencoder import AutoEncoder
from ._conv import ConvAE
from ._custom import ModuleAE
from ._denoising import ConvDenoisingAE, DenoisingAE
from ._distributed import DataParallel
from ._engine import cpu_threads
from ._sequence import SeqAE
from ._sparse import SparseAE
from ._summary import ModelSummary
from ._tabular import TabularAE
from ._vae import CVAE, VAE
from ._version import __version__
from .export import to_onnx
from .latent import (
    LatentGrid,
    add_attribute_vector,
    attribute_vector,
    interpolate,
    latent_grid,
    sample_latent,
)
from .noise import add_noise
from .persistence import load, save

__all__ = [
    "CVAE",
    "VAE",
    "AutoEncoder",
    "AutoEncoderOutlierDetector",
    "ConvAE",
    "ConvDenoisingAE",
    "DataParallel",
    "DenoisingAE",
    "LatentGrid",
    "ModelSummary",
    "ModuleAE",
    "NoiseAugmenter",
    "SeqAE",
    "SparseAE",
    "TabularAE",
    "__version__",
    "add_attribute_vector",
    "add_noise",
    "attribute_vector",
    "cpu_threads",
    "interpolate",
    "latent_grid",
    "load",
    "sample_latent",
    "save",
    "to_onnx",
]
