"""EinsumDense: y = activation(einsum(equation, x, kernel) + bias), with Keras 3's shape rules.

Note: Keras's `_analyze_einsum_string` (keras/src/layers/core/einsum_dense.py) decides the weights.
The equation is `in,kernel->out` over letters, with `...` leading both the input and the output
(`...b,bc->...c`) or trailing them (`ab...,bc->ac...`, the input spelling at least two letters). Keras
builds a "full output shape" F: the input's batch size, then (left ellipsis) the input's ellipsis axes
after the first, then the given `output_shape`, then (right ellipsis) the input's ellipsis axes; the
output's letter i sits at F[i] (F[i + E] with a left ellipsis of E axes). A kernel letter takes its
size from F when it is an output letter, else from the input; a bias covers the output letters from
the first one in `bias_axes` to the last (1 for those not in it, and 1 per trailing ellipsis axis).
Letters of the input missing from both the kernel and the output are summed, as np.einsum does.

Keras's symbolic output shape is F itself, with None where `output_shape` says None; the shape here is
the one Keras's predict returns: an output letter of the input has the input's size there.
"""
from __future__ import annotations

import re

import sympy

from ..activations import activate
from ..errors import ShapeproofError
from .. import indexing as ix
from ..lazy import np
from ..values import is_integer
from .base import Activation, Anything, Constraint, Ignored, Kind, Layer, Weight, _describe, format_shape, layer

FORMS = "ab,bc->ac, ...b,bc->...c or ab...,bc->ac..."
BATCH = object()  # the batch axis in Keras's full output shape (None there: no weight can take it)


class PartialShape(Kind):
    """EinsumDense's `output_shape`: an integer, or a tuple/list of integers and None (Keras's partial
    shape of the output, without the batch axis and the ellipsis). Stored as `partial_output_shape`
    (as Keras does): `output_shape` is a method of every layer."""

    describe = "a positive integer or a tuple of positive integers and None"
    attribute = "partial_output_shape"

    def convert(self, value):
        items = list(value) if isinstance(value, (tuple, list)) else [value]
        for item in items:
            if item is not None and not is_integer(item):
                raise ShapeproofError(f"expected {self.describe}, got {_describe(item)}",
                                      hint='e.g. output_shape=(None, 64): None where the input gives the size')
        sizes = tuple(None if v is None else sympy.sympify(v) for v in items)
        if any(v is not None and v.is_number and v < 1 for v in sizes):
            raise ShapeproofError("output_shape sizes must be positive (or None)")
        return sizes


