"""Convolutions: Conv1D/2D/3D, Conv1D/2DTranspose, DepthwiseConv1D/2D, SeparableConv1D/2D.

Output lengths follow Keras's compute_conv_output_shape exactly:
valid: floor((L - d*(k-1) - 1) / s) + 1;  same and causal: floor((L - 1) / s) + 1.
"""
from __future__ import annotations

import sympy

from .base import Activation, Bool, Choice, Constraint, Int, Ints, Layer, Weight, layer
from .core import INITIALIZER_ARGS


def conv_length(length, kernel, stride, dilation, padding):
    """Keras's output length of a convolution or pooling window along one axis."""
    if padding == "valid":
        return sympy.floor((length - dilation * (kernel - 1) - 1) / stride) + 1
    return sympy.floor((length - 1) / stride) + 1


class Conv(Layer):
    """Shared by the N-D convolutions: (batch, *spatial, C) -> (batch, *spatial', filters)."""

    rank: int  # number of spatial axes

    def validate(self):
        if getattr(self, "data_format", None) not in (None, "channels_last"):
            raise self.error("only channels_last is supported", "data_format",
                             "shapes are (batch, *spatial, channels), as in Keras's default")
        if max(self.strides) != 1 and max(self.dilation_rate) != 1:
            raise self.error("strides > 1 together with dilation_rate > 1 is not supported (Keras refuses it)",
                             "dilation_rate")
        groups = getattr(self, "groups", 1)
        if getattr(self, "filters", None) is not None and (self.filters % groups).is_number and self.filters % groups:
            raise self.error(f"filters={self.filters} is not divisible by groups={groups}", "groups")

    def check_input(self, x):
        names = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)",
                 3: "(batch, depth, height, width, channels)"}
        hint = None
        if len(x) == self.rank + 3:
            hint = f"wrap it to apply per time step: TimeDistributed({self.call.text})"
        elif len(x) in (3, 4, 5) and len(x) != self.rank + 2:
            hint = f"use {self.kind.replace(str(self.rank) + 'D', str(len(x) - 2) + 'D')} for this input"
        self.need_rank(x, self.rank + 2, names[self.rank], hint)

    def spatial_out(self, x):
        return tuple(conv_length(L, k, s, d, self.padding) for L, k, s, d in
                     zip(x[1:-1], self.kernel_size, self.strides, self.dilation_rate))

    def output_shape(self, x):
        return (x[0], *self.spatial_out(x), self.filters)

    def constraints(self, x):
        result = []
        groups = getattr(self, "groups", 1)
        if groups != 1:
            result.append(Constraint(sympy.Eq(x[-1] % groups, 0),
                                     f"{self.kind} needs channels ({x[-1]}) divisible by groups={groups}"))
        if self.padding == "valid":
            for axis, (L, k, d) in enumerate(zip(x[1:-1], self.kernel_size, self.dilation_rate), start=1):
                reach = d * (k - 1) + 1
                result.append(Constraint(sympy.Ge(L, reach), f"{self.kind} needs at least {reach} positions on "
                                         f"axis {axis} for its kernel, but the input has {L}"))
        return result

    def weights(self, x):
        groups = getattr(self, "groups", 1)
        kernel = Weight("kernel", (*self.kernel_size, x[-1] // groups if groups != 1 else x[-1], self.filters))
        return [kernel] + ([Weight("bias", (self.filters,))] if self.use_bias else [])

    def macs(self, x):
        out = self.output_shape(x)
        groups = getattr(self, "groups", 1)
        return sympy.Mul(*out[:-1]) * sympy.Mul(*self.kernel_size) * (x[-1] / groups) * self.filters

    def receptive_field(self, x, rf):
        windows = {axis: (d * (k - 1) + 1, s) for axis, (k, s, d) in
                   enumerate(zip(self.kernel_size, self.strides, self.dilation_rate), start=1)}
        return rf.mix_features().window(windows)


def conv_args(rank: int, paddings=("valid", "same")) -> dict:
    return dict(filters=Int(), kernel_size=Ints(rank), strides=Ints(rank, 1), padding=Choice(*paddings),
                data_format=Choice("channels_last", "channels_first", default=None, allow_none=True),
                dilation_rate=Ints(rank, 1), groups=Int(1), activation=Activation(), use_bias=Bool(True),
                **INITIALIZER_ARGS)


@layer("Conv1D", **conv_args(1, ("valid", "same", "causal")))
class Conv1D(Conv):
    """Conv1D(filters, kernel_size): (batch, steps, C) -> (batch, steps', filters)."""

    rank = 1


@layer("Conv2D", **conv_args(2))
class Conv2D(Conv):
    """Conv2D(filters, kernel_size): (batch, H, W, C) -> (batch, H', W', filters)."""

    rank = 2


@layer("Conv3D", **conv_args(3))
class Conv3D(Conv):
    """Conv3D(filters, kernel_size): (batch, D, H, W, C) -> (batch, D', H', W', filters)."""

    rank = 3
