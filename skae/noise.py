"""Corruption kernels, used by :class:`~skae.NoiseAugmenter` and by training alike.

Every kind of noise is written once, in torch (:func:`corrupt`), and runs on
any device. It draws from an explicit :class:`torch.Generator` when given one
and otherwise from torch's global generator, which the training engine seeds
inside its ``seeded`` block. :func:`add_noise` is the NumPy form for scripts
and notebooks; :class:`NoiseRecipe` is a small picklable ``(kind, level,
clip)`` record whose call corrupts a tensor, as the engine's training
``corrupt`` callable.

Kinds (``level`` is the strength):

``"gaussian"``
    ``x + level * N(0, 1)``: additive noise of standard deviation ``level``
    (the "noise factor" of the classic denoising labs).
``"salt_and_pepper"``
    A fraction ``level`` of the entries is set to the low or the high value
    with equal odds: the ``clip`` bounds when given, else 0 and 1.
``"masking"``
    A fraction ``level`` of the entries is set to zero.
``"speckle"``
    ``x + x * level * N(0, 1)``: multiplicative noise.
``"uniform"``
    ``x + U(-level, level)``.

``clip=(low, high)`` then limits the result to a range (either bound may be
``None``), so that images in [0, 1] stay in [0, 1].

This module also defines how a corrupted array remembers its clean source
(:class:`NoisyArray`, and :func:`split_noisy` to read it back), so that every
autoencoder can recognise one. It imports only NumPy and torch.
"""

from __future__ import annotations

import copy
import numbers
import sys
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "FRACTION_KINDS",
    "KINDS",
    "CleanSource",
    "NoiseRecipe",
    "NoisyArray",
    "add_noise",
    "check_noise",
    "corrupt",
    "make_generator",
    "lost_clean_source",
    "split_noisy",
]

KINDS = ("gaussian", "salt_and_pepper", "masking", "speckle", "uniform")
# Kinds whose level is a fraction of the entries, hence at most 1.
FRACTION_KINDS = ("salt_and_pepper", "masking")

# Key of the pandas ``DataFrame.attrs`` entry that carries the clean source.
ATTRS_KEY = "skae_clean_source"


def check_noise(kind, level, clip=None) -> None:
    """Raise ``ValueError`` unless ``(kind, level, clip)`` describes valid noise."""
    if kind not in KINDS:
        raise ValueError(f"Unknown noise kind={kind!r}; choose one of {list(KINDS)}.")
    if (
        not isinstance(level, numbers.Real)
        or isinstance(level, bool)
        or not np.isfinite(level)
        or level < 0
    ):
        raise ValueError(f"level={level!r} must be a finite number >= 0.")
    if kind in FRACTION_KINDS and level > 1:
        raise ValueError(
            f"level={level!r} is the fraction of corrupted entries for kind={kind!r} "
            "and must lie in [0, 1]."
        )
    if clip is not None:
        bounds = tuple(clip) if isinstance(clip, (tuple, list)) else None
        if (
            bounds is None
            or len(bounds) != 2
            or not all(
                b is None or (isinstance(b, numbers.Real) and np.isfinite(b)) for b in bounds
            )
        ):
            raise ValueError(
                f"clip={clip!r} must be None or a pair (low, high) of numbers or None, "
                "e.g. clip=(0, 1) for images in [0, 1]."
            )
        low, high = bounds
        if low is not None and high is not None and low > high:
            raise ValueError(f"clip={clip!r} has low > high; use clip=({high}, {low}).")


