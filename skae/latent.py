"""Latent-space tools for every fitted skae autoencoder.

Generation beyond ``estimator.sample`` (a Gaussian mixture over the codes),
latent arithmetic (attribute vectors such as the "smile vector"), a decoded
regular grid over two code dimensions (the VAE manifold figure) and
interpolation between two samples. Every function returns arrays; pictures
are drawn elsewhere.

Conditional models (:class:`~skae.CVAE`) decode under a class: pass its label
as ``y``.
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
from sklearn.base import clone
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = [
    "LatentGrid",
    "add_attribute_vector",
    "attribute_vector",
    "interpolate",
    "latent_grid",
    "sample_latent",
]


def _decode(estimator, Z, y=None):
    if y is None:
        return estimator.inverse_transform(Z)
    return estimator.inverse_transform(Z, y=y)


def _check_positive_int(value, name):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def attribute_vector(estimator, X_with, X_without):
    """Mean code of ``X_with`` minus mean code of ``X_without``.

    With faces that smile and faces that do not, this is the "smile vector":
    adding it to a code (:func:`add_attribute_vector`) adds the attribute.

    Parameters
    ----------
    estimator : fitted skae autoencoder
        Any estimator with ``transform`` into a code space.
    X_with : array-like of shape (n_samples_a, n_features)
        Samples that show the attribute.
    X_without : array-like of shape (n_samples_b, n_features)
        Samples that do not.

    Returns
    -------
    vector : ndarray of shape (n_components_,)
        The difference of the mean codes.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoEncoder, attribute_vector, add_attribute_vector
    >>> X, y = load_digits(return_X_y=True)
    >>> ae = AutoEncoder(n_components=4, max_epochs=3, random_state=0).fit(X / 16)
    >>> v = attribute_vector(ae, X[y == 1] / 16, X[y == 7] / 16)
    >>> add_attribute_vector(ae, X[y == 7][:2] / 16, v).shape
    (2, 64)
    """
    check_is_fitted(estimator)
    return estimator.transform(X_with).mean(axis=0) - estimator.transform(X_without).mean(axis=0)


def add_attribute_vector(estimator, X, vector, *, amount=1.0, y=None):
    """Encode ``X``, add ``amount * vector`` to the codes and decode.

    Parameters
    ----------
    estimator : fitted skae autoencoder
        The model that encodes and decodes.
    X : array-like of shape (n_samples, n_features)
        Samples to edit.
    vector : array-like of shape (n_components_,)
        Direction in code space, e.g. from :func:`attribute_vector`.
    amount : float, default=1.0
        How far to move along ``vector``; negative values remove the
        attribute.
    y : label, array-like or None, default=None
        Class labels for conditional models.

    Returns
    -------
    X_new : ndarray of shape (n_samples, n_features_in_)
        Decoded edited samples.
    """
    check_is_fitted(estimator)
    if not isinstance(amount, Real):
        raise ValueError(f"amount must be a real number, got {amount!r}.")
    Z = estimator.transform(X)
    vector = check_array(np.reshape(vector, (1, -1)), dtype=np.float64)[0]
    if vector.shape[0] != Z.shape[1]:
        raise ValueError(
            f"vector has {vector.shape[0]} entries but the codes have {Z.shape[1]}; "
            "pass a vector from attribute_vector with the same estimator."
        )
    return _decode(estimator, Z + amount * vector, y)


def interpolate(estimator, x_start, x_end, n_steps=10, *, y=None):
    """Decode evenly spaced points on the line between the codes of two samples.

    Parameters
    ----------
    estimator : fitted skae autoencoder
        The model that encodes and decodes.
    x_start, x_end : array-like of shape (n_features,) or (1, n_features)
        The two samples; the first and last outputs are their reconstructions.
    n_steps : int, default=10
        Number of points, ends included (at least 2).
    y : label, array-like of shape (n_steps,) or None, default=None
        Class labels for conditional models.

    Returns
    -------
    X_path : ndarray of shape (n_steps, n_features_in_)
        Decoded points from ``x_start`` to ``x_end``.
    """
    check_is_fitted(estimator)
    n_steps = _check_positive_int(n_steps, "n_steps")
    if n_steps < 2:
        raise ValueError(f"n_steps must be at least 2 to include both ends, got {n_steps}.")
    ends = np.vstack([np.reshape(x_start, (1, -1)), np.reshape(x_end, (1, -1))])
    z_start, z_end = estimator.transform(ends)
    t = np.linspace(0.0, 1.0, n_steps)[:, None]
    return _decode(estimator, (1 - t) * z_start + t * z_end, y)


class LatentGrid(NamedTuple):
    """Codes of a regular 2-D grid and their decoded samples.

    Row ``i``, column ``j`` holds the point whose first grid coordinate is
    the ``j``-th value from low to high and whose second is the ``i``-th
    from high to low, so that tiling ``decoded`` row by row gives the
    layout of a scatter plot of the two code dimensions.
    """

    codes: np.ndarray
    """Codes, shape (n_steps, n_steps, n_components_)."""
    decoded: np.ndarray
    """Decoded samples, shape (n_steps, n_steps, n_features_in_)."""


def latent_grid(estimator, n_steps=15, *, dims=(0, 1), quantiles=(0.05, 0.95), y=None):
    """Decode a regular grid over two code dimensions (the VAE manifold).

    The grid follows the quantiles of the estimator's code distribution, as
    in the classic Keras figure: the prior ``N(0, 1)`` for variational
    models, the diagonal Gaussian fitted to the training codes otherwise.
    Other code dimensions are held at that distribution's mean.

    Parameters
    ----------
    estimator : fitted skae autoencoder
        The model that decodes.
    n_steps : int, default=15
        Grid points along each axis.
    dims : tuple of two int, default=(0, 1)
        The code dimensions spanned by the grid.
    quantiles : tuple of two float, default=(0.05, 0.95)
        Lowest and highest quantile of the code distribution on each axis.
    y : label or None, default=None
        Class label for conditional models (one for the whole grid).

    Returns
    -------
    grid : LatentGrid
        ``grid.codes`` of shape (n_steps, n_steps, n_components_) and
        ``grid.decoded`` of shape (n_steps, n_steps, n_features_in_).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAE, latent_grid
    >>> X = load_digits().data / 16
    >>> vae = VAE(n_components=2, max_epochs=3, random_state=0).fit(X)
    >>> latent_grid(vae, n_steps=5).decoded.shape
    (5, 5, 64)
    """
    check_is_fitted(estimator)
    n_steps = _check_positive_int(n_steps, "n_steps")
    k = estimator.n_components_
    dims = tuple(dims)
    if (
        len(dims) != 2
        or dims[0] == dims[1]
        or not all(isinstance(d, Integral) and 0 <= d < k for d in dims)
    ):
        raise ValueError(
            f"dims must be two different code dimensions in [0, {k - 1}], got {dims!r}."
        )
    low, high = quantiles
    if not 0 < low < high < 1:
        raise ValueError(
            f"quantiles must satisfy 0 < low < high < 1, got {quantiles!r}; e.g. (0.05, 0.95)."
        )
    mean, std = estimator._code_distribution()
    steps = np.array([NormalDist().inv_cdf(q) for q in np.linspace(low, high, n_steps)])
    first = mean[dims[0]] + std[dims[0]] * steps
    second = mean[dims[1]] + std[dims[1]] * steps[::-1]
    codes = np.tile(np.asarray(mean, dtype=np.float64), (n_steps, n_steps, 1))
    codes[:, :, dims[0]] = first[None, :]
    codes[:, :, dims[1]] = second[:, None]
    decoded = _decode(estimator, codes.reshape(-1, k), y)
    return LatentGrid(codes, decoded.reshape(n_steps, n_steps, -1))


def sample_latent(
    estimator,
    X,
    n_samples=1,
    *,
    density="mixture",
    n_mixture_components=10,
    random_state=None,
    y=None,
):
    """Generate samples from a density fitted to the codes of ``X``.

    ``estimator.sample`` decodes a diagonal Gaussian (or a VAE's prior);
    this fits a richer density to the codes of ``X`` (typically the training
    data), draws codes from it and decodes them.

    Parameters
    ----------
    estimator : fitted skae autoencoder
        The model that encodes and decodes.
    X : array-like of shape (n_samples_X, n_features)
        Data whose codes define the density.
    n_samples : int, default=1
        Number of samples to generate.
    density : {"mixture", "gaussian"} or estimator, default="mixture"
        "mixture" is a full-covariance
        :class:`~sklearn.mixture.GaussianMixture` with
        ``n_mixture_components`` components; "gaussian" a diagonal Gaussian;
        any estimator with ``fit`` and ``sample`` (e.g.
        ``BayesianGaussianMixture(...)``) is cloned and fitted.
    n_mixture_components : int, default=10
        Components of the "mixture" density.
    random_state : int, RandomState instance or None, default=None
        Seeds the density fit and the drawn codes.
    y : label, array-like of shape (n_samples,) or None, default=None
        Class labels for conditional models.

    Returns
    -------
    X_new : ndarray of shape (n_samples, n_features_in_)
        Decoded samples.
    """
    check_is_fitted(estimator)
    n_samples = _check_positive_int(n_samples, "n_samples")
    rng = check_random_state(random_state)
    Z = estimator.transform(X).astype(np.float64)
    if isinstance(density, str) and density == "gaussian":
        codes = Z.mean(axis=0) + Z.std(axis=0) * rng.standard_normal((n_samples, Z.shape[1]))
        return _decode(estimator, codes, y)
    if isinstance(density, str) and density == "mixture":
        n_mixture_components = _check_positive_int(n_mixture_components, "n_mixture_components")
        model = GaussianMixture(n_mixture_components, covariance_type="full")
    elif hasattr(density, "fit") and hasattr(density, "sample"):
        model = clone(density)
    else:
        raise ValueError(
            f"density must be 'mixture', 'gaussian' or an estimator with fit and sample, "
            f"got {density!r}."
        )
    seed = rng.randint(np.iinfo(np.int32).max)
    if "random_state" in model.get_params():
        model.set_params(random_state=seed)
    model.fit(Z)
    if "random_state" in inspect.signature(model.sample).parameters:
        codes = model.sample(n_samples, random_state=seed)  # e.g. KernelDensity
    else:
        codes = model.sample(n_samples)
    codes = codes[0] if isinstance(codes, tuple) else codes
    # GaussianMixture.sample orders draws by component; shuffle them reproducibly.
    codes = np.asarray(codes, dtype=np.float64)[rng.permutation(n_samples)]
    return _decode(estimator, codes, y)
