"""Peak memory and seconds per epoch when training on a memmap, against N.

Run ``python benchmarks/bench_memory.py`` (``--rows 60000 240000`` to choose
the sizes, ``--quick`` for 20,000 and 60,000 rows, ``--cold`` to drop the
page cache before each contender so the file comes from disk: Linux, as
root).

For each number of rows N, a float32 ``.npy`` file of N x 784 values in
[0, 1] is written under a temporary folder (deleted afterwards) and one
epoch of the dense 784-256-32-256-784 autoencoder (ReLU, sigmoid output,
MSE, Adam at lr=1e-3, batch 256) is trained by each contender, each in a
fresh Python process whose own peak resident memory is read from
``VmHWM`` in ``/proc/self/status`` (on Linux; ``resource.getrusage``
elsewhere). ``getrusage(RUSAGE_SELF).ru_maxrss`` is not used on Linux: a
child started by ``subprocess`` (``vfork`` then ``exec``) inherits the
parent's peak in it, here the pages of the file the parent just wrote.
Contenders:

* ``hand-written``: the loop one writes over ``np.load(path, mmap_mode="r")``:
  batches in a random order, each read from the memmap, fused Adam;
* ``skae memmap``: ``skae.AutoEncoder`` fitted on the memmap itself (it
  streams: chunked validation, block-shuffled batches, code statistics);
* ``skae in memory``: ``skae.AutoEncoder`` fitted on the file loaded whole
  (``np.load`` without ``mmap_mode``), today's fast path, for throughput.

Seconds are the wall time of the whole ``fit`` call (or of the loop, file
opening included, imports excluded), so skae's figures include its input
checks. Peak memory includes the pages of the file mapped while reading it. Ratios are against the
hand-written loop of the same N in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_FEATURES = 784
BATCH = 256

CHILD = r"""
import json, resource, sys, time
import numpy as np
import torch

from skae import AutoEncoder
from skae.modules import DenseAutoEncoderModule

mode, path = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if mode == "hand-written":
    X = np.load(path, mmap_mode="r")
    torch.manual_seed(0)
    model = DenseAutoEncoderModule(X.shape[1], 32, (256,), output_activation="sigmoid")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = torch.nn.MSELoss()
    n_batches = -(-len(X) // BATCH)
    for b in torch.randperm(n_batches).tolist():
        xb = torch.from_numpy(np.array(X[b * BATCH : (b + 1) * BATCH]))
        opt.zero_grad()
        loss = loss_fn(model(xb), xb)
        loss.backward()
        opt.step()
else:
    X = np.load(path, mmap_mode="r" if mode == "skae memmap" else None)
    AutoEncoder(
        32, hidden_layer_sizes=(256,), output_activation="sigmoid", batch_size=BATCH,
        max_epochs=1, random_state=0,
    ).fit(X)
seconds = time.perf_counter() - start
try:  # this process's own peak: VmHWM (Linux)
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
except (OSError, StopIteration):
    # elsewhere getrusage, which may include the parent's peak (see above)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mib": peak}))
""".replace("BATCH", str(BATCH))

CONTENDERS = ("hand-written", "skae memmap", "skae in memory")


def write_data(path: Path, n_rows: int) -> None:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, N_FEATURES))
    rng = np.random.default_rng(0)
    step = 50_000
    for start in range(0, n_rows, step):
        out[start : start + step] = rng.random((min(step, n_rows - start), N_FEATURES))
    out.flush()
    del out


def drop_page_cache() -> None:
    """Write dirty pages and drop the kernel's page cache (Linux, as root), or raise."""
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("1\n")


def measure(mode: str, path: Path, cold: bool = False) -> dict:
    if cold:
        drop_page_cache()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[60_000, 240_000, 1_000_000])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--in-memory-max", type=int, default=240_000, help="largest N for 'skae in memory'"
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="drop the page cache before each contender, so the file is read from disk "
        "(Linux, as root)",
    )
    args = parser.parse_args(argv)
    rows = [20_000, 60_000] if args.quick else args.rows
    print(f"{platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"{'rows':>9}  {'contender':<15} {'s/epoch':>8} {'peak MiB':>9} {'time ratio':>10}")
    folder = Path(tempfile.mkdtemp(prefix="skae_bench_memory_"))
    total = time.perf_counter()
    try:
        for n in rows:
            path = folder / f"X_{n}.npy"
            write_data(path, n)
            base = None
            for mode in CONTENDERS:
                if mode == "skae in memory" and n > args.in_memory_max:
                    continue
                r = measure(mode, path, cold=args.cold)
                base = base or r
                print(
                    f"{n:>9,}  {mode:<15} {r['seconds']:>8.2f} {r['peak_mib']:>9.0f} "
                    f"{r['seconds'] / base['seconds']:>9.3f}x",
                    flush=True,
                )
            path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"whole run: {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
