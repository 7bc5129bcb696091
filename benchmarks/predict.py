"""`shapeproof predict` over a memory-mapped .npy: rows per second in one process and on `--workers 2`,
and the single-process overhead against a plain Python loop of `net(x)` over the same chunks.

    .venv/bin/python benchmarks/predict.py [--size-mb 2048] [--models SeedConv,SmallCNN] [--workers 2]

For each model: random weights (.npz) and a random float32 input of SIZE_MB megabytes, written block by
block to a .npy (never whole in memory), then three timed passes over it, each warm (one chunk run
before, so no pass pays for compiling): the loop (`net(np.array(x[a:b]))` into a preallocated array),
`shapeproof.predict` in this process, and on a local Dask cluster of WORKERS processes (the Numba
threads shared out: workers x threads = cores). Outputs go to a Zarr store (the default chunking),
and each pass's output is checked equal to the loop's.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np

import shapeproof
import shapeproof.scoring as engine

SPEC = """\
model SeedConv(batch, n_features=1000):       # examples/seeds.nn's ConvModel
    input (batch, n_features, 1)
    Conv1D(128, kernel_size=1, activation="relu")
    Flatten()
    Dense(100, activation="relu")
    Dense(1)

model SmallCNN(batch):
    input (batch, 32, 32, 3)
    Conv2D(16, 3, activation="relu")
    MaxPooling2D(2)
    Conv2D(32, 3, activation="relu")
    GlobalAveragePooling2D()
    Dense(10)
"""


def write_input(path: Path, model, size_mb: float) -> int:
    """A random float32 .npy of about size_mb MB for the model's input, written in blocks; its rows."""
    row = tuple(int(d) for d in model.inputs[0].shape[1:])
    rows = max(1, int(size_mb * 1e6 // (4 * np.prod(row))))
    x = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, *row))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 8192):
        stop = min(rows, start + 8192)
        x[start:stop] = rng.standard_normal((stop - start, *row), dtype=np.float32)
    x.flush()
    return rows


def loop(net, x, y, chunk: int):
    """The baseline: net(x) chunk by chunk in a Python loop, into a preallocated output."""
    for start in range(0, len(x), chunk):
        y[start:start + chunk] = net(np.array(x[start:start + chunk]))


def predict_pass(model, weights, data, out, client=None, threads=None):
    """One shapeproof.predict run into a new Zarr store: (seconds, the output)."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    y = engine.predict(model, weights, data, out, client=client, threads=threads)
    return time.perf_counter() - start, y[:]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=2048, help="input size in MB (default 2048: 2 GB)")
    parser.add_argument("--models", default="SeedConv,SmallCNN")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where to write the data (default: a temporary folder)")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="shapeproof-predict-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "models.nn").write_text(SPEC)
    program = shapeproof.load(folder / "models.nn")
    client, threads = engine.local_client(args.workers, dashboard=":0")
    rows_table = []
    try:
        for name in args.models.split(","):
            model = program.models[name]
            data, weights, out = folder / f"{name}.npy", folder / f"{name}.npz", folder / f"{name}.zarr"
            rows = write_input(data, model, args.size_mb)
            net = shapeproof.build(model)
            net.random_weights(seed=1)
            net.save_weights(weights)
            x = np.load(data, mmap_mode="r")
            chunk = engine.default_chunk(model, {}, [engine.open_input(str(data))])
            expected = np.empty((rows, *net(np.array(x[:chunk])).shape[1:]), np.float32)

            loop(net, x, expected, chunk)  # reads the input once, so that every pass finds it in the page cache
            t_loop = timed(lambda: loop(net, x, expected, chunk))  # noqa: B023 (called at once)
            engine.predict(model, weights, data, None, chunk=chunk)[:chunk].compute()  # builds this process's net
            t_single, y = predict_pass(model, weights, data, out)
            assert np.array_equal(y, expected)
            predict_pass(model, weights, data, out, client, threads)  # the workers build their nets (from the cache)
            t_dask, y = predict_pass(model, weights, data, out, client, threads)
            assert np.array_equal(y, expected)
            rows_table.append((name, rows, data.stat().st_size / 1e6, chunk, rows / t_loop, rows / t_single,
                               rows / t_dask))
            for path in (data, weights):
                path.unlink()
            shutil.rmtree(out, ignore_errors=True)
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    cores = os.cpu_count()
    print(f"{cores} cores; --workers {args.workers} x {threads} Numba threads; rows/s, warm (kernels cached)")
    print(f"| model | rows | input MB | chunk rows | net(x) loop | predict, 1 process | overhead | "
          f"--workers {args.workers} | vs 1 process |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rows, mb, chunk, loop_rate, single, dask in rows_table:
        print(f"| {name} | {rows:,} | {mb:,.0f} | {chunk:,} | {loop_rate:,.0f} | {single:,.0f} | "
              f"{(loop_rate / single - 1) * 100:+.1f}% | {dask:,.0f} | {dask / single:.2f}x |")


if __name__ == "__main__":
    main()
