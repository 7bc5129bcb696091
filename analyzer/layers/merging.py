"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, and InceptionResNetV2's
CustomScaleLayer (a + b·scale).

Element-wise merges follow Keras's Merge._compute_elemwise_op_output_shape: shapes (without the
batch axis) are aligned at their last axis, a size-1 axis broadcasts, any other sizes must be
equal, and a shorter shape broadcasts over the leading axes of a longer one. Two symbolic sizes
that differ are taken to be equal (a constraint): whether one of them is 1 is not known.
"""
from __future__ import annotations

import sympy

from .base import AnyInt, Constraint, Float, Layer, format_shape, layer
from .. import indexing as ix
from ..lazy import np


def require_equal(layer: Layer, a, b, shapes, axis: int, constraints: list, hint: str):
    """Record that sizes `a` and `b` on `axis` must be equal: an error if they provably differ,
    a constraint if that depends on the symbols. Returns the size to keep (the concrete one if any)."""
    condition = sympy.Eq(a, b)
    if condition is sympy.true:
        return a
    name = layer.keras_class
    if condition is sympy.false:
        raise layer.error(f"{name} cannot combine shapes {' and '.join(format_shape(s) for s in shapes)}: "
                          f"axis {axis} is {a} in one and {b} in the other", hint=hint)
    constraints.append(Constraint(condition, f"{name} needs axis {axis} of its inputs to match, "
                                             f"but it is {a} in one and {b} in the other"))
    return b if b.is_number else a


class Merge(Layer):
    """Shared by the merges: a list of input shapes in, one shape out; no weights."""

    inputs = "many"
    arity: int | None = None  # the exact number of inputs, where Keras fixes it

    def check_input(self, x):
        if not x:
            raise self.error(f"{self.kind} needs at least one input", hint=f"write `y = {self.kind}()([a, b])`")
        if self.arity is not None and len(x) != self.arity:
            raise self.error(f"{self.kind} takes exactly {self.arity} inputs, got {len(x)}",
                             hint=f"write `y = {self.kind}()([a, b])`; chain several for more")
        self.merged(x)

    def output_shape(self, x):
        return self.merged(x)[0]

    def constraints(self, x):
        return self.merged(x)[1]

    def equal(self, a, b, shapes, axis: int, constraints: list, hint: str):
        return require_equal(self, a, b, shapes, axis, constraints, hint)

    def merged(self, x) -> tuple[tuple, list[Constraint]]:
        """(output shape, constraints)."""
        raise NotImplementedError


class Elementwise(Merge):
    """Shared by the element-wise merges: broadcast shapes as Keras does."""

    def merged(self, x):
        constraints = []
        hint = ("element-wise merges need equal sizes (or 1) on every axis; "
                "use Concatenate to join them, or a Dense to match the feature sizes")
        batch = x[0][0]
        for shape in x[1:]:
            batch = self.equal(batch, shape[0], [x[0], shape], 0, constraints, hint)
        out = tuple(x[0][1:])
        for shape in x[1:]:
            out = self.broadcast(out, tuple(shape[1:]), batch, constraints, hint)
        return (batch, *out), constraints

    def broadcast(self, first, second, batch, constraints, hint):
        """Keras's element-wise output shape of two shapes without batch axis."""
        longer, shorter = (first, second) if len(first) >= len(second) else (second, first)
        lead = len(longer) - len(shorter)
        out = list(longer[:lead])
        for axis, (a, b) in enumerate(zip(longer[lead:], shorter), start=lead + 1):
            if a == 1:
                out.append(b)
            elif b == 1:
                out.append(a)
            else:
                out.append(self.equal(a, b, [(batch, *first), (batch, *second)], axis, constraints, hint))
        return tuple(out)

    def aligned(self, x) -> list:
        """The inputs as Keras's Merge.call has them: when ranks differ, each shorter one gets new
        size-1 axes inserted right after the batch axis (expand_dims at axis 1) up to the longest
        rank, so shapes align at their last axis; NumPy broadcasting then does the rest."""
        rank = max(a.ndim for a in x)
        return [a.reshape(a.shape[0], *[1] * (rank - a.ndim), *a.shape[1:]) for a in x]

    def combine(self, a, b):
        """The binary operation folded left to right over the inputs."""
        raise NotImplementedError

    def element(self, x, w, idx, output=0):
        values = [operand(*ix.broadcast_index(operand.shape, idx)) for operand in x]
        y = values[0]
        for v in values[1:]:
            y = self.combine_element(y, v)
        return y

    def combine_element(self, a, b):
        """The binary operation on two elements (formulas)."""
        return self.combine(a, b)

    def reference(self, x, w):
        x = self.aligned(x)
        y = x[0]
        for a in x[1:]:
            y = self.combine(y, a)
        return y


