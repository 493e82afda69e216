"""Denoising autoencoders: any skae backbone trained to map corrupted data to clean."""

from __future__ import annotations

from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from . import _codec, _engine
from ._augment import NoiseAugmenter
from ._autoencoder import AutoEncoder
from ._conv import ConvAE
from ._docstrings import fill_doc
from .noise import FRACTION_KINDS, KINDS, NoiseRecipe, split_noisy

__all__ = ["ConvDenoisingAE", "DenoisingAE", "DenoisingMixin"]


class DenoisingMixin:
    """Denoising behaviour for any skae autoencoder family.

    Mix it in before the family and add ``noise`` and ``noise_level`` to the
    family's parameters::

        class ConvDenoisingAE(DenoisingMixin, ConvAE):
            _parameter_constraints = {
                **ConvAE._parameter_constraints,
                **DenoisingMixin._noise_constraints,
            }
            # __init__: ConvAE's parameters plus noise="gaussian", noise_level=0.2

    Training draws fresh corruption for every batch of every epoch from the
    recipe (``noise_``); the held-out validation input, if any, is corrupted
    once under a fixed seed. ``transform``, ``inverse_transform``,
    ``denoise`` and ``predict`` apply no corruption.
    """

    _noise_constraints: dict = {
        "noise": [StrOptions(set(KINDS)), NoiseAugmenter],
        "noise_level": [Interval(Real, 0, None, closed="left"), None],
    }

    def _noise_recipe(self, clean) -> NoiseRecipe:
        """The recipe given by the ``noise`` and ``noise_level`` parameters.

        The built-in noise keeps data in [0, 1] (images) in [0, 1], as the
        labs' ``np.clip(noisy, 0, 1)`` does: a model trained on unclipped
        noise sees other inputs than the clipped noisy images it is later
        asked to clean. A :class:`~skae.NoiseAugmenter` as ``noise`` is used
        as it is (its own ``clip``).
        """
        if isinstance(self.noise, NoiseAugmenter):
            return self.noise._recipe(clean)
        # None: the kind at the default strength of every skae noise
        level = NoiseRecipe.level if self.noise_level is None else float(self.noise_level)
        if self.noise in FRACTION_KINDS and level > 1:
            raise ValueError(
                f"noise_level={self.noise_level!r} is the fraction of corrupted entries "
                f"for noise={self.noise!r} and must lie in [0, 1]."
            )
        clip = (0.0, 1.0) if _engine.in_unit_range(clean) else None
        return NoiseRecipe(self.noise, level, clip)

    def _training_data(self, X):
        # Data from a NoiseAugmenter: train on its clean source, with its recipe
        noisy, clean, recipe = split_noisy(X)
        return (noisy if clean is None else clean), None, recipe

    def _plan(self, X, target, y, call):
        if isinstance(self.noise, NoiseAugmenter) and self.noise_level is not None:
            raise ValueError(
                f"noise_level={self.noise_level!r} would be ignored: noise is a "
                f"NoiseAugmenter, whose own level={self.noise.level!r} is used. Set the "
                "level on the augmenter (noise=NoiseAugmenter(kind, level=...)) and "
                "leave noise_level=None."
            )
        plan = super()._plan(X, target, y, call)
        # the corruption of this call: the carried recipe, else the parameters'
        plan["noise_"] = self._noise_recipe(target) if call.recipe is None else call.recipe
        return plan

    def _training_corruption(self):
        return self.noise_

    def denoise(self, X):
        """Return the denoised (reconstructed) ``X``; no corruption is added.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Noisy data.

        Returns
        -------
        X_denoised : ndarray of shape (n_samples, n_features_in_)
            The cleaned data.
        """
        return self.reconstruct(X)

    def predict(self, X):
        """Return the denoised ``X``, as :meth:`denoise`.

        In a fitted Pipeline after a :class:`~skae.NoiseAugmenter`,
        ``pipeline.predict(X)`` denoises ``X`` too: the augmenter adds noise
        in training only.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Noisy data.

        Returns
        -------
        X_denoised : ndarray of shape (n_samples, n_features_in_)
            The cleaned data.
        """
        return self.denoise(X)


