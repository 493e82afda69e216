"""The recurrent sequence-to-sequence autoencoder."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from . import _codec
from ._base import BaseAutoEncoder
from ._docstrings import fill_doc
from ._shared import ACTIVATION_OPTIONS, resolve_output_activation
from .modules.dense import ACTIVATIONS
from .modules.recurrent import CELLS, RecurrentAutoEncoderModule

__all__ = ["SeqAE"]


@fill_doc
class SeqAE(BaseAutoEncoder):
    """LSTM or GRU sequence-to-sequence autoencoder for (multichannel) time series.

    The encoder runs a recurrent network over the ``T`` steps of each
    sequence and maps its last output to a code of ``n_components``; the
    decoder repeats the code over ``T`` steps, runs a second recurrent
    network and maps each step back to ``F`` features.

    Input is the flattened sequences, ``(n_samples, T * F)`` with the
    features of each step contiguous (``X3d.reshape(n, -1)``), so the
    estimator fits in any Pipeline. When ``sequence_shape`` is given, 3-D
    arrays ``(n, T, F)`` are accepted too; outputs are always 2-D.

    Parameters
    ----------
    n_components : int, default=8
        Size of the code.
    sequence_shape : tuple of int or None, default=None
        ``(T, F)``: time steps and features per step. ``None`` treats each
        sample as a univariate series of ``n_features`` steps.
    cell : {"lstm", "gru"}, default="lstm"
        Recurrent cell.
    hidden_size : int, default=64
        Units of the recurrent layers.
    num_layers : int, default=1
        Stacked recurrent layers in the encoder and in the decoder.
    dropout : float, default=0.0
        Dropout between stacked recurrent layers (needs ``num_layers > 1``).
    code_activation : str, default="linear"
        Activation of the code.
    output_activation : str, default="auto"
        Activation of the output; "auto" picks "sigmoid" when the training
        data lie in [0, 1] and "linear" otherwise.
    {training_parameters}

    Attributes
    ----------
    sequence_shape_ : tuple of int
        ``(T, F)`` of the sequences.
    output_activation_ : str
        The output activation used (``output_activation`` with "auto" resolved).
    {fitted_attributes}

    See Also
    --------
    AutoEncoder : The dense autoencoder, for data without time order.
    ConvAE : Convolutions; with ``image_shape=None`` it treats each sample as
        a 1-D signal.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import SeqAE
    >>> t = np.linspace(0, 2 * np.pi, 20)
    >>> phase = np.random.RandomState(0).uniform(0, 2 * np.pi, (50, 1, 1))
    >>> X = np.concatenate([np.sin(t[None, :, None] + phase),
    ...                     np.cos(t[None, :, None] + phase)], axis=2)
    >>> X.shape
    (50, 20, 2)
    >>> ae = SeqAE(n_components=4, sequence_shape=(20, 2), hidden_size=16,
    ...            max_epochs=2, random_state=0).fit(X)
    >>> ae.transform(X[:3]).shape
    (3, 4)
    >>> ae.reconstruct(X[:3]).shape
    (3, 40)
    """

    _parameter_constraints: dict = {
        **BaseAutoEncoder._parameter_constraints,
        "sequence_shape": ["array-like", None],
        "cell": [StrOptions(set(CELLS))],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "code_activation": [ACTIVATION_OPTIONS],
        "output_activation": [StrOptions({"auto", *ACTIVATIONS})],
    }

    def __init__(
        self,
        n_components=8,
        *,
        sequence_shape=None,
        cell="lstm",
        hidden_size=64,
        num_layers=1,
        dropout=0.0,
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
        self.sequence_shape = sequence_shape
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.code_activation = code_activation
        self.output_activation = output_activation

    def _sequence_shape(self, n_features=None) -> tuple[int, int]:
        """``sequence_shape`` as ``(T, F)``, checked against ``n_features``."""
        if self.sequence_shape is None:
            return (n_features, 1)
        shape = tuple(self.sequence_shape)
        if len(shape) != 2 or not all(
            isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape
        ):
            raise ValueError(
                f"sequence_shape must be (T, F) with positive integers, got "
                f"{self.sequence_shape!r}; e.g. sequence_shape=(100, 3)."
            )
        shape = (int(shape[0]), int(shape[1]))
        if n_features is not None and math.prod(shape) != n_features:
            raise ValueError(
                f"sequence_shape={self.sequence_shape!r} holds {math.prod(shape)} values per "
                f"sequence, but X has {n_features} features; pass the shape of one sequence "
                f"(T * F must equal {n_features})."
            )
        return shape

    def _reshape_input(self, X):
        if getattr(X, "ndim", 2) <= 2:
            return X
        X = np.asarray(X)
        if self.sequence_shape is None:
            raise ValueError(
                f"{type(self).__name__} got an array of shape {X.shape}; pass "
                f"sequence_shape={X.shape[1:]} to accept 3-D (n, T, F) arrays, or flatten "
                "the sequences to 2-D (n_samples, T * F)."
            )
        shape = self._sequence_shape()
        if X.shape[1:] != shape:
            raise ValueError(
                f"Sequences of shape {X.shape[1:]} do not match sequence_shape="
                f"{self.sequence_shape!r}; pass arrays of shape (n_samples, {shape[0]}, "
                f"{shape[1]})."
            )
        return X.reshape(len(X), -1)

    def _plan(self, X, target, y, call):
        plan = super()._plan(X, target, y, call)
        plan["sequence_shape_"] = self._sequence_shape(X.shape[1])
        if self.dropout and self.num_layers == 1:
            raise ValueError(
                f"dropout={self.dropout!r} drops between stacked recurrent layers, and "
                "num_layers=1 has none to drop between; set num_layers=2 or more, or "
                "dropout=0."
            )
        plan["output_activation_"] = resolve_output_activation(
            self.output_activation, target, self.loss
        )
        return plan

    def _build_module(self, n_features, target):
        return RecurrentAutoEncoderModule(
            self.sequence_shape_,
            self.n_components,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            cell=self.cell,
            dropout=self.dropout,
            code_activation=self.code_activation,
            output_activation=self.output_activation_,
        )


_codec.register("skae.SeqAE", SeqAE)
