"""The keras.applications catalogue through shapeproof: import, counts, reference and kernel errors, build times.

    KERAS_BACKEND=torch .venv/bin/python benchmarks/applications.py [--models ResNet50,MobileNet] [--side 32]
        [--no-kernels]

For each model (random weights scaled by fan-in, random BatchNormalization statistics, logits): the time
`shapeproof import` takes, the layer count, whether our total and trainable parameter counts equal Keras's,
the NumPy reference's and the generated CPU kernels' max error relative to `model.predict` (batch 2), and
the kernels' build + first call from an empty kernel cache (cold, this process) and from the filled cache
(warm, a fresh process). Prints a Markdown table (the README's).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np  # noqa: E402

from arrays import relative_error  # noqa: E402
from test_keras_applications import CATALOGUE, FIRST_OF_FAMILY, build, inputs  # noqa: E402

WARM = """
import sys, time
t = time.perf_counter()
from shapeproof import analyzer, codegen
model = next(iter(analyzer.load(sys.argv[1]).models.values()))
net = codegen.build(model)
net.load_weights(sys.argv[2])
import numpy as np
net(np.zeros((2, *[int(d) for d in model.inputs[0].shape[1:]]), dtype=np.float32))
print(time.perf_counter() - t)
"""


def measure(name: str, kernels: bool, folder: Path) -> dict:
    from shapeproof import codegen
    from shapeproof.analyzer.reference import forward
    from shapeproof.keras.importer import import_to_file
    from shapeproof.keras.weights import read_weights

    model = build(name)
    archive, spec = folder / f"{name}.keras", folder / f"{name}.nn"
    model.save(archive)
    t = time.perf_counter()
    ours = import_to_file(str(archive), str(spec)).concrete
    row = {"model": name, "import_s": time.perf_counter() - t, "layers": len(ours.nodes),
           "params": model.count_params(),
           "params_equal": int(ours.total_params) == model.count_params() and
           int(ours.trainable_params) == sum(int(np.prod(w.shape)) for w in model.trainable_weights)}
    x = inputs(model)
    theirs = model.predict(x, verbose=0)
    weights = read_weights(str(archive), ours.weight_shapes, ours.layer_kinds)
    row["reference_error"] = relative_error(forward(ours, weights, x), theirs)
    if kernels:
        os.environ["SHAPEPROOF_CACHE"] = str(folder / "cache")
        t = time.perf_counter()
        net = codegen.build(ours)
        net.load_weights(str(archive))
        got = net(x)
        row["cold_s"] = time.perf_counter() - t
        row["kernel_error"] = relative_error(got, theirs)
        warm = subprocess.run([sys.executable, "-c", WARM, str(spec), str(archive)], capture_output=True, text=True,
                              env={**os.environ}, check=True)
        row["warm_s"] = float(warm.stdout.strip().splitlines()[-1])
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated names (default: the first of each family)")
    parser.add_argument("--all", action="store_true", help="the whole catalogue")
    parser.add_argument("--no-kernels", action="store_true", help="import and reference only")
    args = parser.parse_args()
    names = list(CATALOGUE) if args.all else args.models.split(",") if args.models else \
        list(FIRST_OF_FAMILY.values())
    print("| model | input | layers | params | params equal | import | reference error | kernel error | "
          "cold build + first call | warm |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                r = measure(name, not args.no_kernels, Path(tmp))
            except Exception as e:  # one model's failure is a row, not the end of the table
                print(f"| {name} | failed: {type(e).__name__}: {str(e).splitlines()[0][:80]} |||||||||", flush=True)
                continue
        side = CATALOGUE[name][0]
        kernel = (f"{r['kernel_error']:.1e} | {r['cold_s']:.1f} s | {r['warm_s']:.2f} s" if "cold_s" in r
                  else "– | – | –")
        print(f"| {name} | {side}×{side} | {r['layers']} | {r['params']:,} | {'yes' if r['params_equal'] else 'NO'} | "
              f"{r['import_s']:.1f} s | {r['reference_error']:.1e} | {kernel} |", flush=True)


if __name__ == "__main__":
    main()
