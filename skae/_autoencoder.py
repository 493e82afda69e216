"""The dense autoencoder."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from . import _engine
from ._base import BaseAutoEncoder
from ._docstrings import fill_doc
from .modules.dense import ACTIVATIONS, DenseAutoEncoderModule
from .modules.init import init_output_bias

__all__ = [
    "AutoEncoder",
    "check_hidden_layer_sizes",
    "resolve_normalization",
    "resolve_output_activation",
    "start_at_mean",
]


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


def start_at_mean(module, target: np.ndarray, output_activation: str):
    """Return ``module`` with its output bias set so that it starts at the target mean.

    See :func:`skae.modules.init_output_bias`; ``module`` has a ``decoder``.
    ``target`` (a memmap too) is summed block by block, never copied whole.
    """
    mean = _engine.column_mean(target)
    init_output_bias(module.decoder, torch.from_numpy(mean), output_activation)
    return module


# Code activations that saturate: a bounded code needs centred hidden units.
BOUNDED_ACTIVATIONS = frozenset({"tanh", "sigmoid"})


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


_ACTIVATION_OPTIONS = StrOptions(set(ACTIVATIONS))


@fill_doc
class AutoEncoder(BaseAutoEncoder):
    """Dense (fully connected) autoencoder as a scikit-learn transformer.

    The encoder is an MLP from the input through ``hidden_layer_sizes`` to a
    code of ``n_components`` units; the decoder mirrors it. ``transform``
    encodes, ``inverse_transform`` decodes, ``score_samples`` is the negative
    per-sample reconstruction error.

    Parameters
    ----------
    {dense_parameters}
    {training_parameters}

    Attributes
    ----------
    output_activation_ : str
        The output activation used (``output_activation`` with "auto" resolved).
    {fitted_attributes}

    See Also
    --------
    DenoisingAE : Learns to map corrupted inputs to clean ones.
    sklearn.decomposition.PCA : The linear counterpart.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoEncoder
    >>> X = load_digits().data / 16
    >>> ae = AutoEncoder(n_components=2, max_epochs=5, random_state=0).fit(X)
    >>> ae.transform(X[:3]).shape
    (3, 2)
    >>> ae.inverse_transform(ae.transform(X[:3])).shape
    (3, 64)
    """

    _parameter_constraints: dict = {
        **BaseAutoEncoder._parameter_constraints,
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [_ACTIVATION_OPTIONS],
        "code_activation": [_ACTIVATION_OPTIONS],
        "output_activation": [StrOptions({"auto", *ACTIVATIONS})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "normalization": [StrOptions({"auto", "layer"}), None],
    }

    def __init__(
        self,
        n_components=8,
        *,
        hidden_layer_sizes=(512,),
        activation="relu",
        code_activation="linear",
        output_activation="auto",
        dropout=0.0,
        input_dropout=0.0,
        normalization="auto",
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.normalization = normalization

    def _check_data(self, X, target):
        super()._check_data(X, target)
        if self.dropout and not check_hidden_layer_sizes(self.hidden_layer_sizes):
            raise ValueError(
                f"dropout={self.dropout!r} drops hidden units, and hidden_layer_sizes=() "
                f"has none; use input_dropout={self.dropout!r} to drop input features "
                "(as in the classic denoising labs), or add a hidden layer."
            )
        resolve_output_activation(self.output_activation, target, self.loss)

    # The torch module built by fit; a subclass may swap in a variant.
    _module_class = DenseAutoEncoderModule

    def _build_module(self, n_features, target):
        self.output_activation_ = resolve_output_activation(
            self.output_activation, target, self.loss
        )
        module = self._module_class(
            n_features,
            self.n_components,
            hidden_layer_sizes=check_hidden_layer_sizes(self.hidden_layer_sizes),
            activation=self.activation,
            code_activation=self.code_activation,
            output_activation=self.output_activation_,
            dropout=self.dropout,
            input_dropout=self.input_dropout,
            normalization=resolve_normalization(self.normalization, self.code_activation),
        )
        return start_at_mean(module, target, self.output_activation_)