def corrupt(
    x: torch.Tensor,
    kind: str = "gaussian",
    level: float = 0.2,
    clip=None,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Return a corrupted copy of the floating-point tensor ``x``.

    Parameters
    ----------
    x : torch.Tensor
        Data of any shape; the noise is drawn elementwise.
    kind : str, default="gaussian"
        One of :data:`KINDS` (see the module docstring).
    level : float, default=0.2
        Noise strength: a standard deviation, a fraction or a half-width.
    clip : tuple (low, high) or None, default=None
        Range to clip the result to.
    generator : torch.Generator or None, default=None
        Source of randomness, on ``x``'s device; ``None`` draws from torch's
        global generator (seeded by the engine during training).

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``. With ``level=0`` it equals
        ``x`` (clipped).
    """
    check_noise(kind, level, clip)
    level = float(level)
    low, high = tuple(clip) if clip is not None else (None, None)
    if level == 0:
        out = x.clone()
    elif kind == "gaussian":
        out = x + level * _randn(x, generator)
    elif kind == "speckle":
        out = x + x * (level * _randn(x, generator))
    elif kind == "uniform":
        out = x + level * (2 * _rand(x, generator) - 1)
    elif kind == "masking":
        out = torch.where(_rand(x, generator) < level, torch.zeros_like(x), x)
    else:  # salt_and_pepper
        u = _rand(x, generator)
        pepper = 0.0 if low is None else float(low)
        salt = 1.0 if high is None else float(high)
        out = torch.where(u < level / 2, torch.full_like(x, pepper), x)
        out = torch.where((u >= level / 2) & (u < level), torch.full_like(x, salt), out)
    if low is not None or high is not None:
        out = out.clamp(low, high)
    return out


def _rand(x, generator):
    return torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _randn(x, generator):
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def make_generator(random_state=None, device: torch.device | str = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded from ``random_state``.

    ``random_state`` is an int (same int, same numbers), a NumPy
    ``RandomState`` or ``Generator`` (one seed is drawn from it), or ``None``
    (fresh, unpredictable numbers).
    """
    generator = torch.Generator(device=device)
    if random_state is None:
        generator.seed()
        return generator
    if isinstance(random_state, np.random.RandomState):
        seed = random_state.randint(np.iinfo(np.int32).max)
    elif isinstance(random_state, np.random.Generator):
        seed = random_state.integers(np.iinfo(np.int32).max)
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = random_state
    else:
        raise ValueError(
            f"random_state={random_state!r} must be None, an int, or a NumPy "
            "RandomState or Generator."
        )
    generator.manual_seed(int(seed))
    return generator


@dataclass(frozen=True)
class NoiseRecipe:
    """A picklable corruption recipe: ``kind``, ``level`` and ``clip``.

    Calling it on a tensor corrupts the tensor (the training engine's
    ``corrupt`` callable); :meth:`apply` does the same to a NumPy array.

    Examples
    --------
    >>> import torch
    >>> from skae.noise import NoiseRecipe
    >>> recipe = NoiseRecipe("masking", 0.5)
    >>> recipe(torch.ones(2, 3), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3])
    """

    kind: str = "gaussian"
    level: float = 0.2
    clip: tuple | None = None

    def __post_init__(self):
        check_noise(self.kind, self.level, self.clip)
        if self.clip is not None:
            object.__setattr__(self, "clip", tuple(self.clip))

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None):
        return corrupt(x, self.kind, self.level, self.clip, generator=generator)

    def apply(self, X, random_state=None) -> np.ndarray:
        """Corrupt a NumPy array; float32 stays float32, anything else becomes float64."""
        X = np.asarray(X)
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        # corrupt() never writes into its input: copy only when torch needs it
        x = torch.from_numpy(np.require(X, dtype=dtype, requirements=["C", "W"]))
        return self(x, generator=make_generator(random_state)).numpy()


