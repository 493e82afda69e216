"""Dense autoencoder that also hands its code to the criterion."""

from __future__ import annotations

from .dense import DenseAutoEncoderModule


class SparseAutoEncoderModule(DenseAutoEncoderModule):
    """:class:`DenseAutoEncoderModule` whose ``forward`` returns ``(reconstruction, code)``.

    The code reaches the criterion, which penalises it (see
    :class:`~skae.modules.losses.SparseCodeLoss`).
    """

    def forward(self, x):
        code = self.encoder(x)
        return self.decoder(code), code
