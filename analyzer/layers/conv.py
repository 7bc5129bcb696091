"""Convolutions: Conv1D/2D/3D, Conv1D/2D/3DTranspose, DepthwiseConv1D/2D, SeparableConv1D/2D.

Output lengths follow Keras's compute_conv_output_shape exactly:
valid: floor((L - d*(k-1) - 1) / s) + 1;  same and causal: floor((L - 1) / s) + 1.
Transposed convolutions follow compute_conv_transpose_output_shape (see `transpose_length`).

`Spatial` is also the base of the pooling and reshaping layers: everything that takes
(batch, *spatial, channels) with a fixed number of spatial axes.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy

from .. import indexing as ix
from ..activations import activate
from ..lazy import np
from .base import (REGISTRY, Activation, OptionalInt, OptionalInts, lora, lora_kernel, lora_macs, Bool, Choice, Constraint, Float,
                   Ignored, Int, Ints, Layer, Weight, format_shape, layer)

# Only channels_last is analysed; channels_first is accepted by the kind and refused by Spatial.validate.
DATA_FORMAT = Choice("channels_last", "channels_first", default=None, allow_none=True)

SPATIAL_NAMES = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)",
                 3: "(batch, depth, height, width, channels)"}


def provably(condition) -> bool:
    """True when `condition` holds for every value of its symbols (SymPy decided it)."""
    return sympy.sympify(condition) is sympy.true


def conv_length(length, kernel, stride, dilation, padding):
    """Keras's output length of a convolution or pooling window along one axis."""
    if padding == "valid":
        return sympy.floor((length - dilation * (kernel - 1) - 1) / stride) + 1
    return sympy.floor((length - 1) / stride) + 1


def transpose_length(length, kernel, stride, dilation, padding, output_padding):
    """Keras's output length of a transposed convolution along one axis (output_padding None or an int)."""
    reach = dilation * (kernel - 1) + 1
    if padding == "valid":
        extra = sympy.Max(reach, stride) - reach if output_padding is None else output_padding
        return (length - 1) * stride + reach + extra
    if output_padding is None:
        return length * stride
    return (length - 1) * stride + sympy.Mod(reach, 2) + output_padding


# --- element formulas: shared by convolutions, pooling and ConvLSTMs ---------------------------


def padding_cells(length, kernel, stride, dilation, padding) -> tuple:
    """Zero cells (before, after) the input along one axis, as formulas (integers for integer sizes).

    Keras's (TF's) "same": enough for ceil(length / stride) outputs, split evenly with the odd cell
    after (right / bottom); "causal": d·(k - 1) before; "valid": none. The one definition of padding:
    the references, the element formulas and both targets' kernels all use it."""
    reach = dilation * (kernel - 1) + 1
    if padding == "valid":
        return sympy.Integer(0), sympy.Integer(0)
    if padding == "causal":
        return sympy.Integer(reach - 1), sympy.Integer(0)
    outputs = sympy.floor((length - 1) / sympy.Integer(stride)) + 1  # ceil(length / stride)
    total = sympy.Max(0, (outputs - 1) * stride + reach - length)
    before = sympy.floor(total / 2)
    return before, total - before


def padding_before(length, kernel, stride, dilation, padding):
    """Zero cells before the input along one axis (see padding_cells)."""
    return padding_cells(length, kernel, stride, dilation, padding)[0]


def window_element(x, kernel, b, pos, kernel_size, strides, dilation, padding, channels, read):
    """Σ over kernel taps and `channels` channels c of read(x at b, p·s + tap·d - before, c)·kernel(taps, c),
    the input read as 0 in the padding."""
    taps = [x.index("k") for _ in pos]
    c = x.index("c")
    lengths = x.shape[1:-1]
    at = [p * s + t * d - padding_before(L, k, s, d, padding)
          for p, t, L, k, s, d in zip(pos, taps, lengths, kernel_size, strides, dilation)]
    term = read(b, at, c) * kernel(taps, c)
    condition = sympy.true if padding == "valid" else sympy.And(*(ix.inside(a, L) for a, L in zip(at, lengths)))
    return ix.Sum(ix.padded(term, condition), (c, 0, channels - 1), *((t, 0, k - 1) for t, k in zip(taps, kernel_size)))


