"""Generated Numba CPU kernels vs PyTorch CPU eager vs the NumPy reference, same weights, same run.

    .venv/bin/python benchmarks/forward_cpu.py [--repeat 30] [--models SeedConv,TextCNN]

For each model of benchmarks/models.nn at batch 1 and 64: random weights and inputs, outputs of all
three checked against each other (max error relative to the output's magnitude), then the median
time of REPEAT calls each, the ratio generated / PyTorch (below 1 means faster than PyTorch), and
the generated kernels' GFLOP/s (2 x MACs of the analyzer / time). Also: the compile time of each
model in a fresh process, cold (empty cache) and warm (cache filled), and this machine's
single-precision GEMM rate (torch.mm, 2048 x 2048) for scale. PyTorch and Numba use the same
number of threads.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))  # first: benchmarks/analyzer.py must not hide the analyzer package

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from shapeproof import analyzer  # noqa: E402
from shapeproof import codegen  # noqa: E402
from shapeproof.analyzer.reference import forward  # noqa: E402
from torch_peer import TorchNet  # noqa: E402

MODELS = ROOT / "benchmarks" / "models.nn"
BATCHES = (1, 64)


def median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def relative_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-6))


def inputs_for(model, batch: int, rng):
    arrays = []
    for spec in model.inputs:
        shape = (batch, *(int(d) for d in spec.shape[1:]))
        if spec.dtype.startswith("int"):
            vocab = min(int(n.layer.input_dim) for n in model.nodes if n.type == "Embedding")
            arrays.append(rng.integers(0, vocab, size=shape).astype(spec.dtype))
        else:
            arrays.append(rng.normal(size=shape).astype(spec.dtype))
    return arrays


def gemm_gflops() -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    ms = median_ms(lambda: torch.mm(a, b), 10)
    return 2 * 2048**3 / (ms * 1e-3) / 1e9


def compile_seconds(name: str, cache: str) -> float:
    """Build + first call of one model in a fresh process using `cache` as the kernel cache."""
    script = (f"import sys, time; sys.path.insert(0, {str(ROOT)!r})\n"
              "import numpy as np\nfrom shapeproof import analyzer, codegen\n"
              f"m = analyzer.load({str(MODELS)!r}).models[{name!r}]\n"
              "t = time.perf_counter(); net = codegen.build(m); net.random_weights()\n"
              "xs = [np.zeros((1, *(int(d) for d in s.shape[1:])), s.dtype) for s in m.inputs]\n"
              "net(*xs); print(time.perf_counter() - t)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, "SHAPEPROOF_CACHE": cache})
    return float(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--models", help="comma-separated model names (default: all)")
    parser.add_argument("--no-compile-times", action="store_true")
    args = parser.parse_args()
    threads = numba.get_num_threads()
    torch.set_num_threads(threads)
    program = analyzer.load(MODELS)
    names = args.models.split(",") if args.models else list(program.models)
    print(f"threads: {threads} (Numba {numba.__version__}, threading layer {numba.config.THREADING_LAYER}); "
          f"PyTorch {torch.__version__}; single-precision GEMM (torch.mm 2048^2): {gemm_gflops():.1f} GFLOP/s")
    print()
    print("| model | batch | generated (ms) | PyTorch eager (ms) | NumPy reference (ms) | generated / PyTorch "
          "| generated GFLOP/s | max rel. error |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for name in names:
        model = program.models[name]
        net = codegen.build(model)
        weights = net.random_weights(0)
        peer = TorchNet(model, weights)
        for batch in BATCHES:
            xs = inputs_for(model, batch, rng)
            ours, theirs, ref = net(*xs), peer(*xs), forward(model, weights, *xs)
            error = max(relative_error(ours, ref), relative_error(theirs, ref))
            t_ours = median_ms(lambda: net(*xs), args.repeat)
            t_torch = median_ms(lambda: peer(*xs), args.repeat)
            t_ref = median_ms(lambda: forward(model, weights, *xs), max(3, args.repeat // 10))
            macs = float(model.macs.subs({s: batch for s in model.macs.free_symbols}))
            gflops = 2 * macs / (t_ours * 1e-3) / 1e9
            print(f"| {name} | {batch} | {t_ours:.3f} | {t_torch:.3f} | {t_ref:.1f} | {t_ours / t_torch:.2f} "
                  f"| {gflops:.1f} | {error:.1e} |", flush=True)
    if args.no_compile_times:
        return
    print()
    print("| model | compile, cold cache (s) | warm cache (s) |")
    print("|---|---:|---:|")
    for name in names:
        with tempfile.TemporaryDirectory() as cache:
            cold = compile_seconds(name, cache)
            warm = compile_seconds(name, cache)
        print(f"| {name} | {cold:.1f} | {warm:.2f} |", flush=True)


if __name__ == "__main__":
    main()
