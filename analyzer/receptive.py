"""Receptive fields: how many positions of each model-input axis one output element depends on.

Note: the state is one `Axis` per spatial/temporal axis of the model's inputs (for a float input
`(batch, *spatial, channels)`, the middle axes; for an integer token input `(batch, L)`, the L axis).
Each records the receptive field `size`, the `jump` (distance in input positions between two
neighbouring positions of the current tensor along that axis), `pos`, the axis of the current tensor
whose index still tells which positions an element depends on, and `folded`: whether that axis
carries the input axis as a position (windows slide along it) or mixed into features (Flatten,
Reshape, or a layer that combines the whole axis: Dense on the last axis, whatever it holds after a
Permute). A layer that combines all of an axis (`mix`) makes every input axis it carries depend on
all positions: size `oo`, shown as "all". Reduced axes (global pooling) have `pos` None: every
element depends on all of them. Size 0 means the tensor does not depend on that input at all
(another input's branch).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sympy

ALL = sympy.oo


@dataclass(frozen=True)
class Axis:
    size: sympy.Expr
    jump: sympy.Expr
    pos: int | None
    folded: bool = False


class RF(tuple):
    """A tuple of Axis, one per spatial axis of all model inputs, in input order."""

    @classmethod
    def of_input(cls, shape, integer: bool, index: int, ranks: list[tuple[int, bool]]) -> "RF":
        """The state of model input `index`: its own axes size 1, every other input's axes size 0."""
        axes = []
        for i, (rank, is_int) in enumerate(ranks):
            positions = range(1, rank) if is_int else range(1, rank - 1)
            for p in positions:
                one = i == index
                axes.append(Axis(sympy.Integer(1 if one else 0), sympy.Integer(1), p if one else None))
        return cls(axes)

    def sizes(self) -> list:
        return [a.size for a in self]

    def _map(self, f) -> "RF":
        return RF(f(a) if a.size != 0 else a for a in self)

    def window(self, windows: dict) -> "RF":
        """Sliding windows `{pos: (reach, stride)}` (convolutions, pooling); reach = dilation*(k-1)+1."""

        def step(a):
            if a.pos in windows and not a.folded and a.size != ALL:
                reach, stride = windows[a.pos]
                return Axis(a.size + (reach - 1) * a.jump, a.jump * stride, a.pos)
            return a

        return self._map(step)

    def upsample(self, factors: dict) -> "RF":
        """Each input position repeated `factor` times along `pos` (UpSampling)."""
        return self._map(lambda a: replace(a, jump=a.jump / factors[a.pos]) if a.pos in factors and not a.folded
                         else a)

    def mix(self, pos: int) -> "RF":
        """Tensor axis `pos` is combined whole (Dense on the last axis, a convolution's channels, a
        recurrence's features, normalisation statistics): what it carries depends on all positions."""
        return self._map(lambda a: replace(a, size=ALL, folded=True) if a.pos == pos else a)

    def reduce(self, positions) -> "RF":
        """Axes at `positions` are reduced over entirely (global pooling, recurrence over time)."""
        return self._map(lambda a: Axis(ALL, a.jump, None, True) if a.pos in positions else a)

    def fold(self, first: int) -> "RF":
        """Axes from `first` on are folded into one feature axis at `first` (Flatten, Reshape)."""
        return self._map(lambda a: replace(a, pos=first, folded=True) if a.pos is not None and a.pos >= first else a)

    def move(self, mapping: dict) -> "RF":
        """Renumber axes: `mapping[old_pos] = new_pos` (positions not in it stay)."""
        return self._map(lambda a: replace(a, pos=mapping.get(a.pos, a.pos)) if a.pos is not None else a)

    @staticmethod
    def merge(states: list["RF"]) -> "RF":
        """Element-wise merge of branches from the same inputs: the union of dependencies."""
        first = states[0]
        merged = []
        for axes in zip(*states):
            size = sympy.Max(*(a.size for a in axes))
            carrier = next((a for a in axes if a.size != 0), axes[0])
            if len({a.pos for a in axes if a.size != 0}) > 1:
                # the axis at different places in the branches (matmul(q, transpose(k))): an output
                # element reads positions that are not one window, at any distance from each other
                size = ALL
            merged.append(Axis(size, carrier.jump, carrier.pos, carrier.folded))
        return RF(merged) if states else first
