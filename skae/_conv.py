"""The convolutional autoencoder for images."""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._autoencoder import (
    _ACTIVATION_OPTIONS,
    check_hidden_layer_sizes,
    resolve_output_activation,
    start_at_mean,
)
from ._base import BaseAutoEncoder
from ._docstrings import fill_doc
from .modules.conv import ConvAutoEncoderModule
from .modules.dense import ACTIVATIONS

__all__ = ["ConvAE"]


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


@fill_doc
class ConvAE(ImageInputMixin, BaseAutoEncoder):
    """Convolutional autoencoder for grayscale or colour images of any size.

    Every entry of ``channels`` is a convolution stage; each stage but the
    last is followed by a factor-2 downsampling (``downsample``), and the
    last stage gives the code feature map. The decoder mirrors the stages,
    upsampling (``upsample``) to exactly the sizes the encoder went
    through, so any image size works (8x8, 28x28, 100x100, 256x256x3), then
    ends in a convolution back to the image's channels. An optional dense
    bottleneck of ``n_components`` units turns the code into a short flat
    vector.

    The model of the classic convolutional denoising lab (Conv2D 256 + pool,
    Conv2D 128 + pool, Conv2D 64 code, Conv2D 128 + upsample, Conv2D 256 +
    upsample, sigmoid output) is
    ``ConvAE(image_shape=(3, H, W), channels=(256, 128, 64))``.

    Input is the flattened images, ``(n_samples, C * H * W)`` in
    channels-first order, so the estimator fits in any Pipeline. When
    ``image_shape`` is given, image arrays are accepted as well: ``(n, H,
    W)`` for one channel, ``(n, C, H, W)`` (channels first) and ``(n, H, W,
    C)`` (channels last, as images are usually stored); they are flattened
    to the canonical layout and outputs are always 2-D.

    Parameters
    ----------
    {conv_ae_parameters}
    {training_parameters}

    Attributes
    ----------
    image_shape_ : tuple of int
        ``(C, H, W)`` of the images.
    output_activation_ : str
        The output activation used (``output_activation`` with "auto" resolved).
    {fitted_attributes}

    See Also
    --------
    AutoEncoder : The dense autoencoder.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import ConvAE
    >>> X = load_digits().data / 16
    >>> ae = ConvAE(n_components=16, image_shape=(8, 8), channels=(8, 16),
    ...             max_epochs=2, random_state=0).fit(X)
    >>> ae.transform(X[:3]).shape
    (3, 16)
    >>> ae.reconstruct(X[:3].reshape(3, 8, 8)).shape
    (3, 64)
    """

    _parameter_constraints: dict = {
        **BaseAutoEncoder._parameter_constraints,
        **ImageInputMixin._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "activation": [_ACTIVATION_OPTIONS],
        "code_activation": [_ACTIVATION_OPTIONS],
        "output_activation": [StrOptions({"auto", *ACTIVATIONS})],
    }

    def __init__(
        self,
        n_components=None,
        *,
        image_shape=None,
        channels=(32, 16, 8),
        kernel_size=3,
        downsample="pool",
        upsample="upsample",
        activation="relu",
        code_activation="linear",
        output_activation="auto",
        loss="auto",
        optimizer="adam",
        optimizer_kwargs=None,
        lr=3e-3,
        lr_schedule="auto",
        weight_decay=0.0,
        batch_size=64,
        max_epochs=100,
        shuffle=True,
        early_stopping=False,
        validation_fraction=None,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        callbacks=None,
        verbose=0,
        device="cpu",
        precision="32",
        random_state=None,
    ):
        super().__init__(
            n_components,
            loss=loss,
            optimizer=optimizer,
            optimizer_kwargs=optimizer_kwargs,
            lr=lr,
            lr_schedule=lr_schedule,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            shuffle=shuffle,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            warm_start=warm_start,
            callbacks=callbacks,
            verbose=verbose,
            device=device,
            precision=precision,
            random_state=random_state,
        )
        self.image_shape = image_shape
        self.channels = channels
        self.kernel_size = kernel_size
        self.downsample = downsample
        self.upsample = upsample
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation

    def _check_data(self, X, target):
        super()._check_data(X, target)
        self._image_shape(X.shape[1])
        self._check_conv_parameters()
        if self.n_components is None and self.code_activation != "linear":
            raise ValueError(
                f"code_activation={self.code_activation!r} is the activation of the dense "
                "code, and n_components=None gives none (the code is the last feature map); "
                "set n_components to an int for a dense code, or leave code_activation='linear'."
            )
        resolve_output_activation(self.output_activation, target, self.loss)

    def _build_module(self, n_features, target):
        self.image_shape_ = self._image_shape(n_features)
        self.output_activation_ = resolve_output_activation(
            self.output_activation, target, self.loss
        )
        module = ConvAutoEncoderModule(
            self.image_shape_,
            self._check_conv_parameters(),
            n_components=self.n_components,
            kernel_size=self.kernel_size,
            downsample=self.downsample,
            upsample=self.upsample,
            activation=self.activation,
            code_activation=self.code_activation,
            output_activation=self.output_activation_,
        )
        return start_at_mean(module, target, self.output_activation_)
