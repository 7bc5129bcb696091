"""Core layers: Dense, Activation, Dropout, SpatialDropout1D/2D/3D, Flatten, Reshape, Permute,
RepeatVector, Embedding."""
from __future__ import annotations

import sympy

from .base import (REQUIRED, Activation, OptionalInt, lora, lora_kernel, lora_macs, Anything, Bool, Choice, Constraint, Float, Ignored, Int, Layer, Weight,
                   _describe, format_shape, layer)
from .. import indexing as ix
from ..activations import activate
from ..lazy import np
from ..values import is_integer

INITIALIZER_ARGS = {name: Ignored() for name in (
    "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
    "activity_regularizer", "kernel_constraint", "bias_constraint")}


@layer("Dense", units=Int(), activation=Activation(), use_bias=Bool(True), **INITIALIZER_ARGS,
       lora_rank=OptionalInt(), lora_alpha=Ignored(), quantization_config=Ignored())
class Dense(Layer):
    """Dense(units): (batch, ..., C) -> (batch, ..., units); acts on the last axis only."""

    def check_input(self, x):
        if len(x) < 2:
            raise self.error("Dense needs an input of rank 2 or more")

    def output_shape(self, x):
        return (*x[:-1], self.units)

    def weights(self, x):
        bias = [Weight("bias", (self.units,))] if self.use_bias else []
        return lora([Weight("kernel", (x[-1], self.units)), *bias], self.lora_rank, self.units)

    def macs(self, x):
        return sympy.Mul(*x[:-1]) * x[-1] * self.units + lora_macs(x[-1], self.lora_rank, self.units)

    def element(self, x, w, idx, output=0):
        """out[..., o] = act(Σ_c x[..., c]·kernel[c, o] + bias[o]) on the last axis."""
        *lead, o = idx

        def pre(o):
            c = x.index("c")
            kernel = ix.lora_kernel_element(w, self.use_bias, self.lora_rank, 1, (c, o), x.index)
            return ix.Sum(x(*lead, c) * kernel, (c, 0, x.shape[-1] - 1)) + (w[1][o] if self.use_bias else 0)

        return ix.activation(self.activation, pre, o, self.units, x.index)

    def receptive_field(self, x, rf):
        return rf.mix(len(x) - 1)  # the last axis, whatever it carries (after a Permute: a time axis)

    def reference(self, x, w):
        kernel = lora_kernel(w, self.use_bias, self.lora_rank)
        y = x @ kernel
        if self.use_bias:
            y = y + w[1]
        return activate(self.activation, y)


def integers(layer: Layer, arg: str, value, example: str, allow_none: bool = False) -> tuple:
    """`value` checked as a tuple or list of integers (SymPy), with an error located at `arg`."""
    if not isinstance(value, (tuple, list)):
        raise layer.error(f"{layer.kind} argument {arg!r} must be a tuple of integers, got {_describe(value)}",
                          arg, f"e.g. {layer.kind}({example})")
    for item in value:
        if not (is_integer(item) or (allow_none and item is None)):
            raise layer.error(f"{layer.kind} argument {arg!r} holds {_describe(item)}, not an integer", arg,
                              f"e.g. {layer.kind}({example})")
    return tuple(None if v is None else sympy.sympify(v) for v in value)


@layer("Activation", activation=Activation(default=REQUIRED))
class ActivationLayer(Layer):
    """Activation(activation): element-wise, shape unchanged."""

    def element(self, x, w, idx, output=0):
        *lead, last = idx
        return ix.activation(self.activation, lambda j: x(*lead, j), last, x.shape[-1], x.index)

    def reference(self, x, w):
        return activate(self.activation, x)


