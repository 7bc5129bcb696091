"""A batch-1 forward under machine-wide load: alone, beside a PyTorch job, and as 2 and 4 processes at once.

    .venv/bin/python benchmarks/load.py                # the table (about a minute on 2 cores)
    .venv/bin/python benchmarks/load.py --seconds 2 --threads 2

Each figure is the median time of one forward call of a small MNIST-sized model (Conv2D, pooling,
Dense) in a process that repeats it for --seconds: the generated kernels (shapeproof) and the same
model in PyTorch eager (benchmarks/torch_peer.py), each measured in the same conditions:
- quiet: the process alone;
- beside PyTorch: while another process runs small matmuls (64x64) in a loop on all cores with
  PyTorch's OpenMP threads (the co-running job of issue 12);
- 2 / 4 processes: that many copies of the timing process at once (the median of their medians).
Ratios are to the quiet time of the same implementation (target: within 3x). The middle column
builds the same model with every kernel opening a parallel region (as before small work ran
serially, codegen/cpu/work.py), to show what that choice is worth.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("shapeproof", "always-parallel", "torch")
SPEC = """model Mnist(batch):
    input (batch, 28, 28, 1)
    Conv2D(8, 3, activation="relu")
    MaxPooling2D(2)
    Flatten()
    Dense(10, activation="softmax")
"""


def worker(kind: str, seconds: float, threads: int | None):
    """Time the batch-1 forward for `seconds`; print the median in ms."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from shapeproof import analyzer, codegen

    if kind == "always-parallel":  # as before small work ran serially: every kernel opens a parallel region
        from shapeproof.codegen.cpu import module, work

        module.schedule = lambda node: work.PARALLEL

    model = analyzer.loads(SPEC).models["Mnist"]
    net = codegen.build(model, threads=threads)
    weights = net.random_weights(0)
    x = np.random.default_rng(0).normal(size=(1, 28, 28, 1)).astype(np.float32)
    if kind == "torch":
        import torch
        from torch_peer import TorchNet

        if threads:
            torch.set_num_threads(threads)
        peer = TorchNet(model, weights)
        np.testing.assert_allclose(np.asarray(peer(x)), net(x), rtol=1e-4, atol=1e-5)

        def call():
            with torch.inference_mode():
                peer(x)
    else:
        def call():
            net(x)
    call()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    print(statistics.median(times) * 1e3, flush=True)


def corunner():
    """Small matmuls on all cores with PyTorch's own threads, until killed."""
    import torch

    torch.set_num_threads(os.cpu_count())
    a, b = torch.randn(64, 64), torch.randn(64, 64)
    while True:
        torch.mm(a, b)


def measure(kind: str, processes: int, seconds: float, threads: int | None, beside: bool) -> float:
    command = [sys.executable, __file__, "--worker", kind, "--seconds", str(seconds)]
    if threads:
        command += ["--threads", str(threads)]
    background = subprocess.Popen([sys.executable, __file__, "--corunner"]) if beside else None
    try:
        if background:
            time.sleep(1.0)  # the job is running before the timing starts
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
        medians = [float(r.communicate()[0].split()[-1]) for r in runs]
    finally:
        if background:
            background.kill()
            background.wait()
    return statistics.median(medians)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per process and condition")
    parser.add_argument("--threads", type=int, help="threads of both implementations (default: all cores)")
    parser.add_argument("--rounds", type=int, default=3, help="repeat each condition; the median is shown")
    parser.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--corunner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.corunner:
        return corunner()
    if args.worker:
        return worker(args.worker, args.seconds, args.threads)
    for kind in KINDS[:2]:
        measure(kind, 1, 0.1, args.threads, False)  # warm the kernel cache first
    conditions = [("quiet", 1, False), ("beside a PyTorch matmul job", 1, True), ("2 processes", 2, False),
                  ("4 processes", 4, False)]
    times = {}
    for _ in range(args.rounds):  # rounds interleave the conditions: a burst of other load hits all alike
        for name, processes, beside in conditions:
            for kind in KINDS:
                times.setdefault((name, kind), []).append(measure(kind, processes, args.seconds, args.threads,
                                                                  beside))
    rows = []
    for name, _, _ in conditions:
        row = [name]
        for kind in KINDS:
            ms, quiet = statistics.median(times[(name, kind)]), statistics.median(times[("quiet", kind)])
            row += [f"{ms:.4f}", f"{ms / quiet:.1f}x"]
        rows.append(row)
    print(f"batch-1 forward of a small MNIST model, {os.cpu_count()} cores, threads {args.threads or 'all'}; "
          f"median ms per call (median of {args.rounds} rounds); load average {os.getloadavg()[0]:.1f}")
    print("| condition | shapeproof (ms) | vs quiet | shapeproof, every kernel parallel (ms) | vs quiet "
          "| PyTorch eager (ms) | vs quiet |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
