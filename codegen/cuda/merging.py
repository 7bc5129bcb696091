"""CUDA kernels of the merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate; one thread per output element.

Element-wise merges broadcast as Keras does (see analyzer/layers/merging.py): an input of lower rank
gets size-1 axes right after the batch axis (a reshaped view), and an axis of size 1 is read at
index 0. When every input has the output's shape, one flat index serves them all. Concatenate views
the inputs and the output as (outer, row) with `outer` the axes before the joined one: each input
fills one column range of the output's rows.
"""
from __future__ import annotations

import sympy

from shapeproof.analyzer.exprs import product, py
from ..writer import Writer
from .base import CudaSite, kernel
from .templates import pointwise, wrap


@kernel("Concatenate", "concatenate")
def concatenate(site: CudaSite, k: Writer, f: Writer):
    """out[o, j] = the input whose column range holds j, at column j less the range's start."""
    rank = len(site.y)
    axis = int(site.layer.axis) % rank
    outer = product(site.y[:axis])
    widths = [sympy.Mul(*shape[axis:]) for shape in site.inputs]
    xs = [f"x{i}" for i in range(len(site.inputs))]

    def body(w: Writer, idx: list[str]):
        o, j = idx
        start = sympy.Integer(0)
        for i, (x, width) in enumerate(zip(xs, widths)):
            end = start + width
            column = j if start == 0 else f"{j} - {wrap(py(start))}"
            copy = f"out[{o}, {j}] = {x}[{o}, {column}]"
            if len(xs) == 1:
                w.line(copy)
            else:
                last = i == len(xs) - 1
                with w.block("else" if last else f"{'elif' if i else 'if'} {j} < {py(end)}"):
                    w.line(copy)
            start = end

    pointwise(site, k, f, site.fn, [*xs, "out"],
              [f"{var}.reshape({outer}, {py(width)})" for var, width in zip(site.ins, widths)] +
              [f"{site.outs[0]}.reshape({outer}, {product(site.y[axis:])})"], [outer, product(site.y[axis:])], body)
