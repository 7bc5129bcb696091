"""Generated element-wise kernels, median of 30 calls at batch 1 and 64 (32x32x64 float32).

    .venv/bin/python benchmarks/elementwise.py

Run it in two checkouts to compare code generators: this one prints kernels made from the layers'
element formulas; commit 73f0c21 (before shapeproof.* existed: the fallback import) had a
hand-written kernel per kind.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.getcwd())
try:
    from shapeproof import analyzer, codegen
except ImportError:  # a checkout from before the shapeproof namespace
    import analyzer
    import codegen

INPUT = "x = input (batch, 32, 32, 64)"
LAYERS = {  # name: (extra input, layer call on x [and z])
    "bn": ("", "BatchNormalization()(x)"),
    "relu": ("", 'Activation("relu")(x)'),
    "gelu": ("", 'Activation("gelu")(x)'),
    "add": ("z = input (batch, 32, 32, 64)", "Add()([x, z])"),
    "mul_bcast": ("z = input (batch, 1, 1, 64)", "Multiply()([x, z])"),
    "pad2d": ("", "ZeroPadding2D(1)(x)"),
    "crop2d": ("", "Cropping2D(1)(x)"),
}


def spec(extra: str, call: str) -> str:
    lines = ["model M(batch):", f"    {INPUT}", *([f"    {extra}"] if extra else []), f"    y = {call}", "    output y"]
    return "\n".join(lines) + "\n"


def median_ms(net, xs, repeat: int = 30) -> float:
    net(*xs)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        net(*xs)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main():
    rng = np.random.default_rng(0)
    for name, (extra, call) in LAYERS.items():
        model = analyzer.loads(spec(extra, call)).models["M"]
        net = codegen.build(model)
        net.random_weights()
        cells = []
        for batch in (1, 64):
            xs = [rng.standard_normal((batch, *(int(d) for d in i.shape[1:]))).astype(np.float32) for i in model.inputs]
            cells.append(f"batch {batch}: {median_ms(net, xs):.3f} ms")
        print(f"{name:10s} " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
