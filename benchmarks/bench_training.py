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

Timings are the median over repeats of whole ``fit`` calls divided by the
number of epochs; contenders are interleaved so that drifts in machine load
hit all of them alike. Ratios are against the hand-written loop of the same
run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch
from skorch import NeuralNetRegressor
from torch import nn

from skae import AutoEncoder
from skae.modules import DenseAutoEncoderModule

MODELS = {
    "784-256-32-256-784": {"hidden": (256,), "code": 32},
    "784-64-784": {"hidden": (), "code": 64},
}


def make_module(n_features, spec):
    return DenseAutoEncoderModule(
        n_features, spec["code"], spec["hidden"], output_activation="sigmoid"
    )


def torch_loop(X, spec, epochs, batch_size, fused=False, device="cpu"):
    torch.manual_seed(0)
    Xt = torch.from_numpy(X).to(device)
    model = make_module(X.shape[1], spec).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    on_gpu = torch.device(device).type == "cuda"
    loss_fn = nn.MSELoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(Xt), device=Xt.device)
        total = 0.0
        for start in range(0, len(Xt), batch_size):
            xb = Xt[order[start : start + batch_size]]
            opt.zero_grad()
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[256])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--quick", action="store_true", help="6,000 samples, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.repeats = 6_000, 1

    X = np.random.RandomState(0).rand(args.n_samples, 784).astype(np.float32)
    print(
        f"{args.n_samples} x 784 synthetic data, batch {args.batch_size}, {args.epochs} epochs "
        f"per fit, median of {args.repeats}; torch {torch.__version__}, device {args.device}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    )
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    for fn in CONTENDERS.values():  # warm-up: first-call costs of torch and skorch
        fn(X[:512], MODELS["784-64-784"], 1, args.batch_size[0], device=args.device)
    rows = []
    for batch_size in args.batch_size:
        for model_name, spec in MODELS.items():
            times = {name: [] for name in CONTENDERS}
            for _ in range(args.repeats):
                for name, fn in CONTENDERS.items():
                    sync()
                    start = time.perf_counter()
                    fn(X, spec, args.epochs, batch_size, device=args.device)
                    sync()
                    times[name].append((time.perf_counter() - start) / args.epochs)
            base = statistics.median(times["torch loop"])
            for name in CONTENDERS:
                sec = statistics.median(times[name])
                rows.append((batch_size, model_name, name, sec, sec / base))

    print(f"\n{'batch':>5}  {'model':<20} {'contender':<24} {'s/epoch':>9} {'vs torch loop':>14}")
    for batch_size, model_name, name, sec, ratio in rows:
        print(f"{batch_size:>5}  {model_name:<20} {name:<24} {sec:>9.3f} {ratio:>13.3f}x")


if __name__ == "__main__":
    main()
