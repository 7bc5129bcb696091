"""Which CPU kernels open a parallel region: decided per kernel from the layer's work size.

Note: small work runs serially. Opening a parallel region costs about 1-2 us on a quiet machine,
but when other processes keep the cores busy each region waits for every worker thread to be
scheduled again: a 0.06 ms batch-1 forward took 48 ms beside a PyTorch job doing small matmuls.
A kernel whose work (its MACs, or its output elements when larger) is below SERIAL_WORK therefore
runs without one:
- work known statically and small: the kernel is compiled without `parallel` (its `prange` loops run
  as `range`, and it compiles about twice as fast);
- work that depends on a free size (the batch) and is small at size 1: the kernel gets a last
  parameter `serial`, which forward computes from the sizes (`batch * 2048 < SERIAL_WORK`), and
  its body twice: once with `range` loops under `if serial:`, once with `prange` loops;
- otherwise (large even at size 1): parallel, as before.
SERIAL_WORK is where the measured serial and parallel times of a Dense kernel cross at batch 1 on
2 quiet cores (README, "Threads and load"): 16k MACs 4.7 vs 5.3 us, 65k MACs 7.7 vs 6.2 us.
"""
from __future__ import annotations

import re

import sympy
from shapeproof.analyzer.exprs import py

SERIAL_WORK = 1 << 16

PARALLEL, SERIAL, BRANCH = "parallel", "serial", "branch"


def work(node) -> sympy.Expr:
    """The kernel's work: its MACs, or its output elements when that is more (pooling, elementwise)."""
    elements = sum((sympy.Mul(*s) for s in node.output_shapes), sympy.Integer(0))
    return sympy.Max(sympy.sympify(node.macs), elements)


def schedule(node) -> str:
    """PARALLEL, SERIAL or BRANCH (decided at run time from the sizes) for the node's kernel."""
    amount = work(node)
    if amount.is_number:
        return SERIAL if amount < SERIAL_WORK else PARALLEL
    least = amount.subs({s: 1 for s in amount.free_symbols})
    return PARALLEL if least >= SERIAL_WORK else BRANCH


def serial_test(node) -> str:
    """Forward's source for the `serial` argument of a BRANCH kernel."""
    return f"{py(work(node))} < {SERIAL_WORK}"


HELPER = re.compile(r"@njit\(cache=True, parallel=PARALLEL, fastmath=FASTMATH\)\ndef (\w+)\(")


def serial_helpers(prelude: str) -> tuple[str, list[str]]:
    """Serial copies (`<name>_serial`) of the prelude's parallel helpers (softmax over the last axis, ...),
    to append to it, and the helpers' names: a serial kernel calls those instead."""
    copies, names = [], []
    for block in prelude.split("\n\n\n"):
        found = HELPER.search(block)
        if found:
            names.append(found[1])
            copies.append(block.rstrip("\n").replace("parallel=PARALLEL, ", "").replace("prange(", "range(")
                          .replace(f"def {found[1]}(", f"def {found[1]}_serial("))
    return "".join(f"\n\n{c}\n" for c in copies), names


def serial_body(lines: list[str], helpers: list[str]) -> list[str]:
    """A kernel body with `range` loops and the serial copies of the prelude's helpers."""
    calls = re.compile(r"\b(" + "|".join(map(re.escape, helpers)) + r")\(") if helpers else None
    result = []
    for line in lines:
        line = line.replace("prange(", "range(")
        result.append(calls.sub(r"\1_serial(", line) if calls else line)
    return result


def branch_body(lines: list[str], helpers: list[str]) -> list[str]:
    """A kernel body (indented one level) as `if serial:` its serial_body, `else:` the prange loops."""
    def indented(line):
        return "    " + line if line.strip() else line

    serial = [indented(line) for line in serial_body(lines, helpers)]
    return ["    if serial:", *serial, "    else:", *(indented(line) for line in lines)]
