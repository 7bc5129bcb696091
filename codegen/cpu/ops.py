"""CPU kernels of the tensor operations that are not element-wise (analyzer/layers/ops.py): reductions
(sum, mean, max, min over some axes) and matmul. The element-wise ones are printed from their element
formulas (codegen/elements.py); reshape, transpose and concatenate share the Reshape, Permute and
Concatenate kernels.

Reductions: one task per output element, a loop nest over the reduced axes (the last reduced axis
innermost). Matmul: one task per row of the output (leading index, m), accumulating k-by-k whole rows
of `b` into the output row, so that the inner loop runs along contiguous memory of both.
"""
from __future__ import annotations

from ..lowering import reduction_lines, unravel
from ..writer import Writer
from .base import Site, kernel


@kernel("sum", "mean", "max", "min")
def reduction(site: Site, w: Writer):
    """out[kept axes] = the reduction of x over its reduced axes."""
    layer = site.layer
    rank = len(site.x)
    kept = [a for a in range(rank) if a not in layer.axes]
    dims = [site.xd(a) for a in range(rank)]
    w.line("flat_out = out.reshape(-1)")
    w.line("n_out = " + " * ".join(dims[a] for a in kept))
    with w.block("for o in prange(n_out)"):
        names = unravel(w, "o", [dims[a] for a in kept], [f"k{a}" for a in kept])
        w.line(f"flat_out[o] = {reduction_lines(w, layer, dict(zip(kept, names)), dims, '-np.inf')}")


@kernel("matmul")
def matmul(site: Site, w: Writer):
    """out[..., m, n] = Σ_k a[..., m, k] · b[..., k, n], leading axes broadcast (size 1 read at 0)."""
    a_shape, b_shape = site.inputs
    rank = len(site.y)
    lead = [site.yd(i) for i in range(rank - 2)]
    rows = site.yd(rank - 2)
    w.line("n_rows = " + " * ".join([*lead, rows]))
    with w.block("for q in prange(n_rows)"):
        names = unravel(w, "q", [*lead, rows], [*(f"l{i}" for i in range(rank - 2)), "m"])

        def leading(shape, array):
            return [("0" if str(site.dim(array, shape, i)) == "1" else names[i]) for i in range(rank - 2)]

        a_lead, b_lead = leading(a_shape, "x0"), leading(b_shape, "x1")
        w.line(f"row = out[{', '.join(names)}]")
        with w.block(f"for n in range({site.yd(rank - 1)})"):
            w.line("row[n] = ZERO")
        with w.block(f"for k in range({site.xd(rank - 1, 0)})"):
            w.line(f"s = x0[{', '.join(a_lead)}, m, k]")
            w.line(f"brow = x1[{', '.join(b_lead)}, k]")
            with w.block(f"for n in range({site.yd(rank - 1)})"):
                w.line("row[n] += s * brow[n]")
