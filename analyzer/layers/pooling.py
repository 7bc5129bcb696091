"""Pooling: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D, GlobalMaxPooling1D/2D/3D, GlobalAveragePooling1D/2D/3D.

Windowed pooling follows Keras's compute_pooling_output_shape: the convolution formula with
dilation 1 (valid: floor((L - p) / s) + 1; same: floor((L - 1) / s) + 1), strides default to pool_size.
"""
from __future__ import annotations

import itertools

import sympy

from .. import indexing as ix
from ..errors import ShapeproofError
from ..lazy import np
from ..values import did_you_mean
from .base import REQUIRED, Bool, Choice, Constraint, Ints, OptionalInts, layer
from .conv import (
    DATA_FORMAT,
    Spatial,
    conv_length,
    ints,
    pad_input,
    padding_before,
    window_element,
    window_taps,
)


class ExactChoice(Choice):
    """A Choice compared as written: Keras's pooling layers do not lowercase `padding` ("SAME" fails there)."""

    def convert(self, value):
        if isinstance(value, str) and value not in self.options:
            raise ShapeproofError(f"{value!r} is not one of {self.describe}",
                                  hint=did_you_mean(value, self.options) or f"one of {self.describe}, in lower case")
        return super().convert(value)



class Pooling(Spatial):
    """Shared by max and average pooling: (batch, *spatial, C) -> (batch, *spatial', C)."""

    def validate(self):
        super().validate()
        if self.strides is None:
            self.strides = self.pool_size

    def output_shape(self, x):
        spatial = (conv_length(L, p, s, 1, self.padding) for L, p, s in zip(x[1:-1], self.pool_size, self.strides))
        return (x[0], *spatial, x[-1])

    def constraints(self, x):
        if self.padding != "valid":
            return []
        return [Constraint(sympy.Ge(L, p), f"{self.kind} needs at least {p} positions on axis {axis} for its pool, "
                     f"but the input has {L}", "pool_size",
                     'use padding="same", a smaller pool_size, or a larger input')
                for axis, (L, p) in enumerate(zip(x[1:-1], self.pool_size), start=1)]

    def receptive_field(self, x, rf):
        return rf.window({axis: (p, s) for axis, (p, s) in enumerate(zip(self.pool_size, self.strides), start=1)})

    def pool_views(self, x, value):
        """The input views of every pool tap (see window_taps), the input padded with `value` as
        `padding` asks."""
        pool, strides = ints(self.pool_size), ints(self.strides)
        padded, _ = pad_input(x, self.padding, pool, strides, (1,) * self.rank, value)
        return [view for _, view in window_taps(padded, pool, strides, (1,) * self.rank)]


class MaxPooling(Pooling):
    """Shared by max pooling: the maximum over the window; padded positions never win (-inf)."""

    def element(self, x, w, idx, output=0):
        """Max over the window's taps, one argument per tap (the pool size is a number, so they can
        be listed). With padding="same", a tap in the padding reads -∞: Keras (TF) ignores padded
        positions in a max, it does not read zeros there. Built unevaluated: SymPy's Max compares
        its arguments pairwise, and the prover flattens and sorts them itself."""
        b, *pos, c = idx
        lengths = x.shape[1:-1]
        before = [padding_before(L, k, s, 1, self.padding) for L, k, s in zip(lengths, self.pool_size, self.strides)]
        reads = []
        for taps in itertools.product(*(range(int(k)) for k in self.pool_size)):
            at = [p * s + t - pad for p, t, s, pad in zip(pos, taps, self.strides, before)]
            inside = sympy.true if self.padding == "valid" else sympy.And(*(ix.inside(a, L) for a, L in zip(at, lengths)))
            if inside is sympy.false:  # a tap in the padding at a concrete size: never read
                continue
            read = x(b, *at, c)
            reads.append(read if inside is sympy.true else sympy.Piecewise((read, inside), (-sympy.oo, True)))
        return sympy.Max(*reads, evaluate=False)

    def reference(self, x, w):
        views = self.pool_views(x, -np.inf)
        y = views[0]
        for view in views[1:]:
            y = np.maximum(y, view)
        return y


class AveragePooling(Pooling):
    """Shared by average pooling: the mean over the window's positions inside the input. With
    padding="same", the padded positions are left out of the count, as in TF, JAX and Keras's own
    definition. (Keras 3.15's torch backend deviates where the padding is uneven on some axis: it
    pads by repeating the edge and counts those copies; keras-team/keras#23233 fixes that.)"""

    def element(self, x, w, idx, output=0):
        """The window's sum over the positions inside the input, divided by their number."""
        b, *pos, c = idx
        ones = (1,) * self.rank

        def window(read):
            return window_element(x, lambda taps, _: 1, b, pos, self.pool_size, self.strides, ones, self.padding, 1, read)

        total = window(lambda b, at, _: x(b, *at, c))
        count = sympy.Mul(*self.pool_size) if self.padding == "valid" else window(lambda b, at, _: 1)
        return total / count

    def reference(self, x, w):
        total = sum(self.pool_views(x, 0.0))
        count = sum(self.pool_views(np.ones((1, *x.shape[1:-1], 1), dtype=x.dtype), 0.0))  # inputs per window
        return (total / count).astype(x.dtype)