def parse_equation(equation: str):
    """(input letters, kernel letters, output letters, ellipsis "left"/"right"/None) as Keras reads
    the equation, or None when it is none of Keras's three forms."""
    text = equation.replace("...", "0")
    for pattern, where in (("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", None),
                           ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", "left"),
                           ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", "right")):
        match = re.fullmatch(pattern, text)
        if match:
            return (*match.groups(), where)
    return None


@layer("EinsumDense", equation=Anything(), output_shape=PartialShape(), activation=Activation(),
       bias_axes=Anything(None), kernel_initializer=Ignored(), bias_initializer=Ignored(),
       kernel_regularizer=Ignored(), bias_regularizer=Ignored(), activity_regularizer=Ignored(),
       kernel_constraint=Ignored(), bias_constraint=Ignored(), quantization_config=Ignored())
class EinsumDense(Layer):
    """EinsumDense(equation, output_shape, activation=None, bias_axes=None): einsum(equation, x, kernel)
    (+ bias over `bias_axes`, then the activation), e.g. EinsumDense("abc,cde->abde", (None, 4, 16))."""

    def validate(self):
        example = 'e.g. EinsumDense("abc,cd->abd", output_shape=(None, 64), bias_axes="d")'
        if not isinstance(self.equation, str):
            raise self.error(f"EinsumDense equation must be a string, got {_describe(self.equation)}", "equation",
                             example)
        parsed = parse_equation(self.equation)
        if parsed is None:
            raise self.error(f"invalid einsum equation {self.equation!r}", "equation",
                             f"Keras's EinsumDense takes the forms {FORMS} (letters a-z, A-Z)")
        self.spec_in, self.spec_kernel, self.spec_out, self.ellipsis = parsed
        for what, spec in (("input", self.spec_in), ("kernel", self.spec_kernel), ("output", self.spec_out)):
            twice = sorted({c for c in spec if spec.count(c) > 1})
            if twice:
                raise self.error(f"letter {twice[0]!r} appears twice in the {what} {spec!r} of {self.equation!r} "
                                 "(a diagonal or a repeated axis): not supported", "equation",
                                 "give every axis of an operand its own letter")
        for c in self.spec_out:
            if c not in self.spec_in and c not in self.spec_kernel:
                raise self.error(f"output letter {c!r} of {self.equation!r} is in neither the input "
                                 f"{self.spec_in!r} nor the kernel {self.spec_kernel!r}", "equation",
                                 "every output axis comes from the input or from the kernel")
        for c in self.spec_kernel:
            if c not in self.spec_in and c not in self.spec_out:
                raise self.error(f"kernel letter {c!r} of {self.equation!r} is in neither the input "
                                 f"{self.spec_in!r} nor the output {self.spec_out!r}", "equation",
                                 "Keras sizes each kernel axis from the input or the output_shape")
        if self.bias_axes is not None:
            if not isinstance(self.bias_axes, str) or not self.bias_axes:
                raise self.error(f"bias_axes must be a non-empty string of output letters, got "
                                 f"{_describe(self.bias_axes)}", "bias_axes",
                                 f"e.g. bias_axes={self.spec_out[-1]!r}; None for no bias")
            for c in self.bias_axes:
                if c not in self.spec_out:
                    raise self.error(f"bias axis {c!r} is not a letter of the output {self.spec_out!r}", "bias_axes",
                                     f"bias_axes lists output letters, e.g. {self.spec_out[-1]!r}")

    # --- Keras's shape analysis ---------------------------------------------------------------

    def _elided(self, x) -> int:
        return len(x) - len(self.spec_in) if self.ellipsis else 0

    def check_input(self, x):
        ins = self.spec_in
        elided = len(x) - len(ins)
        if self.ellipsis is None and elided != 0:
            raise self.error(f"the equation's input {ins!r} has {len(ins)} axes but the input {format_shape(x)} has "
                             f"{len(x)}", "equation", "one letter per input axis, batch included (or use ...)")
        if elided < 0:
            raise self.error(f"the equation's input {ins!r} has {len(ins)} axes, more than the input "
                             f"{format_shape(x)}", "equation", "one letter per input axis after the ellipsis")
        if not (self.ellipsis == "left" and elided > 0):
            # The batch axis is the input's first letter: it must stay the output's first axis, and no
            # weight can take its size (Keras builds weights of unknown size None there).
            if self.spec_out[0] != ins[0]:
                raise self.error(f"the input's first letter {ins[0]!r} is the batch axis: the output "
                                 f"{self.spec_out!r} must start with it", "equation",
                                 f"e.g. {ins},{self.spec_kernel}->{ins[0]}{self.spec_out.replace(ins[0], '')}")
        full = self._full(x)
        if len(full) != len(self.spec_out) + elided:
            need = len(self.spec_out) + elided - (len(full) - len(self.partial_output_shape))
            raise self.error(f"output_shape {format_shape(self.partial_output_shape)} has "
                             f"{len(self.partial_output_shape)} entries; {self.equation!r} on an input of rank "
                             f"{len(x)} needs {need}", "output_shape",
                             "one size (or None) per output axis, without the batch axis"
                             + (" and the ellipsis" if self.ellipsis else ""))
        for c in self.spec_kernel:
            if c in self.spec_out:
                self._given(x, c, "kernel")
        for c in self.bias_axes or "":
            self._given(x, c, "bias")

    def _full(self, x) -> list:
        """Keras's full output shape: BATCH, the sizes it takes from the input, the given ones (None)."""
        elided = self._elided(x)
        given = list(self.partial_output_shape)
        if self.ellipsis == "left":
            return [BATCH, *x[1:elided], *given]
        return [BATCH, *given, *(x[len(x) - elided:] if self.ellipsis == "right" else ())]

    def _out_position(self, x, c) -> int:
        """Where output letter `c` is in the full output shape."""
        return self.spec_out.index(c) + (self._elided(x) if self.ellipsis == "left" else 0)

    def _in_position(self, x, c) -> int:
        return self.spec_in.index(c) + (self._elided(x) if self.ellipsis == "left" else 0)

    def _given(self, x, c, weight: str):
        """The size Keras gives a weight axis of output letter `c` (from its full output shape)."""
        size = self._full(x)[self._out_position(x, c)]
        if size is BATCH:
            raise self.error(f"{weight} axis {c!r} would be the batch axis (Keras builds the {weight} with an unknown "
                             "size None there and fails)", "bias_axes" if weight == "bias" else "equation",
                             "no weight can span the batch axis")
        if size is None:
            raise self.error(f"{weight} axis {c!r} takes its size from output_shape, which gives None there (Keras "
                             f"cannot build the {weight})", "output_shape",
                             f"give the size of {c!r} in output_shape, e.g. the input's")
        return size

    def _sizes(self, x) -> dict:
        """Every letter's size (an output letter of the input: the input's, as einsum computes it)."""
        sizes = {c: x[self._in_position(x, c)] for c in self.spec_in}
        for c in self.spec_out:
            if c not in sizes:
                sizes[c] = self._given(x, c, "kernel")
        return sizes

    def _ellipsis_axes(self, x) -> tuple:
        elided = self._elided(x)
        if self.ellipsis == "left":
            return tuple(x[:elided])
        return tuple(x[len(x) - elided:]) if elided else ()

    def output_shape(self, x):
        sizes = self._sizes(x)
        letters = tuple(sizes[c] for c in self.spec_out)
        if self.ellipsis == "left":
            return (*self._ellipsis_axes(x), *letters)
        return (*letters, *self._ellipsis_axes(x))

    def constraints(self, x):
        full, out = self._full(x), []
        for c in self.spec_out:
            given = full[self._out_position(x, c)]
            if c in self.spec_in and given is not None and given is not BATCH:
                size = x[self._in_position(x, c)]
                out.append(Constraint(sympy.Eq(given, size), f"output_shape gives {given} for {c!r} but the input has "
                                      f"{size} there", "output_shape",
                                      f"an output letter of the input keeps its size: give {size} or None"))
        return out

    def kernel_shape(self, x) -> tuple:
        sizes = self._sizes(x)
        return tuple(self._given(x, c, "kernel") if c in self.spec_out else sizes[c] for c in self.spec_kernel)

    def bias_letters(self) -> str:
        """The output letters the bias spans (Keras: from the first bias letter on)."""
        return self.spec_out[min(self.spec_out.index(c) for c in self.bias_axes):]

    def bias_shape(self, x) -> tuple:
        shape = tuple(self._given(x, c, "bias") if c in self.bias_axes else sympy.Integer(1)
                      for c in self.bias_letters())
        return shape + (sympy.Integer(1),) * (self._elided(x) if self.ellipsis == "right" else 0)

    def weights(self, x):
        bias = [Weight("bias", self.bias_shape(x))] if self.bias_axes else []
        return [Weight("kernel", self.kernel_shape(x)), *bias]

    def summed(self) -> str:
        """The letters summed over: those of the input or the kernel missing from the output."""
        letters = self.spec_in + "".join(c for c in self.spec_kernel if c not in self.spec_in)
        return "".join(c for c in letters if c not in self.spec_out)

    def macs(self, x):
        sizes = self._sizes(x)
        return sympy.Mul(*self.output_shape(x)) * sympy.Mul(*(sizes[c] for c in self.summed()))

    def matmul_form(self, x) -> tuple | None:
        """(leading axes kept, K, N) when the einsum is (rows, K) @ (K, N) on row-major reshapes of its
        operands, the bias (if any) an (N,) vector; else None. The input's leading axes pass through,
        its trailing ones are summed against the kernel's leading ones, and the kernel's other axes end
        the output in the kernel's order (`abc,cd->abd`, `abc,cde->abde`, `...b,bc->...c`). The kernels
        run Dense's GEMM then."""
        if self.ellipsis == "right":
            return None
        ins, ker, out = self.spec_in, self.spec_kernel, self.spec_out
        passed = "".join(c for c in out if c in ins)
        made = "".join(c for c in out if c not in ins)
        summed = "".join(c for c in ins if c not in out)
        if any(c in ker for c in passed) or any(c not in ker for c in summed):
            return None  # per-position weights, or input axes summed without the kernel
        if ins != passed + summed or ker != summed + made or out != passed + made:
            return None
        if self.bias_axes and (self.bias_letters() != made or any(c not in self.bias_axes for c in made)):
            return None  # a bias broadcast over some of the kernel's output axes
        shape = self.kernel_shape(x)
        return len(x) - len(summed), sympy.Mul(*shape[:len(summed)]), sympy.Mul(*shape[len(summed):])

    # --- receptive field, element formula, reference ------------------------------------------

    def receptive_field(self, x, rf):
        # A summed axis is combined whole; the others (the ellipsis, output letters of the input)
        # only move to their place in the output.
        elided = self._elided(x)
        moves, reduced = {}, []
        for c in self.spec_in:
            pos = self._in_position(x, c)
            if c in self.spec_out:
                moves[pos] = self._out_position(x, c)
            else:
                reduced.append(pos)
        if self.ellipsis == "right":
            moves.update({len(self.spec_in) + k: len(self.spec_out) + k for k in range(elided)})
        return rf.reduce(reduced).move(moves)

    def element(self, x, w, idx, output=0):
        """out[o] = act(Σ_summed x[...]·kernel[...] + bias[...]), each operand indexed by its letters."""
        elided = self._elided(x.shape)
        sizes = self._sizes(x.shape)
        left = self.ellipsis == "left"

        def pre(last):
            at = (*idx[:-1], last)
            ell = at[:elided] if left else at[len(at) - elided:] if elided else ()
            letters = at[elided:] if left else at[:len(self.spec_out)]
            index = dict(zip(self.spec_out, letters))
            limits = []
            for c in self.summed():
                index[c] = x.index(c)
                limits.append((index[c], 0, sizes[c] - 1))
            xs = tuple(index[c] for c in self.spec_in)
            term = x(*ell, *xs) if left else x(*xs, *ell)
            term = term * w[0][tuple(index[c] for c in self.spec_kernel)]
            total = ix.Sum(term, *limits) if limits else term
            if self.bias_axes:
                at_bias = tuple(index[c] if c in self.bias_axes else 0 for c in self.bias_letters())
                at_bias += (0,) * (elided if self.ellipsis == "right" else 0)
                total = total + w[1][at_bias]
            return total

        return ix.activation(self.activation, pre, idx[-1], self.output_shape(x.shape)[-1], x.index)

    def reference(self, x, w):
        y = np.einsum(self.equation, x, w[0]).astype(w[0].dtype)  # integer inputs too: the weights' dtype
        if self.bias_axes:
            y = y + w[1]
        return activate(self.activation, y)
