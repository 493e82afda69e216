"""The training loop: a small skorch net specialised for autoencoders.

This layer knows about tensors, batches, losses and callbacks, and nothing
about scikit-learn parameter validation. Estimators build an
:class:`AutoEncoderNet` through :func:`make_net` and train it through
:func:`train`.

Design points
-------------
* In-memory data is held as whole tensors (on the training device) and
  batches are cut by indexing with a shuffled permutation
  (:class:`BatchIterator`); no per-sample ``__getitem__`` and no collation.
* Randomness (weight init, shuffling, dropout, corruption) comes from the
  seed handed in by the estimator, inside :func:`seeded`, which forks the
  global torch RNG so that the caller's RNG state is left untouched.
* Training-time corruption (denoising) is a callable applied to the input
  of a training batch only, never in validation or inference.
* A criterion may expose the named terms of its last loss as a dict
  ``terms``; they are recorded per batch as ``train_<name>`` and
  ``valid_<name>``, and :func:`term_scoring` turns them into per-epoch
  history entries. :class:`CriterionWarmup` ramps a criterion weight over
  the first epochs (KL warm-up).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, PassthroughScoring, ProgressBar
from torch.utils.data import Dataset

__all__ = [
    "AutoEncoderNet",
    "BatchIterator",
    "CriterionWarmup",
    "HoldOutSplit",
    "PLACEMENT",
    "TensorPair",
    "make_net",
    "predict_batches",
    "resolve_device",
    "seeded",
    "term_scoring",
    "to_tensor",
    "train",
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


def resolve_device(device: str) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a usable device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N' or 'auto'."
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "use device='auto' to fall back to the CPU, or device='cpu'."
        )
    return resolved


@contextmanager
def seeded(seed: int, device: torch.device | str = "cpu"):
    """Run a block with torch's RNG seeded by ``seed``, restoring it afterwards.

    The global CPU generator (and the CUDA generator of ``device``) is forked,
    so code inside draws reproducible numbers while the caller's RNG state is
    exactly as it was before.
    """
    device = torch.device(device)
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
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

    def subset(self, index: torch.Tensor) -> TensorPair:
        X = self.X[index]
        return TensorPair(X, X if self.target is self.X else self.target[index])


class BatchIterator:
    """Whole-batch iterator over a :class:`TensorPair`.

    Each batch is one indexing operation on the stored tensors, which is what
    makes a training epoch as fast as a hand-written loop.
    """

    def __init__(self, dataset: TensorPair, batch_size: int = 128, shuffle: bool = False):
        self.dataset = dataset
        self.batch_size = len(dataset) if batch_size == -1 else int(batch_size)
        self.shuffle = shuffle

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        X, target = self.dataset.X, self.dataset.target
        same = target is X
        n, bs = len(X), self.batch_size
        if self.shuffle:
            order = torch.randperm(n, device=X.device)
            for start in range(0, n, bs):
                index = order[start : start + bs]
                xb = X[index]
                yield xb, (xb if same else target[index])
        else:
            for start in range(0, n, bs):
                yield X[start : start + bs], target[start : start + bs]


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
        order = torch.from_numpy(order).to(dataset.X.device)
        valid = dataset.subset(order[:n_valid])
        if self.corrupt is not None:
            with seeded(self.seed, valid.X.device):
                valid = TensorPair(self.corrupt(valid.X), valid.target)
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
    """

    def __init__(self, *args, corrupt: Callable | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.corrupt = corrupt
        self.stopped_early = False
        self.interrupted = False

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # skorch swallows a KeyboardInterrupt (Ctrl-C) and returns; record
        # that it happened, unless it was early stopping's planned stop.
        self.stopped_early = self.interrupted = False
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            self.interrupted = not self.stopped_early
            raise

    def get_dataset(self, X, y=None):
        if isinstance(X, TensorPair):
            return X
        return TensorPair(X, y)

    def _set_training(self, training=True):
        # skorch sets the mode before every batch, which walks every submodule;
        # skip the walk when the module and criterion are in that mode already.
        if self.module_.training is training and self.criterion_.training is training:
            return
        super()._set_training(training)

    def train_step_single(self, batch, **fit_params):
        if self.corrupt is not None:
            Xi, yi = batch
            batch = (self.corrupt(Xi), yi)
        return super().train_step_single(batch, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = self.criterion_(y_pred, y_true)
        terms = getattr(self.criterion_, "terms", None)
        if terms:
            prefix = "train" if training else "valid"
            for name, value in terms.items():
                self.history.record_batch(f"{prefix}_{name}", value)
        return loss

    def on_train_end(self, net, **kwargs):
        # Gradients are recomputed from scratch at every step: after training
        # they only hold memory, as much again as the weights.
        super().on_train_end(net, **kwargs)
        self.module_.zero_grad(set_to_none=True)

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
) -> AutoEncoderNet:
    """Build (but do not initialise) an :class:`AutoEncoderNet`."""
    optimizer_params = {"weight_decay": weight_decay, **(optimizer_kwargs or {})}
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
        net_callbacks.append(("progress_bar", ProgressBar(postfix_keys=["train_loss"])))
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
        **{f"optimizer__{key}": value for key, value in optimizer_params.items()},
    )


def _silent(*args, **kwargs):
    return None


def train(
    net: AutoEncoderNet | Callable[[], AutoEncoderNet],
    data: TensorPair,
    *,
    epochs: int,
    seed: int,
) -> AutoEncoderNet:
    """Train for ``epochs`` epochs under ``seed``; return the trained net.

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
    device = data.X.device
    with seeded(seed, device):
        if not isinstance(net, AutoEncoderNet):
            net = net()
            net.initialize()
        net.partial_fit(data, None, epochs=epochs)
    if net.interrupted and len(net.history):
        net.history.pop()
    net._set_training(False)
    return net


@torch.no_grad()
def predict_batches(
    fn: Callable[[torch.Tensor], torch.Tensor],
    module: torch.nn.Module,
    X: np.ndarray,
    *,
    batch_size: int,
    device: torch.device | str,
) -> np.ndarray:
    """Apply ``fn`` to ``X`` in evaluation mode, batch by batch, as a numpy array.

    Every batch has exactly ``batch_size`` rows (the last one is padded with
    zeros and the padding dropped from the output): matrix kernels choose
    their summation order by the number of rows, so a fixed batch shape makes
    each sample's output independent of how many samples it came with.

    Inference mutates nothing shared, so threads may call it at once on one
    module: :func:`train` leaves modules in evaluation mode, and a module
    found in training mode is switched to evaluation mode for good, never
    back (training sets its own mode).
    """
    if module.training:
        module.eval()
    batch_size = int(batch_size)
    Xt = to_tensor(X, "cpu")
    outputs = []
    for start in range(0, len(Xt), batch_size):
        batch = Xt[start : start + batch_size]
        n = len(batch)
        if n < batch_size:
            batch = torch.cat([batch, batch.new_zeros((batch_size - n, *batch.shape[1:]))])
        outputs.append(fn(batch.to(device))[:n].float().cpu())
    return torch.cat(outputs).numpy()