def pooling_args(rank: int, pool_size) -> dict:
    return dict(pool_size=Ints(rank, pool_size), strides=OptionalInts(rank), padding=ExactChoice("valid", "same"),
                data_format=DATA_FORMAT)


@layer("MaxPooling1D", **pooling_args(1, 2))
class MaxPooling1D(MaxPooling):
    """MaxPooling1D(pool_size=2): (batch, steps, C) -> (batch, steps', C)."""

    rank = 1


@layer("MaxPooling2D", **pooling_args(2, (2, 2)))
class MaxPooling2D(MaxPooling):
    """MaxPooling2D(pool_size=(2, 2)): (batch, H, W, C) -> (batch, H', W', C)."""

    rank = 2


@layer("MaxPooling3D", **pooling_args(3, (2, 2, 2)))
class MaxPooling3D(MaxPooling):
    """MaxPooling3D(pool_size=(2, 2, 2)): (batch, D, H, W, C) -> (batch, D', H', W', C)."""

    rank = 3


# Keras's average pooling layers have no default pool_size.


@layer("AveragePooling1D", **pooling_args(1, REQUIRED))
class AveragePooling1D(AveragePooling):
    """AveragePooling1D(pool_size): (batch, steps, C) -> (batch, steps', C)."""

    rank = 1


@layer("AveragePooling2D", **pooling_args(2, REQUIRED))
class AveragePooling2D(AveragePooling):
    """AveragePooling2D(pool_size): (batch, H, W, C) -> (batch, H', W', C)."""

    rank = 2


@layer("AveragePooling3D", **pooling_args(3, REQUIRED))
class AveragePooling3D(AveragePooling):
    """AveragePooling3D(pool_size): (batch, D, H, W, C) -> (batch, D', H', W', C)."""

    rank = 3


class GlobalPooling(Spatial):
    """Shared by global pooling: (batch, *spatial, C) -> (batch, C), or (batch, 1, ..., 1, C) with keepdims."""

    def output_shape(self, x):
        kept = (sympy.Integer(1),) * self.rank if self.keepdims else ()
        return (x[0], *kept, x[-1])

    def receptive_field(self, x, rf):
        rf = rf.reduce(range(1, self.rank + 1))
        return rf if self.keepdims else rf.move({len(x) - 1: 1})  # the channel axis comes right after batch

    def spatial_axes(self) -> tuple:
        return tuple(range(1, self.rank + 1))


class GlobalMaxPooling(GlobalPooling):
    """Shared by global max pooling: the maximum over every spatial position."""

    # A window's max lists its taps; this one would need a max over a bound index (the length is a
    # symbol), with rules of its own: none of the sums' rules (linearity, absorbing factors) hold for max.
    no_element_formula = ("a maximum over every position of an axis of any length: index notation has sums over "
                          "a bound index, no max over one")

    def reference(self, x, w):
        return x.max(axis=self.spatial_axes(), keepdims=self.keepdims)


class GlobalAveragePooling(GlobalPooling):
    """Shared by global average pooling: the mean over every spatial position."""

    def element(self, x, w, idx, output=0):
        positions = [x.index("p") for _ in range(self.rank)]
        lengths = x.shape[1:-1]
        total = ix.Sum(x(idx[0], *positions, idx[-1]), *((p, 0, L - 1) for p, L in zip(positions, lengths)))
        return total / sympy.Mul(*lengths)

    def reference(self, x, w):
        return x.mean(axis=self.spatial_axes(), keepdims=self.keepdims).astype(x.dtype)


GLOBAL_ARGS = dict(data_format=DATA_FORMAT, keepdims=Bool(False))


@layer("GlobalMaxPooling1D", **GLOBAL_ARGS)
class GlobalMaxPooling1D(GlobalMaxPooling):
    """GlobalMaxPooling1D(): (batch, steps, C) -> (batch, C)."""

    rank = 1


@layer("GlobalMaxPooling2D", **GLOBAL_ARGS)
class GlobalMaxPooling2D(GlobalMaxPooling):
    """GlobalMaxPooling2D(): (batch, H, W, C) -> (batch, C)."""

    rank = 2


@layer("GlobalMaxPooling3D", **GLOBAL_ARGS)
class GlobalMaxPooling3D(GlobalMaxPooling):
    """GlobalMaxPooling3D(): (batch, D, H, W, C) -> (batch, C)."""

    rank = 3


@layer("GlobalAveragePooling1D", **GLOBAL_ARGS)
class GlobalAveragePooling1D(GlobalAveragePooling):
    """GlobalAveragePooling1D(): (batch, steps, C) -> (batch, C)."""

    rank = 1


@layer("GlobalAveragePooling2D", **GLOBAL_ARGS)
class GlobalAveragePooling2D(GlobalAveragePooling):
    """GlobalAveragePooling2D(): (batch, H, W, C) -> (batch, C)."""

    rank = 2


@layer("GlobalAveragePooling3D", **GLOBAL_ARGS)
class GlobalAveragePooling3D(GlobalAveragePooling):
    """GlobalAveragePooling3D(): (batch, D, H, W, C) -> (batch, C)."""

    rank = 3