# --- the NumPy reference: shared by convolutions and pooling -----------------------------------
# Arrays are channels last, (batch, *spatial, channels). A window op is computed one kernel tap at
# a time: the strided slice of the (padded) input that tap sees at every output position.


def ints(values) -> tuple:
    """SymPy integers (a tuple of them) as Python ints."""
    return tuple(int(v) for v in values)


def same_padding(length: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """padding="same" of one axis of a concrete length, (before, after) as ints (see padding_cells)."""
    return ints(padding_cells(length, kernel, stride, dilation, "same"))


def pad_input(x, padding: str, kernel, strides, dilation, value=0.0):
    """`x` padded as `padding` asks ("valid": not; "same": as same_padding; "causal": d*(k-1)
    before, 1-D only), with `value`; returns the padded array and the (before, after) pairs."""
    if padding == "valid":
        pads = [(0, 0)] * len(kernel)
    elif padding == "same":
        pads = [same_padding(L, k, s, d) for L, k, s, d in zip(x.shape[1:-1], kernel, strides, dilation)]
    elif padding == "causal":
        pads = [(d * (k - 1), 0) for k, d in zip(kernel, dilation)]
    else:
        raise ValueError(f"unknown padding {padding!r}")
    if any(p != (0, 0) for p in pads):
        x = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=value)
    return x, pads