def add_noise(X, kind="gaussian", level=0.2, clip=None, random_state=None) -> np.ndarray:
    """Return a corrupted copy of the array ``X``: the function form of the kernels.

    Parameters
    ----------
    X : array-like of any shape
        Data to corrupt.
    kind : {"gaussian", "salt_and_pepper", "masking", "speckle", "uniform"}, \
default="gaussian"
        Kind of noise (see :mod:`skae.noise`).
    level : float, default=0.2
        Noise strength: the standard deviation for "gaussian" (the "noise
        factor"), the fraction of corrupted entries for "salt_and_pepper" and
        "masking", the relative standard deviation for "speckle", the
        half-width for "uniform".
    clip : tuple (low, high) or None, default=None
        Range to clip the result to, e.g. ``(0, 1)`` for images.
    random_state : int, RandomState instance or None, default=None
        The same int gives the same corruption.

    Returns
    -------
    X_noisy : ndarray
        Same shape as ``X``; float32 input stays float32, other input becomes
        float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import add_noise
    >>> X = np.full((2, 3), 0.5)
    >>> noisy = add_noise(X, "gaussian", level=0.4, clip=(0, 1), random_state=0)
    >>> noisy.shape, bool(((noisy >= 0) & (noisy <= 1)).all())
    ((2, 3), True)
    """
    return NoiseRecipe(kind, level, clip).apply(X, random_state)


class NoisyArray(np.ndarray):
    """A corrupted array that remembers its clean source and its recipe.

    To NumPy and to any estimator it is the noisy array itself; arithmetic,
    ufuncs and transposes return plain arrays. Indexing (``X[idx]``, as in
    cross-validation splits) slices ``clean`` in step. It survives pickling
    and ``copy.deepcopy``. A skae autoencoder that receives one learns noisy
    -> clean and scores against ``clean``.

    Parameters
    ----------
    noisy : array-like
        The corrupted values.
    clean : array-like of the same shape
        The clean source.
    recipe : NoiseRecipe or None, default=None
        How ``noisy`` was made from ``clean``, to redraw fresh corruption.
    """

    def __new__(cls, noisy, clean, recipe: NoiseRecipe | None = None):
        obj = np.asarray(noisy).view(cls)
        clean = np.asarray(clean)
        if clean.shape != obj.shape:
            raise ValueError(
                f"clean has shape {clean.shape} but noisy has shape {obj.shape}; they must match."
            )
        obj.clean = clean
        obj.recipe = recipe
        return obj

    def __array_finalize__(self, obj):
        # Copies and dtype casts keep the source; any other view forgets it
        # (indexing sets it explicitly in __getitem__).
        clean = getattr(obj, "clean", None)
        keep = (
            clean is not None
            and obj.shape == self.shape
            and _element_strides(obj) == _element_strides(self)
        )
        self.clean = clean if keep else None
        self.recipe = getattr(obj, "recipe", None)

    def __getitem__(self, key):
        out = super().__getitem__(key)
        if isinstance(out, NoisyArray):
            clean = None if self.clean is None else self.clean[key]
            out.clean = clean if clean is not None and clean.shape == out.shape else None
        return out

    def transpose(self, *axes):
        return self.view(np.ndarray).transpose(*axes)

    def swapaxes(self, axis1, axis2):
        return self.view(np.ndarray).swapaxes(axis1, axis2)

    @property
    def T(self):
        return self.view(np.ndarray).T

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        inputs = tuple(_plain(x) for x in inputs)
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __reduce__(self):
        constructor, args, state = super().__reduce__()
        return constructor, args, (state, self.clean, self.recipe)

    def __setstate__(self, state):
        array_state, self.clean, self.recipe = state
        super().__setstate__(array_state)

    def __deepcopy__(self, memo):
        out = np.array(self, copy=True, subok=False).view(NoisyArray)
        out.clean = copy.deepcopy(self.clean, memo)
        out.recipe = self.recipe
        return out


