"""Pictures of what an autoencoder learned, as scikit-learn style Displays.

Every display follows scikit-learn's visualisation API: build it from a
fitted estimator with ``XDisplay.from_estimator(estimator, ...)``, or from
precomputed arrays with ``XDisplay(...).plot(ax=None)``. After plotting, a
display keeps the Matplotlib ``figure_`` and ``ax_`` it drew on, plus the
artists it made, so a figure can be restyled or inspected afterwards.

Matplotlib is imported only when a display is plotted.

Images are handed over flat, as the estimators see them, and reshaped with an
``image_shape``: ``(H, W)`` for grey images, ``(C, H, W)`` (or ``(H, W, C)``)
for colour ones. When it is not given, it is taken from the estimator's
``image_shape`` if it has one, else inferred for square grey images (and
square 3-channel ones).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .noise import split_noisy

__all__ = [
    "FeatureErrorDisplay",
    "ImageErrorDisplay",
    "LatentGridDisplay",
    "LatentSpaceDisplay",
    "LossCurveDisplay",
    "ReconstructionDisplay",
    "SamplesDisplay",
]


# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------
def _final_estimator(estimator):
    """The last step of a Pipeline, or the estimator itself."""
    steps = getattr(estimator, "steps", None)
    if steps:
        return steps[-1][1]
    return estimator


def _estimator_name(estimator):
    return type(_final_estimator(estimator)).__name__


def _resolve_image_shape(n_features, image_shape=None, estimator=None):
    """Return the display shape of one image: ``(H, W)`` or ``(H, W, C)``.

    ``image_shape`` wins when given; then the estimator's ``image_shape``
    attribute; then a square grey image, then a square 3-channel image.
    """
    if image_shape is None and estimator is not None:
        image_shape = getattr(_final_estimator(estimator), "image_shape", None)
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side == n_features:
            image_shape = (side, side)
        elif n_features % 3 == 0 and math.isqrt(n_features // 3) ** 2 == n_features // 3:
            side = math.isqrt(n_features // 3)
            image_shape = (3, side, side)
        else:
            raise ValueError(
                f"Cannot infer the image shape of {n_features} features (not a square "
                "image); pass image_shape=(H, W) or (C, H, W)."
            )
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) not in (2, 3) or int(np.prod(image_shape)) != n_features:
        raise ValueError(
            f"image_shape={image_shape} does not hold {n_features} features; pass "
            "(H, W) or (C, H, W) whose product is the number of features."
        )
    return image_shape


def _as_images(X, image_shape):
    """Reshape flat rows ``X`` into displayable images ``(n, H, W[, C])``.

    ``image_shape`` is channels-first ``(C, H, W)`` when its first entry is
    1, 3 or 4, else channels-last ``(H, W, C)``. Single-channel images are
    squeezed to ``(H, W)``.
    """
    X = np.asarray(X)
    images = X.reshape((len(X), *image_shape))
    if len(image_shape) == 3:
        if image_shape[0] in (1, 3, 4):
            images = np.moveaxis(images, 1, -1)
        if images.shape[-1] == 1:
            images = images[..., 0]
    return images


def _image_kwargs(images, cmap):
    """imshow keyword arguments: grey images share one colour scale."""
    if images.ndim == 3:  # (n, H, W): grey
        lo, hi = float(np.min(images)), float(np.max(images))
        if lo >= 0 and hi <= 1:
            lo, hi = 0.0, 1.0
        return {"cmap": cmap, "vmin": lo, "vmax": hi}
    return {}


def _prepare_rgb(image):
    # imshow clips float RGB to [0, 1] with a warning; clip quietly instead.
    return np.clip(image, 0, 1) if image.ndim == 3 else image


def _grid_axes(ax, n_rows, n_cols, figsize):
    """A 2-D array of axes: a new figure, an Axes area to split, or given axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, axes = plt.subplots(n_rows, n_cols, figsize=figsize, squeeze=False)
        return fig, axes
    if isinstance(ax, np.ndarray) or isinstance(ax, (list, tuple)):
        axes = np.asarray(ax, dtype=object)
        if axes.size != n_rows * n_cols:
            raise ValueError(
                f"ax holds {axes.size} axes but the display needs {n_rows} x {n_cols} = "
                f"{n_rows * n_cols}; pass a single Axes or None."
            )
        axes = axes.reshape(n_rows, n_cols)
        return axes[0, 0].figure, axes
    from matplotlib.gridspec import GridSpecFromSubplotSpec

    fig = ax.figure
    ax.set_axis_off()
    spec = GridSpecFromSubplotSpec(n_rows, n_cols, subplot_spec=ax.get_subplotspec())
    axes = np.empty((n_rows, n_cols), dtype=object)
    for i in range(n_rows):
        for j in range(n_cols):
            axes[i, j] = fig.add_subplot(spec[i, j])
    return fig, axes


def _draw_image_rows(rows, labels, ax, cmap, scale):
    """Draw rows of images, one Axes per image; return (fig, axes, artists)."""
    n_rows = len(rows)
    n_cols = max(len(r) for r in rows)
    fig, axes = _grid_axes(ax, n_rows, n_cols, (scale * n_cols, scale * n_rows))
    shared = _image_kwargs(np.concatenate([r for r in rows if len(r)]), cmap)
    artists = np.empty((n_rows, n_cols), dtype=object)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            a = axes[i, j]
            a.set_xticks([])
            a.set_yticks([])
            for spine in a.spines.values():
                spine.set_visible(False)
            if j < len(row):
                artists[i, j] = a.imshow(_prepare_rgb(row[j]), **shared)
        if labels is not None and labels[i]:
            axes[i, 0].set_ylabel(labels[i])
    return fig, axes, artists


