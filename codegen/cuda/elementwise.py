"""CUDA kernels of the pointwise and per-channel layers, printed from their element formulas
(codegen/elements.py): one thread per output element; the per-axis parts computed in the thread
(a few flops against a memory-bound read); flat indexing when every read is at the output's own index."""
from __future__ import annotations

from ..elements import ELEMENT_KINDS, ValuePrinter, element_form, flat_reads, without_last_axis_activation
from shapeproof.analyzer.exprs import product
from ..writer import Writer
from .base import CudaSite, kernel
from .templates import last_axis_pass, pointwise


@kernel(*ELEMENT_KINDS)
def elementwise(site: CudaSite, k: Writer, f: Writer):
    """out[i0, ..., in] = the layer's element formula at that index."""
    layer, activation = without_last_axis_activation(site.layer)
    names = site.args()
    xs, weights = names[:len(site.inputs)], names[len(site.inputs):-1]
    form = element_form(layer, list(zip(xs, site.inputs)), weights, len(site.y))
    flat = flat_reads(form, {x: x for x in xs}, site.inputs, site.y)

    def body(w: Writer, idx: list[str]):
        p = ValuePrinter(w)
        for name, expr, _ in form.bindings:
            w.line(f"{name} = {p.value(expr)}")
        w.line(f"out[{', '.join(idx)}] = {p.value(form.value if flat is None else flat)}")

    args = [*site.ins, *site.wvars, site.outs[0]]
    if flat is not None:
        pointwise(site, k, f, site.fn, [*xs, "out"], [f"{a}.reshape(-1)" for a in [*site.ins, site.outs[0]]],
                  [product(site.y)], body)
    else:
        pointwise(site, k, f, site.fn, [*xs, *weights, "out"], args, [site.yd(a) for a in range(len(site.y))],
                  body)
    last_axis_pass(site, f, activation, site.outs[0], site.yd(-1))
