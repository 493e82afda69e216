"""The training loop: a small skorch net specialised for autoencoders.

This layer knows about tensors, batches, losses and callbacks, and nothing
about scikit-learn parameter validation. Estimators build an
:class:`AutoEncoderNet` through :func:`make_net` and train it through
:func:`train`.

Design points
-------------
* Training data is a *data source*: :class:`TensorPair` holds whole
  tensors (on the training device) and cuts batches by indexing with a
  shuffled permutation; :class:`MemmapSource` streams the rows of a
  read-only memmap block by block, never holding it whole. Both answer
  ``len``, ``subset`` and ``batches``; :class:`BatchIterator` only asks the
  source for its batches, and :func:`make_source` chooses the source, so
  estimators never learn where batches come from.
* Randomness (weight init, shuffling, dropout, corruption) comes from the
  seed handed in by the estimator, inside :func:`seeded`, which forks the
  global torch RNG so that the caller's RNG state is left untouched.
* Training-time corruption (denoising) is a callable applied to the input
  of a training batch only, never in validation or inference.
* A criterion may expose the named terms of its last loss as a dict
  ``terms``; they are recorded per batch as ``train_<name>`` and
  ``valid_<name>``, and :func:`term_scoring` turns them into per-epoch
  history entries. Batch losses and terms are kept as detached tensors and
  turned into floats in one transfer at the end of each epoch, so that
  training never waits for the device after a batch. :class:`CriterionWarmup` ramps a criterion weight over
  the first epochs (KL warm-up).
"""

from __future__ import annotations

import inspect
import math
import mmap
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    LRScheduler,
    PassthroughScoring,
    ProgressBar,
)
from torch.utils.data import Dataset

from .modules.output import output_logits

__all__ = [
    "AutoEncoderNet",
    "auto_batch",
    "BatchIterator",
    "resolve_lr_schedule",
    "column_mean",
    "CriterionWarmup",
    "HoldOutSplit",
    "in_unit_range",
    "PLACEMENT",
    "cpu_threads",
    "MemmapSource",
    "PRECISIONS",
    "LR_SCHEDULES",
    "StreamedArray",
    "TensorPair",
    "is_streamed",
    "make_net",
    "make_source",
    "map_blocks",
    "MappedRows",
    "map_rows",
    "make_precision",
    "Precision",
    "resolve_device",
    "validate_rows",
    "read_rows",
    "take_rows",
    "row_chunks",
    "seeded",
    "term_scoring",
    "to_tensor",
    "train",
    "check_device_name",
    "optimizer_arguments",
]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}
# Named optimizers that run as one fused kernel over all parameters (CPU and
# CUDA): the same update, with far fewer kernel launches for small networks.
FUSED_OPTIMIZERS = {"adam", "adamw"}


# Where training runs: None for this process alone, or the active
# skae.DataParallel context, whose ``_net_class`` make_net then builds.
PLACEMENT: ContextVar = ContextVar("skae_placement", default=None)

# The last fraction of a run over which the "cooldown" schedule lowers the rate.
COOLDOWN_FRACTION = 0.2


def _cooldown(epoch: int, epochs: int) -> float:
    over = epoch / epochs - (1.0 - COOLDOWN_FRACTION)
    return 1.0 if over <= 0 else 0.5 * (1.0 + math.cos(math.pi * over / COOLDOWN_FRACTION))


# How the learning rate moves over the epochs of one training run: its
# factor of ``lr`` at 0-based epoch ``epoch`` of ``epochs``.
LR_SCHEDULES = {
    "constant": lambda epoch, epochs: 1.0,
    "cosine": lambda epoch, epochs: 0.5 * (1.0 + math.cos(math.pi * epoch / epochs)),
    "cooldown": _cooldown,
}


def resolve_lr_schedule(lr_schedule: str, callbacks) -> str:
    """The key of :data:`LR_SCHEDULES` that a run with these callbacks uses.

    ``"auto"`` is "cooldown", or "constant" next to a skorch ``LRScheduler``
    callback, which then sets the rate alone. Any other schedule next to one
    is refused: both would set the rate, and the last would silently win.
    """
    scheduler = any(
        isinstance(callback[1] if isinstance(callback, tuple) else callback, LRScheduler)
        for callback in callbacks or []
    )
    if lr_schedule == "auto":
        return "constant" if scheduler else "cooldown"
    if scheduler and lr_schedule != "constant":
        raise ValueError(
            f"lr_schedule={lr_schedule!r} sets the learning rate at every epoch, and "
            "the LRScheduler in callbacks would set it too; use lr_schedule='auto' or "
            "'constant' with your own scheduler, or drop the scheduler from callbacks."
        )
    return lr_schedule


class Precision:
    """The arithmetic of training and inference: one object, chosen once per net.

    Estimators and the training loop never branch on the precision: they
    call :meth:`autocast` around a module's forward pass (and only there:
    losses and scores are computed in float32 outside it), :meth:`backward`
    on a loss, and :meth:`step` to apply an optimizer step. The base class
    is float32 throughout; :class:`Autocast` adds a reduced-precision
    forward; :class:`ScaledAutocast` (float16) also scales the loss against
    underflow and holds the only ``GradScaler``.
    """

    name = "32"

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)

    def autocast(self):
        """The context a module's forward pass runs in."""
        return nullcontext()

    def backward(self, loss: torch.Tensor, optimizers) -> None:
        """Compute the gradients of ``loss``, unscaled by the time this returns."""
        loss.backward()

    def step(self, optimizer, step_fn) -> None:
        """Run ``step_fn`` (zero grads, forward, backward) and step ``optimizer``."""
        if step_fn is None:
            optimizer.step()
        else:
            optimizer.step(step_fn)


class Autocast(Precision):
    """Forward passes under ``torch.autocast`` in ``dtype``; weights stay float32."""

    def __init__(self, device, dtype: torch.dtype, name: str):
        super().__init__(device)
        self.dtype = dtype
        self.name = name

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype)


class ScaledAutocast(Autocast):
    """float16 autocast with loss scaling (``torch.amp.GradScaler``'s recipe).

    The scaled loss is backpropagated and the gradients unscaled right away,
    so callbacks that read or clip gradients (``on_grad_computed``) see their
    true values; the step is skipped when they are not finite, and the
    scale is updated after it.
    """

    def __init__(self, device, dtype: torch.dtype, name: str):
        super().__init__(device, dtype, name)
        self.scaler = torch.amp.GradScaler(self.device.type)

    def backward(self, loss, optimizers):
        self.scaler.scale(loss).backward()
        for optimizer in optimizers:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer, step_fn):
        if step_fn is not None:
            step_fn()
        self.scaler.step(optimizer)
        self.scaler.update()


# The precisions by name: the class and the autocast dtype of each.
PRECISIONS = {
    "32": (Precision, None),
    "bf16": (Autocast, torch.bfloat16),
    "16-mixed": (ScaledAutocast, torch.float16),
}


def make_precision(name: str, device: torch.device | str) -> Precision:
    """The :class:`Precision` called ``name`` on ``device``.

    Raises ``ValueError`` when ``name`` cannot run on ``device``.
    """
    device = torch.device(device)
    if name == "16-mixed" and device.type != "cuda":
        raise ValueError(
            f"precision='16-mixed' needs a CUDA device, but training runs on {device}; "
            "use precision='bf16' for reduced precision on the CPU, or device='cuda'."
        )
    cls, dtype = PRECISIONS[name]
    return cls(device) if dtype is None else cls(device, dtype, name)


