"""Variational autoencoders: VAE and the class-conditional CVAE."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils import check_random_state, metadata_routing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from . import _codec, _engine
from ._base import BaseAutoEncoder, _same
from ._docstrings import fill_doc
from ._shared import (
    ImageInputMixin,
    check_hidden_layer_sizes,
    resolve_output_activation,
    start_at_mean,
)
from .modules.dense import ACTIVATIONS
from .modules.losses import (
    NLL_CONSTANT,
    VAELoss,
    gaussian_kl,
    reconstruction_error,
)
from .modules.variational import conv_vae_module, dense_vae_module

__all__ = ["CVAE", "VAE"]

_ELBO_DOC = """\
The ELBO of a sample is ``log p(x | z) - KL(q(z | x) || N(0, I))`` in nats.
        The likelihood is Bernoulli for ``loss="bce"``, Gaussian with variance
        1/2 for ``loss="mse"`` and Laplace with scale 1 for ``loss="mae"``,
        constants included; it is evaluated at the posterior mean ``z = mu``
        (no sampling) and the KL is exact, so the score is deterministic. It
        uses ``beta = 1`` whatever the training ``beta``, so that models
        trained with different ``beta`` compare on the same scale."""


def _check_labels(y, name):
    """``y`` as a 1-D array of class labels of one kind (all numbers, or all text)."""
    y = column_or_1d(check_array(y, ensure_2d=False, dtype=None), warn=True)
    if y.dtype == object:
        kinds = {"text" if isinstance(v, str | bytes) else type(v).__name__ for v in y}
        if "text" in kinds and len(kinds) > 1:
            raise ValueError(
                f"{name} mixes text and other labels ({', '.join(sorted(kinds))}), which "
                f"cannot be sorted into classes; use labels of one type, e.g. "
                f"np.asarray({name}).astype(str)."
            )
    check_classification_targets(y)
    return y


@fill_doc
class VAE(ImageInputMixin, BaseAutoEncoder):
    """Variational autoencoder (dense or convolutional) as a scikit-learn transformer.

    An encoder ends in a diagonal Gaussian posterior
    ``q(z | x) = N(mu, diag(exp(logvar)))`` over an
    ``n_components``-dimensional code; the mirrored decoder maps a
    reparameterised draw back to the data. The encoder and decoder are
    chosen by ``backbone``:

    - ``"dense"`` (default): an MLP through ``hidden_layer_sizes`` and its
      mirror.
    - ``"conv"``: the convolution stages of :class:`ConvAE` (``channels``,
      ``kernel_size``, ``downsample``, ``upsample``) over images of shape
      ``image_shape``, flattened, then the dense ``hidden_layer_sizes``
      into the Gaussian head; the decoder maps the code through the
      mirrored dense layers to the last feature map, then upsamples to
      exactly the image size.

    Input is the flattened images, ``(n_samples, C * H * W)`` channels
    first, and outputs (``reconstruct``, ``inverse_transform``, ``sample``)
    are always flat. When ``image_shape`` is given, image arrays are
    accepted as well, with either backbone: ``(n, H, W)``,
    ``(n, C, H, W)`` and channels-last ``(n, H, W, C)``. Training minimises the negative
    beta-ELBO: the reconstruction error summed over the features of each
    sample plus ``beta`` times the KL divergence to the prior ``N(0, I)``,
    averaged over the batch.

    ``transform`` returns the posterior mean (deterministic),
    ``inverse_transform`` decodes, ``sample`` decodes draws from the prior,
    and ``score_samples`` is the per-sample ELBO, so ``GridSearchCV`` over
    ``n_components`` or ``beta`` ranks models by held-out ELBO.

    Parameters
    ----------
    n_components : int, default=8
        Size of the code (the latent dimension).
    backbone : {"dense", "conv"}, default="dense"
        Dense layers (``hidden_layer_sizes``) or convolutions (``channels``,
        ``kernel_size``, ``downsample``, ``upsample``) followed by the dense
        ``hidden_layer_sizes`` around the code; the dense backbone has no
        convolutions, and refuses convolution parameters set away from their
        defaults rather than ignoring them.
    hidden_layer_sizes : "auto", int or tuple of int, default="auto"
        Widths of the encoder's dense hidden layers (after the convolutions
        with ``backbone="conv"``); the decoder uses them in reverse. ``()``
        gives linear maps to the posterior and back. ``"auto"``: ``(256,
        128)`` for both backbones (behind two layers a 2-D code of 28x28
        digits separates the digits far better than behind one or none; see
        the user guide's "Defaults that train").
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)`` of one image. The convolutional
        backbone convolves over it (``None`` treats each sample as a
        one-channel ``1 x n_features`` signal); with either backbone it
        lets ``fit`` and the other methods take image arrays.
    {conv_parameters}
    activation : str, default="relu"
        Hidden activation: "relu", "leaky_relu", "elu", "selu", "gelu",
        "tanh", "sigmoid", "softplus" or "linear".
    output_activation : str, default="auto"
        Activation of the output; "auto" picks "sigmoid" when the training
        data lie in [0, 1] and "linear" otherwise.
    beta : float, default=1.0
        Weight of the KL term (the beta-VAE); larger values pull the codes
        towards the prior, smaller values favour reconstruction.
    kl_warmup_epochs : int, default=0
        When positive, the KL weight ramps linearly from 0 to ``beta`` over
        this many epochs (KL annealing), which helps avoid posterior
        collapse early in training.
    {training_parameters}

    Attributes
    ----------
    image_shape_ : tuple of int or None
        ``(C, H, W)`` of the images; ``None`` for the dense backbone without
        ``image_shape``.
    output_activation_ : str
        The output activation used (``output_activation`` with "auto" resolved).
    kl_curve_ : list of float
        Mean KL divergence per training sample, per epoch (unweighted).
    {fitted_attributes}

    See Also
    --------
    CVAE : Conditional VAE that generates a requested class.
    AutoEncoder : The deterministic dense autoencoder.
    ConvAE : The deterministic convolutional autoencoder.

    Notes
    -----
    The reconstruction error is summed over features (not averaged) so that
    the loss is the negative ELBO in nats and ``beta=1`` is the true VAE.
    ``loss="bce"`` (a Bernoulli decoder) is the usual choice for images in
    [0, 1] and what the default ``"auto"`` picks for them; ``"mse"`` (a
    Gaussian decoder with variance 1/2), picked for any other data, suits
    any real-valued data.
    The network is a :class:`~skae.modules.VAEModule`, which wraps any
    encoder body and decoder with a Gaussian head; both backbones use it
    (:func:`~skae.modules.dense_vae_module`,
    :func:`~skae.modules.conv_vae_module`).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAE
    >>> X = load_digits().data / 16
    >>> vae = VAE(n_components=2, loss="bce", max_epochs=5, random_state=0).fit(X)
    >>> vae.transform(X[:3]).shape
    (3, 2)
    >>> vae.sample(4, random_state=0).shape
    (4, 64)
    >>> vae.score_samples(X[:3]).shape
    (3,)

    The convolutional backbone, on the digits as 8x8 images:

    >>> conv = VAE(n_components=2, backbone="conv", image_shape=(8, 8), channels=(8, 16),
    ...            loss="bce", max_epochs=5, random_state=0).fit(X)
    >>> conv.transform(X[:3].reshape(3, 8, 8)).shape
    (3, 2)
    >>> conv.sample(4, random_state=0).shape
    (4, 64)
    """

    _parameter_constraints: dict = {
        **BaseAutoEncoder._parameter_constraints,
        **ImageInputMixin._parameter_constraints,
        "backbone": [StrOptions({"dense", "conv"})],
        "hidden_layer_sizes": [
            StrOptions({"auto"}),
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "output_activation": [StrOptions({"auto", *ACTIVATIONS})],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=8,
        *,
        backbone="dense",
        hidden_layer_sizes="auto",
        image_shape=None,
        channels=(32, 16, 8),
        kernel_size=3,
        downsample="pool",
        upsample="upsample",
        activation="relu",
        output_activation="auto",
        beta=1.0,
        kl_warmup_epochs=0,
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
        self.backbone = backbone
        self.hidden_layer_sizes = hidden_layer_sizes
        self.image_shape = image_shape
        self.channels = channels
        self.kernel_size = kernel_size
        self.downsample = downsample
        self.upsample = upsample
        self.activation = activation
        self.output_activation = output_activation
        self.beta = beta
        self.kl_warmup_epochs = kl_warmup_epochs

    # ------------------------------------------------------------------
    # Hooks
    # ------------------------------------------------------------------
    def _plan(self, X, target, y, call):
        plan = super()._plan(X, target, y, call)
        if self.backbone == "conv":
            self._check_conv_parameters()
        else:
            defaults = type(self)().get_params(deep=False)
            unused = [
                name
                for name in ("channels", "kernel_size", "downsample", "upsample")
                if not _same(getattr(self, name), defaults[name])
            ]
            if unused:
                raise ValueError(
                    f"{unused[0]}={getattr(self, unused[0])!r} sets the convolutions of "
                    "backbone='conv', and backbone='dense' has none; pass backbone='conv' "
                    f"(with image_shape) to use it, or leave {unused[0]} at its default."
                )
        self._hidden_layer_sizes()
        plan["output_activation_"] = resolve_output_activation(
            self.output_activation, target, self.loss
        )
        plan["image_shape_"] = (
            None
            if self.backbone == "dense" and self.image_shape is None
            else self._image_shape(X.shape[1])
        )
        return plan

    def _hidden_layer_sizes(self) -> tuple[int, ...]:
        """``hidden_layer_sizes``, validated, with "auto" resolved."""
        if isinstance(self.hidden_layer_sizes, str) and self.hidden_layer_sizes == "auto":
            return (256, 128)
        return check_hidden_layer_sizes(self.hidden_layer_sizes)

    def _n_classes(self) -> int:
        return 0

    def _activation_values(self):
        if self.backbone != "conv":
            return super()._activation_values()
        # the widest feature map: the most channels at the image's resolution
        _, height, width = self.image_shape_
        return max(self._check_conv_parameters()) * height * width

    def _build_module(self, n_features, target):
        if self.backbone == "conv":
            module = conv_vae_module(
                self.image_shape_,
                self.n_components,
                self._check_conv_parameters(),
                kernel_size=self.kernel_size,
                downsample=self.downsample,
                upsample=self.upsample,
                activation=self.activation,
                output_activation=self.output_activation_,
                n_classes=self._n_classes(),
                hidden_layer_sizes=self._hidden_layer_sizes(),
            )
        else:
            module = dense_vae_module(
                n_features,
                self.n_components,
                hidden_layer_sizes=self._hidden_layer_sizes(),
                activation=self.activation,
                output_activation=self.output_activation_,
                n_classes=self._n_classes(),
            )
        return start_at_mean(module, target, self.output_activation_)

    def _build_criterion(self):
        return VAELoss(self.loss_, beta=self.beta)

    def _training_callbacks(self):
        callbacks = _engine.term_scoring(["kl", "reconstruction"])
        if self.kl_warmup_epochs:
            callbacks.append(
                ("kl_warmup", _engine.CriterionWarmup("kl_weight", self.kl_warmup_epochs))
            )
        return callbacks

    def _set_fitted(self, net, seed):
        super()._set_fitted(net, seed)
        self.kl_curve_ = [float(row["train_kl"]) for row in net.history]

    def _code_distribution(self):
        return np.zeros(self.n_components_), np.ones(self.n_components_)

    # ------------------------------------------------------------------
    # Scoring
    # ------------------------------------------------------------------
    def _elbo(self, X, target, label=None, corrupt=None):
        """Per-sample ELBO of ``target`` given the data ``X``.

        ``label`` (CVAE) is the class index the decoder is conditioned on:
        one for every row, or an array aligned with the rows. Its one-hot
        columns are appended to each block of ``X`` as it is read, never to
        the whole data. The ELBO is computed in float64 outside autocast
        (float32 on MPS, which has no float64), so finite inputs give finite
        scores. ``corrupt(index, block)``, when given, turns each block of
        ``X`` into what the network sees (see :meth:`_held_out_corruption`).
        """
        elbo = self._elbo_post(target.shape[1])
        arrays = [X] if target is X else [X, target]
        aligned = label is not None and np.ndim(label) > 0
        if aligned:
            arrays.append(np.asarray(label))

        def prepare(index, x, *rest):
            t = rest[0] if target is not X else x
            if corrupt is not None:
                x = corrupt(index, x)
            if label is not None:
                x = np.hstack([x, self._one_hot_index(rest[-1] if aligned else label, len(x))])
            return x, t

        return self._map(self.net_.module_, *arrays, post=elbo, prepare=prepare)

    def _elbo_post(self, n_features):
        """The per-sample ELBO of a batch from the network's output ``(recon, mu, logvar)``.

        The ``post`` of :meth:`_elbo`, and what :func:`skae.to_onnx` puts in
        its graph; computed in float64 against the target ``t`` (float32 on
        MPS, which has no float64): a sum of squared errors of finite
        float32 inputs (|x| >= 1e19) overflows float32, never float64.
        """
        kind = self.loss_
        constant = n_features * NLL_CONSTANT[kind]

        def elbo(out, t):
            mps = t.device.type == "mps"
            recon, mu, logvar = (part.float() if mps else part.double() for part in out)
            t = t.float() if mps else t.double()
            nll = reconstruction_error(recon, t, kind).sum(dim=1) + constant
            return -(nll + gaussian_kl(mu, logvar))

        return elbo

    def score_samples(self, X):
        """Per-sample evidence lower bound (ELBO), higher for more likely samples.

        {elbo}

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ELBO of each sample, in nats.
        """
        check_is_fitted(self)
        X, target = self._score_data(X)
        return self._elbo(X, target)

    def score(self, X, y=None):
        """Mean per-sample ELBO (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.
        y : None
            Ignored.

        Returns
        -------
        score : float
            ``score_samples(X).mean()``; for a model fitted after a
            :class:`~skae.NoiseAugmenter` (``noise_`` set), the mean ELBO of
            ``X`` given ``X`` corrupted by ``noise_`` under a fixed seed.
        """
        check_is_fitted(self)
        corrupt = self._held_out_corruption(X)
        if corrupt is None:
            return float(np.mean(self.score_samples(X)))
        X = self._validate_X(X, reset=False)
        return float(np.mean(self._elbo(X, X, corrupt=corrupt)))

    def sample(self, n_samples=1, *, random_state=None):
        """Generate samples by decoding draws from the prior ``N(0, I)``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the drawn codes; the same integer gives the same samples.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_)
            Decoded samples.
        """
        return super().sample(n_samples, random_state=random_state)


VAE.score_samples.__doc__ = VAE.score_samples.__doc__.replace("{elbo}", _ELBO_DOC)


@fill_doc
class CVAE(VAE):
    """Conditional variational autoencoder: generates samples of a requested class.

    As :class:`VAE`, but the decoder also receives the one-hot class label,
    so ``sample(n, y=label)`` generates that class. ``fit(X, y)`` takes any
    class labels (kept in ``classes_``, as classifiers do).

    The encoder sees ``X`` alone: ``transform(X)`` needs no labels (so a
    CVAE sits in a Pipeline) and returns the exact posterior mean. Since the
    decoder is told the class, the code is free to describe what the class
    does not: the style (slant, thickness) of a digit. In practice the
    encoder, which sees the digit, also puts its identity into the code, so
    the codes of one class fill only part of the prior ``N(0, I)``, and a
    prior draw decoded under class ``k`` often shows another class (on 4,000
    real 28x28 digits, 20 epochs, 47% of such samples are recognised as the
    requested digit). :meth:`sample` therefore draws the codes of class
    ``k`` from a full-covariance Gaussian fitted to the training codes of
    class ``k`` (``class_code_mean_``, ``class_code_cov_``): 97% recognised.

    Parameters
    ----------
    n_components : int, default=8
        Size of the code (the latent dimension).
    backbone : {"dense", "conv"}, default="dense"
        Dense layers (``hidden_layer_sizes``) or convolutions (``channels``,
        ``kernel_size``, ``downsample``, ``upsample``) around the code, as
        in :class:`VAE`; the dense backbone ignores the convolution
        parameters.
    hidden_layer_sizes : "auto", int or tuple of int, default="auto"
        Widths of the encoder's dense hidden layers (after the convolutions
        with ``backbone="conv"``); the decoder uses them in reverse after
        the code and the one-hot label. ``"auto"`` as in :class:`VAE`.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)`` of one image, as in :class:`VAE`.
    {conv_parameters}
    activation : str, default="relu"
        Hidden activation.
    output_activation : str, default="auto"
        Activation of the output; "auto" picks "sigmoid" when the training
        data lie in [0, 1] and "linear" otherwise.
    beta : float, default=1.0
        Weight of the KL term.
    kl_warmup_epochs : int, default=0
        When positive, the KL weight ramps linearly from 0 to ``beta`` over
        this many epochs.
    {training_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    class_prior_ : ndarray of shape (n_classes,)
        Frequency of each class in the training labels.
    class_code_mean_ : ndarray of shape (n_classes, n_components)
        Mean of the training codes (posterior means) of each class.
    class_code_cov_ : ndarray of shape (n_classes, n_components, n_components)
        Covariance of the training codes of each class. A class seen fewer
        than twice (``partial_fit`` with ``classes``) keeps the prior: mean
        0, identity covariance.
    image_shape_ : tuple of int or None
        ``(C, H, W)`` of the images; ``None`` for the dense backbone without
        ``image_shape``.
    output_activation_ : str
        The output activation used.
    kl_curve_ : list of float
        Mean KL divergence per training sample, per epoch.
    {fitted_attributes}

    See Also
    --------
    VAE : The unconditional model.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import CVAE
    >>> X, y = load_digits(return_X_y=True)
    >>> cvae = CVAE(n_components=4, loss="bce", max_epochs=5, random_state=0).fit(X / 16, y)
    >>> cvae.sample(3, y=7, random_state=0).shape
    (3, 64)
    >>> cvae.transform(X[:2] / 16).shape
    (2, 4)
    >>> conv = CVAE(n_components=4, backbone="conv", image_shape=(8, 8), channels=(8, 16),
    ...             loss="bce", max_epochs=5, random_state=0).fit(X / 16, y)
    >>> conv.sample(3, y=7, random_state=0).shape
    (3, 64)
    """

    # ``classes`` is passed to partial_fit directly, never routed as metadata
    # (which would add a set_partial_fit_request method).
    __metadata_request__partial_fit = {"classes": metadata_routing.UNUSED}

    # ------------------------------------------------------------------
    # Labels
    # ------------------------------------------------------------------
    def _n_classes(self):
        return len(self.classes_)

    def _plan(self, X, target, y, call):
        plan = super()._plan(X, target, y, call)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None. "
                "Pass the class labels: fit(X, y)."
            )
        y = _check_labels(y, "y")
        check_consistent_length(X, y)
        classes = call.classes
        if classes is not None:
            classes = np.unique(_check_labels(classes, "classes"))
            if call.continuing and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()} differs from classes_="
                    f"{self.classes_.tolist()} fixed by the first partial_fit call; pass the "
                    "same classes, or call fit to start over."
                )
        if call.continuing:
            classes = self.classes_
        elif classes is None:
            classes = np.unique(y)
        plan["classes_"] = classes
        counts = np.bincount(self._label_index(y, classes), minlength=len(classes))
        if call.continuing and call.incremental:  # partial_fit chunks add up
            counts = counts + self._class_counts
        plan["_class_counts"] = counts
        plan["class_prior_"] = counts / counts.sum()
        return plan

    def _network_input(self, X, y):
        return np.hstack([X, self._one_hot(_check_labels(y, "y"), X.dtype)])

    def _label_index(self, y, classes=None):
        """Index in ``classes`` (default ``classes_``) of each label of ``y``.

        Unseen labels are refused.
        """
        classes = self.classes_ if classes is None else classes
        y = np.asarray(y)
        known = np.isin(y, classes)
        if not known.all():
            unseen = np.unique(y[~known])
            raise ValueError(
                f"y contains labels not seen in fit: {unseen.tolist()[:10]}; "
                f"the known labels are classes_={classes.tolist()}. With partial_fit, "
                "pass every label as classes=... on the first call."
            )
        return np.searchsorted(classes, y)

    def _one_hot(self, y, dtype=np.float64):
        return self._one_hot_index(self._label_index(y), len(y), dtype)

    def _one_hot_index(self, index, n, dtype=np.float32):
        """One-hot rows of class ``index`` (one index, or one per row) for ``n`` rows."""
        return np.eye(len(self.classes_), dtype=dtype)[np.broadcast_to(index, (n,))]

    def _labels(self, y, n_samples):
        """``y`` as ``n_samples`` labels: a scalar is repeated."""
        if np.ndim(y) == 0:
            # the label's own dtype, never classes_'s: a cast would turn 7.5 into
            # 7, or "doggo" into "dog", and accept a label never seen in fit
            return np.full(n_samples, np.asarray(y))
        y = column_or_1d(y)
        if len(y) != n_samples:
            raise ValueError(
                f"y has {len(y)} labels for {n_samples} samples; pass one label per "
                "sample, or a single label for all."
            )
        return y

    # ------------------------------------------------------------------
    # Training API with required labels
    # ------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the CVAE on ``X`` with class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (any hashable, sortable values).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch on ``X`` with labels ``y``.

        The first call fixes ``classes_``: from ``classes`` when given, else
        from the labels of its chunk. Later calls may only use those labels,
        so pass ``classes`` on the first call whenever its chunk may lack a
        class, as with scikit-learn's incremental classifiers.
        ``class_prior_`` counts the labels of every chunk seen.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            Every label any chunk will use. Needed on the first call when
            its chunk does not show every class; on later calls it may be
            omitted, or must equal ``classes_``.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        self._validate_params()  # which sklearn skips in partial_fit once fitted
        return self._fit(X, y, incremental=True, classes=classes)

    def _fit_code_distribution(self, X, y=None, *, merge=False):
        """Also fit a full-covariance Gaussian to the codes of each class.

        The encoder sees ``X`` alone, so its codes carry the class as well as
        the style, and the codes of one class fill only part of the prior
        ``N(0, I)``: a prior draw decoded under class ``k`` often looks like
        another class. :meth:`sample` draws from these per-class Gaussians
        instead. They use the codes of the base class's estimate (the same
        rows, encoded once); ``partial_fit`` chunks are pooled (Chan et al.'s update, per class).
        """
        rows, Z = super()._fit_code_distribution(X, y, merge=merge)
        index = self._label_index(_check_labels(y, "y"))[rows]
        n_classes, n_components = len(self.classes_), Z.shape[1]
        count = np.bincount(index, minlength=n_classes).astype(np.float64)
        mean = np.zeros((n_classes, n_components))
        m2 = np.zeros((n_classes, n_components, n_components))
        for k in np.flatnonzero(count):
            deviation = Z[index == k] - (mean_k := Z[index == k].mean(axis=0))
            mean[k], m2[k] = mean_k, deviation.T @ deviation
        old = getattr(self, "_class_code_stats", None)
        if merge and old is not None and old[1].shape == mean.shape:
            old_count, old_mean, old_m2 = old
            total = old_count + count
            share = np.divide(count, total, out=np.zeros_like(total), where=total > 0)
            delta = mean - old_mean
            m2 = old_m2 + m2 + np.einsum("ki,kj,k->kij", delta, delta, old_count * share)
            mean, count = old_mean + delta * share[:, None], total
        self._class_code_stats = (count, mean, m2)
        # A class seen fewer than twice has no spread to estimate: the prior.
        known = count >= 2
        self.class_code_mean_ = np.where(known[:, None], mean, 0.0)
        self.class_code_cov_ = np.where(
            known[:, None, None],
            m2 / np.maximum(count, 1)[:, None, None],
            np.eye(n_components),
        )

    # ------------------------------------------------------------------
    # Decoding with labels
    # ------------------------------------------------------------------
    def _decode_with_labels(self, Z, labels):
        Z = np.asarray(Z, dtype=np.float64)
        return self._map(
            self.net_.module_.decode,
            Z,
            self._label_index(labels),
            prepare=lambda index, z, label: (np.hstack([z, self._one_hot_index(label, len(z))]),),
        )

    def inverse_transform(self, X, y=None):
        """Decode codes of class ``y`` back into the data space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Codes, as returned by ``transform``.
        y : label or array-like of shape (n_samples,)
            Class of each code (a single label applies to all). Required.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            Decoded samples.
        """
        check_is_fitted(self)
        Z = self._validate_codes(X)
        if y is None:
            raise ValueError(
                "CVAE.inverse_transform needs the class labels y of the codes, e.g. "
                "inverse_transform(Z, y=7); the decoder is conditioned on the class."
            )
        return self._decode_with_labels(Z, self._labels(y, len(Z))).astype(Z.dtype, copy=False)

    def sample(self, n_samples=1, *, y=None, random_state=None):
        """Generate samples of class ``y`` by decoding codes typical of that class.

        The codes of class ``k`` are ``class_code_mean_[k]`` plus standard-
        normal noise shaped by the square root of ``class_code_cov_[k]``
        (see the class description for why not the prior). The noise is drawn
        before the labels, so with the same ``random_state`` the samples of
        two classes share their noise.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.
        y : label, array-like of shape (n_samples,) or None, default=None
            Class to generate (a single label for all, or one per sample).
            None draws the classes from ``class_prior_``.
        random_state : int, RandomState instance or None, default=None
            Seeds the drawn codes (and classes); the same integer gives the
            same samples.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_)
            Decoded samples.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        rng = check_random_state(random_state)
        noise = rng.standard_normal((int(n_samples), self.n_components_))
        if y is None:
            labels = self.classes_[rng.choice(len(self.classes_), n_samples, p=self.class_prior_)]
        else:
            labels = self._labels(y, n_samples)
        index = self._label_index(labels)
        # a symmetric square root of each covariance (eigenvalues clipped at 0)
        values, vectors = np.linalg.eigh(self.class_code_cov_)
        roots = vectors * np.sqrt(np.clip(values, 0, None))[:, None, :]
        Z = self.class_code_mean_[index] + np.einsum("nij,nj->ni", roots[index], noise)
        return self._decode_with_labels(Z, labels)

    # ------------------------------------------------------------------
    # Scoring and reconstruction, with or without labels
    # ------------------------------------------------------------------
    def _class_elbos(self, X, target, corrupt=None):
        """ELBO of every sample under every class: shape (n_samples, n_classes)."""
        return np.column_stack(
            [self._elbo(X, target, k, corrupt) for k in range(len(self.classes_))]
        )

    def _map_errors(self, inputs, target, post, corrupt):
        # decoded under the class each sample is most likely in, as reconstruct
        module = self.net_.module_
        labels = self._likeliest_class(inputs)
        return self._map(
            lambda xy: module(xy)[0],
            *((inputs, labels) if target is inputs else (inputs, target, labels)),
            post=post,
            prepare=lambda k, x, *rest: (
                np.hstack(
                    [x if corrupt is None else corrupt(k, x), self._one_hot_index(rest[-1], len(x))]
                ),
                rest[0] if target is not inputs else x,
            ),
        )

    def _likeliest_class(self, X):
        """Index of the class under which each sample is most likely (ELBO plus log prior)."""
        return (self._class_elbos(X, X) + np.log(self.class_prior_)).argmax(axis=1)

    def score_samples(self, X, y=None):
        """Per-sample ELBO, with or without the labels.

        With ``y``, the ELBO of ``log p(x | y)``. Without, a bound on
        ``log p(x)`` marginalising the class:
        ``logsumexp_k(ELBO(x | k) + log class_prior_[k])``.

        {elbo}

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.
        y : array-like of shape (n_samples,) or None, default=None
            Their class labels, when known.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ELBO of each sample, in nats.
        """
        check_is_fitted(self)
        X, target = self._score_data(X)
        return self._label_scores(X, target, y)

    def _label_scores(self, X, target, y, corrupt=None):
        """Per-sample ELBO of ``target`` given ``X``, under labels ``y`` or marginalised."""
        if y is not None:
            return self._elbo(X, target, self._label_index(self._labels(y, len(X))), corrupt)
        joint = self._class_elbos(X, target, corrupt) + np.log(self.class_prior_)
        top = joint.max(axis=1)
        return top + np.log(np.exp(joint - top[:, None]).sum(axis=1))

    def score(self, X, y=None):
        """Mean per-sample ELBO (higher is better); see :meth:`score_samples`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.
        y : array-like of shape (n_samples,) or None, default=None
            Their class labels, when known.

        Returns
        -------
        score : float
            ``score_samples(X, y).mean()``; for a model fitted after a
            :class:`~skae.NoiseAugmenter` (``noise_`` set), the mean ELBO of
            ``X`` given ``X`` corrupted by ``noise_`` under a fixed seed.
        """
        check_is_fitted(self)
        corrupt = self._held_out_corruption(X)
        if corrupt is None:
            return float(np.mean(self.score_samples(X, y)))
        X = self._validate_X(X, reset=False)
        return float(np.mean(self._label_scores(X, X, y, corrupt)))

    def reconstruct(self, X, y=None):
        """Encode then decode ``X`` under class ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to reconstruct.
        y : label, array-like of shape (n_samples,) or None, default=None
            Class to decode with. None uses, for each sample, the class under
            which it is most likely (highest ELBO plus log prior).

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features_in_)
            Reconstructions.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        if y is None:
            labels = self.classes_[self._likeliest_class(X)]
        else:
            labels = self._labels(y, len(X))
        Z = self._map(self.net_.module_.encode, X)
        return self._decode_with_labels(Z, labels).astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


CVAE.score_samples.__doc__ = CVAE.score_samples.__doc__.replace("{elbo}", _ELBO_DOC)

_codec.register("skae.VAE", VAE)
_codec.register("skae.CVAE", CVAE)
