"""ONNX export: export time, file size, and onnxruntime's throughput against skae's.

Run as ``python benchmarks/bench_export.py`` (needs ``skae[onnx]``). Each
model is fitted for one epoch on 2,000 x 784 synthetic data in [0, 1], then
exported with ``skae.to_onnx(model, X, methods=("transform",))``. Inference
on the same 2,000 rows is timed for:

* **skae**: ``model.transform(X)`` (the baseline);
* **onnxruntime**: one ``InferenceSession.run`` over the same rows, one
  intra-op thread per torch thread.

Times are the median of ``--repeats`` repeats, the two interleaved; the
largest difference between the two outputs is printed too.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings

import numpy as np
import onnxruntime as ort
import torch

import skae

MODELS = {
    "AutoEncoder 784-512-256-32": lambda: skae.AutoEncoder(
        n_components=32, hidden_layer_sizes=(512, 256), max_epochs=1, random_state=0
    ),
    "ConvAE 28x28 (16, 32)": lambda: skae.ConvAE(
        image_shape=(28, 28), channels=(16, 32), n_components=32, max_epochs=1, random_state=0
    ),
}


def _seconds(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    X = np.random.RandomState(0).rand(2000, 784).astype(np.float32)
    threads = torch.get_num_threads()
    print(
        f"torch {torch.__version__}, onnxruntime {ort.__version__}, {threads} threads, "
        f"{platform.processor() or platform.machine()}; median of {args.repeats}"
    )
    print(
        f"{'model':<28} {'export s':>8} {'MB':>6} {'skae rows/s':>12} {'ort rows/s':>11} "
        f"{'ort vs skae':>12} {'max |diff|':>11}"
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in MODELS.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one epoch does not converge
                model = make().fit(X)
            path = os.path.join(tmp, "model.onnx")
            export_s, _ = _seconds(lambda model=model, path=path: skae.to_onnx(model, X, path=path))
            size = os.path.getsize(path) / 2**20
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            skae_times, ort_times = [], []
            for _ in range(args.repeats):
                t, want = _seconds(lambda model=model: model.transform(X))
                skae_times.append(t)
                t, (got,) = _seconds(lambda session=session: session.run(None, {"X": X}))
                ort_times.append(t)
            skae_rate = len(X) / statistics.median(skae_times)
            ort_rate = len(X) / statistics.median(ort_times)
            print(
                f"{name:<28} {export_s:>8.2f} {size:>6.2f} {skae_rate:>12,.0f} "
                f"{ort_rate:>11,.0f} {ort_rate / skae_rate:>11.2f}x "
                f"{float(np.abs(got - want).max()):>11.1e}"
            )


if __name__ == "__main__":
    main()