@layer("Add")
class Add(Elementwise):
    """Add(): [a, b, ...] -> a + b + ... (broadcast shapes)."""

    def combine(self, a, b):
        return a + b


@layer("Subtract")
class Subtract(Elementwise):
    """Subtract(): [a, b] -> a - b (broadcast shapes); exactly two inputs."""

    arity = 2

    def combine(self, a, b):
        return a - b


@layer("Multiply")
class Multiply(Elementwise):
    """Multiply(): [a, b, ...] -> a * b * ... (broadcast shapes)."""

    def combine(self, a, b):
        return a * b


@layer("Average")
class Average(Elementwise):
    """Average(): [a, b, ...] -> their mean (broadcast shapes)."""

    def combine(self, a, b):
        return a + b

    def element(self, x, w, idx, output=0):
        return super().element(x, w, idx) / len(x)

    def reference(self, x, w):
        return super().reference(x, w) / len(x)  # Keras: the sum, then divided by the count


@layer("Maximum")
class Maximum(Elementwise):
    """Maximum(): [a, b, ...] -> their element-wise maximum (broadcast shapes)."""

    def combine(self, a, b):
        return np.maximum(a, b)

    def combine_element(self, a, b):
        return sympy.Max(a, b)


@layer("Minimum")
class Minimum(Elementwise):
    """Minimum(): [a, b, ...] -> their element-wise minimum (broadcast shapes)."""

    def combine(self, a, b):
        return np.minimum(a, b)

    def combine_element(self, a, b):
        return sympy.Min(a, b)


@layer("CustomScaleLayer", scale=Float())
class CustomScaleLayer(Elementwise):
    """CustomScaleLayer(scale) (keras.applications.inception_resnet_v2's residual): [a, b] -> a + b·scale."""

    arity = 2

    def element(self, x, w, idx, output=0):
        a, b = (operand(*ix.broadcast_index(operand.shape, idx)) for operand in x)
        return a + b * sympy.Float(self.scale)

    def reference(self, x, w):
        a, b = self.aligned(x)
        return (a + b * a.dtype.type(self.scale)).astype(a.dtype)


@layer("Concatenate", axis=AnyInt(-1))
class Concatenate(Merge):
    """Concatenate(axis=-1): inputs equal on every axis but `axis`, joined along it."""

    def validate(self):
        if not self.axis.is_number:
            raise self.error(f"Concatenate axis must be a literal integer, got {self.axis}", "axis",
                             "axis is an axis number, not a size, e.g. axis=-1")

    def merged(self, x):
        rank = len(x[0])
        hint = "Concatenate joins inputs that agree on every axis except the one joined along"
        for shape in x[1:]:
            if len(shape) != rank:
                raise self.error(f"Concatenate needs inputs of one rank, got {format_shape(x[0])} and "
                                 f"{format_shape(shape)}", hint=hint)
        if not -rank <= self.axis < rank:
            raise self.error(f"Concatenate axis {self.axis} is out of range for rank-{rank} inputs "
                             f"{format_shape(x[0])}", "axis",
                             f"axes run from 0 to {rank - 1}, or -1 (the last) to -{rank}")
        axis = int(self.axis) % rank
        constraints = []
        out = list(x[0])
        for shape in x[1:]:
            for i in range(rank):
                if i == axis:
                    out[i] += shape[i]
                else:
                    out[i] = self.equal(out[i], shape[i], [x[0], shape], i, constraints, hint)
        return tuple(out), constraints

    # receptive field: each output element is one input element (the graph merged the states).

    def element(self, x, w, idx, output=0):
        axis = int(self.axis) % len(idx)
        pieces, offset = [], sympy.Integer(0)
        for operand in x:
            at = (*idx[:axis], idx[axis] - offset, *idx[axis + 1:])
            offset += operand.shape[axis]
            pieces.append((operand(*at), idx[axis] <= offset - 1))
        return sympy.Piecewise(*pieces[:-1], (pieces[-1][0], True))

    def reference(self, x, w):
        return np.concatenate(x, axis=int(self.axis))