@layer("Dropout", rate=Float(), noise_shape=Anything(None), seed=Ignored())
class Dropout(Layer):
    """Dropout(rate): shape unchanged; an identity at inference."""

    def validate(self):
        if not 0 <= self.rate <= 1:
            raise self.error(f"{self.kind} rate must be between 0 and 1, got {self.rate}", "rate",
                             "rate is the fraction of units dropped, e.g. 0.5")
        if getattr(self, "noise_shape", None) is not None:
            self.noise_shape = integers(self, "noise_shape", self.noise_shape, "0.5, noise_shape=(None, 1, 64)",
                                        allow_none=True)
            if any(n is not None and n.is_number and n < 1 for n in self.noise_shape):
                raise self.error("noise_shape sizes must be positive or None", "noise_shape")

    def keeps_element_order(self, x) -> bool:
        return True  # inference: the identity

    def check_input(self, x):
        # Keras uses noise_shape only when dropping in training (the mask is broadcast to the
        # input); the error it would raise then is reported here, at analysis time.
        if getattr(self, "noise_shape", None) is None:
            return
        if len(self.noise_shape) != len(x):
            raise self.error(f"noise_shape {format_shape(self.noise_shape)} has {len(self.noise_shape)} axes but the "
                             f"input {format_shape(x)} has {len(x)}", "noise_shape",
                             "give one entry per input axis, batch included; None keeps the input's size")

    def constraints(self, x):
        if getattr(self, "noise_shape", None) is None:
            return []
        noise = format_shape(self.noise_shape)
        return [Constraint(sympy.Or(sympy.Eq(n, 1), sympy.Eq(d, n)),
                           f"{self.kind} noise_shape {noise} does not broadcast to the input {format_shape(x)} "
                           f"on axis {axis}", "noise_shape",
                           "each entry is None (the input's size), 1 (shared mask) or the input's size")
                for axis, (n, d) in enumerate(zip(self.noise_shape, x)) if n is not None]

    def element(self, x, w, idx, output=0):
        return x(*idx)  # inference: the identity

    def reference(self, x, w):
        # Inference: Keras's Dropout (and SpatialDropout, which derives from it) is the identity.
        return x


class SpatialDropout(Dropout):
    """Shared by SpatialDropout1D/2D/3D: drops whole feature maps; shape unchanged."""

    rank: int  # spatial axes

    def validate(self):
        super().validate()
        # Keras's SpatialDropout*D.__init__ takes only its own arguments, a name and a dtype.
        for arg in self.arg_spans:
            if arg not in self.positional and arg not in ("seed", "name", "dtype"):
                raise self.error(f"{self.kind} has no argument {arg!r} (Keras refuses it)", arg,
                                 f"its arguments are {', '.join(self.positional)}, seed, name and dtype")

    def check_input(self, x):
        names = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)",
                 3: "(batch, depth, height, width, channels)"}
        hint = (f"use SpatialDropout{len(x) - 2}D for this input" if len(x) in (3, 4, 5)
                else "use Dropout for inputs of any rank")
        self.need_rank(x, self.rank + 2, names[self.rank], hint)


# data_format only changes which axis holds the channels (which maps are dropped): the output
# shape is the input's either way, so channels_first is accepted here, unlike in convolutions.
DATA_FORMAT = Choice("channels_last", "channels_first", default=None, allow_none=True)


@layer("SpatialDropout1D", rate=Float(), seed=Ignored())
class SpatialDropout1D(SpatialDropout):
    """SpatialDropout1D(rate): (batch, steps, C), shape unchanged."""

    rank = 1


@layer("SpatialDropout2D", rate=Float(), data_format=DATA_FORMAT, seed=Ignored())
class SpatialDropout2D(SpatialDropout):
    """SpatialDropout2D(rate): (batch, H, W, C), shape unchanged."""

    rank = 2


@layer("SpatialDropout3D", rate=Float(), data_format=DATA_FORMAT, seed=Ignored())
class SpatialDropout3D(SpatialDropout):
    """SpatialDropout3D(rate): (batch, D, H, W, C), shape unchanged."""

    rank = 3


