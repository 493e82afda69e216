"""skae: autoencoders as first-class scikit-learn estimators.

Every estimator is a scikit-learn transformer trained through skorch over
PyTorch: ``fit``, ``transform`` (encode), ``inverse_transform`` (decode),
``score`` and ``score_samples``.
"""

from ._anomaly import AutoEncoderOutlierDetector
from ._autoencoder import AutoEncoder

__version__ = "0.1.0"

__all__ = ["AutoEncoder", "AutoEncoderOutlierDetector", "__version__"]
