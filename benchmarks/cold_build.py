"""Cold and warm builds of the generated CPU kernels: real architectures and the benchmark models.

    KERAS_BACKEND=torch .venv/bin/python benchmarks/cold_build.py [--models ResNet50:64,Xception:80]
        [--processes 1,2] [--no-small]

For each keras.applications model at its side (random weights, imported with `shapeproof import`)
and each model of benchmarks/models.nn: build + first call (batch 1) in a fresh process from an
empty kernel cache, once per compile-process count (SHAPEPROOF_COMPILE_PROCESSES), then warm (a
fresh process, the cache filled), with the peak memory of the building process (VmHWM: ru_maxrss
would carry this script's own over the fork) and, when it started any, of its largest compile child
(ru_maxrss, which starts from the builder's size at the fork: an upper bound). Prints a Markdown table
(the README's). Run it on a quiet machine: the compile processes share its cores with anything else.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

DEFAULT = "ResNet50:64,Xception:80,DenseNet121:64,MobileNetV2:64,EfficientNetB0:64"
SMALL = ROOT / "benchmarks" / "models.nn"

# One build in a fresh process: seconds to build + first call, then peak RSS (MB) of it and of its children.
BUILD = """
import resource, sys, time
t = time.perf_counter()
import numpy as np
from shapeproof import analyzer, codegen
model = analyzer.load(sys.argv[1]).models[sys.argv[2]]
net = codegen.build(model)
net.random_weights()
net(*[np.zeros([1] + [int(d) for d in i.shape[1:]], dtype=np.float32 if i.dtype.startswith("float") else i.dtype)
      for i in model.inputs])
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(time.perf_counter() - t, peak / 1024, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def build_once(spec: Path, model: str, cache: Path, processes: int) -> tuple[float, float, float]:
    env = {**os.environ, "SHAPEPROOF_CACHE": str(cache), "SHAPEPROOF_COMPILE_PROCESSES": str(processes)}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", BUILD, str(spec), model], env=env, capture_output=True, text=True,
                         check=True)
    seconds, rss, children = (float(v) for v in out.stdout.split()[-3:])
    return seconds, rss, children


def imported(name: str, side: int, folder: Path) -> tuple[Path, str]:
    """keras.applications `name` at side x side (random weights), imported: (spec path, model name)."""
    import keras
    from keras import applications as A

    from shapeproof.keras.importer import import_to_file

    keras.backend.clear_session()
    model = getattr(A, name)(weights=None, input_shape=(side, side, 3), classifier_activation=None)
    archive, spec = folder / f"{name}.keras", folder / f"{name}.nn"
    model.save(archive)
    result = import_to_file(str(archive), str(spec))
    return spec, next(iter(result.program.models))


def row(label: str, spec: Path, model: str, processes: list[int], folder: Path) -> str:
    cells = []
    for n in processes:
        cache = folder / f"cache-{label}-{n}"
        seconds, rss, children = build_once(spec, model, cache, n)
        cells.append(f"{seconds:.1f} s ({rss:,.0f} MB" + (f" + {children:,.0f} MB" if children > 100 else "") + ")")
    warm, _, _ = build_once(spec, model, folder / f"cache-{label}-{processes[-1]}", processes[-1])
    return f"| {label} | " + " | ".join(cells) + f" | {warm:.2f} s |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=DEFAULT, help=f"NAME:SIDE,... (default {DEFAULT})")
    parser.add_argument("--processes", default="1,2", help="compile-process counts to compare (default 1,2)")
    parser.add_argument("--no-small", action="store_true", help="leave out benchmarks/models.nn")
    args = parser.parse_args()
    processes = [int(p) for p in args.processes.split(",")]
    print(f"`{' '.join(['benchmarks/cold_build.py', *sys.argv[1:]])}`, {os.cpu_count()} cores\n")
    print("| model | " + " | ".join(f"cold, {n} process{'es' * (n > 1)} (peak RSS)" for n in processes) + " | warm |")
    print("|---|" + "---:|" * (len(processes) + 1))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for item in args.models.split(",") if args.models else []:
            name, side = item.split(":")
            spec, model = imported(name, int(side), folder)
            print(row(f"{name} {side}×{side}", spec, model, processes, folder), flush=True)
        if not args.no_small:
            from shapeproof import analyzer

            for model in analyzer.load(SMALL).models:
                print(row(model, SMALL, model, processes, folder), flush=True)


if __name__ == "__main__":
    main()