# ----------------------------------------------------------------------
# Loss curves
# ----------------------------------------------------------------------
class LossCurveDisplay:
    """Training and validation loss per epoch.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss per epoch, e.g. an estimator's ``loss_curve_``.
    validation_loss_curve : array-like of shape (n_epochs,) or None, default=None
        Validation loss per epoch (``validation_loss_curve_``).
    estimator_name : str or None, default=None
        Title of the plot.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The training curve.
    validation_line_ : matplotlib Line2D or None
        The validation curve.
    ax_ : matplotlib Axes
        Axes holding the curves.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    ReconstructionDisplay : What the trained model reconstructs.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoEncoder
    >>> from skae.plotting import LossCurveDisplay
    >>> X = load_digits().data / 16
    >>> ae = AutoEncoder(max_epochs=3, validation_fraction=0.2, random_state=0).fit(X)
    >>> display = LossCurveDisplay.from_estimator(ae)
    >>> len(display.line_.get_ydata())
    3
    """

    def __init__(self, loss_curve, validation_loss_curve=None, *, estimator_name=None):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, log_scale=False):
        """Plot the loss curves of a fitted estimator (or of a Pipeline's last step).

        Parameters
        ----------
        estimator : fitted skae estimator or Pipeline ending in one
            Must have ``loss_curve_``; ``validation_loss_curve_`` is used when
            present.
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure when None.
        log_scale : bool, default=False
            Use a logarithmic loss axis.

        Returns
        -------
        display : LossCurveDisplay
        """
        final = _final_estimator(estimator)
        check_is_fitted(final, "loss_curve_")
        display = cls(
            final.loss_curve_,
            getattr(final, "validation_loss_curve_", None),
            estimator_name=_estimator_name(estimator),
        )
        return display.plot(ax=ax, log_scale=log_scale)

    def plot(self, ax=None, *, log_scale=False):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure when None.
        log_scale : bool, default=False
            Use a logarithmic loss axis.

        Returns
        -------
        display : LossCurveDisplay
            The display, with ``ax_``, ``figure_`` and the lines set.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        train = np.asarray(self.loss_curve, dtype=float)
        epochs = np.arange(1, len(train) + 1)
        (self.line_,) = ax.plot(epochs, train, label="training")
        self.validation_line_ = None
        if self.validation_loss_curve is not None:
            valid = np.asarray(self.validation_loss_curve, dtype=float)
            (self.validation_line_,) = ax.plot(
                np.arange(1, len(valid) + 1), valid, label="validation"
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        if log_scale:
            ax.set_yscale("log")
        if self.estimator_name:
            ax.set_title(self.estimator_name)
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


# ----------------------------------------------------------------------
# Reconstructions
# ----------------------------------------------------------------------
class ReconstructionDisplay:
    """Rows of original, optionally noisy, and reconstructed images.

    Parameters
    ----------
    originals : array-like of shape (n_images, n_features)
        Clean images, flat.
    reconstructions : array-like of shape (n_images, n_features)
        What the model returned for them.
    noisy : array-like of shape (n_images, n_features) or None, default=None
        The corrupted inputs the model saw, shown as a middle row.
    image_shape : tuple or None, default=None
        ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)``; inferred for square
        images when None.

    Attributes
    ----------
    images_ : ndarray of matplotlib AxesImage, shape (n_rows, n_images)
        The drawn images, row by row: originals, [noisy], reconstructions.
    ax_ : ndarray of matplotlib Axes, shape (n_rows, n_images)
        One axes per image.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    SamplesDisplay : A grid of images such as generated samples.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoEncoder
    >>> from skae.plotting import ReconstructionDisplay
    >>> X = load_digits().data / 16
    >>> ae = AutoEncoder(max_epochs=3, random_state=0).fit(X)
    >>> display = ReconstructionDisplay.from_estimator(ae, X, n_images=5)
    >>> display.ax_.shape
    (2, 5)
    """

    def __init__(self, originals, reconstructions, *, noisy=None, image_shape=None):
        self.originals = originals
        self.reconstructions = reconstructions
        self.noisy = noisy
        self.image_shape = image_shape

    @classmethod
    def from_estimator(
        cls, estimator, X, *, X_noisy=None, n_images=10, image_shape=None, ax=None, cmap="gray"
    ):
        """Reconstruct the first ``n_images`` rows of ``X`` with a fitted estimator.

        Parameters
        ----------
        estimator : fitted estimator
            Anything with ``reconstruct``, or with ``transform`` and
            ``inverse_transform`` (a Pipeline too). A Pipeline that starts
            with a :class:`~skae.NoiseAugmenter` and ends in an autoencoder
            corrupts ``X`` itself: its noisy images are shown between the
            originals and the reconstructions.
        X : array-like of shape (n_samples, n_features)
            Clean images, flat.
        X_noisy : array-like of shape (n_samples, n_features) or None, default=None
            Corrupted versions of ``X``; when given, they are what the model
            reconstructs, and they are shown between originals and outputs.
            Not accepted with a Pipeline that corrupts its input itself.
        n_images : int, default=10
            Number of images (columns) shown.
        image_shape : tuple or None, default=None
            Shape of one image; taken from ``estimator.image_shape`` or
            inferred when None.
        ax : matplotlib Axes, array of Axes or None, default=None
            A single Axes is split into the grid; None makes a new figure.
        cmap : str, default="gray"
            Colour map of grey images.

        Returns
        -------
        display : ReconstructionDisplay
        """
        X = np.asarray(X)[:n_images]
        inputs = X if X_noisy is None else np.asarray(X_noisy)[:n_images]
        noisy = None if X_noisy is None else inputs
        final = _final_estimator(estimator)
        if hasattr(final, "reconstruct") and final is estimator:
            reconstructions = estimator.reconstruct(inputs)
        elif hasattr(final, "reconstruct") and not hasattr(estimator, "inverse_transform"):
            # A Pipeline that cannot be inverted, such as one that corrupts
            # its input with a NoiseAugmenter: run the steps before the
            # autoencoder, an augmenter corrupting as in training, show
            # their noisy output, reconstruct it.
            model_inputs = inputs
            for _, step in estimator.steps[:-1]:
                if step is None or (isinstance(step, str) and step == "passthrough"):
                    continue
                augmenter = getattr(step, "_skae_carries_clean_source", False)
                model_inputs = (step.corrupt if augmenter else step.transform)(model_inputs)
            model_inputs, clean, _ = split_noisy(model_inputs)
            if clean is not None:
                if X_noisy is not None:
                    raise ValueError(
                        "The pipeline corrupts its input itself, so X_noisy would be "
                        "corrupted twice; pass only the clean X, or pass the fitted "
                        "autoencoder step (pipeline[-1]) with X_noisy."
                    )
                noisy = np.asarray(model_inputs)
            reconstructions = final.reconstruct(model_inputs)
        else:
            reconstructions = estimator.inverse_transform(estimator.transform(inputs))
        shape = _resolve_image_shape(X.shape[1], image_shape, estimator)
        display = cls(X, reconstructions, noisy=noisy, image_shape=shape)
        return display.plot(ax=ax, cmap=cmap)

    @classmethod
    def from_predictions(
        cls,
        X,
        X_reconstructed,
        *,
        X_noisy=None,
        n_images=10,
        image_shape=None,
        ax=None,
        cmap="gray",
    ):
        """Show precomputed reconstructions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Clean images, flat.
        X_reconstructed : array-like of shape (n_samples, n_features)
            Reconstructions of ``X`` (or of ``X_noisy``).
        X_noisy : array-like of shape (n_samples, n_features) or None, default=None
            Corrupted inputs, shown as a middle row.
        n_images : int, default=10
            Number of images (columns) shown.
        image_shape : tuple or None, default=None
            Shape of one image; inferred for square images when None.
        ax : matplotlib Axes, array of Axes or None, default=None
            A single Axes is split into the grid; None makes a new figure.
        cmap : str, default="gray"
            Colour map of grey images.

        Returns
        -------
        display : ReconstructionDisplay
        """
        noisy = None if X_noisy is None else np.asarray(X_noisy)[:n_images]
        display = cls(
            np.asarray(X)[:n_images],
            np.asarray(X_reconstructed)[:n_images],
            noisy=noisy,
            image_shape=image_shape,
        )
        return display.plot(ax=ax, cmap=cmap)

    def plot(self, ax=None, *, cmap="gray"):
        """Draw the rows of images.

        Parameters
        ----------
        ax : matplotlib Axes, array of Axes or None, default=None
            A single Axes is split into the grid; None makes a new figure.
        cmap : str, default="gray"
            Colour map of grey images.

        Returns
        -------
        display : ReconstructionDisplay
        """
        originals = np.asarray(self.originals)
        shape = _resolve_image_shape(originals.shape[1], self.image_shape)
        rows = [_as_images(originals, shape)]
        labels = ["original"]
        if self.noisy is not None:
            rows.append(_as_images(np.asarray(self.noisy), shape))
            labels.append("noisy")
        rows.append(_as_images(np.asarray(self.reconstructions), shape))
        labels.append("reconstructed" if self.noisy is None else "denoised")
        self.figure_, self.ax_, self.images_ = _draw_image_rows(rows, labels, ax, cmap, 1.0)
        return self


# ----------------------------------------------------------------------
# Generated samples (or any grid of images)
# ----------------------------------------------------------------------
class SamplesDisplay:
    """A grid of images, such as samples drawn from a generative model.

    Parameters
    ----------
    images : array-like of shape (n_images, n_features)
        Flat images.
    image_shape : tuple or None, default=None
        ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)``; inferred for square
        images when None.
    n_cols : int or None, default=None
        Images per row; about the square root of ``n_images`` when None.

    Attributes
    ----------
    images_ : ndarray of matplotlib AxesImage, shape (n_rows, n_cols)
        The drawn images (None where the grid has no image).
    ax_ : ndarray of matplotlib Axes, shape (n_rows, n_cols)
        One axes per image.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    LatentGridDisplay : Decoded images over a regular grid of 2-D codes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae.plotting import SamplesDisplay
    >>> X = load_digits().data / 16
    >>> SamplesDisplay(X[:6], n_cols=3).plot().ax_.shape
    (2, 3)
    """

    def __init__(self, images, *, image_shape=None, n_cols=None):
        self.images = images
        self.image_shape = image_shape
        self.n_cols = n_cols

    @classmethod
    def from_estimator(
        cls,
        estimator,
        n_samples=16,
        *,
        random_state=None,
        image_shape=None,
        n_cols=None,
        ax=None,
        cmap="gray",
        **sample_params,
    ):
        """Draw ``n_samples`` images with ``estimator.sample`` and show them.

        Parameters
        ----------
        estimator : fitted generative estimator
            Must have ``sample(n_samples, random_state=..., **sample_params)``.
        n_samples : int, default=16
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the sampling.
        image_shape : tuple or None, default=None
            Shape of one image; taken from ``estimator.image_shape`` or
            inferred when None.
        n_cols : int or None, default=None
            Images per row.
        ax : matplotlib Axes, array of Axes or None, default=None
            A single Axes is split into the grid; None makes a new figure.
        cmap : str, default="gray"
            Colour map of grey images.
        **sample_params : dict
            Passed on to ``sample``, e.g. ``y=7`` for a conditional model.

        Returns
        -------
        display : SamplesDisplay
        """
        final = _final_estimator(estimator)
        if not hasattr(final, "sample"):
            raise TypeError(
                f"{type(final).__name__} has no sample method; use a generative "
                "estimator such as VAE, or pass images to SamplesDisplay(images).plot()."
            )
        samples = np.asarray(final.sample(n_samples, random_state=random_state, **sample_params))
        shape = _resolve_image_shape(samples.shape[1], image_shape, estimator)
        return cls(samples, image_shape=shape, n_cols=n_cols).plot(ax=ax, cmap=cmap)

    def plot(self, ax=None, *, cmap="gray"):
        """Draw the grid.

        Parameters
        ----------
        ax : matplotlib Axes, array of Axes or None, default=None
            A single Axes is split into the grid; None makes a new figure.
        cmap : str, default="gray"
            Colour map of grey images.

        Returns
        -------
        display : SamplesDisplay
        """
        flat = np.asarray(self.images)
        shape = _resolve_image_shape(flat.shape[1], self.image_shape)
        images = _as_images(flat, shape)
        n = len(images)
        n_cols = self.n_cols or max(1, math.ceil(math.sqrt(n)))
        rows = [images[i : i + n_cols] for i in range(0, n, n_cols)]
        self.figure_, self.ax_, self.images_ = _draw_image_rows(rows, None, ax, cmap, 0.9)
        return self


# ----------------------------------------------------------------------
# Latent space
# ----------------------------------------------------------------------
class LatentSpaceDisplay:
    """2-D scatter of codes, coloured by label.

    Parameters
    ----------
    embedding : array-like of shape (n_samples, 2)
        The 2-D points (codes, or their projection).
    y : array-like of shape (n_samples,) or None, default=None
        Labels; each class gets its own colour and legend entry.
    projection : str or None, default=None
        Name of the projection used, for the axis labels ("pca", "tsne"),
        or None for raw codes.

    Attributes
    ----------
    scatters_ : list of matplotlib PathCollection
        One scatter per class (a single one without labels).
    legend_ : matplotlib Legend or None
        The class legend.
    ax_ : matplotlib Axes
        Axes holding the scatter.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    LatentGridDisplay : What the decoder makes of each point of a 2-D latent.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoEncoder
    >>> from skae.plotting import LatentSpaceDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> ae = AutoEncoder(n_components=2, max_epochs=3, random_state=0).fit(X / 16)
    >>> display = LatentSpaceDisplay.from_estimator(ae, X / 16, y)
    >>> len(display.scatters_)
    10
    """

    def __init__(self, embedding, y=None, *, projection=None):
        self.embedding = embedding
        self.y = y
        self.projection = projection

    @classmethod
    def from_estimator(
        cls, estimator, X, y=None, *, projection="pca", random_state=None, ax=None, **scatter_kwargs
    ):
        """Encode ``X`` and scatter the codes, projected to 2-D when wider.

        Parameters
        ----------
        estimator : fitted transformer
            An autoencoder (or Pipeline) whose ``transform`` gives the codes.
        X : array-like of shape (n_samples, n_features)
            Data to encode.
        y : array-like of shape (n_samples,) or None, default=None
            Labels for the colours and the legend.
        projection : {"pca", "tsne"}, default="pca"
            How codes wider than 2 are brought to 2-D; 2-D codes are shown as
            they are.
        random_state : int, RandomState instance or None, default=None
            Seeds the projection.
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure when None.
        **scatter_kwargs : dict
            Passed to ``Axes.scatter``.

        Returns
        -------
        display : LatentSpaceDisplay
        """
        if projection not in ("pca", "tsne"):
            raise ValueError(f"projection must be 'pca' or 'tsne', got {projection!r}.")
        codes = np.asarray(estimator.transform(X))
        if codes.ndim != 2 or codes.shape[1] < 2:
            raise ValueError(
                f"LatentSpaceDisplay needs codes with at least 2 components, got shape "
                f"{codes.shape}; use an estimator with n_components >= 2."
            )
        used = None
        if codes.shape[1] > 2:
            if projection == "pca":
                from sklearn.decomposition import PCA

                codes = PCA(n_components=2, random_state=random_state).fit_transform(codes)
            else:
                from sklearn.manifold import TSNE

                perplexity = min(30.0, max(1.0, (len(codes) - 1) / 3))
                codes = TSNE(
                    n_components=2, perplexity=perplexity, random_state=random_state
                ).fit_transform(codes)
            used = projection
        return cls(codes, y, projection=used).plot(ax=ax, **scatter_kwargs)

    def plot(self, ax=None, **scatter_kwargs):
        """Draw the scatter.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure when None.
        **scatter_kwargs : dict
            Passed to ``Axes.scatter`` (e.g. ``s=5``, ``alpha=0.7``).

        Returns
        -------
        display : LatentSpaceDisplay
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 4.5))
        Z = np.asarray(self.embedding, dtype=float)
        if Z.ndim != 2 or Z.shape[1] != 2:
            raise ValueError(f"embedding must have shape (n_samples, 2), got {Z.shape}.")
        kwargs = {"s": 8, "alpha": 0.8, **scatter_kwargs}
        self.scatters_ = []
        self.legend_ = None
        if self.y is None:
            self.scatters_.append(ax.scatter(Z[:, 0], Z[:, 1], **kwargs))
        else:
            y = np.asarray(self.y)
            classes = np.unique(y)
            colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
            for k, label in enumerate(classes):
                mask = y == label
                self.scatters_.append(
                    ax.scatter(
                        Z[mask, 0],
                        Z[mask, 1],
                        color=colours(k % colours.N),
                        label=str(label),
                        **kwargs,
                    )
                )
            self.legend_ = ax.legend(
                title="label", loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2
            )
        prefix = {None: "code", "pca": "PCA", "tsne": "t-SNE"}[self.projection]
        ax.set_xlabel(f"{prefix} 1")
        ax.set_ylabel(f"{prefix} 2")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


class LatentGridDisplay:
    """Images decoded from a regular grid over a 2-D latent space (a manifold).

    The decoded images are tiled into one picture whose axes are the latent
    coordinates, so the picture reads like a map of the code space.

    Parameters
    ----------
    images : array-like of shape (n_rows * n_cols, n_features)
        Decoded images, flat, in row-major order of the grid (first row =
        highest second coordinate).
    grid_x : array-like of shape (n_cols,)
        First latent coordinate of each column.
    grid_y : array-like of shape (n_rows,)
        Second latent coordinate of each row, top to bottom.
    image_shape : tuple or None, default=None
        ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)``; inferred for square
        images when None.

    Attributes
    ----------
    mosaic_ : ndarray of shape (n_rows * (H + p) - p, n_cols * (W + p) - p[, C])
        The tiled picture, with ``p = padding`` pixels between images (NaN
        for grey images, white for colour ones).
    image_ : matplotlib AxesImage
        The drawn picture.
    ax_ : matplotlib Axes
        Axes holding the picture.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    LatentSpaceDisplay : Where the data fall in the same latent space.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoEncoder
    >>> from skae.plotting import LatentGridDisplay
    >>> X = load_digits().data / 16
    >>> ae = AutoEncoder(n_components=2, max_epochs=3, random_state=0).fit(X)
    >>> LatentGridDisplay.from_estimator(ae, X, n_per_side=5).mosaic_.shape
    (44, 44)
    """

    def __init__(self, images, grid_x, grid_y, *, image_shape=None):
        self.images = images
        self.grid_x = grid_x
        self.grid_y = grid_y
        self.image_shape = image_shape

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X=None,
        *,
        n_per_side=15,
        extent=None,
        quantile=0.05,
        image_shape=None,
        ax=None,
        cmap="gray",
        padding=1,
    ):
        """Decode a grid of 2-D codes with ``estimator.inverse_transform``.

        Parameters
        ----------
        estimator : fitted estimator with a 2-D code
            Decodes through ``inverse_transform``; any autoencoder with
            ``n_components=2`` (or a variational one).
        X : array-like of shape (n_samples, n_features) or None, default=None
            Data whose codes set the extent of the grid (between the
            ``quantile`` and ``1 - quantile`` quantiles of each coordinate).
            When None, and ``extent`` is None, the grid spans the same
            quantiles of a standard normal, the prior of a VAE.
        n_per_side : int, default=15
            Grid points along each latent coordinate.
        extent : tuple (x_min, x_max, y_min, y_max) or None, default=None
            Explicit extent of the grid; overrides ``X``.
        quantile : float, default=0.05
            Lower quantile that bounds the grid (see ``X``).
        image_shape : tuple or None, default=None
            Shape of one image; taken from ``estimator.image_shape`` or
            inferred when None.
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure when None.
        cmap : str, default="gray"
            Colour map of grey images.
        padding : int, default=1
            Pixels of background between neighbouring images.

        Returns
        -------
        display : LatentGridDisplay
        """
        if not 0 < quantile < 0.5:
            raise ValueError(f"quantile must lie in (0, 0.5), got {quantile!r}.")
        if extent is None:
            if X is not None:
                codes = np.asarray(estimator.transform(X))
                if codes.shape[1] != 2:
                    raise ValueError(
                        f"LatentGridDisplay needs a 2-D code, but transform gives "
                        f"{codes.shape[1]} components; fit with n_components=2."
                    )
                lo = np.quantile(codes, quantile, axis=0)
                hi = np.quantile(codes, 1 - quantile, axis=0)
            else:
                from scipy.stats import norm

                lo = np.full(2, norm.ppf(quantile))
                hi = -lo
            extent = (lo[0], hi[0], lo[1], hi[1])
        x_min, x_max, y_min, y_max = (float(v) for v in extent)
        grid_x = np.linspace(x_min, x_max, n_per_side)
        grid_y = np.linspace(y_max, y_min, n_per_side)  # top row = highest y
        xx, yy = np.meshgrid(grid_x, grid_y)
        codes = np.column_stack([xx.ravel(), yy.ravel()])
        images = np.asarray(estimator.inverse_transform(codes))
        shape = _resolve_image_shape(images.shape[1], image_shape, estimator)
        display = cls(images, grid_x, grid_y, image_shape=shape)
        return display.plot(ax=ax, cmap=cmap, padding=padding)

    def plot(self, ax=None, *, cmap="gray", padding=1):
        """Draw the tiled picture.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure when None.
        cmap : str, default="gray"
            Colour map of grey images.
        padding : int, default=1
            Pixels of background between neighbouring images.

        Returns
        -------
        display : LatentGridDisplay
        """
        import matplotlib.pyplot as plt

        flat = np.asarray(self.images)
        grid_x = np.asarray(self.grid_x, dtype=float)
        grid_y = np.asarray(self.grid_y, dtype=float)
        n_rows, n_cols = len(grid_y), len(grid_x)
        if len(flat) != n_rows * n_cols:
            raise ValueError(
                f"images holds {len(flat)} images but the grid has {n_rows} x {n_cols}."
            )
        shape = _resolve_image_shape(flat.shape[1], self.image_shape)
        images = _as_images(flat, shape)
        h, w = images.shape[1:3]
        p = int(padding)
        if p < 0:
            raise ValueError(f"padding must be a non-negative int, got {padding!r}.")
        # Tiles separated by ``p`` pixels of NaN (drawn as the background) for
        # grey images, of white for colour ones.
        fill = np.nan if images.ndim == 3 else 1.0
        mosaic = np.full(
            (n_rows * (h + p) - p, n_cols * (w + p) - p, *images.shape[3:]),
            fill,
            dtype=np.result_type(images.dtype, np.float32),
        )
        for k, image in enumerate(images):
            i, j = divmod(k, n_cols)
            mosaic[i * (h + p) : i * (h + p) + h, j * (w + p) : j * (w + p) + w] = image
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 6))
        step_x = (grid_x[-1] - grid_x[0]) / (n_cols - 1) if n_cols > 1 else 1.0
        step_y = (grid_y[0] - grid_y[-1]) / (n_rows - 1) if n_rows > 1 else 1.0
        extent = (
            grid_x[0] - step_x / 2,
            grid_x[-1] + step_x / 2,
            grid_y[-1] - step_y / 2,
            grid_y[0] + step_y / 2,
        )
        self.mosaic_ = mosaic
        self.image_ = ax.imshow(
            _prepare_rgb(mosaic),
            extent=extent,
            # square pixels: one tile is (h + p) by (w + p) pixels
            aspect=abs(step_x / step_y) * (h + p) / (w + p) if step_y else "auto",
            interpolation="nearest",
            **_image_kwargs(images, cmap),
        )
        ax.set_xlabel("code 1")
        ax.set_ylabel("code 2")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


# ----------------------------------------------------------------------
# Per-feature errors: which pixels or columns made a sample unusual
# ----------------------------------------------------------------------
def _check_feature_errors(estimator):
    if not hasattr(estimator, "feature_errors"):
        raise TypeError(
            f"{type(estimator).__name__} has no feature_errors method; pass a fitted skae "
            "autoencoder or AutoEncoderOutlierDetector (a Pipeline's last step, "
            "pipeline[-1], with the data its earlier steps give)."
        )


def _chosen_rows(errors, rows, n_rows):
    """Indices of the rows to show: ``rows``, else the ``n_rows`` of largest mean error."""
    n = len(errors)
    if rows is None:
        if not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
            raise ValueError(f"n_rows must be a positive int, got {n_rows!r}.")
        return np.argsort(-np.mean(errors, axis=1), kind="stable")[:n_rows]
    chosen = np.atleast_1d(np.asarray(rows))
    if chosen.size == 0 or chosen.ndim != 1 or chosen.dtype.kind not in "iu":
        raise ValueError(f"rows must be a non-empty list of row positions, got {rows!r}.")
    if chosen.min() < -n or chosen.max() >= n:
        raise ValueError(f"rows holds {chosen.tolist()}, outside the {n} rows of X.")
    return chosen % n


def _reconstruction(estimator, X):
    """What ``estimator`` (an autoencoder or the outlier detector) makes of ``X``, in X's units."""
    if hasattr(estimator, "reconstruct"):
        return np.asarray(estimator.reconstruct(X), dtype=float)
    check_is_fitted(estimator, "estimator_")
    scaler = getattr(estimator, "scaler_", None)
    inputs = X if scaler is None else scaler.transform(X)
    rec = np.asarray(estimator.estimator_.reconstruct(inputs), dtype=float)
    return rec if scaler is None else scaler.inverse_transform(rec)


