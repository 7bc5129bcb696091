"""What an emitter is given about one layer application, shared by the CPU and CUDA targets.

A `Site` holds the layer (its checked arguments), its input and output shapes as SymPy dims, its
weights and its DSL line, and helpers that print a dimension as source.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from shapeproof.analyzer.graph import Node
from shapeproof.analyzer.layers import Layer
from shapeproof.analyzer.layers.conv import padding_before

from shapeproof.analyzer.exprs import product, py


@dataclass
class Site:
    """One layer application, as an emitter sees it."""

    layer: Layer
    fn: str  # the kernel function's name
    inputs: list[tuple]  # one shape per input array
    outputs: list[tuple]  # one shape per output array
    weights: list  # analyzer Weight objects (names and shapes)
    text: str  # the DSL line, for the comment above the kernel
    helpers: list[str] = field(default_factory=list)  # extra @njit functions this kernel needs
    packs: dict = field(default_factory=dict)  # weight -> (NumPy source lines making `packed` from `w`, its shape)
    epilogue: list = field(default_factory=list)  # CPU: layers computed in this kernel's stores (cpu/epilogue.py)

    @classmethod
    def of(cls, node: Node, fn: str) -> "Site":
        shapes = node.input_shapes if isinstance(node.input_shapes, list) else [node.input_shapes]
        return cls(node.layer, fn, [tuple(s) for s in shapes], [tuple(s) for s in node.output_shapes],
                   node.weights, node.text)

    @property
    def x(self) -> tuple:
        """The (first) input shape."""
        return self.inputs[0]

    @property
    def y(self) -> tuple:
        """The (first) output shape."""
        return self.outputs[0]

    def args(self) -> list[str]:
        """The kernel's parameter names: inputs, weights, outputs."""
        xs = ["x"] if len(self.inputs) == 1 else [f"x{i}" for i in range(len(self.inputs))]
        ws = [w.name for w in self.weights]
        ys = ["out"] if len(self.outputs) == 1 else [f"out{i}" for i in range(len(self.outputs))]
        return xs + _unique(ws) + ys

    def pack(self, weight: str, body: list[str], shape: tuple):
        """Have the kernel's parameter `weight` hold a re-laid-out copy: `body` (NumPy source making
        `packed` from `w`, the weight as Keras lays it out) runs once when the weights are set, not
        per call. The CPU target only (codegen/cpu/module.py writes the packing functions)."""
        self.packs[weight] = (body, tuple(shape))

    def dim(self, array: str, shape: tuple, axis: int) -> str:
        """Axis `axis` of `shape` as source: a literal when concrete, else `array.shape[axis]`."""
        d = sympy.sympify(shape[axis])
        return py(d) if d.is_number else f"{array}.shape[{axis if axis >= 0 else len(shape) + axis}]"

    def padding_before(self, axis: int, kernel: int, stride: int, dilation: int = 1, padding: str = "") -> str:
        """Zero cells before input axis `axis` (the layer's padding unless given), printed from the
        analyzer's formula: a literal when the input length is concrete, else in terms of xd(axis)."""
        return py(padding_before(self.size(self.x, axis, self.xd(axis)), kernel, stride, dilation,
                                 padding or self.layer.padding))

    def size(self, shape: tuple, axis: int, source: str) -> sympy.Expr:
        """Axis `axis` of `shape` for a formula to be printed into the kernel: the number when concrete,
        else a symbol standing for its `source` text (the CPU reads it off an array's shape)."""
        d = sympy.sympify(shape[axis])
        return d if d.is_number else sympy.Symbol(source, integer=True, positive=True)

    def xd(self, axis: int, i: int = 0) -> str:
        """An input dimension as source (input `i`)."""
        name = "x" if len(self.inputs) == 1 else f"x{i}"
        return self.dim(name, self.inputs[i], axis)

    def yd(self, axis: int, i: int = 0) -> str:
        """An output dimension as source (output `i`)."""
        name = "out" if len(self.outputs) == 1 else f"out{i}"
        return self.dim(name, self.outputs[i], axis)

    def arg(self, name: str) -> int:
        """A layer argument as a Python int (analysis made every argument concrete)."""
        return int(getattr(self.layer, name))

    def ints(self, name: str) -> tuple[int, ...]:
        return tuple(int(v) for v in getattr(self.layer, name))


def _unique(names: list[str]) -> list[str]:
    """Weight names as parameters: a second `kernel` (Bidirectional's backward layer) gets `kernel_1`."""
    seen: dict[str, int] = {}
    result = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        result.append(n if k == 0 else f"{n}_{k}")
    return result


def extent(site: Site, shape: tuple, array: str, start: int, stop: int | None = None) -> str:
    """The product of axes start..stop-1 of an array as source ("1" if none): literal factors folded,
    a symbolic one read where the target reads it (the CPU off `array`'s shape)."""
    stop = len(shape) if stop is None else stop
    return product([site.size(shape, a, site.dim(array, shape, a)) for a in range(start, stop)])


def rows(site: Site, shape: tuple, array: str, upto: int) -> str:
    """The product of the first `upto` axes of an array as source (literal factors folded)."""
    return extent(site, shape, array, 0, upto)
