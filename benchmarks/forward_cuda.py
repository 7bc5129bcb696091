"""Generated Numba CUDA kernels vs PyTorch CUDA eager (cuDNN/cuBLAS), same weights, same run.

    .venv/bin/python benchmarks/forward_cuda.py [--repeat 50] [--models SeedConv,TextCNN] [--batches 1,256]

For each model of benchmarks/models.nn at batch 1 and 256: random weights and inputs on the GPU,
both outputs checked against the NumPy reference (max error relative to the output's magnitude;
PyTorch's TF32 is switched off so that both compute in float32), then the time per forward pass,
device arrays in and out (no host copies), measured with CUDA events around REPEAT back-to-back
calls (median of 5 such runs), the ratio generated / PyTorch (below 1: faster than PyTorch), and
the generated kernels' GFLOP/s (2 x the analyzer's MACs / time) and GB/s (weights + inputs +
outputs + every activation written once and read once / time) as a share of the card's peak.
Needs an NVIDIA GPU and PyTorch with CUDA; exits 2 without them.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))  # first: benchmarks/analyzer.py must not hide the analyzer package

import numpy as np  # noqa: E402
import sympy  # noqa: E402
import torch  # noqa: E402

from shapeproof import analyzer  # noqa: E402
from shapeproof import codegen  # noqa: E402
from shapeproof.analyzer.reference import forward  # noqa: E402
from forward_cpu import inputs_for, relative_error  # noqa: E402
from torch_peer import TorchNet  # noqa: E402

MODELS = ROOT / "benchmarks" / "models.nn"
# (name fragment, FP32 non-tensor-core TFLOP/s, memory TB/s): NVIDIA's data sheets.
PEAKS = [("H200", 67.0, 4.8), ("H100 PCIe", 51.0, 2.0), ("H100", 67.0, 3.35), ("A100", 19.5, 2.0),
         ("L40S", 91.6, 0.864), ("L4", 30.3, 0.3)]


def peak_of(name: str) -> tuple[float, float] | None:
    for fragment, tflops, tbs in PEAKS:
        if fragment in name:
            return tflops, tbs
    return None


def event_ms(fn, repeat: int) -> float:
    """Median over 5 runs of the mean time of `repeat` back-to-back calls, by CUDA events."""
    fn()
    torch.cuda.synchronize()
    runs = []
    for _ in range(5):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeat):
            fn()
        end.record()
        end.synchronize()
        runs.append(start.elapsed_time(end) / repeat)
    return statistics.median(runs)


def at(expr, batch: int) -> float:
    expr = sympy.sympify(expr)
    return float(expr.subs({s: batch for s in expr.free_symbols}))


def bytes_moved(model, batch: int, weights) -> float:
    """Weights + inputs + outputs + every activation written once and read once (float32)."""
    total = sum(w.nbytes for w in weights)
    total += sum(4 * at(sympy.Mul(*i.shape), batch) for i in model.inputs)
    for node in model.nodes:
        for shape in node.output_shapes:
            total += 2 * 4 * at(sympy.Mul(*shape), batch)
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--models", help="comma-separated model names (default: all)")
    parser.add_argument("--batches", default="1,256")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU (or a CPU-only PyTorch): nothing to measure", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name()
    peak = peak_of(name)
    print(f"GPU: {name}; peak FP32 {peak[0] if peak else '?'} TFLOP/s, memory {peak[1] if peak else '?'} TB/s; "
          f"PyTorch {torch.__version__} (cuDNN {torch.backends.cudnn.version()}, TF32 off); "
          f"numba-cuda {getattr(sys.modules.get('numba_cuda'), '__version__', '?')}")
    print()
    print("| model | batch | generated (ms) | PyTorch CUDA (ms) | generated / PyTorch | generated GFLOP/s "
          "| % FP32 peak | generated GB/s | % memory peak | max rel. error (ours, PyTorch) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    program = analyzer.load(MODELS)
    names = args.models.split(",") if args.models else list(program.models)
    rng = np.random.default_rng(0)
    for model_name in names:
        model = program.models[model_name]
        net = codegen.build(model, target="cuda")
        weights = net.random_weights(0)
        peer = TorchNet(model, weights, device="cuda")
        for batch in (int(b) for b in args.batches.split(",")):
            xs = inputs_for(model, batch, rng)
            tensors = [torch.from_numpy(x).cuda() for x in xs]
            ref = forward(model, weights, *xs)
            ours = net(*tensors).copy_to_host()  # a Numba device array: the output stays on the GPU
            theirs = peer.tensors(*tensors).cpu().numpy()
            errors = relative_error(ours, ref), relative_error(theirs, ref)
            t_ours = event_ms(lambda: net(*tensors), args.repeat)
            t_torch = event_ms(lambda: peer.tensors(*tensors), args.repeat)
            gflops = 2 * at(model.macs, batch) / (t_ours * 1e-3) / 1e9
            gbs = bytes_moved(model, batch, weights) / (t_ours * 1e-3) / 1e9
            share = (f"{100 * gflops / (peak[0] * 1e3):.1f} | {gbs:.0f} | {100 * gbs / (peak[1] * 1e3):.1f}"
                     if peak else f"? | {gbs:.0f} | ?")
            print(f"| {model_name} | {batch} | {t_ours:.3f} | {t_torch:.3f} | {t_ours / t_torch:.2f} | {gflops:.0f} "
                  f"| {share} | {errors[0]:.1e}, {errors[1]:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
