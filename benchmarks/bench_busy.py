"""Training on a busy machine: skae's thread choice against torch's default threads.

Run as ``python benchmarks/bench_busy.py`` on an otherwise idle machine
(``--demo-epochs N`` for the demo's epochs, 0 (each model's own) by
default; ``--skip-demo``, ``--skip-conv``, ``--skip-threads`` leave parts out).

torch trains on as many intra-op threads as the machine has cores. When
another process keeps a core busy, those threads wait for each other at
every operation, and a fit of a small network slows down several-fold.
skae trains a fit whose batches are small work (below
``skae._engine.ONE_THREAD_WORK`` multiply-adds, counted from the network
and the batch size) on one thread, and restores the caller's setting
afterwards. This benchmark times, in one run:

* **threads**: dense and convolutional fits of growing size on an idle
  machine, on one thread and on torch's default threads: where more threads
  start to pay, which sets ``ONE_THREAD_WORK``;
* **busy**: ``skae demo`` and a ``ConvAE`` fit, idle and with one other
  CPU-bound process running, with skae's choice and with it switched off
  (``ONE_THREAD_WORK = 0``: torch's default threads, as before), and the
  ``ConvAE`` fit inside ``skae.cpu_threads("auto")`` (the cores other
  processes leave free), and the fitted model's ``score_samples`` with
  the caller's threads and inside that block.

Each time is the best of ``--repeats`` runs. Ratios are against the idle
time of the same configuration measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

import skae._engine as engine
from skae import AutoEncoder, ConvAE, cpu_threads
from skae.datasets import load_mnist_sample

BUSY = "while True: pass"


@contextlib.contextmanager
def busy_core(on: bool):
    """One other CPU-bound process for the duration of the block (when ``on``)."""
    if not on:
        yield
        return
    process = subprocess.Popen([sys.executable, "-c", BUSY])
    time.sleep(1.0)  # let it reach the scheduler
    try:
        yield
    finally:
        process.kill()
        process.wait()


@contextlib.contextmanager
def thread_choice(on: bool):
    saved = engine.ONE_THREAD_WORK
    engine.ONE_THREAD_WORK = saved if on else 0
    try:
        yield
    finally:
        engine.ONE_THREAD_WORK = saved


def best(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def threads_rows(X, repeats):
    """Idle: one thread against the default threads, by the work of a batch."""
    default = torch.get_num_threads()
    print(f"\nthreads (idle; default {default} threads; seconds per epoch, best of {repeats})")
    print(f"{'model':<38}{'work/batch':>14}{'1 thread':>10}{'default':>10}{'gain':>7}")
    configs = [
        ("AutoEncoder (64,), batch 64", lambda: AutoEncoder(8, hidden_layer_sizes=(64,)), 64),
        ("AutoEncoder (256,), batch 64", lambda: AutoEncoder(32, hidden_layer_sizes=(256,)), 64),
        ("AutoEncoder (512,), batch 64", lambda: AutoEncoder(32, hidden_layer_sizes=(512,)), 64),
        ("AutoEncoder (512,), batch 256", lambda: AutoEncoder(32, hidden_layer_sizes=(512,)), 256),
        (
            "AutoEncoder (1024, 512), batch 256",
            lambda: AutoEncoder(32, hidden_layer_sizes=(1024, 512)),
            256,
        ),
        ("ConvAE(32, 28x28), batch 64", lambda: ConvAE(32, image_shape=(28, 28)), 64),
    ]
    for name, make, batch in configs:

        def fit(threads, make=make, batch=batch):
            torch.set_num_threads(threads)
            with thread_choice(False):
                model = make().set_params(max_epochs=1, batch_size=batch, random_state=0)
                model.fit(X)
            torch.set_num_threads(default)
            return model

        model = fit(1)
        row = torch.from_numpy(X[:1]).float()
        work = engine.batch_work(model.net_.module_, row, batch)
        one = best(lambda: fit(1), repeats)
        many = best(lambda: fit(default), repeats)
        print(f"{name:<38}{work:>14,}{one:>10.2f}{many:>10.2f}{one / many:>7.2f}")


def _demo_args(epochs, out):
    """``skae demo``'s arguments; ``epochs`` 0 keeps each model's own epochs."""
    return ["demo", "--quiet", "--out", out] + (["--epochs", str(epochs)] if epochs else [])


def demo(epochs, out):
    subprocess.run(
        [sys.executable, "-m", "skae", *_demo_args(epochs, out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def demo_off(epochs, out):
    code = (
        "import sys, skae._engine as e; e.ONE_THREAD_WORK = 0; "
        "from skae.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    subprocess.run(
        [sys.executable, "-c", code, *_demo_args(epochs, out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def busy_rows(X, repeats, demo_epochs, with_demo, with_conv=True):
    print(
        f"\nbusy (seconds, best of {repeats}; ratio = busy / idle of the same configuration; "
        "vs skae = busy / idle of skae's default choice)"
    )
    print(f"{'run':<44}{'choice':>8}{'idle':>8}{'busy':>8}{'ratio':>7}{'vs skae':>9}")
    runs = []
    if with_demo:
        folder = tempfile.mkdtemp()
        label = f"skae demo --epochs {demo_epochs}" if demo_epochs else "skae demo"
        runs.append(
            (
                label,
                ("skae", "off"),
                lambda choice: (
                    lambda: (demo if choice == "skae" else demo_off)(demo_epochs, folder)
                ),
            )
        )

    def conv(choice):
        # "auto": the fit inside skae.cpu_threads("auto"), on the cores left free
        context = cpu_threads("auto") if choice == "auto" else contextlib.nullcontext()

        def fit():
            with thread_choice(choice != "off"), context:
                ConvAE(32, image_shape=(28, 28), max_epochs=1, random_state=0).fit(X)

        return fit

    if with_conv:
        runs.append((f"ConvAE(32, 28x28), {len(X)} digits, 1 epoch", ("skae", "off", "auto"), conv))
        fitted = ConvAE(32, image_shape=(28, 28), max_epochs=1, random_state=0).fit(X)

        def score(choice):
            # inference: the default keeps the caller's threads ("skae")
            context = cpu_threads("auto") if choice == "auto" else contextlib.nullcontext()

            def run():
                with context:
                    fitted.score_samples(X)

            return run

        runs.append((f"ConvAE score_samples, {len(X)} digits", ("skae", "auto"), score))
    for name, choices, make in runs:
        idle_times = {}
        for choice in choices:
            idle = idle_times[choice] = best(make(choice), repeats)
            with busy_core(True):
                busy = best(make(choice), repeats)
            print(
                f"{name:<44}{choice:>8}{idle:>8.1f}{busy:>8.1f}{busy / idle:>7.2f}"
                f"{busy / idle_times[choices[0]]:>9.2f}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--demo-epochs", type=int, default=0)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-threads", action="store_true")
    parser.add_argument("--skip-conv", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)  # one-epoch fits, timed only
    X = load_mnist_sample()[0][:2000].astype(np.float32)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, ONE_THREAD_WORK = {engine.ONE_THREAD_WORK:,}"
    )
    if not args.skip_threads:
        threads_rows(X, args.repeats)
    busy_rows(X, args.repeats, args.demo_epochs, not args.skip_demo, not args.skip_conv)


if __name__ == "__main__":
    main()
