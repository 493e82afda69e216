"""The output sigmoid: probabilities outside, logits inside a loss that takes them.

A network trained with binary cross-entropy ends in a sigmoid. Inference
wants its probabilities, but the loss is cheaper and exact on the logits the
sigmoid receives: ``binary_cross_entropy_with_logits`` needs no clamp, stays
finite where the probabilities round to 0 or 1, and its fused kernel costs
about the squared error's time, where the loss on probabilities costs 1.2-1.4x.

:class:`Sigmoid` is the output layer of every skae network with a sigmoid
output. It is an ordinary :class:`torch.nn.Sigmoid` (the module's
``forward``, ``decode``, its summary and its ONNX export all give
probabilities), except inside :func:`output_logits`, where it returns its
input. The training loop enters that block around the forward pass when its
criterion takes logits (see :meth:`ReconstructionLoss.use_logits
<skae.modules.losses.ReconstructionLoss.use_logits>`), and only then. The
block is a context variable: it holds in the thread (and task) that entered
it, so inference running elsewhere on the same module still gets
probabilities.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

__all__ = ["Sigmoid", "emits_logits", "output_logits"]

_LOGITS: ContextVar[bool] = ContextVar("skae_output_logits", default=False)


class Sigmoid(nn.Sigmoid):
    """The sigmoid at a network's output: its logits pass through inside :func:`output_logits`.

    Anywhere else it is :class:`torch.nn.Sigmoid`. Hidden and code
    activations are plain ``nn.Sigmoid``: only the output hands over logits.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if _LOGITS.get() else torch.sigmoid(x)


@contextmanager
def output_logits() -> Iterator[None]:
    """While the block runs, :class:`Sigmoid` output layers return their logits."""
    token = _LOGITS.set(True)
    try:
        yield
    finally:
        _LOGITS.reset(token)


def emits_logits(module: nn.Module) -> bool:
    """Whether ``module``'s output is a :class:`Sigmoid`, which gives its logits on request."""
    return any(isinstance(layer, Sigmoid) for layer in module.modules())
