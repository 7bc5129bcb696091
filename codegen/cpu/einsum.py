"""CPU kernels of EinsumDense. An equation that is a matrix product once the operands are reshaped
(`abc,cd->abd`, `abc,cde->abde`, `...b,bc->...c`: the input's leading axes pass through, its trailing
axes are summed against the kernel's leading axes, the kernel's other axes end the output, and a bias,
if any, spans exactly those) runs Dense's blocked GEMM on the 2-D views. Any other equation loops over
the output's elements (the leading axes flattened into a prange), summing over the contracted letters
innermost."""
from __future__ import annotations

import re
from dataclasses import replace
from types import SimpleNamespace

import sympy

from ..lowering import einsum_element
from ..writer import Writer
from .activations import element, last_axis_pass
from .base import Site, kernel
from .core import dense, outer_positions


@kernel("EinsumDense")
def einsum_dense(site: Site, w: Writer):
    layer = site.layer
    plan = layer.matmul_form(site.x)
    if plan is not None:
        _as_dense(site, w, *plan)
    else:
        _loops(site, w)


def _as_dense(site: Site, w: Writer, lead: int, k: sympy.Expr, n: sympy.Expr):
    """Dense's GEMM on x viewed as (rows, K), the kernel as (K, N), the bias as (N,)."""
    layer = site.layer
    shim = SimpleNamespace(units=n, use_bias=bool(layer.bias_axes), lora_rank=None, activation=layer.activation)
    flat = replace(site, layer=shim, inputs=[(*site.x[:lead], k)], outputs=[(*site.y[:lead], n)])
    body = Writer()
    body.level = w.level
    dense(flat, body)
    w.line(f"kernel2d = kernel.reshape({k}, {n})")
    if layer.bias_axes:
        w.line(f"bias1d = bias.reshape({n})")
    for line in body.lines:
        w.lines.append(re.sub(r"\bbias\[", "bias1d[", re.sub(r"\bkernel\[", "kernel2d[", line)))


def _loops(site: Site, w: Writer):
    """out[o] = act(Σ x[...]·kernel[...] + bias[...]): one task per position of the output's leading axes."""
    layer, x, y = site.layer, site.x, site.y
    w.line(f"n_outer = {' * '.join(site.yd(a) for a in range(len(y) - 1)) or '1'}")
    with w.block("for q in prange(n_outer)"):
        names = outer_positions(site, w, y, "out") + ["j"]
        at_x, at_k, at_b = einsum_element(layer, x, names)
        summed = layer.summed()
        with w.block(f"for j in range({site.yd(-1)})"):
            w.line("v = ZERO")
            for c in summed:  # the input's order: its last (contiguous) axis innermost
                w.open(f"for s_{c} in range({site.xd(layer._in_position(x, c))})")
            w.line(f"v += x[{at_x}] * kernel[{at_k}]")
            w.close(len(summed))
            if at_b is not None:
                w.line(f"v += bias[{at_b}]")
            act = element(layer.activation, "v")
            if act not in ("v", "(v)"):
                w.line(f"v = {act}")
            w.line(f"out[{', '.join(names)}] = v")
    after = last_axis_pass(layer.activation, "out")
    if after:
        w.line(after)