@layer("Flatten", data_format=DATA_FORMAT)
class Flatten(Layer):
    """Flatten(): (batch, d1, ..., dn) -> (batch, d1*...*dn)."""

    def output_shape(self, x):
        # channels_first only reorders the elements before flattening, not their number.
        return (x[0], sympy.Mul(*x[1:]))

    def element(self, x, w, idx, output=0):
        """out[b, j] = x[b, unravel(j)]: a row-major reshape (channels_first: channel axis read last)."""
        dims = x.shape[1:]
        if self.data_format == "channels_first" and len(dims) > 1:
            *rest, c = ix.unravel(idx[1], (*dims[1:], dims[0]))
            return x(idx[0], c, *rest)
        return x(idx[0], *ix.reshape_index(dims, (sympy.Mul(*dims),), (idx[1],)))

    def keeps_element_order(self, x) -> bool:
        return self.data_format != "channels_first" or len(x) <= 2

    def reference(self, x, w):
        # Keras moves channels_first's channel axis last before flattening (row-major order).
        if self.data_format == "channels_first" and x.ndim > 2:
            x = np.transpose(x, (0, *range(2, x.ndim), 1))
        return x.reshape(x.shape[0], -1)

    def receptive_field(self, x, rf):
        return rf.fold(1)


@layer("Reshape", target_shape=Anything())
class Reshape(Layer):
    """Reshape(target_shape): (batch, ...) -> (batch, *target_shape); at most one size is -1 (inferred)."""

    def keeps_element_order(self, x) -> bool:
        return True

    def validate(self):
        shape = integers(self, "target_shape", self.target_shape, "(4, -1)")
        for size in shape:
            if size.is_number and size < 1 and size != -1:
                raise self.error(f"Reshape sizes must be positive or -1, got {size}", "target_shape",
                                 "-1 stands for the one size inferred from the input")
        if list(shape).count(-1) > 1:
            raise self.error("Reshape can infer only one size: target_shape has more than one -1", "target_shape",
                             "give every size but one")
        self.target_shape = shape

    def _sizes(self, x):
        """(input elements per sample, product of the given target sizes, whether one size is inferred)."""
        known = sympy.Mul(*(d for d in self.target_shape if d != -1))
        return sympy.Mul(*x[1:]), known, -1 in self.target_shape

    def constraints(self, x):
        total, known, infer = self._sizes(x)
        target = format_shape(self.target_shape)
        if infer:
            size = Constraint(sympy.Eq(sympy.Mod(total, known), 0), f"Reshape to {target} needs the input's {total} "
                              f"elements per sample to be divisible by {known}")
        else:
            size = Constraint(sympy.Eq(total, known), f"Reshape to {target} needs {known} elements per sample, "
                              f"but the input {format_shape(x)} has {total}")
        positive = [Constraint(sympy.Ge(d, 1), f"Reshape size {d} must be positive")
                    for d in self.target_shape if not d.is_number]
        hint = ("target_shape excludes the batch axis; its sizes must multiply to the input's "
                f"{total} elements per sample (one size may be -1)")
        return [Constraint(c.condition, c.reason, "target_shape", hint) for c in [size] + positive]

    def output_shape(self, x):
        total, known, _ = self._sizes(x)
        return (x[0], *(total / known if d == -1 else d for d in self.target_shape))

    def element(self, x, w, idx, output=0):
        """out[b, i...] = x[b, the same row-major position in the input's sizes]."""
        out = self.output_shape(x.shape)
        return x(idx[0], *ix.reshape_index(x.shape[1:], out[1:], idx[1:]))

    def reference(self, x, w):
        return x.reshape(x.shape[0], *(int(d) for d in self.target_shape))  # row-major; -1 inferred

    def receptive_field(self, x, rf):
        # Row-major order: leading axes whose sizes are unchanged keep their index; the rest are
        # regrouped, so their positions are folded into features.
        out, kept = self.output_shape(x), 0
        for a, b in zip(x[1:], out[1:]):
            if sympy.simplify(a - b) != 0:
                break
            kept += 1
        return rf.fold(kept + 1)


