"""Saving and loading fitted models without pickle.

:func:`save` writes one zip file holding two members:

* ``metadata.json``: plain JSON describing the object: its class (a name
  looked up in an allow-list, never imported), its constructor parameters,
  its fitted attributes, the training history, and the versions of skae,
  torch, scikit-learn and numpy that wrote it;
* ``weights.safetensors``: every tensor (network weights, and the numeric
  fitted arrays such as ``code_mean_``) in the safetensors format, which is
  data only.

:func:`load` reads the JSON, builds the estimator from its allow-listed class
and parameters, restores the fitted attributes, then has the estimator
rebuild its network from its parameters and fitted attributes and copy the
weights in. Nothing in a file can name a function or class outside the
allow-lists, so loading a file runs no code from it. Pickle and joblib
files, in contrast, can run any code when loaded.

This module is the public face of ``skae._codec``, which holds the format
and the allow-lists.
"""

from __future__ import annotations

from . import _codec
from ._codec import FORMAT_VERSION, VersionMismatchWarning

__all__ = ["FORMAT_VERSION", "VersionMismatchWarning", "load", "save"]


def save(obj, path) -> None:
    """Save a skae estimator, or a Pipeline of them, to one file without pickle.

    The file is a zip archive of ``metadata.json`` (class, parameters, fitted
    attributes, training history, versions) and ``weights.safetensors`` (the
    weights and the numeric fitted arrays). Load it with :func:`load`; see
    :doc:`/persistence` for the format and the security promise.

    Parameters
    ----------
    obj : estimator or Pipeline
        A skae estimator, fitted or not, or a
        :class:`~sklearn.pipeline.Pipeline` whose steps are skae estimators,
        :class:`~sklearn.preprocessing.StandardScaler`,
        :class:`~sklearn.preprocessing.MinMaxScaler`,
        :class:`~sklearn.preprocessing.MaxAbsScaler`,
        :class:`~sklearn.decomposition.PCA` or ``"passthrough"``.
    path : str or path-like
        File to write (conventionally ending in ``.skae``); replaced
        atomically if it exists.

    Raises
    ------
    TypeError
        If ``obj`` is, or holds, something a skae file cannot store (another
        estimator, a function); the message names it.

    Warns
    -----
    UserWarning
        If an estimator has ``callbacks``: they are code, not saved.

    Notes
    -----
    The optimizer state is not saved: a loaded model transforms, samples and
    scores exactly as the saved one, and further training (``partial_fit``,
    ``warm_start``) starts a fresh optimizer. A :class:`~skae.ModuleAE` keeps
    its weights but not the user's module code, passed again to :func:`load`.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import skae
    >>> X = np.random.RandomState(0).rand(50, 6)
    >>> ae = skae.AutoEncoder(n_components=2, max_epochs=2, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skae")
    >>> ae.save(path)
    >>> bool((skae.load(path).transform(X) == ae.transform(X)).all())
    True
    """
    _codec.save(obj, path)


def load(path, *, modules=None, device=None):
    """Load an estimator or Pipeline written by :func:`save`.

    Loading runs no code from the file: classes are looked up in an
    allow-list of skae estimators, a few scikit-learn steps and the torch
    optimizers, and the weights are read with safetensors.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save` (or an estimator's ``save`` method).
    modules : dict or None, default=None
        The user's network code for a :class:`~skae.ModuleAE`, which a file
        never holds: ``{"module": MyModule}`` or ``{"encoder": ...,
        "decoder": ...}``, the same values the model was built with.
    device : str or None, default=None
        Where to put the networks ("cpu", "cuda", "cuda:N" or "auto"); it
        also becomes the estimators' ``device`` parameter. ``None`` keeps the
        device the model was saved from, or the CPU, with a warning, when
        this machine lacks it (a model trained on CUDA loads anywhere).

    Returns
    -------
    obj : estimator or Pipeline
        The saved object, fitted as it was: ``transform``,
        ``inverse_transform``, ``score_samples``, ``sample``, ``predict``
        give identical results.

    Raises
    ------
    ValueError
        If the file is not a skae file, is damaged, names a class outside the
        allow-list, was written by a newer format, or a ModuleAE's module was
        not passed.

    Warns
    -----
    VersionMismatchWarning
        If the file was written by another skae or scikit-learn major.minor
        version.
    """
    return _codec.load(path, modules=modules, device=device)
