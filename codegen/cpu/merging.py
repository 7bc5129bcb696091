"""CPU kernels of the merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate.

Element-wise merges broadcast as Keras does: an input of lower rank gets size-1 axes right after
the batch axis (a reshaped view), and a size-1 axis is read at index 0. Inputs of the output's
shape take one flat loop. Concatenate copies each input's contiguous rows into its place.
"""
from __future__ import annotations

import sympy

from ..lowering import combine
from ..writer import Writer
from .base import Site, extent, kernel
from .core import outer_positions

def names(site: Site) -> list[str]:
    return site.args()[:len(site.inputs)]


@kernel("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
def elementwise(site: Site, w: Writer):
    kind = site.layer.kind
    xs = names(site)
    out_shape = site.y
    rank = len(out_shape)
    aligned = [(s[0], *[1] * (rank - len(s)), *s[1:]) for s in site.inputs]
    if all(len(a) == rank and all(sympy.sympify(d - e) == 0 for d, e in zip(a, out_shape)) for a in aligned):
        for i, x in enumerate(xs):
            w.line(f"f{i} = {x}.reshape(-1)")
        w.line("yf = out.reshape(-1)")
        with w.block("for i in prange(yf.shape[0])"):
            w.line("yf[i] = " + combine(kind, [f"f{i}[i]" for i in range(len(xs))]))
        return
    views = []
    for i, (x, shape, al) in enumerate(zip(xs, site.inputs, aligned)):
        if len(shape) == rank:
            views.append(x)
            continue
        dims = [site.dim(x, shape, 0)] + ["1"] * (rank - len(shape)) + \
               [site.dim(x, shape, a) for a in range(1, len(shape))]
        w.line(f"a{i} = {x}.reshape({', '.join(dims)})")
        views.append(f"a{i}")
    w.line(f"n_outer = {extent(site, out_shape, 'out', 0, rank - 1)}")
    with w.block("for q in prange(n_outer)"):
        coords = outer_positions(site, w, out_shape, "out") + ["j"]
        with w.block(f"for j in range({site.yd(-1)})"):
            reads = []
            for view, al in zip(views, aligned):
                index = ["0" if sympy.sympify(d) == 1 else c for d, c in zip(al, coords)]
                reads.append(f"{view}[{', '.join(index)}]")
            w.line(f"out[{', '.join(coords)}] = {combine(kind, reads)}")


@kernel("Concatenate")
def concatenate(site: Site, w: Writer):
    xs = names(site)
    rank = len(site.y)
    axis = int(site.layer.axis) % rank
    # Every input and the output as (outer, axis * inner): each input fills a column range per row.
    w.line(f"n_outer = {extent(site, site.y, 'out', 0, axis)}")
    w.line("yr = out.reshape(n_outer, -1)")
    for i, x in enumerate(xs):
        w.line(f"r{i} = {x}.reshape(n_outer, -1)")
    offset = ""
    with w.block("for o in prange(n_outer)"):
        for i in range(len(xs)):
            with w.block(f"for j in range(r{i}.shape[1])"):
                w.line(f"yr[o, {offset}j] = r{i}[o, j]")
            offset += f"r{i}.shape[1] + "
