"""The sparse autoencoder: a dense autoencoder with penalties on its code."""

from __future__ import annotations

from numbers import Real

from sklearn.utils._param_validation import Interval

from . import _codec
from ._autoencoder import AutoEncoder
from ._docstrings import fill_doc
from .modules.losses import SparseCodeLoss
from .modules.sparse import SparseAutoEncoderModule

__all__ = ["SparseAE"]


@fill_doc
class SparseAE(AutoEncoder):
    """Sparse autoencoder: a dense autoencoder whose code is pushed towards zero.

    Two penalties on the code are added to the reconstruction loss in
    training:

    * an L1 activity penalty, ``alpha * mean_batch(sum_units |code|)``, as
      Keras's ``activity_regularizer=l1(alpha)``;
    * a KL sparsity target, ``sparsity_weight * sum_units KL(rho ||
      rho_hat)``, where ``rho = sparsity_target`` and ``rho_hat`` is each
      unit's mean activation over the batch. It needs activations in
      (0, 1): use it with ``code_activation="sigmoid"``.

    The defaults are the L1 model of the classic Keras lab (a ReLU code with
    ``activity_regularizer=l1(1e-4)``), whose exact zeros make the code
    sparse at a small cost in reconstruction.

    Inference (``transform``, ``score_samples``) is that of
    :class:`AutoEncoder`; the penalties act only on training.

    Parameters
    ----------
    n_components : int, default=32
        Size of the code; sparse codes are often wider than dense ones.
    hidden_layer_sizes : int or tuple of int, default=(512,)
        Widths of the encoder's hidden layers; the decoder uses them in
        reverse.
    activation : str, default="auto"
        Hidden activation; "auto" is "relu" with the default ReLU code, and
        as in :class:`AutoEncoder` otherwise ("elu" for a linear code of 256
        features or more); the fitted ``activation_`` says which.
    code_activation : str, default="relu"
        Activation of the code. "relu" with ``alpha`` gives exact zeros;
        ``sparsity_weight > 0`` needs "sigmoid".
    output_activation : str, default="auto"
        Activation of the output; "auto" picks "sigmoid" when the training
        data lie in [0, 1] and "linear" otherwise.
    dropout : float, default=0.0
        Dropout after each hidden layer.
    input_dropout : float, default=0.0
        Dropout on the input itself.
    normalization : {"auto", "layer"} or None, default="auto"
        ``"layer"``: a LayerNorm after every hidden layer, before its
        activation (see :class:`AutoEncoder`). ``None``: plain layers.
        ``"auto"``: "layer" when ``code_activation`` is "tanh" or "sigmoid".
    alpha : float, default=1e-4
        Weight of the L1 activity penalty on the code.
    sparsity_target : float, default=0.05
        Desired mean activation of each code unit, in (0, 1).
    sparsity_weight : float, default=0.0
        Weight of the KL sparsity penalty; 0 turns it off. Try 0.1 with
        ``code_activation="sigmoid"``.
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
    AutoEncoder : The same model without the code penalties.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import SparseAE
    >>> X = load_digits().data / 16
    >>> ae = SparseAE(n_components=32, alpha=3e-4, max_epochs=5, random_state=0).fit(X)
    >>> codes = ae.transform(X[:3])
    >>> codes.shape
    (3, 32)
    """

    _parameter_constraints: dict = {
        **AutoEncoder._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "sparsity_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=32,
        *,
        hidden_layer_sizes=(512,),
        activation="auto",
        code_activation="relu",
        output_activation="auto",
        dropout=0.0,
        input_dropout=0.0,
        normalization="auto",
        alpha=1e-4,
        sparsity_target=0.05,
        sparsity_weight=0.0,
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
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            code_activation=code_activation,
            output_activation=output_activation,
            dropout=dropout,
            input_dropout=input_dropout,
            normalization=normalization,
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
        self.alpha = alpha
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight

    def _plan(self, X, target, y, call):
        plan = super()._plan(X, target, y, call)
        if self.sparsity_weight > 0 and self.code_activation != "sigmoid":
            raise ValueError(
                f"sparsity_weight={self.sparsity_weight} compares mean code activations "
                f"with sparsity_target, which needs code_activation='sigmoid', got "
                f"{self.code_activation!r}. Set sparsity_weight=0 to use only the L1 "
                "penalty alpha."
            )
        return plan

    _module_class = SparseAutoEncoderModule

    def _build_criterion(self):
        return SparseCodeLoss(
            self.loss_,
            alpha=self.alpha,
            sparsity_target=self.sparsity_target,
            sparsity_weight=self.sparsity_weight,
        )


_codec.register("skae.SparseAE", SparseAE)