class ImageErrorDisplay:
    """Per-pixel reconstruction errors as heat maps, beside the input and its reconstruction.

    One row per sample: the input, its reconstruction, and the heat map of
    its per-pixel error (``feature_errors``), the heat maps sharing one
    colour scale from zero with a colour bar.

    Parameters
    ----------
    originals : array-like of shape (n_images, n_features)
        Input images, flat.
    reconstructions : array-like of shape (n_images, n_features)
        Their reconstructions.
    errors : array-like of shape (n_images, n_features)
        Per-pixel errors, such as ``feature_errors`` of the originals.
    image_shape : tuple or None, default=None
        ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)``; inferred for square
        images when None. Colour errors are shown summed over the channels.
    row_labels : list of str or None, default=None
        Label of each row (``from_estimator`` gives the row positions).

    Attributes
    ----------
    images_ : ndarray of matplotlib AxesImage, shape (n_images, 3)
        Input, reconstruction and error map of each row.
    colorbar_ : matplotlib Colorbar
        The colour bar of the error maps.
    ax_ : ndarray of matplotlib Axes, shape (n_images, 3)
        One axes per image.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    FeatureErrorDisplay : The top features of chosen rows of a table, as bars.
    ReconstructionDisplay : Originals above reconstructions.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoEncoder
    >>> from skae.plotting import ImageErrorDisplay
    >>> X = load_digits().data / 16
    >>> ae = AutoEncoder(max_epochs=3, random_state=0).fit(X)
    >>> display = ImageErrorDisplay.from_estimator(ae, X, rows=[0, 5])
    >>> display.ax_.shape
    (2, 3)
    """

    def __init__(self, originals, reconstructions, errors, *, image_shape=None, row_labels=None):
        self.originals = originals
        self.reconstructions = reconstructions
        self.errors = errors
        self.image_shape = image_shape
        self.row_labels = row_labels

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        rows=None,
        n_rows=5,
        image_shape=None,
        ax=None,
        cmap="gray",
        error_cmap="inferno",
    ):
        """Show the per-pixel errors of chosen rows of ``X``.

        Parameters
        ----------
        estimator : fitted skae autoencoder or AutoEncoderOutlierDetector
            Its ``feature_errors`` are shown. A detector's are those of the
            standardised input (what it scores); its reconstruction is shown
            in the units of ``X``.
        X : array-like of shape (n_samples, n_features)
            Images, flat.
        rows : list of int or None, default=None
            Positions of the rows to show; None shows the ``n_rows`` rows of
            largest mean error, largest first.
        n_rows : int, default=5
            Number of rows shown when ``rows`` is None.
        image_shape : tuple or None, default=None
            Shape of one image; taken from the estimator's ``image_shape`` or
            inferred when None.
        ax : matplotlib Axes, array of Axes or None, default=None
            A single Axes is split into the grid; None makes a new figure.
        cmap : str, default="gray"
            Colour map of grey inputs and reconstructions.
        error_cmap : str, default="inferno"
            Colour map of the error maps.

        Returns
        -------
        display : ImageErrorDisplay
        """
        _check_feature_errors(estimator)
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise ValueError(
                f"X must hold flat images, shape (n_samples, n_features); got shape {X.shape}."
            )
        errors = np.asarray(estimator.feature_errors(X), dtype=float)
        chosen = _chosen_rows(errors, rows, n_rows)
        rec = _reconstruction(estimator, X[chosen])
        model = getattr(estimator, "estimator_", estimator)
        shape = _resolve_image_shape(X.shape[1], image_shape, model)
        display = cls(
            X[chosen],
            rec,
            errors[chosen],
            image_shape=shape,
            row_labels=[f"row {i}" for i in chosen],
        )
        return display.plot(ax=ax, cmap=cmap, error_cmap=error_cmap)

    def plot(self, ax=None, *, cmap="gray", error_cmap="inferno"):
        """Draw one row of input, reconstruction and error map per sample.

        Parameters
        ----------
        ax : matplotlib Axes, array of Axes or None, default=None
            A single Axes is split into the grid; None makes a new figure.
        cmap : str, default="gray"
            Colour map of grey inputs and reconstructions.
        error_cmap : str, default="inferno"
            Colour map of the error maps.

        Returns
        -------
        display : ImageErrorDisplay
        """
        originals = np.asarray(self.originals, dtype=float)
        errors = np.asarray(self.errors, dtype=float)
        shape = _resolve_image_shape(originals.shape[1], self.image_shape)
        if errors.shape != originals.shape:
            raise ValueError(
                f"errors has shape {errors.shape} but the images {originals.shape}; pass one "
                "error per pixel of each image."
            )
        if not np.all(np.isfinite(errors)):
            raise ValueError("errors holds NaN or inf; pass finite per-pixel errors.")
        inputs = _as_images(originals, shape)
        recs = _as_images(np.asarray(self.reconstructions, dtype=float), shape)
        maps = _as_images(errors, shape)
        if maps.ndim == 4:  # colour: one error per pixel, summed over the channels
            maps = maps.sum(axis=-1)
        n = len(inputs)
        fig, axes = _grid_axes(ax, n, 3, (3.0, 1.0 * n + 0.3))
        shared = _image_kwargs(np.concatenate([inputs, recs]), cmap)
        vmax = float(maps.max()) or 1.0
        images = np.empty((n, 3), dtype=object)
        for i in range(n):
            for j, (image, kwargs) in enumerate(
                [
                    (_prepare_rgb(inputs[i]), shared),
                    (_prepare_rgb(recs[i]), shared),
                    (maps[i], {"cmap": error_cmap, "vmin": 0.0, "vmax": vmax}),
                ]
            ):
                a = axes[i, j]
                a.set_xticks([])
                a.set_yticks([])
                images[i, j] = a.imshow(image, **kwargs)
            if self.row_labels is not None:
                axes[i, 0].set_ylabel(self.row_labels[i])
        for j, title in enumerate(["input", "reconstructed", "error"]):
            axes[0, j].set_title(title, fontsize="small")
        self.colorbar_ = fig.colorbar(images[0, 2], ax=list(axes[:, 2]), shrink=0.8)
        self.figure_, self.ax_, self.images_ = fig, axes, images
        return self