def _element_strides(a):
    return tuple(s // a.itemsize for s in a.strides)


def _plain(x):
    return x.view(np.ndarray) if isinstance(x, NoisyArray) else x


class CleanSource:
    """Clean data and recipe attached to a pandas DataFrame's ``attrs``.

    pandas deep-copies ``attrs`` along with a frame and compares them when
    concatenating; this holder is shared rather than copied and equals only
    itself, so neither costs a copy of the data nor fails.

    ``noisy``, when given, is the noisy frame's values (a frame with the same
    index): pandas keeps ``attrs`` through arithmetic (``noisy * 255``), so
    the source holds only for a frame whose values are still these, as a
    :class:`NoisyArray` drops its clean source through arithmetic.
    """

    __slots__ = ("clean", "recipe", "noisy")

    def __init__(self, clean, recipe: NoiseRecipe | None = None, noisy=None):
        self.clean = clean
        self.recipe = recipe
        self.noisy = noisy

    def __deepcopy__(self, memo):
        return self

    def __getstate__(self):
        return self.clean, self.recipe, self.noisy

    def __setstate__(self, state):
        self.clean, self.recipe, self.noisy = (*state, None)[:3]


def split_noisy(X):
    """Return ``(values, clean, recipe)`` for data that may carry a clean source.

    ``X`` is a :class:`NoisyArray`, a pandas DataFrame whose ``attrs`` hold a
    :class:`CleanSource` (the pandas output of ``NoiseAugmenter``), or
    anything else, for which ``clean`` and ``recipe`` are ``None``. A frame
    cut from a larger one gets the matching rows of the clean frame, by index.
    """
    if isinstance(X, NoisyArray):
        if X.clean is None or X.clean.shape != X.shape:
            return X.view(np.ndarray), None, None
        return X.view(np.ndarray), X.clean, X.recipe
    attrs = getattr(X, "attrs", None)
    source = attrs.get(ATTRS_KEY) if isinstance(attrs, dict) else None
    if not isinstance(source, CleanSource):
        return X, None, None
    clean = source.clean
    if not (len(clean) == len(X) and clean.index.equals(X.index)):
        if not (X.index.is_unique and clean.index.is_unique and X.index.isin(clean.index).all()):
            raise ValueError(
                "The noisy DataFrame's rows cannot be matched to its clean source by "
                "index; keep a unique index, or use NumPy output (set_output("
                'transform="default")).'
            )
        clean = clean.loc[X.index]
    if source.noisy is not None:
        noisy = source.noisy
        noisy = noisy if noisy.index.equals(X.index) else noisy.loc[X.index]
        if noisy.shape != X.shape or not np.array_equal(np.asarray(X), noisy.to_numpy()):
            return X, None, None  # values changed since the augmenter: a stale source
    return X, clean, source.recipe


# Frames of the caller's stack searched for the Pipeline fitting an estimator.
_PIPELINE_FRAMES = 40


def lost_clean_source(estimator) -> tuple[str, list[str]] | None:
    """Whether ``estimator`` is being fitted after a NoiseAugmenter whose clean source was lost.

    Only the step directly after a :class:`~skae.NoiseAugmenter` (``None``
    and ``"passthrough"`` steps aside) receives its clean source: any other
    transformer returns a plain array of its own. Called from a fit that got
    no clean source, this looks up the caller's stack for the
    scikit-learn Pipeline (nested ones included) whose last step is
    ``estimator`` and returns ``(augmenter step, [steps between])`` when a
    NoiseAugmenter stands earlier in it, separated from ``estimator`` by
    other transformers; None otherwise (no Pipeline, no augmenter, or a
    skae autoencoder between them, which itself consumed the source).
    Works for clones and under GridSearchCV: the Pipeline in the stack is
    the one being fitted.
    """
    target, seen = estimator, set()
    frame = sys._getframe(1)
    for _ in range(_PIPELINE_FRAMES):
        frame = frame.f_back
        if frame is None:
            return None
        if frame.f_globals.get("__name__") != "sklearn.pipeline":
            continue
        owner = frame.f_locals.get("self")
        steps = getattr(owner, "steps", None)
        if id(owner) in seen or not isinstance(steps, list) or not steps:
            continue
        seen.add(id(owner))
        if steps[-1][1] is not target:
            continue
        between = []
        for name, step in reversed(steps[:-1]):
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            if getattr(step, "_skae_carries_clean_source", False):
                return (name, between[::-1]) if between else None
            if hasattr(step, "_training_data"):  # a skae autoencoder: it took the source
                return None
            between.append(name)
        target = owner  # a nested Pipeline: look for the one around it
    return None
