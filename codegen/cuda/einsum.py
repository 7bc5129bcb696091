"""CUDA kernels of EinsumDense: an equation that is a matrix product of reshaped operands (the layer's
matmul_form) runs Dense's tiled GEMM on the views; any other, one thread per
output element summing over the contracted letters."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from ..activations import LAST_AXIS
from ..lowering import einsum_element
from ..writer import Writer
from .base import CudaSite, kernel
from .core import dense, finish
from .templates import last_axis_pass, pointwise


@kernel("EinsumDense")
def einsum_dense(site: CudaSite, k: Writer, f: Writer):
    layer = site.layer
    plan = layer.matmul_form(site.x)
    if plan is not None:
        lead, depth, width = plan
        # A last-axis activation (softmax) runs over the output's last axis, not the GEMM's N: after it.
        shim = SimpleNamespace(units=width, use_bias=bool(layer.bias_axes), lora_rank=None,
                               activation=None if layer.activation in LAST_AXIS else layer.activation)
        views = [f"{site.weight('kernel')}.reshape({depth}, {width})"]
        if layer.bias_axes:
            views.append(f"{site.weight('bias')}.reshape({width})")
        dense(replace(site, layer=shim, inputs=[(*site.x[:lead], depth)], outputs=[(*site.y[:lead], width)],
                      wvars=views), k, f)
        last_axis_pass(site, f, layer.activation, site.outs[0], site.yd(-1))
        return
    _threads(site, k, f)


def _threads(site: CudaSite, k: Writer, f: Writer):
    layer, x, y = site.layer, site.x, site.y
    bias = bool(layer.bias_axes)

    def body(w: Writer, names: list[str]):
        at_x, at_k, at_b = einsum_element(layer, x, names)
        summed = layer.summed()
        w.line("v = ZERO")
        for c in summed:
            w.open(f"for s_{c} in range({site.xd(layer._in_position(x, c))})")
        w.line(f"v += x[{at_x}] * kernel[{at_k}]")
        w.close(len(summed))
        if bias:
            w.line(f"v += bias[{at_b}]")
        for line in finish(layer, None, ""):
            w.line(line)
        w.line(f"out[{', '.join(names)}] = v")

    weights = [site.weight("kernel"), *([site.weight("bias")] if bias else [])]
    pointwise(site, k, f, site.fn, ["x", "kernel", *(["bias"] if bias else []), "out"],
              [site.ins[0], *weights, site.outs[0]], [site.yd(a) for a in range(len(y))], body)
    last_axis_pass(site, f, layer.activation, site.outs[0], site.yd(-1))
