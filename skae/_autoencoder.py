"""The dense autoencoder."""

from __future__ import annotations

from sklearn.utils._param_validation import StrOptions

from . import _codec
from ._base import BaseAutoEncoder
from ._docstrings import fill_doc
from ._shared import (
    DENSE_CONSTRAINTS,
    dense_layers,
    plan_dense_layers,
    resolve_output_activation,
    start_at_mean,
)
from .modules.dense import ACTIVATIONS, DenseAutoEncoderModule

__all__ = ["AutoEncoder"]


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
    activation_ : str
        The hidden activation used (``activation`` with "auto" resolved).
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
        **DENSE_CONSTRAINTS,
        "output_activation": [StrOptions({"auto", *ACTIVATIONS})],
    }

    def __init__(
        self,
        n_components=8,
        *,
        hidden_layer_sizes=(512,),
        activation="auto",
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.normalization = normalization

    def _plan(self, X, target, y, call):
        plan = super()._plan(X, target, y, call)
        plan.update(plan_dense_layers(self, X.shape[1]))
        plan["output_activation_"] = resolve_output_activation(
            self.output_activation, target, self.loss
        )
        return plan

    # The torch module built by fit; a subclass may swap in a variant.
    _module_class = DenseAutoEncoderModule

    def _build_module(self, n_features, target):
        module = self._module_class(
            n_features,
            self.n_components,
            output_activation=self.output_activation_,
            **dense_layers(self),
        )
        return start_at_mean(module, target, self.output_activation_)


_codec.register("skae.AutoEncoder", AutoEncoder)
