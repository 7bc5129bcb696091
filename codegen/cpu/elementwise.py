"""CPU kernels of the pointwise and per-channel layers, printed from their element formulas
(codegen/elements.py): a loop nest over the output, parallel over all axes but the last; per-axis
tables computed once before it; one flat loop when every read is at the output's own index."""
from __future__ import annotations

import sympy

from ..elements import ELEMENT_KINDS, ValuePrinter, element_form, flat_reads, without_last_axis_activation
from ..lowering import unravel
from ..writer import Writer
from .activations import last_axis_pass
from .base import Site, kernel


@kernel(*ELEMENT_KINDS, reads_sizes="all")  # literal sizes gain nothing here: a division per row
def elementwise(site: Site, w: Writer):
    """out[i0, ..., in] = the layer's element formula at that index."""
    layer, activation = without_last_axis_activation(site.layer)
    names = site.args()
    xs, weights = names[:len(site.inputs)], names[len(site.inputs):-1]
    inputs = [(x, tuple(site.size(s, a, site.xd(a, i)) for a in range(len(s))))
              for i, (x, s) in enumerate(zip(xs, site.inputs))]
    form = element_form(layer, inputs, weights, len(site.y))
    p = ValuePrinter(w)
    flat = flat_reads(form, {x: f"{x}_flat" for x in xs}, site.inputs, site.y)
    if flat is not None:
        for x in xs:
            w.line(f"{x}_flat = {x}.reshape(-1)")
        w.line("out_flat = out.reshape(-1)")
        with w.block("for i0 in prange(out_flat.shape[0])"):
            w.line(f"out_flat[i0] = {p.value(flat)}")
    else:
        _loop_nest(site, w, p, form)
    after = last_axis_pass(activation, "out") if activation else None
    if after:
        w.line(after)


def _loop_nest(site: Site, w: Writer, p: ValuePrinter, form):
    tables = {}
    for name, expr, axis in form.bindings:
        if axis is None:
            w.line(f"{name} = {p.value(expr)}")
            continue
        i = form.index[axis]
        w.line(f"{name} = np.empty({site.yd(axis)}, dtype=DT)")
        with w.block(f"for {i} in range({site.yd(axis)})"):
            w.line(f"{name}[{i}] = {p.value(expr)}")
        tables[name] = sympy.IndexedBase(name.name)[i]
    value = form.value.xreplace(tables)
    rank = len(site.y)
    dims = [site.yd(a) for a in range(rank)]
    idx = ", ".join(i.name for i in form.index)
    if rank == 1:
        with w.block(f"for i0 in prange({dims[0]})"):
            w.line(f"out[i0] = {p.value(value)}")
        return
    w.line("n_outer = " + " * ".join(dims[:-1]))
    with w.block("for flat in prange(n_outer)"):
        unravel(w, "flat", dims[:-1], "i")
        with w.block(f"for i{rank - 1} in range({dims[-1]})"):
            w.line(f"out[{idx}] = {p.value(value)}")
