"""Data-parallel training across processes, over torch's DistributedDataParallel.

Where training runs is one swappable piece: inside a ``with DataParallel():``
block (in every process of a ``torchrun`` launch), the engine builds a
:class:`DataParallelNet` instead of its plain net, and the estimators know
nothing of it.

How a step is split
-------------------
Every process holds the whole training set and draws the same seeded
permutation, so every process cuts the same global batches of
``batch_size`` rows. Process ``r`` of ``W`` trains on the ``r``-th of ``W``
contiguous, near-equal pieces of each global batch. Its loss (the mean over
its piece) is weighted by ``W * n_r / n`` (``n_r`` rows of the batch's
``n``) before DDP averages the gradients over the processes, so the averaged
gradient is the gradient of the mean loss over the whole global batch: a
step on ``W`` processes is the step one process takes on the whole batch,
up to floating-point summation order, whenever the loss is a mean of
per-sample terms. The logged losses are reduced the same way, so the
history, and with it early stopping, is the same in every process.

Randomness inside a step (dropout, corruption, the variational sample) is
drawn from a stream seeded by (seed, process, step), so processes do not
repeat each other's noise; the shuffling stream, shared by all processes,
is left untouched by it.
"""

from __future__ import annotations

import math
import os
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from . import _engine

__all__ = ["DataParallel", "DataParallelNet"]

_LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class DataParallel:
    """Context in which skae trains data-parallel across a group of processes.

    Every skae model fitted inside the ``with`` block trains with torch's
    :class:`~torch.nn.parallel.DistributedDataParallel`: each process
    computes the gradient of its share of every batch and the gradients are
    averaged, so each process does ``1 / W`` of the gradient work, plus one
    exchange of the gradients per step. Run the same script in every
    process, with the same data and the same integer ``random_state``;
    launch it with ``torchrun --nproc_per_node=W script.py``. Every process
    ends with the same fitted model, an ordinary estimator that pickles and
    predicts anywhere.

    With ``batch_size=b``, a step on ``W`` processes equals the step one
    process takes on the same ``b`` rows (each process takes about
    ``b / W`` of them), up to floating-point summation order, when the loss
    is a mean over samples (all reconstruction losses, the ELBO). Penalties
    computed on batch statistics (the KL sparsity penalty of
    :class:`~skae.SparseAE`) are computed on each process's share instead.
    Dropout, training-time corruption and the variational sample are drawn
    independently in each process, so models that use them match a
    single-process run in distribution, not value.

    Parameters
    ----------
    group : torch.distributed.ProcessGroup or None, default=None
        The processes to train across. ``None`` means the default group;
        when it is not initialised yet, the context initialises it from the
        environment variables that ``torchrun`` sets (``RANK``,
        ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) and destroys it
        when the block ends.
    backend : str or None, default=None
        Backend used when the context initialises the default group:
        ``"gloo"`` (CPU), ``"nccl"`` (CUDA), or ``None`` for torch's choice
        for the tensors' devices.
    timeout : float, default=600
        Seconds a process waits for the others at any exchange before it
        fails, when the context initialises the default group.

    Attributes
    ----------
    rank : int
        This process's index in the group, from 0 (set on entering the
        block, kept after it).
    world_size : int
        Number of processes in the group (set on entering the block).

    See Also
    --------
    torch.nn.parallel.DistributedDataParallel : The engine underneath.

    Notes
    -----
    Models keep their ``device`` parameter: on GPUs give each process its
    own, e.g. ``device=f"cuda:{os.environ['LOCAL_RANK']}"``. A model first
    fitted outside the block is not data-parallel when ``partial_fit``
    continues it inside; fit it inside. Searches (``GridSearchCV``) inside
    the block must use ``n_jobs=1``, each of their fits then being
    data-parallel.

    Examples
    --------
    Run as ``torchrun --nproc_per_node=2 train.py``:

    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoEncoder, DataParallel
    >>> X = load_digits().data / 16
    >>> with DataParallel():  # doctest: +SKIP
    ...     ae = AutoEncoder(n_components=8, random_state=0).fit(X)
    """

    def __init__(self, group=None, *, backend=None, timeout=600):
        self.group = group
        self.backend = backend
        self.timeout = timeout

    # the engine builds this net class while the context is active
    _net_class = None  # set below, once DataParallelNet exists

    def __enter__(self):
        self._owns_group = False
        if self.group is None and not dist.is_initialized():
            missing = [name for name in _LAUNCH_VARIABLES if name not in os.environ]
            if missing:
                raise RuntimeError(
                    f"DataParallel found no process group and no launch variables "
                    f"({', '.join(missing)} unset). Launch the script in several processes "
                    "with `torchrun --nproc_per_node=N script.py`, or call "
                    "torch.distributed.init_process_group before entering the block."
                )
            dist.init_process_group(backend=self.backend, timeout=timedelta(seconds=self.timeout))
            self._owns_group = True
        self.rank = dist.get_rank(self.group)
        self.world_size = dist.get_world_size(self.group)
        self._token = _engine.PLACEMENT.set(self)
        return self

    def __exit__(self, *exc_info):
        _engine.PLACEMENT.reset(self._token)
        if self._owns_group:
            dist.destroy_process_group()
            self._owns_group = False
        return False