def window_taps(x, kernel, strides, dilation):
    """For an already padded `x`, yield (tap, view) for every kernel tap (a tuple of indices):
    view[:, o1, o2, ...] = x[:, o1*s1 + t1*d1, o2*s2 + t2*d2, ...], over the valid output positions."""
    out = [(L - d * (k - 1) - 1) // s + 1 for L, k, s, d in zip(x.shape[1:-1], kernel, strides, dilation)]
    for tap in np.ndindex(*kernel):
        window = tuple(slice(t * d, t * d + (n - 1) * s + 1, s) for t, n, s, d in zip(tap, out, strides, dilation))
        yield tap, x[(slice(None), *window)]


def convolve(x, kernel, strides, padding: str, dilation, groups: int = 1):
    """Keras's ops.conv: x (batch, *spatial, C), kernel (*k, C / groups, F) -> (batch, *spatial', F).
    With groups, input channels [g*C/groups, (g+1)*C/groups) feed filters [g*F/groups, (g+1)*F/groups)."""
    rank = kernel.ndim - 2
    k = kernel.shape[:rank]
    x, _ = pad_input(x, padding, k, strides, dilation)
    c, f = kernel.shape[-2], kernel.shape[-1] // groups  # per group: input channels, filters
    y = None
    for tap, view in window_taps(x, k, strides, dilation):
        if y is None:
            y = np.zeros((*view.shape[:-1], kernel.shape[-1]), dtype=x.dtype)
        for g in range(groups):
            y[..., g * f:(g + 1) * f] += view[..., g * c:(g + 1) * c] @ kernel[tap][:, g * f:(g + 1) * f]
    return y


def depthwise_convolve(x, kernel, strides, padding: str, dilation):
    """Keras's ops.depthwise_conv: kernel (*k, C, M); output channel c*M + m is input channel c
    convolved with kernel[..., c, m]: (batch, *spatial, C) -> (batch, *spatial', C*M)."""
    rank = kernel.ndim - 2
    k = kernel.shape[:rank]
    x, _ = pad_input(x, padding, k, strides, dilation)
    y = None
    for tap, view in window_taps(x, k, strides, dilation):
        part = view[..., :, None] * kernel[tap]  # (batch, *out, C, M)
        y = part if y is None else y + part
    return y.reshape(*y.shape[:-2], -1)


def transpose_padding(kernel: int, stride: int, dilation: int, padding: str, output_padding) -> tuple[int, int]:
    """Keras's transposed-convolution padding of one axis, (before, after), in the convolution view
    (input dilated by the stride, padded, convolved with the flipped kernel): as Keras's
    _convert_conv_transpose_padding_args_from_keras_to_jax."""
    reach = dilation * (kernel - 1) + 1
    if padding == "valid":
        extra = max(reach, stride) - reach if output_padding is None else output_padding
        return reach - 1, reach - 1 + extra
    total = stride + reach - 2 if output_padding is None else reach + reach % 2 - 2 + output_padding
    before = min(total // 2 + total % 2, reach - 1)
    return before, total - before


def convolve_transpose(x, kernel, strides, padding: str, output_padding, dilation):
    """Keras's ops.conv_transpose: x (batch, *spatial, C), kernel (*k, F, C) -> (batch, *spatial', F).

    Every input position i scatters x[i] @ kernel[tap].T to position i*s + tap*d of the "full"
    output ((L-1)*s + reach long); Keras's result is the window of it that starts at
    reach - 1 - before (zeros where that window passes either end), of the length
    transpose_length gives."""
    rank = kernel.ndim - 2
    k = kernel.shape[:rank]
    full = [(L - 1) * s + d * (kk - 1) + 1 for L, kk, s, d in zip(x.shape[1:-1], k, strides, dilation)]
    y = np.zeros((x.shape[0], *full, kernel.shape[-2]), dtype=x.dtype)
    lengths = x.shape[1:-1]
    for tap in np.ndindex(*k):
        window = tuple(slice(t * d, t * d + (L - 1) * s + 1, s) for t, L, s, d in zip(tap, lengths, strides, dilation))
        y[(slice(None), *window)] += x @ kernel[tap].T
    paddings = output_padding or (None,) * rank
    slices, pads = [], []
    for axis, (kk, s, d, op) in enumerate(zip(k, strides, dilation, paddings)):
        before, after = transpose_padding(kk, s, d, padding, op)
        reach = d * (kk - 1) + 1
        crop_before, crop_after = reach - 1 - before, reach - 1 - after  # negative: zeros to add
        pads.append((max(0, -crop_before), max(0, -crop_after)))
        slices.append(slice(max(0, crop_before), full[axis] - max(0, crop_after)))
    y = y[(slice(None), *slices)]
    if any(p != (0, 0) for p in pads):
        y = np.pad(y, [(0, 0), *pads, (0, 0)])
    return y


@dataclass(frozen=True)
class Spatial(Layer):
    """Shared by the layers on (batch, *spatial, channels) with `rank` spatial axes: the rank and
    data_format checks, and early errors for conditions that are already known to fail."""

    rank: int  # number of spatial axes

    def validate(self):
        if getattr(self, "data_format", None) not in (None, "channels_last"):
            raise self.error("only channels_last is supported", "data_format",
                             "shapes are (batch, *spatial, channels), as in Keras's default")

    def check_input(self, x):
        if len(x) != self.rank + 2:
            fixes = []
            other = self.kind.replace(f"{self.rank}D", f"{len(x) - 2}D")
            if other in REGISTRY:
                fixes.append(f"use {other} for a rank-{len(x)} input")
            if len(x) == self.rank + 3:
                fixes.append(f"wrap it to apply it per time step: TimeDistributed({self.call.text})")
            if len(x) == self.rank + 1:
                fixes.append(f"add the channels axis first: Reshape({format_shape((*x[1:], 1))})")
            self.need_rank(x, self.rank + 2, SPATIAL_NAMES[self.rank], "; or ".join(fixes) or None)


class Conv(Spatial):
    """Shared by the N-D convolutions: (batch, *spatial, C) -> (batch, *spatial', filters)."""

    strided_dilation = False  # does Keras allow strides > 1 together with dilation_rate > 1?

    def validate(self):
        super().validate()
        if not self.strided_dilation and any(provably(s > 1) for s in self.strides) and \
                any(provably(d > 1) for d in self.dilation_rate):
            raise self.error("strides > 1 together with dilation_rate > 1 is not supported (Keras refuses it)",
                             "dilation_rate", "use strides=1 with dilation, or dilation_rate=1 with strides")
        groups = getattr(self, "groups", 1)
        if getattr(self, "filters", None) is not None and (self.filters % groups).is_number and self.filters % groups:
            raise self.error(f"filters={self.filters} is not divisible by groups={groups}", "groups")

    def spatial_out(self, x):
        return tuple(conv_length(L, k, s, d, self.padding) for L, k, s, d in
                     zip(x[1:-1], self.kernel_size, self.strides, self.dilation_rate))

    def channels_out(self, x):
        return self.filters

    def output_shape(self, x):
        return (x[0], *self.spatial_out(x), self.channels_out(x))

    def constraints(self, x):
        result = []
        groups = getattr(self, "groups", 1)
        if groups != 1:
            result.append(Constraint(sympy.Eq(x[-1] % groups, 0),
                               f"{self.kind} needs channels ({x[-1]}) divisible by groups={groups}", "groups",
                               "each group convolves channels / groups input channels"))
        if self.padding == "valid":
            for axis, (L, k, d) in enumerate(zip(x[1:-1], self.kernel_size, self.dilation_rate), start=1):
                reach = d * (k - 1) + 1
                result.append(Constraint(sympy.Ge(L, reach), f"{self.kind} needs at least {reach} positions on "
                                   f"axis {axis} for its kernel, but the input has {L}", "kernel_size",
                                   'use padding="same", a smaller kernel or dilation, or a larger input'))
        return result

    def weights(self, x):
        groups = getattr(self, "groups", 1)
        kernel_shape = (*self.kernel_size, x[-1] // groups if groups != 1 else x[-1], self.filters)
        bias = [Weight("bias", (self.filters,))] if self.use_bias else []
        return lora([Weight("kernel", kernel_shape), *bias], getattr(self, "lora_rank", None), self.filters)

    def macs(self, x):
        groups = getattr(self, "groups", 1)
        kernel = sympy.Mul(*self.kernel_size) * (x[-1] / groups)
        return x[0] * sympy.Mul(*self.spatial_out(x)) * kernel * self.filters + \
            lora_macs(kernel, getattr(self, "lora_rank", None), self.filters)

    def windows(self):
        return {axis: (d * (k - 1) + 1, s) for axis, (k, s, d) in
                enumerate(zip(self.kernel_size, self.strides, self.dilation_rate), start=1)}

    def receptive_field(self, x, rf):
        return rf.mix(len(x) - 1).window(self.windows())

    def applied_kernel(self, w):
        """The kernel Keras convolves with, from the weights [kernel, (bias), (lora_kernel_a, lora_kernel_b)]:
        with LoRA, kernel + (lora_alpha / lora_rank) · a @ b. Unlike Dense, Keras's convolutions keep
        lora_alpha when build() enables LoRA (it defaults to the rank: scale 1)."""
        return lora_kernel(w, self.use_bias, self.lora_rank, self.lora_scale)

    @property
    def lora_scale(self) -> float:
        """lora_alpha / lora_rank (alpha defaults to the rank)."""
        if self.lora_rank is None or self.lora_alpha is None:
            return 1.0
        return float(self.lora_alpha) / int(self.lora_rank)

    def element(self, x, w, idx, output=0):
        """out[b, p..., f] = act(Σ_{taps, c} x[b, p·s + tap·d - pad, g·C/groups + c]·kernel[taps, c, f] + bias[f]),
        g = f's group, the input 0 in the padding."""
        b, *pos, f = idx
        groups = self.groups
        width = x.shape[-1] if groups == 1 else x.shape[-1] // groups
        alpha = getattr(self, "lora_alpha", None)
        scale = 1 if self.lora_rank is None or alpha is None else sympy.nsimplify(alpha) / self.lora_rank

        def pre(f):
            first = 0 if groups == 1 else sympy.floor(f / (self.filters // groups)) * width

            def kernel(taps, c):
                return ix.lora_kernel_element(w, self.use_bias, self.lora_rank, scale, (*taps, c, f), x.index)

            total = window_element(x, kernel, b, pos, self.kernel_size, self.strides, self.dilation_rate,
                                   self.padding, width, lambda b, at, c: x(b, *at, first + c))
            return total + (w[1][f] if self.use_bias else 0)

        return ix.activation(self.activation, pre, f, self.filters, x.index)

    def reference(self, x, w):
        # (ConvLSTM derives from Conv too, but Recurrent.reference comes first in its MRO.)
        kernel = self.applied_kernel(w)
        y = convolve(x, kernel, ints(self.strides), self.padding, ints(self.dilation_rate), int(self.groups))
        if self.use_bias:
            y = y + w[1]
        return activate(self.activation, y)


class OptionalFloat(Float):
    """None, or a number (`lora_alpha`)."""

    describe = "None or a number"

    def __init__(self):
        super().__init__(None)

    def convert(self, value):
        return None if value is None else super().convert(value)


def conv_args(rank: int, paddings=("valid", "same")) -> dict:
    return dict(filters=Int(), kernel_size=Ints(rank), strides=Ints(rank, 1), padding=Choice(*paddings),
                data_format=DATA_FORMAT,
                dilation_rate=Ints(rank, 1), groups=Int(1), activation=Activation(), use_bias=Bool(True),
                **ignored("kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
                          "activity_regularizer", "kernel_constraint", "bias_constraint"),
                lora_rank=OptionalInt(), lora_alpha=OptionalFloat())


def ignored(*names) -> dict:
    """Initializers, regularizers and constraints: accepted, and no change to shapes or counts."""
    return {name: Ignored() for name in names}


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


# --- transposed convolutions ------------------------------------------------------------------


class ConvTranspose(Conv):
    """Shared by the transposed convolutions: (batch, *spatial, C) -> (batch, *spatial', filters)."""

    def validate(self):
        super().validate()
        if self.output_padding is not None:
            for op, s in zip(self.output_padding, self.strides):
                if provably(sympy.Ge(op, s)):
                    raise self.error(f"output_padding={format_shape(self.output_padding)} must be smaller than "
                                     f"strides={format_shape(self.strides)} on every axis", "output_padding",
                                     "output_padding picks one of the `strides` possible output lengths: "
                                     "0 <= output_padding < strides")

    def spatial_out(self, x):
        paddings = self.output_padding or (None,) * self.rank
        return tuple(transpose_length(L, k, s, d, self.padding, op) for L, k, s, d, op in
                     zip(x[1:-1], self.kernel_size, self.strides, self.dilation_rate, paddings))

    def constraints(self, x):
        # Only padding="same" with an explicit output_padding can shrink: (L-1)*s + (reach % 2) + op,
        # which is 0 for a single input position when the kernel reach is even and output_padding 0.
        if self.padding != "same" or self.output_padding is None:
            return []
        result = []
        for axis, (L, k, d, op) in enumerate(zip(x[1:-1], self.kernel_size, self.dilation_rate,
                                                 self.output_padding), start=1):
            if provably(sympy.Eq(sympy.Mod(d * (k - 1) + 1, 2) + op, 0)):
                result.append(Constraint(sympy.Ge(L, 2), f"{self.kind} with padding=\"same\", an even kernel and "
                                   f"output_padding 0 makes axis {axis} empty from {L} input position; "
                                   f"it needs at least 2", "output_padding",
                                   "leave output_padding out (None) or use an odd kernel"))
        return result

    def output_offsets(self) -> list[int]:
        """Per spatial axis, the offset of output position o in the "full" transposed output (every
        input position's whole kernel patch): q = o + offset, offset = d·(k - 1) - padding before."""
        paddings = ints(self.output_padding) if self.output_padding is not None else (None,) * self.rank
        return [d * (k - 1) - transpose_padding(k, s, d, self.padding, op)[0] for k, s, d, op in
                zip(ints(self.kernel_size), ints(self.strides), ints(self.dilation_rate), paddings)]

    def weights(self, x):
        # Keras's transposed kernel layout: (*kernel_size, filters, input channels).
        kernel = Weight("kernel", (*self.kernel_size, self.filters, x[-1]))
        return [kernel] + ([Weight("bias", (self.filters,))] if self.use_bias else [])

    def macs(self, x):
        # Every input position scatters its kernel-sized patch over all filters.
        return sympy.Mul(*x[:-1]) * sympy.Mul(*self.kernel_size) * x[-1] * self.filters

    def receptive_field(self, x, rf):
        # An output position gathers from at most ceil(reach / s) input positions (neighbours on the
        # input grid), and s output positions share one input position: jump / s.
        reaches = {axis: (sympy.ceiling((d * (k - 1) + 1) / s), 1) for axis, (k, s, d) in
                   enumerate(zip(self.kernel_size, self.strides, self.dilation_rate), start=1)}
        return rf.mix(len(x) - 1).window(reaches).upsample(dict(enumerate(self.strides, start=1)))

    element = Layer.element  # not Conv's: a scatter, each output a sum over the input positions that reach it
    no_element_formula = "a strided scatter: which input positions reach an output depends on o mod strides"

    def reference(self, x, w):
        output_padding = None if self.output_padding is None else ints(self.output_padding)
        y = convolve_transpose(x, w[0], ints(self.strides), self.padding, output_padding, ints(self.dilation_rate))
        if self.use_bias:
            y = y + w[1]
        return activate(self.activation, y)


def conv_transpose_args(rank: int) -> dict:
    return dict(filters=Int(), kernel_size=Ints(rank), strides=Ints(rank, 1), padding=Choice("valid", "same"),
                output_padding=OptionalInts(rank, minimum=0),
                data_format=DATA_FORMAT,
                dilation_rate=Ints(rank, 1), activation=Activation(), use_bias=Bool(True),
                **ignored("kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
                          "activity_regularizer", "kernel_constraint", "bias_constraint"))


@layer("Conv1DTranspose", **conv_transpose_args(1))
class Conv1DTranspose(ConvTranspose):
    """Conv1DTranspose(filters, kernel_size): (batch, steps, C) -> (batch, steps', filters), steps' ~ steps * s."""

    rank = 1


@layer("Conv2DTranspose", **conv_transpose_args(2))
class Conv2DTranspose(ConvTranspose):
    """Conv2DTranspose(filters, kernel_size): (batch, H, W, C) -> (batch, H', W', filters), H' ~ H * s."""

    rank = 2


@layer("Conv3DTranspose", **conv_transpose_args(3))
class Conv3DTranspose(ConvTranspose):
    """Conv3DTranspose(filters, kernel_size): (batch, D, H, W, C) -> (batch, D', H', W', filters)."""

    rank = 3


# --- depthwise and separable convolutions -------------------------------------------------------


class DepthwiseConv(Conv):
    """Shared by the depthwise convolutions: (batch, *spatial, C) -> (batch, *spatial', C * depth_multiplier)."""

    strided_dilation = True  # Keras checks this for Conv and ConvTranspose only

    def channels_out(self, x):
        return x[-1] * self.depth_multiplier

    def weights(self, x):
        kernel = Weight("kernel", (*self.kernel_size, x[-1], self.depth_multiplier))
        return [kernel] + ([Weight("bias", (x[-1] * self.depth_multiplier,))] if self.use_bias else [])

    def macs(self, x):
        return x[0] * sympy.Mul(*self.spatial_out(x)) * sympy.Mul(*self.kernel_size) * x[-1] * self.depth_multiplier

    def receptive_field(self, x, rf):
        # Each output channel reads one input channel: features are not mixed.
        return rf.window(self.windows())

    def element(self, x, w, idx, output=0):
        """out[b, p..., c·M + m] = act(Σ_taps x[b, p·s + tap·d - pad, c]·kernel[taps, c, m] + bias[c·M + m])."""
        b, *pos, f = idx
        M = self.depth_multiplier

        def pre(f):
            c, m = (f, 0) if M == 1 else (sympy.floor(f / M), sympy.Mod(f, M))
            total = window_element(x, lambda taps, _: w[0][(*taps, c, m)], b, pos, self.kernel_size, self.strides,
                                   self.dilation_rate, self.padding, 1, lambda b, at, _: x(b, *at, c))
            return total + (w[1][f] if self.use_bias else 0)

        return ix.activation(self.activation, pre, f, x.shape[-1] * M, x.index)

    def reference(self, x, w):
        y = depthwise_convolve(x, w[0], ints(self.strides), self.padding, ints(self.dilation_rate))
        if self.use_bias:
            y = y + w[1]
        return activate(self.activation, y)


def depthwise_args(rank: int) -> dict:
    return dict(kernel_size=Ints(rank), strides=Ints(rank, 1), padding=Choice("valid", "same"),
                depth_multiplier=Int(1),
                data_format=DATA_FORMAT,
                dilation_rate=Ints(rank, 1), activation=Activation(), use_bias=Bool(True),
                **ignored("depthwise_initializer", "bias_initializer", "depthwise_regularizer", "bias_regularizer",
                          "activity_regularizer", "depthwise_constraint", "bias_constraint"))


@layer("DepthwiseConv1D", **depthwise_args(1))
class DepthwiseConv1D(DepthwiseConv):
    """DepthwiseConv1D(kernel_size): (batch, steps, C) -> (batch, steps', C * depth_multiplier)."""

    rank = 1


@layer("DepthwiseConv2D", **depthwise_args(2))
class DepthwiseConv2D(DepthwiseConv):
    """DepthwiseConv2D(kernel_size): (batch, H, W, C) -> (batch, H', W', C * depth_multiplier)."""

    rank = 2


class SeparableConv(Conv):
    """Shared by the separable convolutions: a depthwise convolution (C -> C * depth_multiplier
    channels), then a pointwise 1x1 convolution to `filters`."""

    strided_dilation = True  # Keras checks this for Conv and ConvTranspose only

    def weights(self, x):
        mid = x[-1] * self.depth_multiplier
        return [Weight("depthwise_kernel", (*self.kernel_size, x[-1], self.depth_multiplier)),
                Weight("pointwise_kernel", (*(1,) * self.rank, mid, self.filters))] + \
            ([Weight("bias", (self.filters,))] if self.use_bias else [])

    def macs(self, x):
        mid = x[-1] * self.depth_multiplier
        return x[0] * sympy.Mul(*self.spatial_out(x)) * (sympy.Mul(*self.kernel_size) * mid + mid * self.filters)

    def element(self, x, w, idx, output=0):
        """The depthwise convolution (channel q = c·M + m), then Σ_q depthwise[q]·pointwise[0.., q, f] + bias[f]."""
        b, *pos, f = idx
        M = self.depth_multiplier

        def pre(f):
            q = x.index("q")
            c, m = (q, 0) if M == 1 else (sympy.floor(q / M), sympy.Mod(q, M))
            depth = window_element(x, lambda taps, _: w[0][(*taps, c, m)], b, pos, self.kernel_size, self.strides,
                                   self.dilation_rate, self.padding, 1, lambda b, at, _: x(b, *at, c))
            point = w[1][(*(0,) * self.rank, q, f)]
            total = ix.Sum(depth * point, (q, 0, x.shape[-1] * M - 1))
            return total + (w[2][f] if self.use_bias else 0)

        return ix.activation(self.activation, pre, f, self.filters, x.index)

    def reference(self, x, w):
        # Keras's ops.separable_conv: the depthwise convolution, then the 1x1 pointwise one.
        y = depthwise_convolve(x, w[0], ints(self.strides), self.padding, ints(self.dilation_rate))
        y = y @ w[1].reshape(w[1].shape[-2:])
        if self.use_bias:
            y = y + w[2]
        return activate(self.activation, y)


def separable_args(rank: int) -> dict:
    return dict(filters=Int(), kernel_size=Ints(rank), strides=Ints(rank, 1), padding=Choice("valid", "same"),
                data_format=DATA_FORMAT,
                dilation_rate=Ints(rank, 1), depth_multiplier=Int(1), activation=Activation(),
                use_bias=Bool(True),
                **ignored("depthwise_initializer", "pointwise_initializer", "bias_initializer",
                          "depthwise_regularizer", "pointwise_regularizer", "bias_regularizer",
                          "activity_regularizer", "depthwise_constraint", "pointwise_constraint",
                          "bias_constraint"))


@layer("SeparableConv1D", **separable_args(1))
class SeparableConv1D(SeparableConv):
    """SeparableConv1D(filters, kernel_size): (batch, steps, C) -> (batch, steps', filters)."""

    rank = 1


@layer("SeparableConv2D", **separable_args(2))
class SeparableConv2D(SeparableConv):
    """SeparableConv2D(filters, kernel_size): (batch, H, W, C) -> (batch, H', W', filters)."""

    rank = 2


__all__ = ["DATA_FORMAT", "Spatial", "Conv", "conv_length", "transpose_length", "provably", "ints", "same_padding",
           "pad_input", "window_taps", "convolve", "depthwise_convolve", "convolve_transpose"]