def memory_format(device: torch.device | str) -> torch.memory_format:
    """The layout of a network's image tensors on ``device``: channels-last on the CPU.

    A module is converted once, when its net is built: 4-D weights (2-D
    convolutions) then take this layout, and so do the feature maps they
    give, while other weights are untouched. On the CPU channels-last
    feature maps train a ConvAE 1.7x faster in float32 and 2.1-2.3x in
    bfloat16 (``benchmarks/bench_training.py --only bf16``); other devices
    keep torch's contiguous layout, which has not been measured against it
    there.
    """
    if torch.device(device).type == "cpu":
        return torch.channels_last
    return torch.contiguous_format


def _rows_of(output, n: int):
    """The first ``n`` rows of a network output (a tensor or a tuple of them)."""
    if isinstance(output, tuple):
        return tuple(_rows_of(o, n) for o in output)
    return output[:n] if isinstance(output, torch.Tensor) else output


def _as_float32(output):
    """Cast the floating tensors of a network output (tensor or tuple) to float32."""
    if isinstance(output, torch.Tensor):
        return output.float() if output.is_floating_point() else output
    if isinstance(output, tuple):
        return tuple(_as_float32(o) for o in output)
    return output


def check_device_name(device: str) -> torch.device:
    """The torch device ``device`` names, whether or not this machine has it.

    Refuses, with a ``ValueError`` naming the fix, a name that is no torch
    device and a device that holds no data (``"meta"``). ``"auto"`` is
    returned as the CPU: it names no device in particular.
    """
    if device == "auto":
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N' or 'auto'."
        ) from None
    if resolved.type == "meta":
        raise ValueError(
            f"device={device!r} holds no data (meta tensors have shapes but no values), so "
            "nothing can be trained on it; use 'cpu', 'cuda' or 'auto'."
        )
    return resolved


