"""What several estimator families share besides :class:`~skae._base.BaseAutoEncoder`.

Parameter checks and resolutions (hidden layer sizes, the output activation,
the normalization), the output-bias initialisation, and the image handling
of the convolutional families (:class:`ImageInputMixin`). A family imports
these from here, never from another family's module.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from . import _engine
from .modules.dense import ACTIVATIONS
from .modules.init import init_output_bias

__all__ = [
    "ACTIVATION_OPTIONS",
    "BOUNDED_ACTIVATIONS",
    "DENSE_CONSTRAINTS",
    "ImageInputMixin",
    "check_dropout",
    "check_hidden_layer_sizes",
    "dense_layers",
    "plan_dense_layers",
    "resolve_activation",
    "resolve_normalization",
    "resolve_output_activation",
    "start_at_mean",
]

# The constraint of an activation parameter.
ACTIVATION_OPTIONS = StrOptions(set(ACTIVATIONS))

# Code activations that saturate: a bounded code needs centred hidden units.
BOUNDED_ACTIVATIONS = frozenset({"tanh", "sigmoid"})

# The constraints of the dense network's parameters (all but its output activation).
DENSE_CONSTRAINTS: dict = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions({"auto", *ACTIVATIONS})],
    "code_activation": [ACTIVATION_OPTIONS],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "input_dropout": [Interval(Real, 0, 1, closed="left")],
    "normalization": [StrOptions({"auto", "layer"}), None],
}


def check_dropout(dropout, hidden_layer_sizes) -> None:
    """Refuse ``dropout`` (on hidden units) for a network without hidden layers."""
    if dropout and not check_hidden_layer_sizes(hidden_layer_sizes):
        raise ValueError(
            f"dropout={dropout!r} drops hidden units, and hidden_layer_sizes=() "
            f"has none; use input_dropout={dropout!r} to drop input features "
            "(as in the classic denoising labs), or add a hidden layer."
        )


def plan_dense_layers(estimator, n_features: int) -> dict:
    """The plan's entries for ``estimator``'s dense layers on ``n_features`` inputs.

    Refuses ``dropout`` without hidden layers and resolves ``activation``
    (``activation_``, see :func:`resolve_activation`).
    """
    check_dropout(estimator.dropout, estimator.hidden_layer_sizes)
    return {
        "activation_": resolve_activation(
            estimator.activation, estimator.code_activation, int(n_features)
        )
    }


def dense_layers(estimator) -> dict:
    """The keyword arguments of a dense module that ``estimator``'s dense parameters set.

    Everything but the output activation: ``hidden_layer_sizes``, the
    resolved ``activation`` (the plan's ``activation_``),
    ``code_activation``, ``dropout``, ``input_dropout`` and the resolved
    ``normalization``.
    """
    # the plan's activation_; a file from before activation="auto" has its parameter
    activation = getattr(estimator, "activation_", estimator.activation)
    return {
        "hidden_layer_sizes": check_hidden_layer_sizes(estimator.hidden_layer_sizes),
        "activation": activation,
        "code_activation": estimator.code_activation,
        "dropout": estimator.dropout,
        "input_dropout": estimator.input_dropout,
        "normalization": resolve_normalization(estimator.normalization, estimator.code_activation),
    }


def check_hidden_layer_sizes(
    hidden_layer_sizes, name="hidden_layer_sizes", example="(128, 64), or () for no hidden layer"
) -> tuple[int, ...]:
    """Validate ``hidden_layer_sizes`` (an int or a sequence of positive ints).

    ``name`` and ``example`` are the parameter and the fix named in the error.
    """
    sizes = (
        (hidden_layer_sizes,)
        if isinstance(hidden_layer_sizes, Integral)
        else tuple(hidden_layer_sizes)
    )
    if not all(isinstance(h, Integral) and not isinstance(h, bool) and h > 0 for h in sizes):
        raise ValueError(
            f"{name} must be a sequence of positive integers, got "
            f"{hidden_layer_sizes!r}; use e.g. {example}."
        )
    return tuple(int(h) for h in sizes)


def resolve_output_activation(output_activation: str, target: np.ndarray, loss: str) -> str:
    """Resolve ``"auto"``: sigmoid when the targets lie in [0, 1], else linear."""
    if output_activation == "auto":
        return "sigmoid" if _engine.in_unit_range(target) or loss == "bce" else "linear"
    if loss == "bce" and output_activation != "sigmoid":
        raise ValueError(
            f"loss='bce' needs output_activation='sigmoid' (or 'auto'), got {output_activation!r}."
        )
    return output_activation


def start_at_mean(module, target: np.ndarray | None, output_activation: str):
    """Return ``module`` with its output bias set so that it starts at the target mean.

    See :func:`skae.modules.init_output_bias`; ``module`` has a ``decoder``.
    ``target`` (a memmap too) is summed block by block, never copied whole.
    ``None`` (a network rebuilt to receive saved weights) leaves it as built.
    """
    if target is None:
        return module
    mean = _engine.column_mean(target)
    init_output_bias(module.decoder, torch.from_numpy(mean), output_activation)
    return module


# Inputs from this many features up take ELU hidden units under activation="auto".
ELU_FROM_FEATURES = 256


def resolve_activation(activation: str, code_activation: str, n_features: int) -> str:
    """Resolve ``"auto"``: ELU for a linear code of ``ELU_FROM_FEATURES`` inputs or more, else ReLU.

    Measured on the dense rows of ``benchmarks/bench_quality.py`` (ReLU
    against ELU, 30 epochs, in docs/bench/quality.rst): with 784 pixels ELU took
    ``AutoEncoder(32)``'s test error from 0.78x to 0.64x PCA's on 1,000
    digits and from 0.46x to 0.41x on 4,000, and it gained on the 256- and
    1,024-pixel photo patches, but it lost 0.2 to 0.8 dB on 64-pixel
    patches and 0.05 kNN on a tanh code of two units. So "auto" keeps ReLU
    for small inputs and bounded codes.
    """
    if activation != "auto":
        return activation
    return "elu" if code_activation == "linear" and n_features >= ELU_FROM_FEATURES else "relu"


def resolve_normalization(normalization, code_activation: str):
    """Resolve ``"auto"``: LayerNorm when the code activation is bounded, else none.

    On non-negative inputs such as images, the hidden ReLU units of a deep
    model are all positive, every gradient step moves the code's
    pre-activations of all samples the same way, and a tanh or sigmoid code
    saturates at a constant within the first epoch. Normalising the hidden
    layers keeps them centred. An unbounded (linear) code does not saturate
    and trains as well or better without it.
    """
    if normalization == "auto":
        return "layer" if code_activation in BOUNDED_ACTIVATIONS else None
    return normalization


class ImageInputMixin:
    """Image handling shared by the convolutional families.

    Declares the parameters ``image_shape``, ``channels``, ``kernel_size``,
    ``downsample`` and ``upsample`` (constraints only; the estimator stores
    them), resolves ``image_shape`` to ``(C, H, W)``, flattens image arrays
    (``(n, H, W)``, ``(n, C, H, W)`` or channels-last ``(n, H, W, C)``) to
    the canonical channels-first ``(n, C * H * W)`` and checks the
    convolution parameters.
    """

    _parameter_constraints: dict = {
        "image_shape": ["array-like", None],
        "channels": ["array-like", Interval(Integral, 1, None, closed="left")],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "downsample": [StrOptions({"pool", "stride"})],
        "upsample": [StrOptions({"upsample", "transpose"})],
    }

    def _image_shape(self, n_features=None) -> tuple[int, int, int]:
        """``image_shape`` as ``(C, H, W)``, checked against ``n_features``."""
        if self.image_shape is None:
            return (1, 1, n_features)
        shape = tuple(self.image_shape)
        if len(shape) not in (2, 3) or not all(
            isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape
        ):
            raise ValueError(
                f"image_shape must be (H, W) or (C, H, W) with positive integers, got "
                f"{self.image_shape!r}; e.g. image_shape=(28, 28) or (3, 32, 32)."
            )
        shape = tuple(int(s) for s in shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if n_features is not None and math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape={self.image_shape!r} holds {math.prod(shape)} values per image, "
                f"but X has {n_features} features; pass the shape of one image (C * H * W "
                f"must equal {n_features})."
            )
        return shape

    def _reshape_input(self, X):
        if getattr(X, "ndim", 2) <= 2:
            return X
        X = np.asarray(X)
        if self.image_shape is None:
            raise ValueError(
                f"{type(self).__name__} got an array of shape {X.shape}; pass "
                f"image_shape={X.shape[1:]} to accept image arrays, or flatten the "
                "images to 2-D (n_samples, C * H * W)."
            )
        c, h, w = self._image_shape()
        sample = X.shape[1:]
        if c == h == w > 1 and sample == (c, h, w):
            raise ValueError(
                f"Images of shape {sample} with image_shape={self.image_shape!r} may be "
                "channels-first (C, H, W) or channels-last (H, W, C): both have this shape. "
                "Flatten them yourself to say which: X.reshape(len(X), -1) for "
                "channels-first, np.moveaxis(X, -1, 1).reshape(len(X), -1) for channels-last."
            )
        if sample == (c, h, w) or (c == 1 and sample == (h, w)):
            return X.reshape(len(X), -1)
        if sample == (h, w, c):
            return np.moveaxis(X, -1, 1).reshape(len(X), -1)
        raise ValueError(
            f"Images of shape {sample} do not match image_shape={self.image_shape!r}; "
            f"expected (C, H, W)={(c, h, w)} or channels-last (H, W, C)={(h, w, c)}"
            + (f" or (H, W)={(h, w)}" if c == 1 else "")
            + "."
        )

    def _check_conv_parameters(self) -> tuple[int, ...]:
        """Return ``channels`` as a tuple, raising when a convolution parameter is bad."""
        channels = check_hidden_layer_sizes(self.channels, "channels", "(32, 16, 8)")
        if not channels:
            raise ValueError("channels must name at least one stage, got (); e.g. (32, 16, 8).")
        if self.kernel_size % 2 != 1:
            raise ValueError(
                f"kernel_size must be odd so that convolutions keep the image size, got "
                f"{self.kernel_size}; use e.g. 3 or 5."
            )
        return channels
