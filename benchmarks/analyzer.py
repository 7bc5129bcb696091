"""Analyzer speed: `shapeproof report` vs Keras `summary()`, and analysis time of long stacks.

    .venv/bin/python benchmarks/analyzer.py          (or: make bench)

1. Wall time of the whole command `shapeproof report examples/seeds.nn` (a fresh process, imports
   included) against a fresh process that imports Keras, builds the same models and calls
   `summary()` on each. Keras needs concrete sizes, so its free symbols are set to small values;
   shapeproof keeps them symbolic. The two run in turn, REPEAT times each after one run not counted
   (so that a busy machine slows both alike); minimum and median of each.
2. In-process analysis time of generated stacks of 10, 100 and 1,000 layers, with the sequence
   length symbolic (T) and concrete (T=4096).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shapeproof import analyzer  # noqa: E402

REPEAT = 10  # runs of each whole command
ANALYSIS_REPEAT = 5  # in-process analyses of each stack
SEEDS = ROOT / "examples" / "seeds.nn"
KERAS_SIZES = {"T": 4, "H": 8, "W": 8, "C": 3, "F": 4, "k": 3, "u": 8, "n_features": 1000}

KERAS_SCRIPT = f"""
import os, io, contextlib
os.environ.setdefault("KERAS_BACKEND", "torch")
from shapeproof import analyzer
from shapeproof.keras.export import build_keras
program = analyzer.load({str(SEEDS)!r}, set={KERAS_SIZES!r})
with contextlib.redirect_stdout(io.StringIO()):
    for model in program.models.values():
        keras_model, _ = build_keras(model)
        keras_model.summary()
"""

PATTERN = ['Conv1D(16, 3, padding="same", activation="relu")', "BatchNormalization()", "Dense(16)",
           'Conv1D(16, 3)', 'Activation("tanh")']


def stack(layers: int) -> str:
    body = [f"    {PATTERN[i % len(PATTERN)]}" for i in range(layers)]
    return "model Stack(batch, T):\n    input (batch, T, 16)\n" + "\n".join(body) + "\n"


def wall_times(commands: list[list[str]]) -> list[list[float]]:
    """Wall times of each command, run in turn (A B A B ...), the first round not counted."""
    times: list[list[float]] = [[] for _ in commands]
    for i in range(REPEAT + 1):
        for cmd, found in zip(commands, times):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
                           env={**os.environ, "KERAS_BACKEND": "torch"})
            if i > 0:
                found.append(time.perf_counter() - start)
    return times


def median_analysis(source: str, set: dict | None) -> float:
    times = []
    for _ in range(ANALYSIS_REPEAT):
        start = time.perf_counter()
        analyzer.loads(source, set=set)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    shapeproof = [str(Path(sys.executable).parent / "shapeproof"), "report", str(SEEDS)]
    ours, keras = wall_times([shapeproof, [sys.executable, "-c", KERAS_SCRIPT]])
    print(f"| command | wall time (s), min | median, {REPEAT} runs |")
    print("|---|---:|---:|")
    print(f"| `shapeproof report examples/seeds.nn` (symbolic) | {min(ours):.2f} | {statistics.median(ours):.2f} |")
    print(f"| Keras 3 (torch backend): build the same {len(analyzer.load(SEEDS).models)} models + `summary()` | "
          f"{min(keras):.2f} | {statistics.median(keras):.2f} |")
    print(f"| ratio (Keras / shapeproof) | {min(keras) / min(ours):.1f}x | "
          f"{statistics.median(keras) / statistics.median(ours):.1f}x |")
    print()
    print("| layers | symbolic T (ms) | concrete T=4096 (ms) | ms per layer (symbolic) |")
    print("|---:|---:|---:|---:|")
    for n in (10, 100, 1000):
        source = stack(n)
        symbolic = median_analysis(source, None)
        concrete = median_analysis(source, {"T": 4096})
        print(f"| {n:,} | {symbolic * 1e3:.0f} | {concrete * 1e3:.0f} | {symbolic * 1e3 / n:.2f} |")


if __name__ == "__main__":
    main()
