"""Real Keras models through shapeproof: generated CPU kernels vs Keras's own eager call vs PyTorch eager.

    KERAS_BACKEND=torch .venv/bin/python benchmarks/real_models.py [--models ResNet50,MobileNetV2]
        [--side 64] [--batches 1,16] [--repeats 10] [--threads 2] [--quick]

For each keras.applications model (random weights scaled by fan-in, random BatchNormalization
statistics, logits) at SIDE×SIDE: saved to a .keras, `shapeproof import`ed, and its generated kernels
built from an empty kernel cache (cold: build + load_weights + first call, this process) and from the
filled cache (warm, a fresh process). Then at each batch, outputs checked against `model.predict` (max
error relative to the output's magnitude <= 1e-3), and the median forward time of REPEATS calls after
one warm-up: the generated kernels, Keras's eager `model(x, training=False)` (torch backend, no_grad),
and a plain PyTorch eager port: hand-written for ResNet50 (benchmarks/torch_resnet50.py), for every
other model (MobileNetV2, EfficientNetB0, DenseNet121, ...) one built by walking the Keras graph layer by
layer into torch.nn.functional calls (benchmarks/torch_keras_port.py; "—" if the model has a layer kind
it lacks). Neither folds BatchNormalization or compiles: what a PyTorch user writes. GFLOP/s are 2 × the
analyzer's MACs at that batch over the generated kernels' time, also as a share of this machine's
single-precision GEMM rate (torch.mm 1024³, best of 5). Every library runs on THREADS threads.
Prints a Markdown table (the README's), headed by the command line.

PyTorch and Numba's omp layer each load their own libgomp, whose threads spin a while after each
parallel region before they sleep: a pool spinning after its work steals the cores the other needs (on
a busy 2-core machine ResNet50's PyTorch port ran 60× slower once Numba's pool existed). Each timing
therefore starts after a pause (SETTLE) in which the other pool goes to sleep. OpenMP's wait policy is
left at its default: OMP_WAIT_POLICY=passive (sleep at once) made every parallel region wait for its
threads to wake, MobileNetV2's batch-1 pass 0.6 -> 3.1 ms here and PyTorch's port slower too.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))  # first: benchmarks/analyzer.py must not hide the analyzer package

import numba  # noqa: E402
import torch  # noqa: E402

import torch_keras_port  # noqa: E402
import torch_resnet50  # noqa: E402
from applications import WARM  # noqa: E402  (also puts tests/ on the path)
from arrays import relative_error  # noqa: E402
from forward_cpu import median_ms  # noqa: E402
from test_keras_applications import CATALOGUE, build, inputs  # noqa: E402

DEFAULT_MODELS = "ResNet50,MobileNetV2,EfficientNetB0,DenseNet121"
PORTS = {"ResNet50": torch_resnet50.from_keras}  # hand-written PyTorch eager ports; the others: torch_keras_port
TOLERANCE = 1e-3
SETTLE = 0.5  # seconds of pause before each timing: the other library's OpenMP threads stop spinning


def gemm_gflops(n: int = 1024, tries: int = 5) -> float:
    """This machine's float32 matmul rate on torch's current thread count: best of `tries`."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(timed(lambda: torch.mm(a, b)) for _ in range(tries))
    return 2 * n**3 / best / 1e9


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def settled_ms(fn, repeats: int) -> float:
    """median_ms after a pause in which the other library's threads stop spinning (see SETTLE)."""
    time.sleep(SETTLE)
    return median_ms(fn, repeats)


def build_at(name: str, side: int):
    """build() at another input side: the catalogue holds the tests' small one."""
    CATALOGUE[name] = (side, CATALOGUE[name][1])
    return build(name)


def pytorch_port(name: str, model):
    """The PyTorch eager port: hand-written where PORTS has one, else torch_keras_port's (None if the model
    has a layer kind that port lacks)."""
    if name in PORTS:
        return PORTS[name](model)
    try:
        return torch_keras_port.from_keras(model)
    except torch_keras_port.UnsupportedLayer:
        return None


def check(got, expected, what: str):
    error = relative_error(got, expected)
    if not error <= TOLERANCE:  # also catches NaN: timing wrong numbers would mean nothing
        raise AssertionError(f"{what}: max relative error {error:.1e} > {TOLERANCE:.0e} vs model.predict")


