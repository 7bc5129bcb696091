"""CPU kernels of the merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate.

Element-wise merges broadcast as Keras does: an input of lower rank gets size-1 axes right after
the batch axis (a reshaped view), and a size-1 axis is read at index 0. Inputs of the output's
shape take one flat loop. Concatenate copies each input's contiguous rows into its place.
"""
from __future__ import annotations


from ..writer import Writer
from .base import Site, extent, kernel

def names(site: Site) -> list[str]:
    return site.args()[:len(site.inputs)]


@kernel("Concatenate", "concatenate")
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