@fill_doc
class DenoisingAE(DenoisingMixin, AutoEncoder):
    """Dense denoising autoencoder: learns to map corrupted data to clean data.

    Each training batch is corrupted afresh with the noise recipe and the
    network is trained to reconstruct the clean batch. ``transform``,
    ``inverse_transform`` and ``denoise`` add no noise. ``score`` measures
    denoising quality, so :class:`~sklearn.model_selection.GridSearchCV`
    ranks candidates by it.

    Placed after a :class:`~skae.NoiseAugmenter` in a Pipeline, it trains on
    the clean source carried by the augmenter's output, with the augmenter's
    recipe, and its own ``noise`` is not used.

    Parameters
    ----------
    {noise_parameters}
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
    NoiseAugmenter : Corruption as a Pipeline step.
    AutoEncoder : The same network without corruption.
    DenoisingMixin : Makes any skae autoencoder family a denoising one.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import DenoisingAE
    >>> X = load_digits().data / 16
    >>> dae = DenoisingAE(n_components=16, noise_level=0.3, max_epochs=5, random_state=0)
    >>> dae.fit(X).denoise(X[:3]).shape
    (3, 64)
    >>> dae.score(X) < 0
    True
    """

    _parameter_constraints: dict = {
        **AutoEncoder._parameter_constraints,
        **DenoisingMixin._noise_constraints,
    }

    def __init__(
        self,
        n_components=8,
        *,
        noise="gaussian",
        noise_level=None,
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
        self.noise = noise
        self.noise_level = noise_level


@fill_doc
class ConvDenoisingAE(DenoisingMixin, ConvAE):
    """Convolutional denoising autoencoder: maps corrupted images to clean ones.

    A :class:`~skae.ConvAE` trained as :class:`~skae.DenoisingAE` is: each
    training batch is corrupted afresh with the noise recipe and the network
    learns to reconstruct the clean images, as in the classic convolutional
    denoising lab. ``transform``, ``inverse_transform`` and ``denoise`` add
    no noise; ``score`` measures denoising quality. Images are given flat,
    ``(n_samples, C * H * W)``, or as image arrays when ``image_shape`` is
    set.

    Its default ``channels=(32, 16)`` has one downsampling: the code is a
    16-channel map at half the resolution, larger than the image. A denoiser
    needs no bottleneck to keep it from copying its input (the noise does
    that) and loses detail through one: on real 28x28 digits at Gaussian
    noise 0.5 it reaches 19.4 dB against 18.8 with :class:`ConvAE`'s three
    stages ``(32, 16, 8)``, and on 64x64 colour photos at noise 0.2 it
    halves the noisy input's error where three stages remove a sixth. Pass
    ``n_components`` or more stages for a compact code.

    Placed after a :class:`~skae.NoiseAugmenter` in a Pipeline, it trains on
    the clean source carried by the augmenter's output, with the augmenter's
    recipe, and its own ``noise`` is not used.

    Parameters
    ----------
    {noise_parameters}
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
    ConvAE : The same network without corruption.
    DenoisingAE : The dense denoising autoencoder.
    NoiseAugmenter : Corruption as a Pipeline step.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import ConvDenoisingAE, add_noise
    >>> X = load_digits().data / 16
    >>> dae = ConvDenoisingAE(image_shape=(8, 8), channels=(16, 8), noise_level=0.3,
    ...                       max_epochs=2, random_state=0).fit(X)
    >>> noisy = add_noise(X[:3].reshape(3, 8, 8), level=0.3, random_state=0)
    >>> dae.denoise(noisy).shape
    (3, 64)
    """

    _parameter_constraints: dict = {
        **ConvAE._parameter_constraints,
        **DenoisingMixin._noise_constraints,
    }

    def __init__(
        self,
        n_components=None,
        *,
        noise="gaussian",
        noise_level=None,
        image_shape=None,
        channels=(32, 16),
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
            image_shape=image_shape,
            channels=channels,
            kernel_size=kernel_size,
            downsample=downsample,
            upsample=upsample,
            activation=activation,
            code_activation=code_activation,
            output_activation=output_activation,
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
        self.noise = noise
        self.noise_level = noise_level


_codec.register("skae.DenoisingAE", DenoisingAE)
_codec.register("skae.ConvDenoisingAE", ConvDenoisingAE)
