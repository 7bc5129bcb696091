"""Equivalence prover speed: every case of examples/equivalences.nn (and the seed models), timed.

    .venv/bin/python benchmarks/equivalence.py

For each pair: the verdict, the time of the first decision in this process (`first`: SymPy's caches
cold for that pair's expressions) and the median of REPEAT further decisions (`warm`), each a whole
`decide()` call: composition, normalisation, candidate maps, the numeric witness (and, for
refutations, the counterexample search and the inclusion proofs). The target is < 2 s for every
"must prove" case. Also the wall time of `shapeproof check examples/equivalences.nn` in a fresh
process (imports included).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shapeproof import analyzer
from shapeproof.analyzer.equivalence import decide

REPEAT = 3
TARGET = 2.0
EXAMPLES = ROOT / "examples" / "equivalences.nn"


def cases():
    """(label, A model, B model, relation, must prove?) for every model assertion of the examples."""
    program = analyzer.load(EXAMPLES)
    for a in program.syntax.assertions:
        if hasattr(a.left, "name") and hasattr(a.right, "name") and not hasattr(a.left, "args"):
            yield (f"{a.left.name} {a.op} {a.right.name}", program.models[a.left.name],
                   program.models[a.right.name], a.op, a.op == "==")
    seeds = analyzer.load(ROOT / "examples" / "seeds.nn", set={"n_features": "N"})
    yield ("ConvModel == FCModel (seeds, n_features=N)", seeds.models["ConvModel"], seeds.models["FCModel"], "==", True)
    seeds = analyzer.load(ROOT / "examples" / "seeds.nn")
    yield ("ConvModel == FCModel (seeds, n_features=1000)", seeds.models["ConvModel"], seeds.models["FCModel"], "==", True)


def timed(a, b, relation):
    start = time.perf_counter()
    result = decide(a, b, relation)
    return time.perf_counter() - start, result


def main():
    rows = []
    for label, a, b, relation, must_prove in cases():
        first, result = timed(a, b, relation)
        warm = statistics.median(timed(a, b, relation)[0] for _ in range(REPEAT))
        verdict = result.verdict + (f" ({result.level})" if result.level else "")
        rows.append((label, verdict, "yes" if result.holds else "NO", first, warm, must_prove))
    width = max(len(r[0]) for r in rows)
    print(f"{'assertion':<{width}}  {'verdict':<26} {'holds':>5}  {'first':>7}  {'warm':>7}")
    for label, verdict, holds, first, warm, must_prove in rows:
        flag = "  > 2 s!" if must_prove and max(first, warm) > TARGET else ""
        print(f"{label:<{width}}  {verdict:<26} {holds:>5}  {first:6.2f}s  {warm:6.2f}s{flag}")
    slowest = max(max(r[3], r[4]) for r in rows if r[5])
    print(f"\nslowest 'must prove' case: {slowest:.2f} s (target < {TARGET:.0f} s)")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "shapeproof", "check", str(EXAMPLES)], cwd=ROOT,
                   capture_output=True, check=False)
    print(f"`shapeproof check examples/equivalences.nn` (fresh process, every assertion): "
          f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
