"""Seconds per training epoch: a hand-written PyTorch loop, skorch, and skae.

Run ``python benchmarks/bench_training.py`` (``--quick`` for a smaller run).
On a GPU: ``python benchmarks/bench_training.py --device cuda --batch-size 256 4096``
(every contender then holds the data on the device, and the hand-written loop
sums the epoch loss on the device, reading it once per epoch).

Each contender trains the same dense autoencoder (ReLU hidden layers, sigmoid
output, MSE, Adam at lr=1e-3, batch 256, shuffled every epoch) on the same
synthetic data in [0, 1]:

* ``torch loop``: the loop one writes by hand over pre-made tensors
  (a ``randperm`` per epoch, one indexing per batch, ``loss.item()`` per batch
  to track the epoch loss, as every lab does);
* ``skorch``: skorch's plain ``NeuralNetRegressor`` with its default dataset
  and ``DataLoader`` (per-sample loading and collation);
* ``torch loop, fused Adam``: the same loop with ``Adam(fused=True)``, the
  kernel skae selects for ``optimizer="adam"``;
* ``skae``: ``skae.AutoEncoder`` (validation, seeding, skorch's callbacks and
  the code statistics it keeps for ``sample`` included).

The default-loss rows time what a user gets without choosing a loss:
``loss="auto"``, which picks binary cross-entropy for these [0, 1] data,
against the loop one writes for it by hand, a linear output trained with
``binary_cross_entropy_with_logits`` (the ratio's base), and the same loop on
a sigmoid output with ``binary_cross_entropy`` of the probabilities:

* ``torch loop, BCE logits`` and ``torch loop, BCE probabilities``;
* ``skae, loss="auto"``: ``skae.AutoEncoder`` on the dense model, and
  ``skae.ConvAE`` (``channels=(32, 16, 8)``, its default, on 28x28 images) on
  the convolutional one, on fewer samples (``--conv-samples``).

The bf16 rows (``--only bf16``) time the same default-loss fit in bfloat16
autocast: ``skae, precision="bf16"`` against ``torch loop, bf16``, the logits
loop with its forward pass and loss under ``torch.autocast`` (the ratio's
base), and both again in float32, which gives bf16's speed-up in the same run;
on the convolutional model also both loops with channels-last weights, the
layout skae's convolutional networks take on the CPU.

Timings are the median (``--best``: the fastest) over repeats of whole
``fit`` calls divided by the number of epochs; contenders are interleaved so that drifts in machine load
hit all of them alike. Ratios are against the hand-written loop of the same
run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch import NeuralNetRegressor
from torch import nn
from torch.nn import functional as F

from skae import AutoEncoder, ConvAE
from skae.modules import ConvAutoEncoderModule, DenseAutoEncoderModule

MODELS = {
    "784-256-32-256-784": {"hidden": (256,), "code": 32},
    "784-64-784": {"hidden": (), "code": 64},
}


# The models of the default-loss rows: the dense one above, and ConvAE's default stages.
DEFAULT_LOSS_MODELS = {
    "784-256-32-256-784": MODELS["784-256-32-256-784"],
    "conv 32-16-8 (28x28)": {"channels": (32, 16, 8), "image_shape": (1, 28, 28)},
}


def make_module(n_features, spec, output_activation="sigmoid"):
    if "channels" in spec:
        return ConvAutoEncoderModule(
            spec["image_shape"], spec["channels"], output_activation=output_activation
        )
    return DenseAutoEncoderModule(
        n_features, spec["code"], spec["hidden"], output_activation=output_activation
    )


def torch_loop(
    X,
    spec,
    epochs,
    batch_size,
    fused=False,
    device="cpu",
    loss="mse",
    dtype=None,
    channels_last=False,
):
    """The hand-written loop.

    ``dtype`` (e.g. ``torch.bfloat16``) runs forward passes under autocast;
    ``channels_last`` converts the module's weights to that layout.
    """
    torch.manual_seed(0)
    Xt = torch.from_numpy(X).to(device)
    # binary cross-entropy from the logits trains a linear output
    output = "linear" if loss == "bce_logits" else "sigmoid"
    model = make_module(X.shape[1], spec, output).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    on_gpu = torch.device(device).type == "cuda"
    loss_fn = {
        "mse": nn.MSELoss(),
        "bce": nn.BCELoss(),
        "bce_logits": F.binary_cross_entropy_with_logits,
    }[loss]
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(Xt), device=Xt.device)
        total = 0.0
        for start in range(0, len(Xt), batch_size):
            xb = Xt[order[start : start + batch_size]]
            opt.zero_grad()
            if dtype is None:
                loss = loss_fn(model(xb), xb)
            else:
                with torch.autocast(torch.device(device).type, dtype=dtype):
                    loss = loss_fn(model(xb), xb)
            loss.backward()
            opt.step()
            # on a GPU, reading the loss per batch would wait for the device
            total += (loss.detach() if on_gpu else loss.item()) * len(xb)
    return float(total) / len(Xt)


def skorch_plain(X, spec, epochs, batch_size, device="cpu"):
    torch.manual_seed(0)
    net = NeuralNetRegressor(
        make_module(X.shape[1], spec),
        criterion=nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
        device=device,
    )
    net.fit(X, X)
    return net.history[-1, "train_loss"]


def skae_ae(X, spec, epochs, batch_size, device="cpu"):
    ae = AutoEncoder(
        n_components=spec["code"],
        hidden_layer_sizes=spec["hidden"],
        output_activation="sigmoid",
        loss="mse",  # the loss of the other contenders ("auto" would pick cross-entropy)
        lr_schedule="constant",  # their constant rate
        max_epochs=epochs,
        batch_size=batch_size,
        random_state=0,
        device=device,
    ).fit(X)
    return ae.loss_curve_[-1]


def torch_loop_fused(X, spec, epochs, batch_size, device="cpu"):
    return torch_loop(X, spec, epochs, batch_size, fused=True, device=device)


CONTENDERS = {
    "torch loop": torch_loop,
    "torch loop, fused Adam": torch_loop_fused,
    "skorch": skorch_plain,
    "skae": skae_ae,
}


def torch_loop_bce_logits(X, spec, epochs, batch_size, device="cpu"):
    return torch_loop(X, spec, epochs, batch_size, device=device, loss="bce_logits")


def torch_loop_bce(X, spec, epochs, batch_size, device="cpu"):
    return torch_loop(X, spec, epochs, batch_size, device=device, loss="bce")


def skae_default_loss(X, spec, epochs, batch_size, device="cpu", precision="32"):
    common = {
        "precision": precision,
        "lr": 1e-3,  # the loops' Adam
        "lr_schedule": "constant",  # their constant rate
        "max_epochs": epochs,
        "batch_size": batch_size,
        "random_state": 0,
        "device": device,
    }
    if "channels" in spec:
        est = ConvAE(image_shape=spec["image_shape"][1:], channels=spec["channels"], **common)
    else:
        est = AutoEncoder(spec["code"], hidden_layer_sizes=spec["hidden"], **common)
    with warnings.catch_warnings():  # two epochs on noise: timed, not judged
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    assert est.loss_ == "bce"
    return est.loss_curve_[-1]


DEFAULT_LOSS_CONTENDERS = {
    "torch loop, BCE logits": torch_loop_bce_logits,
    "torch loop, BCE probabilities": torch_loop_bce,
    'skae, loss="auto"': skae_default_loss,
}


def torch_loop_bf16(X, spec, epochs, batch_size, device="cpu"):
    return torch_loop(
        X, spec, epochs, batch_size, device=device, loss="bce_logits", dtype=torch.bfloat16
    )


def torch_loop_bf16_channels_last(X, spec, epochs, batch_size, device="cpu"):
    return torch_loop(
        X,
        spec,
        epochs,
        batch_size,
        device=device,
        loss="bce_logits",
        dtype=torch.bfloat16,
        channels_last=True,
    )


def torch_loop_channels_last(X, spec, epochs, batch_size, device="cpu"):
    return torch_loop(
        X, spec, epochs, batch_size, device=device, loss="bce_logits", channels_last=True
    )


def skae_bf16(X, spec, epochs, batch_size, device="cpu"):
    return skae_default_loss(X, spec, epochs, batch_size, device=device, precision="bf16")


# The bf16 rows: the default-loss fit in bfloat16 autocast against the same
# hand loop under ``torch.autocast`` (the ratio's base), and both in float32.
BF16_CONTENDERS = {
    "torch loop, bf16": torch_loop_bf16,
    'skae, precision="bf16"': skae_bf16,
    "torch loop, float32": torch_loop_bce_logits,
    "skae, float32": skae_default_loss,
}

# The conv rows of the bf16 group add the hand loops with channels-last
# weights, the layout skae's convolutional networks take on the CPU.
CHANNELS_LAST_CONTENDERS = {
    "torch loop, bf16, channels-last": torch_loop_bf16_channels_last,
    "torch loop, fp32, channels-last": torch_loop_channels_last,
}

# The models of the bf16 rows: AutoEncoder(32)'s default network and ConvAE's.
BF16_MODELS = {
    "784-512-32-512-784": {"hidden": (512,), "code": 32},
    "conv 32-16-8 (28x28)": DEFAULT_LOSS_MODELS["conv 32-16-8 (28x28)"],
}


def time_rows(X, models, contenders, batch_sizes, epochs, repeats, device, sync, stat, clock):
    """``(batch, model, contender, s/epoch, ratio)``, the ratio against the first contender.

    ``stat`` (the median, or ``min`` for the fastest repeat) sums up the
    repeats; ``clock`` is ``time.perf_counter`` or ``time.process_time``.
    """
    rows = []
    for batch_size in batch_sizes:
        for model_name, spec in models.items():
            times = {name: [] for name in contenders}
            for _ in range(repeats):
                for name, fn in contenders.items():
                    sync()
                    start = clock()
                    fn(X, spec, epochs, batch_size, device=device)
                    sync()
                    times[name].append((clock() - start) / epochs)
            base = stat(times[next(iter(contenders))])
            for name in contenders:
                sec = stat(times[name])
                rows.append((batch_size, model_name, name, sec, sec / base))
    return rows


def print_rows(rows, base):
    print(f"\n{'batch':>5}  {'model':<20} {'contender':<29} {'s/epoch':>9} {'vs ' + base:>24}")
    for batch_size, model_name, name, sec, ratio in rows:
        print(f"{batch_size:>5}  {model_name:<20} {name:<29} {sec:>9.3f} {ratio:>23.3f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[256])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--conv-samples", type=int, default=6_000, help="samples of the convolutional rows"
    )
    parser.add_argument(
        "--only",
        choices=["mse", "default-loss", "bf16"],
        help="run only the squared-error, the default-loss or the bfloat16 rows",
    )
    parser.add_argument(
        "--best",
        action="store_true",
        help="report the fastest repeat rather than the median (on a shared machine)",
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time the process's CPU seconds (all its threads) rather than the wall clock: "
        "on a machine other jobs share, the time they take is not counted",
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument(
        "--models", choices=["dense", "conv"], help="run only the dense or only the conv rows"
    )
    parser.add_argument("--quick", action="store_true", help="6,000 samples, 1 repeat")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    stat = min if args.best else statistics.median
    clock = time.process_time if args.cpu_time else time.perf_counter
    if args.quick:
        args.n_samples, args.conv_samples, args.repeats = 6_000, 1_000, 1

    X = np.random.RandomState(0).rand(args.n_samples, 784).astype(np.float32)
    print(
        f"{args.n_samples} x 784 synthetic data, batch {args.batch_size}, {args.epochs} epochs "
        f"per fit, {'best' if args.best else 'median'} of {args.repeats}"
        f"{' (CPU time)' if args.cpu_time else ''}; torch {torch.__version__}, device {args.device}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    )
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    if args.only in (None, "mse"):
        for fn in CONTENDERS.values():  # warm-up: first-call costs of torch and skorch
            fn(X[:512], MODELS["784-64-784"], 1, args.batch_size[0], device=args.device)
        rows = time_rows(
            X,
            MODELS,
            CONTENDERS,
            args.batch_size,
            args.epochs,
            args.repeats,
            args.device,
            sync,
            stat,
            clock,
        )
        print_rows(rows, "torch loop")
    groups = {
        "default-loss": (DEFAULT_LOSS_MODELS, DEFAULT_LOSS_CONTENDERS),
        "bf16": (BF16_MODELS, BF16_CONTENDERS),
    }
    for group, (models, contenders) in groups.items():
        if args.only not in (None, group):
            continue
        base = next(iter(contenders))
        for name, spec in models.items():
            if args.models and ("channels" in spec) != (args.models == "conv"):
                continue
            n = args.conv_samples if "channels" in spec else args.n_samples
            row_contenders = contenders
            if group == "bf16" and "channels" in spec:
                row_contenders = {**contenders, **CHANNELS_LAST_CONTENDERS}
            for fn in row_contenders.values():  # warm-up
                fn(X[:256], spec, 1, args.batch_size[0], device=args.device)
            rows = time_rows(
                X[:n],
                {name: spec},
                row_contenders,
                args.batch_size,
                args.epochs,
                args.repeats,
                args.device,
                sync,
                stat,
                clock,
            )
            print(f"\n{group}, {n} samples:", end="")
            print_rows(rows, base)


if __name__ == "__main__":
    main()
