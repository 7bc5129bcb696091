"""Compose the layers' element formulas along a model: one expression per model output element.

Note: composition is substitution. An operand for a layer's input, asked for the element at some
index, calls the producing layer's `element()` at that index, down to the model inputs (SymPy
`IndexedBase`s), so the formula of a model output is written in its inputs and weights only.
A recurrence is the exception: its state is a sequence `A.lstm.h(b, o, t)` (an undefined function
of the state index and the step), defined by one cell step that `Recurrence.cell` builds on demand;
the prover compares cells and inducts over time instead of unrolling T steps.

Weights are `IndexedBase`s named `SIDE.layer.weight` (`A.conv1d.kernel`), states `SIDE.layer.h`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from ..graph import Model
from .canonical import CANONICAL


class Names:
    """Fresh index symbols within one comparison (both models share it: no name is reused)."""

    def __init__(self):
        self.used: set[str] = set()

    def fresh(self, base: str) -> sympy.Symbol:
        if base.startswith(CANONICAL) or not base:
            base = "i" + base  # m0, m1, ... are the canonical names of bound indices
        name, n = base, 1
        sep = "_" if base[-1].isdigit() else ""
        while name in self.used:
            n += 1
            name = f"{base}{sep}{n}"
        self.used.add(name)
        return sympy.Symbol(name, integer=True)

    def reserve(self, name: str) -> sympy.Symbol:
        self.used.add(name)
        return sympy.Symbol(name, integer=True)


class Operand:
    """A layer's input as its element formula sees it: sizes, elements, fresh indices (see analyzer/indexing.py)."""

    def __init__(self, shape: tuple, read, composition: Composition, node: str = ""):
        self.shape, self.read, self.composition, self.node = tuple(shape), read, composition, node

    def __call__(self, *idx):
        return self.read(*idx)

    def index(self, base: str) -> sympy.Symbol:
        return self.composition.names.fresh(base)

    def view(self, shape: tuple, read) -> Operand:
        """Another operand over the same composition (TimeDistributed folds time into the batch)."""
        return Operand(shape, read, self.composition, self.node)

    def recurrence(self, layer, weights: list, key: str = "") -> list:
        """The state sequences of `layer` recurring over this operand's axis 1."""
        return self.composition.recurrence(self, layer, weights, key)


@dataclass
class Recurrence:
    """One recurrence in a model: its state sequences and what defines them."""

    label: str  # node name (+ ":forward"/":backward" in Bidirectional)
    layer: object
    weights: list
    x: Operand  # (batch, T, *spatial, C)
    states: list  # undefined functions s(*state index, step)
    state_shape: tuple
    order: int  # position of its node in the model

    @property
    def steps(self):
        return self.x.shape[1]

    def cell(self, sidx: tuple, t) -> list:
        """Each state at `sidx` and step t, from the input at step t and the states at t - 1."""
        x, steps = self.x, self.steps
        at = steps - 1 - t if self.layer.go_backwards else t
        x_t = x.view((x.shape[0], *x.shape[2:]), lambda b, *rest: x(b, at, *rest))
        previous = [x.view(self.state_shape, lambda *i, s=s: s(*i, t - 1)) for s in self.states]
        return self.layer.cell_element(x_t, previous, self.weights, tuple(sidx))


@dataclass
class Composition:
    """The element formulas of one model, its weights and inputs as IndexedBases."""

    model: Model
    side: str  # "A" or "B"
    names: Names
    inputs: dict  # input name -> IndexedBase
    weights: dict = field(default_factory=dict)  # node name -> [IndexedBase] in weights() order
    recurrences: dict = field(default_factory=dict)  # label -> Recurrence

    def __post_init__(self):
        self.nodes = {n.name: n for n in self.model.nodes}
        self.position = {n.name: k for k, n in enumerate(self.model.nodes)}
        for node in self.model.nodes:
            seen: dict = {}
            bases = []
            for w in node.weights:  # Bidirectional: kernel, ..., then the backward layer's kernel_2, ...
                seen[w.name] = seen.get(w.name, 0) + 1
                suffix = f"_{seen[w.name]}" if seen[w.name] > 1 else ""
                bases.append(sympy.IndexedBase(f"{self.side}.{node.name}.{w.name}{suffix}"))
            self.weights[node.name] = bases
        self.input_shapes = {i.name: i.shape for i in self.model.inputs}

    def weight_list(self) -> list:
        """[(node, Weight, IndexedBase)] in the model's get_weights() order."""
        return [(node, w, base) for node in self.model.nodes for w, base in zip(node.weights, self.weights[node.name])]

    def value(self, ref) -> Operand:
        producer, index = ref
        if producer in self.input_shapes:
            base = self.inputs[producer]
            return Operand(self.input_shapes[producer], lambda *i: base[i], self)
        node = self.nodes[producer]
        return Operand(node.output_shapes[index], lambda *i: self.element(node, i, index), self, producer)

    def element(self, node, idx, output: int = 0):
        layer = node.layer
        if layer.inputs == "many":
            x = [self.value(r) for r in node.input_refs]
            for operand in x:
                operand.node = node.name
        else:
            x = self.value(node.input_refs[0])
            x.node = node.name
        return layer.element(x, self.weights[node.name], tuple(idx), output)

    def output(self, k: int, idx: tuple):
        """Model output k at index idx."""
        return self.value(self.model.output_refs[k])(*idx)

    def output_shape(self, k: int) -> tuple:
        return self.model.output_shapes[k]

    def recurrence(self, x: Operand, layer, weights: list, key: str) -> list:
        label = x.node + key
        if label not in self.recurrences:
            state_shape = layer.state_shape(x.shape)
            names = ("h", "c")[:layer.states]
            states = [sympy.Function(f"{self.side}.{label}.{n}") for n in names]
            self.recurrences[label] = Recurrence(label, layer, weights, x, states, state_shape,
                                                 self.position.get(x.node, 0))
        return self.recurrences[label].states


def output_indices(names: Names, shape: tuple, prefix: str = "i") -> tuple:
    """Index symbols for an element of a tensor of `shape`: b, i1, i2, ..."""
    return (names.fresh("b"),) + tuple(names.fresh(f"{prefix}{k}") for k in range(1, len(shape)))