class _Shard:
    """This process's share of each batch, and the exchanges of one training call."""

    def __init__(self, placement: DataParallel, seed: int, device: torch.device):
        self.group = placement.group
        self.rank = placement.rank
        self.world = placement.world_size
        self.seed = seed
        self.steps = 0
        self.cuda_devices = [device.index or 0] if device.type == "cuda" else []
        backend = str(dist.get_backend(self.group))
        # tensors exchanged through gloo live on the CPU, through nccl on the GPU
        self.comm_device = torch.device("cpu") if "gloo" in backend else device

    def take(self, X: torch.Tensor, target: torch.Tensor):
        """This process's rows of a global batch, and its loss weight ``W * n_r / n``.

        A process whose share is empty (a batch with fewer rows than
        processes) computes its step on one row with weight 0: every
        process must take part in every gradient exchange.
        """
        n = len(X)
        # the first n % W processes take one row more, as torch.tensor_split
        size, extra = divmod(n, self.world)
        start = self.rank * size + min(self.rank, extra)
        stop = start + size + (self.rank < extra)
        if stop == start:
            return X[:1], target[:1], 0.0
        return X[start:stop], target[start:stop], self.world * (stop - start) / n

    def step_seed(self, kind: int) -> int:
        """Seed of step randomness: distinct per process, step and kind (train 0, valid 1)."""
        self.steps += 1
        return int(
            np.random.SeedSequence([self.seed, self.rank, kind, self.steps]).generate_state(1)[0]
        )

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Mean over the processes of ``values`` (each already weighted by ``W n_r / n``)."""
        values = values.to(self.comm_device)
        dist.all_reduce(values, group=self.group)
        return values.cpu() / self.world

    def check_agreement(self, n_samples: int, n_features: int, checksum: float) -> None:
        """Raise the same error in every process unless all train alike."""
        mine = torch.tensor(
            [n_samples, n_features, self.seed, checksum],
            dtype=torch.float64,
            device=self.comm_device,
        )
        everyone = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(everyone, mine, group=self.group)
        everyone = torch.stack(everyone).cpu()
        first = everyone[0]
        if not torch.equal(everyone[:, :2], first[:2].expand(self.world, 2)):
            sizes = ", ".join(f"{int(a)} x {int(b)}" for a, b in everyone[:, :2].tolist())
            raise ValueError(
                f"The processes hold training data of different sizes ({sizes}). Every "
                "process must pass the whole training set to fit: each takes its share "
                "of every batch itself."
            )
        if not torch.equal(everyone[:, 2], first[2].expand(self.world)):
            raise ValueError(
                "The processes train with different seeds, which would shuffle and split "
                "the data differently in each. Set the same integer random_state in every "
                "process (random_state=None draws a different seed in each)."
            )
        if not all(math.isclose(c, first[3].item(), rel_tol=1e-9) for c in everyone[:, 3].tolist()):
            raise ValueError(
                "The processes hold different training data of the same size. Every process "
                "must pass the same training set to fit."
            )


class DataParallelNet(_engine.AutoEncoderNet):
    """:class:`~skae._engine.AutoEncoderNet` that trains data-parallel inside :class:`DataParallel`.

    Outside the context it behaves exactly as its parent. Inside, each call
    to ``partial_fit`` wraps the module in DistributedDataParallel for its
    duration, trains each process on its share of every batch, and leaves
    the plain module in place afterwards (so the net pickles as usual).
    """

    _shard = None

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        placement = _engine.PLACEMENT.get()
        if not isinstance(placement, DataParallel):
            return super().partial_fit(X, y, classes, **fit_params)
        if not self.initialized_:
            self.initialize()
        # the engine trains under seeded(seed): the seed the processes must share
        device = torch.device(self.device)
        shard = _Shard(placement, torch.initial_seed(), device)
        data = X.X if isinstance(X, _engine.TensorPair) else None
        shard.check_agreement(
            len(X),
            int(np.prod(data.shape[1:])) if data is not None else 0,
            float(data.sum(dtype=torch.float64)) if data is not None else 0.0,
        )
        plain = self.module_
        self.module_ = DistributedDataParallel(
            plain,
            device_ids=shard.cuda_devices or None,
            process_group=placement.group,
        )
        self._shard = shard
        try:
            return super().partial_fit(X, y, classes, **fit_params)
        finally:
            self.module_ = plain
            self._shard = None

    def _sharded_step(self, step_fn, batch, kind, **fit_params):
        shard = self._shard
        X, target = batch
        Xr, target_r, self._loss_weight = shard.take(X, target)
        with torch.random.fork_rng(devices=shard.cuda_devices):
            torch.manual_seed(shard.step_seed(kind))  # the CPU and every CUDA generator
            return step_fn((Xr, target_r), **fit_params)

    def train_step(self, batch, **fit_params):
        if self._shard is None:
            return super().train_step(batch, **fit_params)
        return self._sharded_step(super().train_step, batch, 0, **fit_params)

    def validation_step(self, batch, **fit_params):
        if self._shard is None:
            return super().validation_step(batch, **fit_params)
        return self._sharded_step(super().validation_step, batch, 1, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        # This process's share, weighted W * n_r / n: DistributedDataParallel
        # averages the gradients, and the epoch's per-batch records (loss and
        # terms, kept on the device) sum to the whole batch's in _reduce_epoch.
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        return loss if self._shard is None else loss * self._loss_weight

    def _record(self, key, value):
        if self._shard is not None and not key.endswith("_loss"):
            value = value * self._loss_weight  # a criterion term: weighted as the loss
        super()._record(key, value)

    def _reduce_epoch(self, buffers):
        if self._shard is None or not buffers:
            return
        keys = sorted(buffers)
        flat = torch.cat([buffers[key] for key in keys])
        total = self._shard.mean(flat)  # one exchange per epoch, every name at once
        for key, values in zip(keys, torch.split(total, [len(buffers[k]) for k in keys])):
            buffers[key].copy_(values.to(buffers[key].device))


DataParallel._net_class = DataParallelNet