def resolve_device(device: str) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` into a usable device.

    The one place a device is checked: a device this machine lacks, a CUDA
    index beyond its GPUs, or a device that holds no data (``"meta"``) is
    refused with a ``ValueError`` that names the fix.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = check_device_name(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine; "
                "use device='auto' to fall back to the CPU, or device='cpu'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} names CUDA device {resolved.index}, but this machine has "
                f"{torch.cuda.device_count()} (numbered from 0); use 'cuda:0' or 'auto'."
            )
    elif resolved.type != "cpu":
        backend = getattr(torch.backends, resolved.type, None)
        module = getattr(torch, resolved.type, None)
        available = getattr(backend, "is_available", None) or getattr(module, "is_available", None)
        if available is None or not available():
            raise ValueError(
                f"device={device!r} was requested but {resolved.type.upper()} is not available "
                "on this machine; use 'cpu' or 'auto'."
            )
    return resolved


# Held by every seeded block: torch's default generator is one per process.
_SEEDED = threading.RLock()


@contextmanager
def seeded(seed: int, device: torch.device | str = "cpu"):
    """Run a block with torch's RNG seeded by ``seed``, restoring it afterwards.

    The global CPU generator (and the CUDA generator of ``device``) is forked,
    so code inside draws reproducible numbers while the caller's RNG state is
    exactly as it was before.

    The generator is the process's, so seeded blocks of different threads
    take turns (a re-entrant lock): two fits in threads (``GridSearchCV``
    under joblib's threading backend, a dask worker with several threads)
    never draw from each other's stream, and give what they give alone.
    Draws from torch's global generator by other code in another thread
    during a fit still perturb it.
    """
    device = torch.device(device)
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with _SEEDED, torch.random.fork_rng(devices=cuda_devices):
        torch.random.default_generator.manual_seed(int(seed))
        if cuda_devices:
            with torch.cuda.device(cuda_devices[0]):
                torch.cuda.manual_seed(int(seed))
        yield


def to_tensor(X: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """Float32 tensor view of ``X`` on ``device``, copying only when needed.

    Read-only inputs (memmaps) are copied, since torch requires writable
    memory.
    """
    X = np.require(X, dtype=np.float32, requirements=["C_CONTIGUOUS", "WRITEABLE"])
    return torch.from_numpy(X).to(device)


class TensorPair(Dataset):
    """Input and target tensors of equal length, held whole in memory.

    ``target`` may be the very same tensor as ``X`` (plain autoencoding); the
    iterator then indexes it only once.
    """

    def __init__(self, X: torch.Tensor, target: torch.Tensor | None = None):
        self.X = X
        self.target = X if target is None else target
        if len(self.target) != len(self.X):
            raise ValueError("input and target must have the same number of samples")

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.target[i]

    @property
    def device(self) -> torch.device:
        return self.X.device

    def first_rows(self, n: int) -> torch.Tensor:
        """The network input of the first ``n`` rows."""
        return self.X[:n]

    def subset(self, index) -> TensorPair:
        """The rows ``index`` (numpy or torch integers), in that order."""
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index).to(self.X.device)
        X = self.X[index]
        return TensorPair(X, X if self.target is self.X else self.target[index])

    def corrupted(self, corrupt: Callable, seed: int) -> TensorPair:
        """This data with its input corrupted once, under ``seed`` (a held-out set)."""
        with seeded(seed, self.X.device):
            return TensorPair(corrupt(self.X), self.target)

    def batches(self, batch_size: int, shuffle: bool) -> Iterator[tuple]:
        """Yield ``(input, target)`` batches, each one indexing operation.

        With ``shuffle``, rows are drawn in a uniformly random order
        (``torch.randperm`` under the global torch generator).
        """
        X, target = self.X, self.target
        same = target is X
        n, bs = len(X), batch_size
        if shuffle:
            order = torch.randperm(n, device=X.device)
            for start in range(0, n, bs):
                index = order[start : start + bs]
                xb = X[index]
                yield xb, (xb if same else target[index])
        else:
            for start in range(0, n, bs):
                yield X[start : start + bs], target[start : start + bs]


# Bytes of input rows a streaming source reads at once: one shuffling block.
# Training holds two (the one training and the next, read meanwhile), so a
# block is half the 32 MiB one block was before the reads ran ahead.
BLOCK_BYTES = 16 * 2**20


def is_streamed(X) -> bool:
    """Whether ``X`` is trained on and predicted from by streaming.

    A numpy memmap, or :class:`MappedRows` over one.
    """
    return isinstance(X, np.memmap | MappedRows)


class MappedRows:
    """The rows of a streamed array passed through ``fn`` as they are read.

    ``fn`` maps a float32 block of rows to a block of the same shape (a
    fitted scaler's transform, say); it runs block by block whenever the
    engine reads rows, so the mapped data is never held whole. To the
    engine's readers (:func:`read_rows`, :func:`row_chunks`,
    :func:`make_source`, :func:`validate_rows`) it is a read-only 2-D
    float32 array. Make one with :func:`map_blocks`.
    """

    ndim = 2
    dtype = np.dtype(np.float32)
    _range = None

    def __init__(self, X, fn: Callable):
        self.X = X
        self.fn = fn
        self.shape = tuple(X.shape)
        self.size = int(X.size)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        return np.asarray(self.fn(read_rows(self.X, rows)), dtype=np.float32)

    @property
    def _mmap(self):
        return getattr(self.X, "_mmap", None)

    def _extreme(self, which):
        if self._range is None:
            check_streamed(self)
        return self.dtype.type(self._range[which])

    def min(self):
        return self._extreme(0)

    def max(self):
        return self._extreme(1)


def _same_rows(block: np.ndarray) -> np.ndarray:
    """The rows as :func:`read_rows` gives them: float32 in this machine's byte order."""
    return block


def map_blocks(X, fn: Callable):
    """``fn(X)``, applied whole to an in-memory ``X`` and block by block to a streamed one.

    The same ``fn`` gives the same rows either way; a streamed ``X`` gives a
    :class:`MappedRows`, read (and mapped) one block at a time.
    """
    return MappedRows(X, fn) if is_streamed(X) else fn(X)


def _release(X) -> None:
    """Drop the pages of ``X``'s file mapping from this process's resident memory.

    The file stays in the operating system's page cache; only this
    process's mapping of it is emptied, so memory use stays that of one
    block however large the file.
    """
    mapping = getattr(X, "_mmap", None)
    if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
        try:
            mapping.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # closed or unsupported: nothing to release
            pass


# Scattered rows read between two releases of a memmap's pages: reading one
# row maps its neighbouring pages too (the kernel's read-around and
# fault-around, measured at about 0.5 MiB per row on Linux), so many
# scattered rows would map most of the file at once.
SCATTERED_ROWS = 32


def read_rows(X, rows) -> np.ndarray:
    """Float32 in-memory copy of ``X[rows]`` (a slice or sorted integers).

    A memmap's pages are released after the read (scattered rows in groups
    of ``SCATTERED_ROWS``), so reading never maps the file whole.
    """
    if not is_streamed(X) or isinstance(rows, slice) or len(rows) <= SCATTERED_ROWS:
        block = np.array(X[rows], dtype=np.float32, order="C")
        _release(X)
        return block
    block = np.empty((len(rows), *X.shape[1:]), dtype=np.float32)
    for start in range(0, len(rows), SCATTERED_ROWS):
        block[start : start + SCATTERED_ROWS] = X[rows[start : start + SCATTERED_ROWS]]
        _release(X)
    return block


def take_rows(X, rows) -> np.ndarray:
    """``X[rows]`` (a slice or sorted integers) in memory, any container.

    An in-memory array is indexed as it is (its dtype kept); a memmap is
    read with :func:`read_rows`, never mapped whole.
    """
    return read_rows(X, rows) if is_streamed(X) else X[rows]


def block_rows(X, batch_size: int = 1) -> int:
    """Rows per streamed block of ``X``: whole batches, about ``BLOCK_BYTES``, at least one."""
    row_bytes = max(1, 4 * math.prod(X.shape[1:]))
    batch_size = int(batch_size)
    rows = max(batch_size, BLOCK_BYTES // row_bytes)
    return rows - rows % batch_size


def row_chunks(*arrays, batch_size: int = 1) -> Iterator[tuple[np.ndarray, ...]]:
    """Yield the arrays (equal length) in aligned in-memory row chunks.

    Memmaps are read one block at a time and released after each read; a
    chunk holds a whole number of ``batch_size`` batches.
    """
    n = len(arrays[0])
    step = block_rows(arrays[0], batch_size)
    for start in range(0, n, step):
        rows = slice(start, start + step)
        yield tuple(read_rows(a, rows) if is_streamed(a) else a[rows] for a in arrays)


def column_mean(X: np.ndarray) -> np.ndarray:
    """Float64 mean of each column of ``X``, summed block by block.

    Neither a memmap nor an in-memory array is copied whole (into float64),
    and both give the same bits for the same values.
    """
    total = np.zeros(X.shape[1:], dtype=np.float64)
    for (chunk,) in row_chunks(X):
        total += chunk.sum(axis=0, dtype=np.float64)
    return total / len(X)


# batch_size="auto": the largest power of two between these bounds that
# still gives an epoch AUTO_BATCHES_PER_EPOCH optimizer steps, so that small
# data sets train with about as many updates per epoch as the 4,000-digit
# benchmark's batches of 64 give (62). The rate follows the batch by the
# square-root rule of adaptive optimizers (``lr`` is the rate at the upper
# bound), which keeps the noise of each update as at a batch of 64. Measured
# on 1,000 real digits at 30 epochs, test MSE against PCA(32)'s: ConvAE(32)
# 0.59x (0.75x with batches of 64), AutoEncoder(32) 0.78x (0.79x; 0.82x at
# a batch of 16 without the lower rate).
AUTO_BATCH_BOUNDS = (8, 64)
AUTO_BATCHES_PER_EPOCH = 32


def auto_batch(n_rows: int | None, lr: float) -> tuple[int, float]:
    """The ``(batch size, rate)`` that ``batch_size="auto"`` gives ``n_rows`` training rows.

    The batch is the largest power of two within :data:`AUTO_BATCH_BOUNDS`
    that leaves at least :data:`AUTO_BATCHES_PER_EPOCH` batches per epoch
    (the lower bound when none does), or the upper bound when the number of
    rows is not known (``None``: ``partial_fit``, whose chunks are not the
    data set). The rate is ``lr`` times the square root of the batch over
    the upper bound.
    """
    low, high = AUTO_BATCH_BOUNDS
    size = high if n_rows is None else low
    while size * 2 <= high and size * 2 * AUTO_BATCHES_PER_EPOCH <= n_rows:
        size *= 2
    return size, float(lr) * math.sqrt(size / high)


def in_unit_range(X: np.ndarray) -> bool:
    """Whether every value of ``X`` lies in [0, 1] (images, intensities).

    Such data gets a sigmoid output, binary cross-entropy and noise clipped
    to [0, 1] by default. A :class:`StreamedArray` answers from the range it
    recorded while it was validated.
    """
    return bool(X.size > 0 and X.min() >= 0 and X.max() <= 1)


class StreamedArray(np.memmap):
    """A validated memmap that remembers its minimum and maximum.

    Validation reads a streamed input once, chunk by chunk, to check that it
    is finite; it records the range on the way so that parameter checks
    calling ``X.min()`` and ``X.max()`` do not read the file again (and do
    not map it whole into memory). Views and slices forget the range.
    """

    _range = None

    def __array_finalize__(self, obj):
        super().__array_finalize__(obj)
        self._range = None

    def min(self, *args, **kwargs):
        if self._range is not None and not args and not kwargs:
            return self.dtype.type(self._range[0])
        return super().min(*args, **kwargs)

    def max(self, *args, **kwargs):
        if self._range is not None and not args and not kwargs:
            return self.dtype.type(self._range[1])
        return super().max(*args, **kwargs)


def validate_rows(X, validate: Callable):
    """``X`` validated as the rows of a data source, in memory or streamed.

    The one place that tells a memmap from an in-memory array at
    validation: an in-memory ``X`` goes through ``validate(X,
    streamed=False)`` (the estimator's scikit-learn checks, which may copy
    or convert it); a memmap is checked here for its shape and dtype, then
    ``validate(X, streamed=True)`` checks its feature count without reading
    it, then its values are checked chunk by chunk (:func:`check_streamed`),
    never copied whole. Returns the validated array (a memmap as a
    :class:`StreamedArray`, which knows its range).
    """
    if not is_streamed(X):
        return validate(X, streamed=False)
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got a memmap of shape {X.shape}. Save the data as "
            "(n_samples, n_features), or reshape the memmap."
        )
    if isinstance(X, np.memmap) and X.dtype.kind == "f" and not X.dtype.isnative:
        if X.dtype.itemsize != 4:
            raise ValueError(
                f"The memmap holds float64 values in the other byte order ({X.dtype.str!r}); "
                "skae streams float64 in this machine's byte order only. Write a copy in "
                "native order block by block (np.lib.format.open_memmap(path, mode='w+', "
                f"dtype={X.dtype.newbyteorder('=').str!r}, shape=X.shape), then assign "
                "slices), or save it as float32."
            )
        # float32 in the other byte order: read (and converted) block by block
        X = MappedRows(X, _same_rows)
    if X.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"A memmap is streamed as it is, so it must hold float32 or float64 values, "
            f"not {X.dtype}. Save the data as float32 (e.g. np.lib.format.open_memmap("
            "path, mode='w+', dtype=np.float32, shape=...)), or pass an in-memory array."
        )
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) "
            f"(shape={X.shape}) while a minimum of 1 is required."
        )
    validate(X, streamed=True)
    return check_streamed(X)


def check_streamed(X: np.memmap) -> StreamedArray:
    """Check a memmap chunk by chunk for NaN and infinity, never copying it whole.

    Returns ``X`` as a :class:`StreamedArray` carrying its range (a
    :class:`MappedRows` records its range itself).
    """
    low, high = math.inf, -math.inf
    for (chunk,) in row_chunks(X):
        finite = np.isfinite(chunk)
        if not finite.all():
            bad = "NaN" if np.isnan(chunk).any() else "infinity"
            raise ValueError(
                f"Input X contains {bad}. The memmap holds non-finite values; clean the "
                "file (e.g. np.nan_to_num on each block) before fitting."
            )
        if chunk.size:
            low, high = min(low, float(chunk.min())), max(high, float(chunk.max()))
    out = X if isinstance(X, MappedRows) else X.view(StreamedArray)
    out._range = (low, high)
    return out


class MemmapSource(Dataset):
    """Rows of a memmap (and of an optional target memmap), streamed by blocks.

    The input is never read whole: an epoch reads contiguous blocks of about
    ``BLOCK_BYTES`` (whole batches) in a random order, shuffles the rows
    inside each block, and cuts batches from that stream (only rows after
    the short last block carry into the next); a background thread reads
    the next block while the current one trains. This is *block
    shuffling*: every row is seen once per epoch and the block order and
    within-block order change every epoch, but rows of one block arrive
    close together. Randomness comes from the global torch
    generator, so :func:`seeded` makes epochs reproducible.

    ``rows`` (sorted integers) restricts the source to some rows of the file,
    as a validation split does. ``corrupt``, when given, corrupts each batch
    under a seed fixed per batch position, so that every epoch sees the same
    corrupted inputs (a corrupted validation set, without storing it).
    """

    def __init__(
        self,
        X: np.ndarray,
        target: np.ndarray | None = None,
        *,
        device: torch.device | str = "cpu",
        rows: np.ndarray | None = None,
        corrupt: Callable | None = None,
        corrupt_seed: int = 0,
    ):
        if target is not None and len(target) != len(X):
            raise ValueError("input and target must have the same number of samples")
        self.X = X
        self.target = target
        self.rows = rows
        self._device = torch.device(device)
        self.corrupt = corrupt
        self.corrupt_seed = corrupt_seed

    def __len__(self) -> int:
        return len(self.X) if self.rows is None else len(self.rows)

    @property
    def device(self) -> torch.device:
        return self._device

    def first_rows(self, n: int) -> torch.Tensor:
        """The network input of the first ``n`` rows, read from the file."""
        rows = np.arange(min(n, len(self))) if self.rows is None else self.rows[:n]
        return to_tensor(read_rows(self.X, rows), self._device)

    def subset(self, index) -> MemmapSource:
        """The rows ``index`` of this source, in file order."""
        index = np.sort(np.asarray(index, dtype=np.int64))
        rows = index if self.rows is None else self.rows[index]
        return MemmapSource(self.X, self.target, device=self._device, rows=rows)

    def corrupted(self, corrupt: Callable, seed: int) -> MemmapSource:
        """This source with every batch corrupted under a seed fixed per batch position.

        The same corrupted inputs at every epoch, as for in-memory data, without
        storing them.
        """
        return MemmapSource(
            self.X,
            self.target,
            device=self._device,
            rows=self.rows,
            corrupt=corrupt,
            corrupt_seed=seed,
        )

    def _load(self, start: int, stop: int, device: torch.device):
        """Rows ``start:stop`` on ``device`` (an explicit one: this runs in the reader thread)."""
        rows = slice(start, stop) if self.rows is None else self.rows[start:stop]
        pin = device.type == "cuda"
        xb = torch.from_numpy(read_rows(self.X, rows))
        yb = None if self.target is None else torch.from_numpy(read_rows(self.target, rows))
        if pin:
            xb = xb.pin_memory()
            yb = None if yb is None else yb.pin_memory()
        xb = xb.to(device, non_blocking=pin)
        yb = None if yb is None else yb.to(device, non_blocking=pin)
        return xb, yb

    def batches(self, batch_size: int, shuffle: bool) -> Iterator[tuple]:
        n = len(self)
        size = block_rows(self.X, batch_size)  # whole batches: rows carry only after the last
        starts = list(range(0, n, size))
        order = torch.randperm(len(starts)).tolist() if shuffle else range(len(starts))
        # a bare "cuda" is the current device of this thread, which the
        # reader thread does not share (torch.cuda.set_device is per thread)
        device = explicit_device(self._device)
        spans = [(starts[b], min(starts[b] + size, n), device) for b in order]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="skae-read") as reader:
            yield from self._block_batches(reader, spans, batch_size, shuffle)

    def _block_batches(self, reader, spans, batch_size, shuffle):
        """Batches of the blocks ``spans``, in order; the next block is read while one trains."""
        carry_x = carry_y = None
        position = 0
        pending = reader.submit(self._load, *spans[0]) if spans else None
        for k in range(len(spans)):
            xb, yb = pending.result()
            # one host copy per block, read in the background: the file's
            # next block comes while this one trains (it holds no randomness)
            pending = reader.submit(self._load, *spans[k + 1]) if k + 1 < len(spans) else None
            if shuffle:
                perm = torch.randperm(len(xb), device=xb.device)
                xb = xb[perm]
                yb = None if yb is None else yb[perm]
            if carry_x is not None:
                xb = torch.cat([carry_x, xb])
                yb = None if yb is None else torch.cat([carry_y, yb])
            last = k == len(spans) - 1
            full = len(xb) if last else len(xb) - len(xb) % batch_size
            for start in range(0, full, batch_size):
                xi = xb[start : start + batch_size]
                yi = xi if yb is None else yb[start : start + batch_size]
                if self.corrupt is not None:
                    with seeded(self.corrupt_seed + position, xi.device):
                        xi = self.corrupt(xi)
                position += 1
                yield xi, yi
            # Copy the carried rows so that the block they come from is freed:
            # memory holds two blocks, the one training and the next one.
            carry_x = xb[full:].clone() if full < len(xb) else None
            carry_y = None if yb is None or carry_x is None else yb[full:].clone()
            xb = yb = xi = yi = None


def explicit_device(device: torch.device) -> torch.device:
    """``device`` with its index: a bare ``"cuda"`` is the calling thread's current CUDA device."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _device_room(device: torch.device) -> float:
    """Bytes of training data a device holds whole: half its free memory."""
    if device.type != "cuda":
        return math.inf
    free, _ = torch.cuda.mem_get_info(device)
    return free / 2


def make_source(
    X: np.ndarray, target: np.ndarray | None = None, device: torch.device | str = "cpu"
):
    """The data source for training on ``X`` (target ``None``: ``X`` itself).

    A memmap input streams (:class:`MemmapSource`, never read whole); so
    does an array too large for half the free memory of a CUDA ``device``
    (its blocks are copied through pinned memory). Any other array becomes
    whole tensors on ``device`` (:class:`TensorPair`), moved there once.
    """
    device = torch.device(device)
    nbytes = 4 * X.size * (1 if target is None else 2)
    if is_streamed(X) or (device.type == "cuda" and nbytes > _device_room(device)):
        if target is not None and not is_streamed(target):
            target = np.asarray(target)
        return MemmapSource(X, target, device=device)
    return TensorPair(
        to_tensor(X, device), None if target is None else to_tensor(np.asarray(target), device)
    )


class BatchIterator:
    """skorch iterator over a data source: it asks the source for its batches.

    The source cuts whole batches at once (:meth:`TensorPair.batches`,
    :meth:`MemmapSource.batches`), which is what makes a training epoch as
    fast as a hand-written loop.
    """

    def __init__(self, dataset, batch_size: int = 128, shuffle: bool = False):
        self.dataset = dataset
        # a batch larger than the data is the data: the same batches, and no
        # size beyond the data (batch_size=2**63) reaches numpy or torch
        n = max(1, len(dataset))
        self.batch_size = n if batch_size == -1 else min(int(batch_size), n)
        self.shuffle = shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return iter(self.dataset.batches(self.batch_size, self.shuffle))


class HoldOutSplit:
    """skorch ``train_split``: hold out a seeded random fraction for validation.

    ``validation`` may instead be a ready :class:`TensorPair` (data given by
    the user), in which case all of the training data is used for training.
    ``corrupt``, when given, corrupts the held-out input once, under
    ``seed``, so that the validation loss measures what training optimises
    (denoising) on the same corrupted data at every epoch.
    """

    def __init__(
        self,
        fraction: float | None,
        seed: int,
        validation: TensorPair | None = None,
        corrupt: Callable | None = None,
    ):
        self.fraction = fraction
        self.seed = seed
        self.validation = validation
        self.corrupt = corrupt

    def __call__(self, dataset: TensorPair, y=None, **fit_params):
        if self.validation is not None:
            return dataset, self.validation
        n = len(dataset)
        n_valid = int(round(self.fraction * n))
        if n_valid < 1 or n_valid >= n:
            raise ValueError(
                f"validation_fraction={self.fraction} leaves {n - n_valid} training and "
                f"{n_valid} validation samples out of {n}; each needs at least one. "
                "Pass more samples, change validation_fraction, or set early_stopping=False."
            )
        order = np.random.RandomState(self.seed).permutation(n)
        valid = dataset.subset(order[:n_valid])
        if self.corrupt is not None:
            valid = valid.corrupted(self.corrupt, self.seed)
        return dataset.subset(order[n_valid:]), valid


class ValidationEarlyStopping(EarlyStopping):
    """skorch's early stopping, idle in epochs that did not validate.

    ``partial_fit`` trains without a validation split; there is then nothing
    to monitor, and the best weights of an earlier ``fit`` are not restored
    over the newly trained ones.
    """

    def on_epoch_end(self, net, **kwargs):
        if self.monitor in net.history[-1]:
            try:
                super().on_epoch_end(net, **kwargs)
            except KeyboardInterrupt:
                # skorch stops training by raising KeyboardInterrupt: mark it
                # as a planned stop, not an interruption.
                net.stopped_early = True
                raise


class AutoEncoderNet(NeuralNet):
    """skorch net whose target defaults to its input.

    Parameters beyond :class:`skorch.NeuralNet`:

    corrupt : callable or None
        ``corrupt(X_batch) -> X_batch`` applied to the input of every training
        batch (fresh corruption each time it is drawn); never applied in
        validation or inference.
    precision : {"32", "bf16", "16-mixed"}
        The forward pass runs under the autocast of this precision and its
        output is cast back to float32, so the loss is computed in float32.
        ``"16-mixed"`` (CUDA) also scales the loss against float16 underflow.
    lr_schedule : {"auto", "constant", "cosine", "cooldown"}
        ``"auto"`` or a key of :data:`LR_SCHEDULES`, resolved against the
        callbacks by :func:`resolve_lr_schedule` at the start of each
        training run (one ``fit_loop`` call), which the schedule spans:
        "cosine" starts each run at ``lr`` and lowers it along half a
        cosine, epoch by epoch, towards 0 at the run's end; "cooldown" keeps
        ``lr`` and does the same over the run's last
        :data:`COOLDOWN_FRACTION`. A run of one epoch (``partial_fit``)
        stays at ``lr``. The optimizer's ``lr`` is restored when the run
        ends.
    """

    def __init__(
        self,
        *args,
        corrupt: Callable | None = None,
        precision: str = "32",
        lr_schedule: str = "auto",
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.corrupt = corrupt
        self.precision = precision
        self.lr_schedule = lr_schedule
        self.stopped_early = False
        self.interrupted = False

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # skorch swallows a KeyboardInterrupt (Ctrl-C) and returns; record
        # that it happened, unless it was early stopping's planned stop.
        self.stopped_early = self.interrupted = False
        self._run = (
            len(self.history),
            self.max_epochs if epochs is None else epochs,
            resolve_lr_schedule(self.lr_schedule, self.callbacks_),
        )
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            self.interrupted = not self.stopped_early
            raise

    def _set_lr(self, factor: float) -> None:
        for group in self.optimizer_.param_groups:
            group["lr"] = self.lr * factor

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        start, epochs, schedule = self._run
        if schedule != "constant":
            self._set_lr(LR_SCHEDULES[schedule](len(self.history) - 1 - start, epochs))
        self.history.record("lr", self.optimizer_.param_groups[0]["lr"])

    def initialize(self):
        super().initialize()
        self.module_.to(memory_format=memory_format(self.device))
        self.precision_ = make_precision(self.precision, self.device)
        # a sigmoid output trained with binary cross-entropy: the loss takes its logits
        use_logits = getattr(self.criterion_, "use_logits", None)
        if use_logits is not None:
            use_logits(self.module_)
        return self

    def infer(self, x, **fit_params):
        # autocast wraps the module's forward only; the loss is float32. A
        # criterion that takes logits gets them (training and validation
        # alike), every other caller of the module its probabilities.
        logits = output_logits() if getattr(self.criterion_, "logits", False) else nullcontext()
        with self.precision_.autocast(), logits:
            output = super().infer(x, **fit_params)
        return _as_float32(output)

    def _step_optimizer(self, step_fn):
        for name in self._optimizers:
            self.precision_.step(getattr(self, name + "_"), step_fn)

    def get_dataset(self, X, y=None):
        if isinstance(X, (TensorPair, MemmapSource)):
            return X
        return TensorPair(X, y)

    def _set_training(self, training=True):
        # skorch sets the mode before every batch, which walks every submodule;
        # skip the walk when the module and criterion are in that mode already.
        if self.module_.training is training and self.criterion_.training is training:
            return
        super()._set_training(training)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # skorch's loop, but batch losses and criterion terms are copied into
        # one buffer per name (no per-batch device sync, and no small
        # long-lived tensors that fragment the heap); the history holds
        # placeholders that become floats in one transfer per name at the end.
        if iterator is None:
            return
        self._epoch_values = _EpochValues(len(iterator))
        batch_count = 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            self._batch_index = batch_count
            step = step_fn(batch, **fit_params)
            self._record(f"{prefix}_loss", step["loss"])
            self.history.record_batch(f"{prefix}_batch_size", len(batch[0]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
            batch_count += 1
        self.history.record(f"{prefix}_batch_count", batch_count)
        self._reduce_epoch(self._epoch_values.buffers)
        self._epoch_values.resolve(self.history[-1]["batches"])
        del self._epoch_values

    def _reduce_epoch(self, buffers: dict[str, torch.Tensor]) -> None:
        """Combine the epoch's per-batch values across processes, in place (once per epoch).

        Training in this process alone has nothing to combine; a
        data-parallel placement sums its processes' shares here.
        """

    def _record(self, key: str, value) -> None:
        values = getattr(self, "_epoch_values", None)
        if values is None or not isinstance(value, torch.Tensor):
            value = float(value)
        else:
            value = values.put(key, self._batch_index, value)
        self.history.record_batch(key, value)

    def train_step_single(self, batch, **fit_params):
        # skorch's step, with the training-time corruption of the input and
        # the precision's backward (loss scaling for float16)
        self._set_training(True)
        Xi, yi = batch
        if self.corrupt is not None:
            Xi = self.corrupt(Xi)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        self.precision_.backward(loss, [getattr(self, f"{name}_") for name in self._optimizers])
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = criterion_loss(self.criterion_, y_pred, y_true, len(self.history))
        terms = getattr(self.criterion_, "terms", None)
        if terms:
            prefix = "train" if training else "valid"
            for name, value in terms.items():
                self._record(f"{prefix}_{name}", value)
        return loss

    def on_train_end(self, net, **kwargs):
        # Gradients are recomputed from scratch at every step: after training
        # they only hold memory, as much again as the weights.
        super().on_train_end(net, **kwargs)
        self.module_.zero_grad(set_to_none=True)
        if self._run[2] != "constant":
            self._set_lr(1.0)

    # The module and criterion given to the constructor are the very objects
    # skorch initialises as ``module_`` and ``criterion_``; skorch pickles the
    # two names apart, which would store every weight twice.
    _SAME_AS_INITIALIZED = "<same as the initialized attribute>"

    def __getstate__(self):
        state = super().__getstate__()
        for name in ("module", "criterion"):
            if state.get(name) is not None and state[name] is getattr(self, f"{name}_", None):
                state[name] = self._SAME_AS_INITIALIZED
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        for name in ("module", "criterion"):
            value = self.__dict__.get(name)
            if isinstance(value, str) and value == self._SAME_AS_INITIALIZED:
                self.__dict__[name] = getattr(self, f"{name}_")


def criterion_loss(criterion, y_pred, y_true, epoch: int) -> torch.Tensor:
    """``criterion(y_pred, y_true)``, with divergence told as skae tells it.

    A network whose weights blew up outputs NaN, which torch's binary
    cross-entropy of probabilities refuses with its own range error (a
    module of the user's own, trained with ``loss="bce"``; skae's sigmoid
    outputs train on their logits, whose loss is NaN, which the fit reports);
    the user gets skae's "Training diverged" advice instead (the fit then
    changes nothing).
    """
    try:
        return criterion(y_pred, y_true)
    except RuntimeError as error:
        if "input should be between 0 and 1" not in str(error):
            raise
        raise ValueError(
            f"Training diverged: the network's output became NaN in epoch {epoch}, where "
            "binary cross-entropy cannot be computed. Lower lr, scale the input (e.g. "
            "StandardScaler), or use a bounded output_activation."
        ) from None


class _Pending:
    """A batch value still in its epoch buffer; ``float()`` reads it (a device sync)."""

    __slots__ = ("buffer", "index")

    def __init__(self, buffer: torch.Tensor, index: int):
        self.buffer = buffer
        self.index = index

    def __float__(self) -> float:
        return float(self.buffer[self.index])

    def __format__(self, spec: str) -> str:
        return format(float(self), spec)


class _EpochValues:
    """Per-batch scalars of one epoch, one buffer per name on the values' device."""

    def __init__(self, n_batches: int):
        self.n_batches = max(1, n_batches)
        self.buffers: dict[str, torch.Tensor] = {}

    def put(self, key: str, index: int, value: torch.Tensor) -> _Pending:
        buffer = self.buffers.get(key)
        if buffer is None or index >= len(buffer):
            grown = torch.zeros(max(self.n_batches, 2 * (index + 1)), device=value.device)
            if buffer is not None:
                grown[: len(buffer)] = buffer
            buffer = self.buffers[key] = grown
        buffer[index] = value.detach()
        return _Pending(buffer, index)

    def resolve(self, rows: list[dict]) -> None:
        """Replace the placeholders in ``rows`` by floats, one transfer per name."""
        values = {key: buffer.tolist() for key, buffer in self.buffers.items()}
        for row in rows:
            for key, value in row.items():
                if isinstance(value, _Pending):
                    row[key] = values[key][value.index] if key in values else float(value)


class CriterionWarmup(Callback):
    """Ramp ``criterion_.<attribute>`` linearly from 0 to 1 over ``epochs`` epochs.

    At the start of epoch ``e`` (1-based, counting epochs of earlier calls
    to a continued net) the attribute is set to ``min(1, (e - 1) / epochs)``.
    """

    def __init__(self, attribute: str, epochs: int):
        self.attribute = attribute
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)
        setattr(net.criterion_, self.attribute, min(1.0, (epoch - 1) / self.epochs))


def term_scoring(names) -> list:
    """Callbacks recording the epoch means of criterion terms ``names``.

    Each term becomes the history keys ``train_<name>`` and, when there is a
    validation split, ``valid_<name>``.
    """
    return [
        (f"{prefix}_{name}", PassthroughScoring(f"{prefix}_{name}", on_train=prefix == "train"))
        for name in names
        for prefix in ("train", "valid")
    ]


class TextFallbackProgressBar(ProgressBar):
    """skorch's progress bar, in text where a notebook has no widgets.

    In Jupyter, skorch draws a widget bar, which needs ``ipywidgets``;
    without it (JupyterLab or VS Code with only ``ipykernel``) tqdm raises
    ``ImportError: IProgress not found``. The text bar is drawn instead.
    """

    def _use_notebook(self):
        if not super()._use_notebook():
            return False
        import tqdm.notebook

        return getattr(tqdm.notebook, "IProgress", None) is not None


def optimizer_arguments(optimizer, weight_decay: float, optimizer_kwargs: dict | None) -> dict:
    """The keyword arguments the optimizer is built with, checked against its signature.

    ``weight_decay`` is passed only to an optimizer that takes it: ``Rprop``
    and ``LBFGS`` do not, and train with the default ``weight_decay=0``; a
    non-zero value is then refused, as is ``SparseAdam``, whose sparse
    gradients no skae network produces.
    """
    cls = OPTIMIZERS.get(optimizer, optimizer) if isinstance(optimizer, str) else optimizer
    if cls is torch.optim.SparseAdam:
        raise ValueError(
            "optimizer=torch.optim.SparseAdam needs sparse gradients (embedding layers), "
            "which skae's networks do not produce; use 'adam' or torch.optim.Adam."
        )
    params = dict(optimizer_kwargs or {})
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        signature = None
    takes = signature is None or any(
        p.kind is inspect.Parameter.VAR_KEYWORD or name == "weight_decay"
        for name, p in signature.parameters.items()
    )
    if takes:
        params = {"weight_decay": weight_decay, **params}
    elif weight_decay:
        raise ValueError(
            f"optimizer={getattr(cls, '__name__', cls)} takes no weight_decay, but "
            f"weight_decay={weight_decay}; leave weight_decay=0 or choose an optimizer "
            "such as 'adamw'."
        )
    return params


def make_net(
    module: torch.nn.Module,
    criterion: torch.nn.Module,
    *,
    optimizer="adam",
    optimizer_kwargs: dict | None = None,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    batch_size: int = 128,
    shuffle: bool = True,
    validation: HoldOutSplit | None = None,
    early_stopping_patience: int | None = None,
    tol: float = 1e-4,
    callbacks: list | None = None,
    verbose: int = 0,
    device: torch.device | str = "cpu",
    corrupt: Callable | None = None,
    precision: str = "32",
    lr_schedule: str = "auto",
) -> AutoEncoderNet:
    """Build (but do not initialise) an :class:`AutoEncoderNet`."""
    optimizer_params = optimizer_arguments(optimizer, weight_decay, optimizer_kwargs)
    if isinstance(optimizer, str):
        if (
            optimizer in FUSED_OPTIMIZERS
            and torch.device(device).type in ("cpu", "cuda")
            and not {"fused", "foreach"} & optimizer_params.keys()
        ):
            optimizer_params["fused"] = True
        optimizer = OPTIMIZERS[optimizer]
    net_callbacks = list(callbacks or [])
    if early_stopping_patience is not None:
        net_callbacks.append(
            (
                "early_stopping",
                ValidationEarlyStopping(
                    monitor="valid_loss",
                    patience=early_stopping_patience,
                    threshold=tol,
                    threshold_mode="abs",
                    load_best=True,
                    sink=print if verbose else _silent,
                ),
            )
        )
    if verbose:
        net_callbacks.append(("progress_bar", TextFallbackProgressBar(postfix_keys=["train_loss"])))
    placement = PLACEMENT.get()
    net_class = AutoEncoderNet if placement is None else placement._net_class
    return net_class(
        module=module,
        criterion=criterion,
        optimizer=optimizer,
        lr=lr,
        batch_size=batch_size,
        max_epochs=1,
        train_split=validation,
        iterator_train=BatchIterator,
        iterator_train__shuffle=shuffle,
        iterator_valid=BatchIterator,
        callbacks=net_callbacks,
        verbose=verbose,
        # the per-epoch table is formatted even when not printed: drop it when silent
        **({} if verbose else {"callbacks__print_log": None}),
        device=str(device),
        corrupt=corrupt,
        precision=precision,
        lr_schedule=lr_schedule,
        **{f"optimizer__{key}": value for key, value in optimizer_params.items()},
    )


def _silent(*args, **kwargs):
    return None


# Multiply-adds of one training batch below which a fit runs on one CPU thread.
# Below it, a step is a few milliseconds and more intra-op threads gain
# nothing on an idle machine, while on a busy one their spin-waits slow the
# fit several-fold (docs/bench/training.rst, "a busy machine").
ONE_THREAD_WORK = 2 * 10**7


def batch_work(module: torch.nn.Module, row: torch.Tensor, batch_size: int) -> int | None:
    """Multiply-adds of ``module``'s forward pass on ``batch_size`` rows like ``row``.

    None when the module cannot be run on its own on one row (a module of
    one's own with no ``forward``, say): the work is then unknown.

    Counted from one row run in evaluation mode under ``no_grad``: a
    layer's weights times the positions it is applied at (1 for a dense
    layer, the output map's pixels for a convolution, the steps for a
    recurrent layer). Deterministic: it depends on the network and the
    batch size only, never on the machine.
    """
    total = 0

    def count(layer, inputs, output):
        nonlocal total
        weights = sum(p.numel() for p in layer.parameters(recurse=False))
        out = output[0] if isinstance(output, tuple) else output
        if not weights or not isinstance(out, torch.Tensor) or out.dim() < 2:
            return
        if isinstance(layer, torch.nn.modules.conv._ConvNd):
            positions = out[0, 0].numel()
        elif isinstance(layer, torch.nn.RNNBase):
            positions = out.shape[1] if layer.batch_first else out.shape[0]
        else:
            positions = max(1, out[0].numel() // out.shape[-1])
        total += weights * positions

    module = getattr(module, "module", module)  # the network inside a parallel wrapper
    hooks = [m.register_forward_hook(count) for m in module.modules() if not list(m.children())]
    was_training = module.training
    try:
        module.eval()
        # a module of one's own may draw in its forward: the fit's stream stays untouched
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            module(row[:1])
    except Exception:  # a module of one's own that runs only as its net calls it
        return None
    finally:
        module.train(was_training)
        for hook in hooks:
            hook.remove()
    return int(total) * int(batch_size)


# The intra-op threads of the fits in this context: None for skae's choice
# by the work of a batch, an int, or "auto" (the cores other processes leave
# free); set by the active skae.cpu_threads context.
THREADS: ContextVar = ContextVar("skae_threads", default=None)

# Reads of the run queue that cpu_threads("auto") takes at a fit's start,
# SAMPLE_SECONDS apart: the most other runnable threads seen counts.
LOAD_SAMPLES, SAMPLE_SECONDS = 5, 0.002


def _running_threads(path: str) -> int:
    """Runnable threads (state R) among the tasks under ``path`` (``/proc/<pid>/task``)."""
    count = 0
    for task in os.listdir(path):
        try:
            with open(os.path.join(path, task, "stat")) as stat:
                # "pid (name) state ...": the name may hold spaces and parentheses
                count += stat.read().rpartition(")")[2].split()[0] == "R"
        except (OSError, IndexError):  # a thread that ended meanwhile
            continue
    return count


def free_cores(samples: int = LOAD_SAMPLES) -> int | None:
    """The cores of this process that no other process's runnable thread takes now, at least 1.

    The cores this process may run on (its affinity) less the most other
    runnable threads seen over ``samples`` reads of the run queue
    (``/proc/loadavg``'s running count, less this process's own running
    threads). None where the run queue cannot be read (not Linux).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    others = 0
    try:
        for sample in range(samples):
            if sample:
                time.sleep(SAMPLE_SECONDS)
            with open("/proc/loadavg") as loadavg:
                running = int(loadavg.read().split()[3].split("/")[0])
            others = max(others, running - _running_threads("/proc/self/task"))
    except (OSError, ValueError, IndexError):
        return None
    return max(1, cores - others)


class cpu_threads:
    """Context manager: how many CPU threads the fits and inference inside it run on.

    By default skae trains a fit whose batches are small work (a few
    milliseconds a step) on one intra-op thread, and larger ones on
    torch's threads (``torch.get_num_threads()``, one per core), restoring
    the caller's setting afterwards. On a machine whose cores other
    processes keep busy, those threads wait for each other at every
    operation and a large fit slows several-fold. Inside this block:

    * an int ``n`` trains every fit on ``n`` threads;
    * ``"auto"`` trains a fit above the small-work bound on the cores that
      other processes leave free when it starts (read from the run queue
      on Linux; at most ``torch.get_num_threads()``, at least 1; elsewhere
      torch's threads), and small fits on one thread as always.

    Reproducibility: a model depends on the number of threads it trained
    on (kernels split their sums by thread), so with ``"auto"`` the same
    seed gives the same model only at the same load; an int keeps it. The
    setting is restored after each fit, also when it fails, and applies to
    the calls of the calling thread (a context variable: new threads and
    worker processes start outside it). Inference inside the block
    (``transform``, ``score_samples``, ...) runs on the same count: the
    int, or for ``"auto"`` the cores free when the call starts; its outputs
    may then differ at float rounding from those on another number of
    threads.

    Parameters
    ----------
    n_threads : int >= 1 or "auto", default="auto"
        Threads of each fit, or ``"auto"`` for the free cores.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoEncoder, cpu_threads
    >>> X = load_digits().data / 16
    >>> with cpu_threads("auto"):
    ...     ae = AutoEncoder(n_components=8, max_epochs=2, random_state=0).fit(X)
    """

    def __init__(self, n_threads="auto"):
        if n_threads != "auto" and not (
            isinstance(n_threads, int) and not isinstance(n_threads, bool) and n_threads >= 1
        ):
            raise ValueError(
                f"cpu_threads takes a number of threads >= 1 or 'auto', got {n_threads!r}."
            )
        self.n_threads = n_threads

    def __enter__(self):
        self._token = THREADS.set(self.n_threads)
        return self

    def __exit__(self, *exc_info):
        THREADS.reset(self._token)
        return False

    def __repr__(self) -> str:
        return f"cpu_threads({self.n_threads!r})"


def fit_threads(work: int | None, available: int) -> int:
    """The intra-op threads of a fit whose batches are ``work`` multiply-adds.

    ``available`` is the caller's ``torch.get_num_threads()``. Below
    :data:`ONE_THREAD_WORK` a fit trains on one thread, larger ones (and
    those of unknown work) on ``available``, unless a :class:`cpu_threads`
    context says otherwise.
    """
    choice = THREADS.get()
    if isinstance(choice, int):
        return choice
    if work is not None and work < ONE_THREAD_WORK:
        return 1
    return _free_threads(available) if choice == "auto" else available


def inference_threads(available: int) -> int:
    """The intra-op threads of an inference call (:func:`map_rows`).

    ``available`` (the caller's ``torch.get_num_threads()``), unless a
    :class:`cpu_threads` block says otherwise: its int, or for ``"auto"``
    the free cores from one read of the run queue (a call may be one row,
    so it is not sampled as a fit's start is), at most ``available``.
    """
    choice = THREADS.get()
    if isinstance(choice, int):
        return choice
    return _free_threads(available, samples=1) if choice == "auto" else available


def _free_threads(available: int, samples: int = LOAD_SAMPLES) -> int:
    """:func:`free_cores` within ``[1, available]``; ``available`` where it cannot be read."""
    free = free_cores(samples)
    return available if free is None else max(1, min(available, free))


@contextmanager
def use_threads(threads: int):
    """Run the block on ``threads`` intra-op threads, then restore the caller's setting.

    Restored also when the block raises. A fit runs its training
    (:func:`train`) and its post-fit passes over the data (the checks, the
    code statistics) in such blocks, on the threads :func:`fit_threads`
    chose for it (``net.fit_threads``).
    """
    previous = torch.get_num_threads()
    if threads == previous:
        yield previous
        return
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)


def train(
    net: AutoEncoderNet | Callable[[], AutoEncoderNet],
    data: TensorPair | MemmapSource,
    *,
    epochs: int,
    seed: int,
    validate: bool = True,
) -> AutoEncoderNet:
    """Train for ``epochs`` epochs under ``seed``; return the trained net.

    ``validate=False`` trains this call without the net's validation split
    (``partial_fit``): the split, and early stopping with it, apply per call,
    never baked into the net.

    ``net`` is either an initialised net to continue, or a zero-argument
    factory that builds a new one. The factory runs inside the seeded block,
    so weight initialisation is reproducible as well.

    The net is returned in evaluation mode (training sets training mode
    itself at every batch), so that inference never has to switch modes on
    a module other threads may be using.

    A ``KeyboardInterrupt`` (Ctrl-C, or raised by a callback) stops training
    after the current batch; ``net.interrupted`` is then True and the epoch
    it interrupted is dropped from ``net.history``, so that the history
    lists completed epochs only (the weights keep every step taken).
    """
    device = data.device
    with seeded(seed, device):
        if not isinstance(net, AutoEncoderNet):
            net = net()
            net.initialize()
        split = net.train_split
        net.train_split = split if validate else None
        # the thread choice is the CPU's: no counting pass on another device
        cpu = device.type == "cpu"
        work = batch_work(net.module_, data.first_rows(1), net.batch_size) if cpu else None
        # Outside a cpu_threads("auto") block the choice depends on the
        # network and the batch size only, so the same seed gives the same
        # model on the same machine, busy or idle.
        net.fit_threads = fit_threads(work, torch.get_num_threads())
        try:
            with use_threads(net.fit_threads):
                net.partial_fit(data, None, epochs=epochs)
        finally:
            net.train_split = split
    if net.interrupted and len(net.history):
        net.history.pop()
    net._set_training(False)
    return net


def _post_tensor(block: np.ndarray, device: torch.device) -> torch.Tensor:
    """A block that ``post`` compares with (a target): float64 kept where the device has it."""
    keep = block.dtype == np.float64 and device.type != "mps"
    block = np.require(block, dtype=np.float64 if keep else np.float32, requirements=["C", "W"])
    return torch.from_numpy(block).to(device)


# Inference batches: about INFERENCE_BYTES of the network's largest
# activation (a convolutional network's first feature maps, a dense
# network's input), at most INFERENCE_ROWS rows, whatever the training
# batch_size. The bound keeps the memory of a batch, and the cost of a
# padded one-row call, small: a dense 784-512-32 network runs 1,024 rows a
# batch, a ConvAE with 32 channels on 28x28 digits 41, on 256x256 photos 1.
INFERENCE_BYTES = 4 * 2**20
INFERENCE_ROWS = 1024


def inference_rows(X, row_values: int | None = None) -> int:
    """Rows of one inference batch over ``X``, at most a block of it.

    ``row_values`` is the size of the network's largest activation for one
    row (default: the row of ``X``); the batch holds about
    ``INFERENCE_BYTES`` of it.
    """
    values = math.prod(X.shape[1:]) if row_values is None else row_values
    by_size = INFERENCE_BYTES // max(1, 4 * int(values))
    return int(min(INFERENCE_ROWS, max(1, by_size), block_rows(X)))


@torch.no_grad()
def map_rows(
    forward: Callable,
    *arrays,
    module: torch.nn.Module,
    post: Callable | None = None,
    prepare: Callable | None = None,
    precision: Precision,
    row_values: int | None = None,
) -> np.ndarray:
    """The one inference primitive: ``post(forward(x), *rest)`` over aligned row arrays.

    ``arrays`` are aligned in their rows (numpy arrays or memmaps); they are
    read in blocks of about ``BLOCK_BYTES`` of the first (a memmap one block
    at a time, never whole). ``prepare(index, *blocks)``, when given, turns
    the numpy blocks (``index`` counts them from 0) into the arrays the
    network sees: a corruption or a one-hot label appended block by block,
    never to the whole data. The first prepared array is the network input;
    the others go to ``post`` alongside.

    ``forward`` runs under the precision's autocast and only it; its output
    is cast to float32, and ``post`` (losses, ELBO terms, per-sample errors)
    runs in float32 outside autocast. Every batch has one shape,
    :func:`inference_rows` of the first array and ``row_values`` (the
    network's largest activation per row), never set by the training
    ``batch_size``; the last one is padded with zeros, the padding dropped
    before ``post``.
    Matrix kernels choose their summation order by the number of rows, so
    one batch shape makes each row's output independent of the rows it
    comes with, bit for bit; the padding is bounded by about
    ``INFERENCE_BYTES`` of input, so one row costs milliseconds.
    Results stay on the device until a block is done, then come back to
    the host in one copy, so no batch waits for the device.

    Inference mutates nothing shared, so threads may call it at once on one
    module: :func:`train` leaves modules in evaluation mode, and a module
    found in training mode is switched to evaluation mode for good, never
    back (training sets its own mode). Inside a :class:`cpu_threads` block
    it runs on the block's threads (:func:`inference_threads`), setting
    torch's process-wide thread count for the call and restoring it.

    Returns the float32 (or, for ``post``'s non-float results, their own
    dtype) numpy concatenation of the per-row results.
    """
    if module.training:
        module.eval()
    rows = inference_rows(arrays[0], row_values)
    outputs = []
    with use_threads(inference_threads(torch.get_num_threads())):
        for index, blocks in enumerate(row_chunks(*arrays, batch_size=rows)):
            outputs.append(_infer_block(forward, index, blocks, rows, post, prepare, precision))
    outputs = [out for out in outputs if out is not None]
    if not outputs:
        return np.empty((0,), dtype=np.float32)
    return np.concatenate(outputs)


def _infer_block(forward, index, blocks, rows, post, prepare, precision) -> np.ndarray | None:
    """One block of :func:`map_rows`: its batches, copied back to the host once (None if empty)."""
    device = precision.device
    if prepare is not None:
        blocks = prepare(index, *blocks)
    first = to_tensor(blocks[0], device)
    rest = [_post_tensor(block, device) for block in blocks[1:]]
    results = []
    for start in range(0, len(first), rows):
        batch = first[start : start + rows]
        n = len(batch)
        if n < rows:  # the one batch shape: a row's output never depends on its batch
            batch = torch.cat([batch, batch.new_zeros((rows - n, *batch.shape[1:]))])
        with precision.autocast():
            out = forward(batch)
        out = _rows_of(_as_float32(out), n)
        if post is not None:
            out = post(out, *(t[start : start + rows] for t in rest))
        results.append(out)
    return torch.cat(results).cpu().numpy() if results else None
