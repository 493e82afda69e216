"""The convolutional autoencoder for images."""

from __future__ import annotations

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from . import _codec
from ._base import BaseAutoEncoder
from ._docstrings import fill_doc
from ._shared import (
    ACTIVATION_OPTIONS,
    ImageInputMixin,
    resolve_output_activation,
    start_at_mean,
)
from .modules.conv import ConvAutoEncoderModule
from .modules.dense import ACTIVATIONS

__all__ = ["ConvAE"]


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
    to the canonical layout and outputs are always 2-D. When C, H and W are
    equal the two layouts cannot be told apart and a 4-D array is refused:
    flatten it yourself.

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
        "activation": [ACTIVATION_OPTIONS],
        "code_activation": [ACTIVATION_OPTIONS],
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
        batch_size="auto",
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

    def _plan(self, X, target, y, call):
        plan = super()._plan(X, target, y, call)
        plan["image_shape_"] = self._image_shape(X.shape[1])
        self._check_conv_parameters()
        if self.n_components is None and self.code_activation != "linear":
            raise ValueError(
                f"code_activation={self.code_activation!r} is the activation of the dense "
                "code, and n_components=None gives none (the code is the last feature map); "
                "set n_components to an int for a dense code, or leave code_activation='linear'."
            )
        plan["output_activation_"] = resolve_output_activation(
            self.output_activation, target, self.loss
        )
        return plan

    def _activation_values(self):
        # the widest feature map: the most channels at the image's resolution
        _, height, width = self.image_shape_
        return max(self._check_conv_parameters()) * height * width

    def _build_module(self, n_features, target):
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


_codec.register("skae.ConvAE", ConvAE)
