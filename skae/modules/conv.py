"""Convolutional encoder and decoder for images of any size.

The encoder records the spatial size of every stage; the decoder upsamples
back to exactly those sizes, so odd sizes such as 7x7 or 100x100 round-trip
without padding tricks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from .dense import make_activation


def _halve(size: int) -> int:
    """Spatial size after a factor-2 downsampling (pool or stride, odd kernel)."""
    return math.ceil(size / 2)


def _factor(size: int) -> int:
    """Downsampling factor along a dimension: 2, or 1 for a dimension of size 1."""
    return 2 if size > 1 else 1


class Crop(nn.Module):
    """Keep the top-left ``size`` of the last two dimensions."""

    def __init__(self, size: tuple[int, int]):
        super().__init__()
        self.size = tuple(size)

    def forward(self, x):
        return x[..., : self.size[0], : self.size[1]]

    def extra_repr(self) -> str:
        return f"size={self.size}"


def stage_sizes(size: tuple[int, int], n_stages: int) -> tuple[tuple[int, int], ...]:
    """Spatial ``(h, w)`` of each of ``n_stages`` stages, from the image size down."""
    sizes = [tuple(int(s) for s in size)]
    for _ in range(n_stages - 1):
        sizes.append(tuple(_halve(s) for s in sizes[-1]))
    return tuple(sizes)


def conv_stages(
    image_shape: Sequence[int],
    channels: Sequence[int],
    kernel_size: int = 3,
    downsample: str = "pool",
    upsample: str = "upsample",
    activation: str = "relu",
    output_activation: str = "linear",
) -> tuple[list[nn.Module], list[nn.Module], tuple[int, int, int]]:
    """Build the layers of a convolutional encoder and its mirrored decoder.

    Every entry of ``channels`` is a convolution stage; each stage but the
    last is followed by a factor-2 downsampling, and the last stage gives
    the code feature map. The decoder mirrors the stages: a convolution (or
    transposed convolution) and an upsampling to the exact size the encoder
    recorded, then a final convolution back to ``C`` channels.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)``.
    channels : sequence of int
        Output channels of the encoder stages, e.g. ``(256, 128, 64)``.
    kernel_size : int
        Odd kernel size of every convolution ("same" padding).
    downsample : {"pool", "stride"}
        Max pooling after a stride-1 convolution, or a stride-2 convolution.
    upsample : {"upsample", "transpose"}
        Convolution then nearest-neighbour resizing, or a stride-2
        transposed convolution.
    activation, output_activation : str
        Activations of the stages and of the output.

    Returns
    -------
    encoder : list of nn.Module
        Layers mapping ``(n, C, H, W)`` images to the flattened last feature
        map, ``(n, prod(code_shape))``.
    decoder : list of nn.Module
        Layers mapping ``(n, prod(code_shape))`` back to flat images
        ``(n, C * H * W)``.
    code_shape : tuple of int
        ``(channels[-1], h, w)``, the shape of the last feature map.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}.")
    n_channels, height, width = (int(s) for s in image_shape)
    channels = tuple(int(c) for c in channels)

    sizes = stage_sizes((height, width), len(channels))

    encoder: list[nn.Module] = []
    previous = n_channels
    for i, out in enumerate(channels):
        size = sizes[i]
        kernel = tuple(kernel_size if s > 1 else 1 for s in size)
        padding = tuple(k // 2 for k in kernel)
        last = i == len(channels) - 1
        factor = (1, 1) if last else tuple(_factor(s) for s in size)
        stride = factor if downsample == "stride" else (1, 1)
        encoder.append(nn.Conv2d(previous, out, kernel, stride=stride, padding=padding))
        encoder.append(make_activation(activation))
        if downsample == "pool" and not last and factor != (1, 1):
            encoder.append(nn.MaxPool2d(factor, factor, ceil_mode=True))
        previous = out
    code_shape = (channels[-1], *sizes[-1])
    encoder.append(nn.Flatten())

    decoder: list[nn.Module] = [nn.Unflatten(1, code_shape)]
    previous = channels[-1]
    for i in reversed(range(len(channels) - 1)):
        size, target = sizes[i + 1], sizes[i]
        kernel = tuple(kernel_size if s > 1 else 1 for s in target)
        padding = tuple(k // 2 for k in kernel)
        factor = tuple(_factor(s) for s in target)
        if upsample == "transpose":
            decoder.append(
                nn.ConvTranspose2d(
                    previous,
                    channels[i],
                    kernel,
                    stride=factor,
                    padding=padding,
                    output_padding=tuple(f - 1 for f in factor),
                )
            )
            decoder.append(make_activation(activation))
            if tuple(s * f for s, f in zip(size, factor, strict=True)) != target:
                decoder.append(Crop(target))
        else:
            decoder.append(nn.Conv2d(previous, channels[i], kernel, padding=padding))
            decoder.append(make_activation(activation))
            if size != target:
                decoder.append(nn.Upsample(size=target, mode="nearest"))
        previous = channels[i]
    kernel = tuple(kernel_size if s > 1 else 1 for s in sizes[0])
    decoder.append(nn.Conv2d(previous, n_channels, kernel, padding=tuple(k // 2 for k in kernel)))
    if output_activation != "linear":
        decoder.append(make_activation(output_activation, network_output=True))
    decoder.append(nn.Flatten())
    return encoder, decoder, code_shape


class ConvAutoEncoderModule(nn.Module):
    """Convolutional autoencoder over flat ``(n, C * H * W)`` inputs.

    The stages are those of :func:`conv_stages`: convolutions with factor-2
    downsampling, and a decoder that upsamples to exactly the sizes the
    encoder went through, then convolves back to ``C`` channels.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)``.
    channels : sequence of int
        Output channels of the encoder stages, e.g. ``(256, 128, 64)``.
    n_components : int or None
        Width of a dense bottleneck after the last stage; ``None`` means the
        code is the flattened last feature map.
    kernel_size : int
        Odd kernel size of every convolution ("same" padding).
    downsample : {"pool", "stride"}
        Max pooling after a stride-1 convolution, or a stride-2 convolution.
    upsample : {"upsample", "transpose"}
        Convolution then nearest-neighbour resizing, or a stride-2
        transposed convolution.
    activation, code_activation, output_activation : str
        Activations of the stages, of the dense code and of the output.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        channels: Sequence[int],
        n_components: int | None = None,
        kernel_size: int = 3,
        downsample: str = "pool",
        upsample: str = "upsample",
        activation: str = "relu",
        code_activation: str = "linear",
        output_activation: str = "linear",
    ):
        super().__init__()
        encoder, stages_decoder, code_shape = conv_stages(
            image_shape,
            channels,
            kernel_size=kernel_size,
            downsample=downsample,
            upsample=upsample,
            activation=activation,
            output_activation=output_activation,
        )
        self.image_shape = tuple(int(s) for s in image_shape)
        self.n_features = math.prod(self.image_shape)
        self.stage_sizes = stage_sizes(self.image_shape[1:], len(tuple(channels)))
        code_width = math.prod(code_shape)
        decoder: list[nn.Module] = []
        if n_components is not None:
            encoder.append(nn.Linear(code_width, n_components))
            if code_activation != "linear":
                encoder.append(make_activation(code_activation))
            decoder += [nn.Linear(n_components, code_width), make_activation(activation)]

        self.n_components = code_width if n_components is None else int(n_components)
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder, *stages_decoder)

    def encode(self, x):
        return self.encoder(x.reshape(x.shape[0], *self.image_shape))

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))
