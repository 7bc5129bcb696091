"""Generated kernels vs Keras on the trained example: same outputs, and how much faster.

    KERAS_BACKEND=torch python examples/keras/speedup.py [MODEL.keras] [--repeat N]

Imports the archive with shapeproof (no Keras involved), builds the Numba CPU kernels, loads the
trained weights from the archive, checks the outputs against Keras's `model.predict`, then times
both at a few batch sizes (medians of N calls after a warm-up call; the kernels' first call compiles
them or loads them from the cache). Keras's direct call `model(x)` is timed too: `predict` adds a
fixed per-call cost that dominates small batches.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

import keras  # noqa: E402
import numpy as np  # noqa: E402

from shapeproof import codegen  # noqa: E402
from shapeproof.keras.importer import import_keras  # noqa: E402


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=str(Path(__file__).with_name("model.keras")))
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--batches", default="1,32,256")
    parser.add_argument("--threads", type=int, help="threads for both torch and Numba (default: their own)")
    args = parser.parse_args()
    import numba
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)

    start = time.perf_counter()
    imported = import_keras(args.model)
    net = codegen.build(imported.concrete)
    net.load_weights(args.model)
    print(f"import + generate + load weights: {time.perf_counter() - start:.2f} s")
    model = keras.saving.load_model(args.model)
    steps, channels = (int(d) for d in imported.concrete.inputs[0].shape[1:])
    rng = np.random.default_rng(0)
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        x = rng.normal(size=(batch, steps, channels)).astype("float32")
        ours = net(x)
        theirs = model.predict(x, verbose=0)
        err = float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-6))
        assert err <= 1e-4, f"outputs differ: relative error {err:.2e}"
        t_ours = median_time(lambda x=x: net(x), args.repeat)
        t_predict = median_time(lambda x=x, b=batch: model.predict(x, verbose=0, batch_size=b), args.repeat)
        with torch.no_grad():
            t_call = median_time(lambda x=x: model(x, training=False), args.repeat)
        rows.append((batch, t_ours, t_predict, t_call, err))
    print(f"torch threads: {torch.get_num_threads()}; Numba threads: {numba.get_num_threads()}; "
          f"medians of {args.repeat} calls")
    print(f"{'batch':>6} {'kernels ms':>11} {'predict ms':>11} {'model(x) ms':>12} {'vs predict':>11} "
          f"{'vs model(x)':>12} {'max rel err':>12}")
    for batch, t_ours, t_predict, t_call, err in rows:
        print(f"{batch:>6} {t_ours * 1e3:>11.3f} {t_predict * 1e3:>11.3f} {t_call * 1e3:>12.3f} "
              f"{t_predict / t_ours:>10.1f}x {t_call / t_ours:>11.1f}x {err:>12.1e}")


if __name__ == "__main__":
    main()