@layer("Permute", dims=Anything())
class Permute(Layer):
    """Permute(dims): reorders the non-batch axes; dims is a permutation of 1..rank-1."""

    def validate(self):
        dims = integers(self, "dims", self.dims, "(2, 1)")
        if not all(d.is_number for d in dims):
            raise self.error(f"Permute dims must be literal integers, got {format_shape(dims)}", "dims",
                             "dims are axis numbers, not sizes, e.g. (2, 1)")
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise self.error(f"Permute dims {format_shape(dims)} is not a permutation of "
                             f"{format_shape(tuple(range(1, len(dims) + 1)))}", "dims",
                             "dims lists every non-batch axis (numbered from 1) once, in its new order, e.g. (2, 1)")
        self.dims = tuple(int(d) for d in dims)

    def check_input(self, x):
        self.need_rank(x, len(self.dims) + 1, f"for dims={format_shape(self.dims)}",
                       f"dims must list all {len(x) - 1} non-batch axes of the input")

    def output_shape(self, x):
        return (x[0], *(x[d] for d in self.dims))

    def element(self, x, w, idx, output=0):
        at = [None] * len(idx)
        at[0] = idx[0]
        for position, axis in enumerate(self.dims, start=1):
            at[axis] = idx[position]
        return x(*at)

    def reference(self, x, w):
        return np.transpose(x, (0, *self.dims))

    def receptive_field(self, x, rf):
        return rf.move({old: new for new, old in enumerate(self.dims, start=1)})


@layer("RepeatVector", n=Int())
class RepeatVector(Layer):
    """RepeatVector(n): (batch, F) -> (batch, n, F)."""

    def check_input(self, x):
        self.need_rank(x, 2, "(batch, features)", "Flatten or pool the input first" if len(x) > 2 else None)

    def output_shape(self, x):
        return (x[0], self.n, x[1])

    def element(self, x, w, idx, output=0):
        return x(idx[0], idx[2])

    def reference(self, x, w):
        return np.repeat(x[:, None, :], int(self.n), axis=1)

    def receptive_field(self, x, rf):
        # Every repeat is a copy of the same input element: dependencies are unchanged, and an
        # axis still carried at position 1 (an integer token input) now sits at position 2.
        return rf.move({1: 2})


@layer("Embedding", input_dim=Int(), output_dim=Int(), embeddings_initializer=Ignored(),
       embeddings_regularizer=Ignored(), embeddings_constraint=Ignored(), mask_zero=Bool(False),
       weights=Ignored(), lora_rank=OptionalInt(), lora_alpha=Ignored(), quantization_config=Ignored())
class Embedding(Layer):
    """Embedding(input_dim, output_dim): (batch, ...) integer ids -> (batch, ..., output_dim)."""

    def output_shape(self, x):
        return (*x, self.output_dim)

    def weights(self, x):
        # With lora_rank, Keras freezes the table and trains two low-rank factors instead.
        table = Weight("embeddings", (self.input_dim, self.output_dim), trainable=self.lora_rank is None)
        if self.lora_rank is None:
            return [table]
        return [table, Weight("lora_embeddings_a", (self.input_dim, self.lora_rank)),
                Weight("lora_embeddings_b", (self.lora_rank, self.output_dim))]

    def receptive_field(self, x, rf):
        # A lookup is per id: each output vector depends on its own id only, and the ids' axes
        # keep their positions (the new feature axis is appended after them).
        return rf

    def element(self, x, w, idx, output=0):
        """out[..., o] = embeddings[x[...], o]: a look-up indexed by the input's value."""
        *lead, o = idx
        row = x(*lead)
        if self.lora_rank is None:
            return w[0][row, o]
        r = x.index("r")
        return w[0][row, o] + ix.Sum(w[1][row, r] * w[2][r, o], (r, 0, self.lora_rank - 1))

    def reference(self, x, w):
        # Keras casts non-integer ids to int32 (truncating) and looks them up with ops.take, which
        # wraps negative ids once. With LoRA it looks up in table + a @ b: as for Dense, build()
        # re-enables LoRA with the rank alone, so lora_alpha is reset to the rank (scale 1).
        # mask_zero only attaches a mask for later layers; the vectors of id 0 are looked up as usual.
        ids = x if np.issubdtype(x.dtype, np.integer) else x.astype(np.int32)
        table = lora_kernel(w, False, self.lora_rank)
        return table[ids]
