"""skae: autoencoders as first-class scikit-learn estimators.

Every estimator is a scikit-learn transformer trained through skorch over
PyTorch: ``fit``, ``transform`` (encode), ``inverse_transform`` (decode),
``score`` and ``score_samples``.
"""

from ._augment import NoiseAugmenter
from ._autoencoder import AutoEncoder
from ._denoising import DenoisingAE
from .noise import add_noise

__version__ = "0.1.0"

__all__ = ["AutoEncoder", "DenoisingAE", "NoiseAugmenter", "__version__", "add_noise"]