class FeatureErrorDisplay:
    """The features with the largest reconstruction error in chosen rows, as bars.

    One horizontal bar chart per row, its ``n_features`` largest errors
    (``feature_errors``) from the top down: which columns made the row
    unusual.

    Parameters
    ----------
    errors : array-like or DataFrame of shape (n_rows, n_features)
        Per-feature errors of the rows to show, such as ``feature_errors``.
    feature_names : list of str or None, default=None
        Names of the features; the DataFrame's columns, else ``x0``, ``x1``,
        ... when None.
    row_labels : list of str or None, default=None
        Title of each chart (``from_estimator`` gives the row positions).
    n_features : int, default=5
        Number of features shown per row (all of them when there are fewer).

    Attributes
    ----------
    top_features_ : list of list of str
        The features shown for each row, largest error first.
    bars_ : list of matplotlib BarContainer
        The bars of each row.
    ax_ : ndarray of matplotlib Axes, shape (n_rows,)
        One axes per row.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    ImageErrorDisplay : Per-pixel error maps of images.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skae.plotting import FeatureErrorDisplay
    >>> errors = np.array([[0.1, 2.0, 0.3], [1.0, 0.0, 0.5]])
    >>> display = FeatureErrorDisplay(errors, feature_names=["a", "b", "c"], n_features=2).plot()
    >>> display.top_features_
    [['b', 'c'], ['a', 'c']]
    """

    def __init__(self, errors, *, feature_names=None, row_labels=None, n_features=5):
        self.errors = errors
        self.feature_names = feature_names
        self.row_labels = row_labels
        self.n_features = n_features

    @classmethod
    def from_estimator(cls, estimator, X, *, rows=None, n_rows=3, n_features=5, ax=None):
        """Show the top features by error of chosen rows of ``X``.

        Parameters
        ----------
        estimator : fitted skae autoencoder or AutoEncoderOutlierDetector
            Its ``feature_errors`` are shown (a detector's are those of the
            standardised input, so columns on different scales compare).
        X : array-like or DataFrame of shape (n_samples, n_features)
            Samples; a DataFrame's columns name the bars.
        rows : list of int or None, default=None
            Positions of the rows to show; None shows the ``n_rows`` rows of
            largest mean error, largest first.
        n_rows : int, default=3
            Number of rows shown when ``rows`` is None.
        n_features : int, default=5
            Number of features shown per row.
        ax : matplotlib Axes, array of Axes or None, default=None
            A single Axes is split into one chart per row; None makes a new
            figure.

        Returns
        -------
        display : FeatureErrorDisplay
        """
        _check_feature_errors(estimator)
        errors = estimator.feature_errors(X)
        names = getattr(errors, "columns", None)
        if names is None:
            names = getattr(estimator, "feature_names_in_", None)
        errors = np.asarray(errors, dtype=float)
        chosen = _chosen_rows(errors, rows, n_rows)
        display = cls(
            errors[chosen],
            feature_names=None if names is None else [str(c) for c in names],
            row_labels=[f"row {i}" for i in chosen],
            n_features=n_features,
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw one bar chart per row.

        Parameters
        ----------
        ax : matplotlib Axes, array of Axes or None, default=None
            A single Axes is split into one chart per row; None makes a new
            figure.

        Returns
        -------
        display : FeatureErrorDisplay
        """
        names = self.feature_names
        if names is None and hasattr(self.errors, "columns"):
            names = [str(c) for c in self.errors.columns]
        errors = np.asarray(self.errors, dtype=float)
        if errors.ndim == 1:
            errors = errors[None, :]
        if errors.ndim != 2 or errors.size == 0:
            raise ValueError(
                f"errors must have shape (n_rows, n_features), got {np.shape(self.errors)}."
            )
        if not np.all(np.isfinite(errors)):
            raise ValueError("errors holds NaN or inf; pass finite per-feature errors.")
        if names is None:
            names = [f"x{i}" for i in range(errors.shape[1])]
        if len(names) != errors.shape[1]:
            raise ValueError(
                f"feature_names has {len(names)} names for {errors.shape[1]} features."
            )
        k = self.n_features
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"n_features must be a positive int, got {k!r}.")
        k = min(k, errors.shape[1])
        n = len(errors)
        fig, axes = _grid_axes(ax, 1, n, (3.2 * n, 0.35 * k + 1.0))
        axes = axes[0]
        self.top_features_, self.bars_ = [], []
        for i, row in enumerate(errors):
            top = np.argsort(-row, kind="stable")[:k]
            labels = [names[j] for j in top]
            a = axes[i]
            # largest on top: barh draws its first bar at the bottom
            self.bars_.append(a.barh(labels[::-1], row[top][::-1]))
            a.set_xlabel("error")
            if self.row_labels is not None:
                a.set_title(self.row_labels[i], fontsize="small")
            self.top_features_.append(labels)
        self.figure_, self.ax_ = fig, axes
        return self