def measure(name: str, side: int, batches: list[int], repeats: int, threads: int, folder: Path) -> list[dict]:
    """One row per batch: build times (the same on each row), forward times, GFLOP/s."""
    from shapeproof import codegen
    from shapeproof.keras.importer import import_to_file

    model = build_at(name, side)
    archive, spec = folder / f"{name}.keras", folder / f"{name}.nn"
    model.save(archive)
    ours = import_to_file(str(archive), str(spec)).concrete

    os.environ["SHAPEPROOF_CACHE"] = str(folder / "cache")  # empty: this build compiles every kernel
    start = time.perf_counter()
    net = codegen.build(ours, threads=threads)
    net.load_weights(str(archive))
    net(inputs(model, batches[0]))
    cold = time.perf_counter() - start
    fresh = subprocess.run([sys.executable, "-c", WARM, str(spec), str(archive)], capture_output=True, text=True,
                           env={**os.environ}, check=True)  # the same cache, now filled
    warm = float(fresh.stdout.strip().splitlines()[-1])

    port = pytorch_port(name, model)
    rows = []
    for batch in batches:
        x = inputs(model, batch)
        expected = model.predict(x, verbose=0)
        x_keras = torch.from_numpy(x)
        with torch.no_grad():
            def keras_eager():
                return model(x_keras, training=False)

            def torch_eager():  # a PyTorch user's NHWC -> NCHW step included
                return port(torch.from_numpy(x).permute(0, 3, 1, 2))

            check(net(x), expected, f"{name} generated kernels")
            check(keras_eager().cpu().numpy(), expected, f"{name} Keras eager")
            if port is not None:
                check(torch_eager().numpy(), expected, f"{name} PyTorch port")
            row = {"model": name, "batch": batch, "cold_s": cold, "warm_s": warm,
                   "generated_ms": settled_ms(lambda: net(x), repeats),
                   "keras_ms": settled_ms(keras_eager, repeats),
                   "torch_ms": settled_ms(torch_eager, repeats) if port is not None else None}
        macs = float(ours.macs.subs({s: batch for s in ours.macs.free_symbols}))
        row["gflops"] = 2 * macs / (row["generated_ms"] * 1e-3) / 1e9
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated names (default: {DEFAULT_MODELS})")
    parser.add_argument("--side", type=int, default=64, help="input height and width (default 64; 224 is ImageNet's)")
    parser.add_argument("--batches", default="1,16", help="comma-separated batch sizes (default 1,16)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per figure, after one warm-up")
    parser.add_argument("--threads", type=int, default=2, help="threads for Numba, PyTorch and Keras (default 2)")
    parser.add_argument("--quick", action="store_true", help="check the script: ResNet50, side 32, batch 1, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.models, args.side, args.batches, args.repeats = "ResNet50", 32, "1", 2
    # Numba's pool is started at its first parallel call with NUMBA_NUM_THREADS threads, in this process
    # and in the warm build's; numba was imported before the count was known, so it re-reads its settings.
    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    numba.config.reload_config()
    torch.set_num_threads(args.threads)
    gemm = gemm_gflops()
    batches = [int(b) for b in args.batches.split(",")]

    print(f"`{shlex.join(['KERAS_BACKEND=torch', '.venv/bin/python', 'benchmarks/real_models.py', *sys.argv[1:]])}`")
    print(f"threads: {args.threads} (Numba {numba.__version__}, threading layer {numba.config.THREADING_LAYER}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}); PyTorch {torch.__version__}; "
          f"single-precision GEMM (torch.mm 1024³, best of 5): {gemm:.1f} GFLOP/s")
    print()
    print("| model | input | batch | cold build | warm build | generated (ms) | Keras eager (ms) | "
          "PyTorch port (ms) | generated / PyTorch | generated GFLOP/s | % of GEMM |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                rows = measure(name, args.side, batches, args.repeats, args.threads, Path(tmp))
            except Exception as e:  # one model's failure is a row, not the end of the table
                print(f"| {name} | failed: {type(e).__name__}: {str(e).splitlines()[0][:80]} ||||||||||", flush=True)
                continue
        for r in rows:
            torch_ms, ratio = ((f"{r['torch_ms']:.2f}", f"{r['generated_ms'] / r['torch_ms']:.2f}")
                               if r["torch_ms"] is not None else ("—", "—"))
            print(f"| {name} | {args.side}×{args.side} | {r['batch']} | {r['cold_s']:.1f} s | {r['warm_s']:.2f} s | "
                  f"{r['generated_ms']:.2f} | {r['keras_ms']:.2f} | {torch_ms} | {ratio} | {r['gflops']:.1f} | "
                  f"{100 * r['gflops'] / gemm:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
