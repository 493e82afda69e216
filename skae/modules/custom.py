"""An adapter putting a user's own torch encoder and decoder behind skae's interface."""

from __future__ import annotations

import torch
from torch import nn


class UserAutoEncoderModule(nn.Module):
    """Wrap a user module exposing ``encode``/``decode``, or an encoder and a decoder.

    Adds what skae expects of its modules: ``encode``, ``decode``,
    ``forward`` and ``n_components``, the code width found by encoding two
    zero samples (in evaluation mode, without gradients).

    Parameters
    ----------
    n_features : int
        Width of the flat input.
    module : nn.Module or None
        A module with ``encode(x)`` and ``decode(z)`` methods. Its own
        ``forward`` is used in training when it defines one (it may return a
        tuple whose first element is the reconstruction); otherwise
        ``decode(encode(x))``.
    encoder, decoder : nn.Module or None
        The two halves, when ``module`` is None.
    """

    def __init__(self, n_features: int, module=None, encoder=None, decoder=None):
        super().__init__()
        self.n_features = int(n_features)
        if module is not None:
            self.module = module
        else:
            self.encoder = encoder
            self.decoder = decoder
        self.n_components = self._probe()

    def encode(self, x):
        if "module" in self._modules:
            return self.module.encode(x)
        return self.encoder(x)

    def decode(self, z):
        if "module" in self._modules:
            return self.module.decode(z)
        return self.decoder(z)

    def forward(self, x):
        if "module" in self._modules and type(self.module).forward is not nn.Module.forward:
            return self.module(x)
        return self.decode(self.encode(x))

    @torch.no_grad()
    def _probe(self) -> int:
        was_training = self.training
        self.eval()
        try:
            device = next((p.device for p in self.parameters()), torch.device("cpu"))
            code = self.encode(torch.zeros(2, self.n_features, device=device))
            if not isinstance(code, torch.Tensor) or code.ndim != 2:
                shape = tuple(code.shape) if isinstance(code, torch.Tensor) else type(code)
                raise ValueError(
                    f"The encoder must return a 2-D (n_samples, n_components) tensor, got "
                    f"{shape}; end it with nn.Flatten() for a structured code."
                )
            out = self.decode(code)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, self.n_features):
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out)
                raise ValueError(
                    f"The decoder must return (n_samples, n_features) = (n_samples, "
                    f"{self.n_features}) tensors, got {shape} for 2 samples; reshape its "
                    "output to the flat input layout."
                )
        finally:
            self.train(was_training)
        return int(code.shape[1])
