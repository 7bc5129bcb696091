"""CUDA kernels of the tensor operations that are not element-wise (analyzer/layers/ops.py):
reductions (sum, mean, max, min over some axes) and matmul, one thread per output element. The
element-wise operations are printed from their element formulas (codegen/elements.py); reshape,
transpose and concatenate share the Reshape, Permute and Concatenate kernels.
"""
from __future__ import annotations

from ..lowering import reduction_lines
from ..writer import Writer
from .base import CudaSite, kernel
from .templates import pointwise, wrap


@kernel("sum", "mean", "max", "min")
def reduction(site: CudaSite, k: Writer, f: Writer):
    """out[kept axes] = the reduction of x over its reduced axes (a loop nest per thread)."""
    layer = site.layer
    rank = len(site.x)
    kept = [a for a in range(rank) if a not in layer.axes]
    dims = [site.xd(a) for a in range(rank)]

    def body(w: Writer, idx: list[str]):
        value = reduction_lines(w, layer, dict(zip(kept, idx)), [wrap(d) for d in dims], "NEG_INF")
        w.line(f"out_flat[{_flat(idx, [dims[a] for a in kept])}] = {value}")

    pointwise(site, k, f, site.fn, ["x", "out_flat"], [site.ins[0], f"{site.outs[0]}.reshape(-1)"],
              [dims[a] for a in kept], body)


def _flat(idx: list[str], dims: list[str]) -> str:
    """The row-major flat index of `idx` over `dims` (source)."""
    text = idx[0]
    for i, d in zip(idx[1:], dims[1:]):
        text = f"({text}) * {wrap(d)} + {i}"
    return text


@kernel("matmul")
def matmul(site: CudaSite, k: Writer, f: Writer):
    """out[..., m, n] = Σ_k a[..., m, k] · b[..., k, n], leading axes broadcast (size 1 read at 0)."""
    a_shape, b_shape = site.inputs
    rank = len(site.y)

    def body(w: Writer, idx: list[str]):
        def leading(shape, i):
            return ["0" if site.xd(j, i) == "1" else idx[j] for j in range(rank - 2)]

        m, n = idx[-2], idx[-1]
        w.line("acc = ZERO")
        with w.block(f"for j in range({wrap(site.xd(rank - 1, 0))})"):
            w.line(f"acc += x0[{', '.join([*leading(a_shape, 0), m, 'j'])}] * "
                   f"x1[{', '.join([*leading(b_shape, 1), 'j', n])}]")
        w.line(f"out[{', '.join(idx)}] = acc")

    pointwise(site, k, f, site.fn, ["x0", "x1", "out"], [*site.ins, site.outs[0]],
              [site.yd(a) for a in range(rank)], body)
