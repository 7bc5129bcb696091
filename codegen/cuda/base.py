"""The CUDA kernel registry and what an emitter is given.

Note: one layer kind, one emitter. A family module registers an emitter per layer kind:

    @kernel("Dense")
    def dense(site: CudaSite, k: Writer, f: Writer):
        ...   # k: module-level kernels (`@cuda.jit def ...`); f: the lines of `forward` that launch them

Unlike the CPU target, `forward` is host Python: it binds the free sizes from the inputs' shapes,
allocates every activation on the device and launches the kernels. Every kernel takes the model's
free sizes first (`site.symbols`), so a dimension prints the same in a kernel and in `forward`:
a literal when concrete, an expression over the sizes otherwise. `site.ins`, `site.wvars` and
`site.outs` are the forward variables holding the layer's inputs, weights and outputs. An emitter
registered with `allocates=True` assigns its outputs itself (a reshape view, an identity), else
`forward` allocates them before the emitter's lines.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy

from shapeproof.analyzer.exprs import py
from ..site import Site

EMITTERS: dict[str, Callable[..., None]] = {}


def kernel(*kinds: str, allocates: bool = False):
    """Register a CUDA emitter for layer kinds."""

    def register(fn):
        for kind in kinds:
            assert kind not in EMITTERS, f"two CUDA emitters for {kind}"
            EMITTERS[kind] = fn
        fn.allocates = allocates
        return fn

    return register


@dataclass
class CudaSite(Site):
    """A layer application as a CUDA emitter sees it (see the module docstring)."""

    symbols: list[str] = field(default_factory=list)  # the model's free sizes, every kernel's first parameters
    ins: list[str] = field(default_factory=list)  # forward variables of the inputs
    wvars: list[str] = field(default_factory=list)  # forward variables of the weights (device arrays)
    outs: list[str] = field(default_factory=list)  # forward variables of the outputs
    scratch_key: str = ""  # prefix for this layer's scratch buffers

    def dim(self, array: str, shape: tuple, axis: int) -> str:
        """A dimension as source: a literal, or an expression over the free sizes (kernel parameters)."""
        return py(shape[axis])

    def size(self, shape: tuple, axis: int, source: str) -> sympy.Expr:
        """The dimension itself: CUDA kernels take the free sizes as parameters."""
        return sympy.sympify(shape[axis])

    def sizes(self) -> str:
        """The free sizes as the leading kernel parameters/arguments (`batch, T, `), or ''."""
        return "".join(f"{s}, " for s in self.symbols)

    def weight(self, name: str) -> str:
        """The forward variable of weight `name` (`kernel`, `bias`, ...)."""
        names = [w.name for w in self.weights]
        return self.wvars[names.index(name)]

    def sub(self, layer, fn: str, inputs: list, outputs: list, weights: list, ins: list, wvars: list, outs: list,
            key: str = "") -> CudaSite:
        """A site for a wrapped layer (TimeDistributed, Bidirectional) with its own variables."""
        return CudaSite(layer, fn, inputs, outputs, weights, self.text, symbols=self.symbols, ins=ins,
                        wvars=wvars, outs=outs, scratch_key=key or fn)
