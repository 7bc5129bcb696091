"""Recurrent layers: SimpleRNN, GRU, LSTM, ConvLSTM1D/2D/3D.

One recurrence reads (batch, T, *spatial, C) one step at a time and keeps a state (batch, *spatial',
units): h for SimpleRNN and GRU, h and c for LSTMs. Every kind has the same three weights, with
`gates` blocks side by side on the last axis (1 for SimpleRNN, 3 for GRU, 4 for LSTM):
kernel (*k, C, gates*u), recurrent_kernel (*k, u, gates*u), bias (gates*u,), where k is the
convolution kernel of the ConvLSTMs and empty for the others.
"""
from __future__ import annotations

import sympy

from .. import indexing as ix
from ..activations import activate
from ..lazy import np
from ..receptive import ALL, RF, Axis
from .base import Activation, Anything, Bool, Choice, Constraint, Float, Ignored, Int, Ints, Layer, Weight, layer
from .conv import Conv, same_padding, window_element
from .core import INITIALIZER_ARGS

# Keras's arguments that change no shape or count, by name; each layer picks its own, in its own order
# (the LoRA / quantization arguments of Dense are not RNN arguments).
IGNORED = {**INITIALIZER_ARGS, **{name: Ignored() for name in (
    "recurrent_initializer", "recurrent_regularizer", "recurrent_constraint", "seed", "implementation")}}

KINDS = {
    "units": Int(), "activation": Activation("tanh"), "recurrent_activation": Activation("sigmoid"),
    "use_bias": Bool(True), "unit_forget_bias": Bool(True), "dropout": Float(0.0),
    "recurrent_dropout": Float(0.0), "return_sequences": Bool(False), "return_state": Bool(False),
    "go_backwards": Bool(False), "stateful": Bool(False), "unroll": Bool(False), "reset_after": Bool(True),
    "use_cudnn": Anything("auto"), "zero_output_for_mask": Bool(False),
}
# stateful changes no shape or count. Keras also wants a fixed batch size to build a stateful
# layer; a symbolic batch here stands for whatever fixed size the model is built with, so it is accepted.


def rnn_args(*names: str, rank: int = 0) -> dict:
    """The argument kinds of one layer, `names` in Keras's positional order."""
    kinds = {**KINDS, **IGNORED}
    if rank:
        kinds.update(filters=Int(), kernel_size=Ints(rank), strides=Ints(rank, 1), padding=Choice("valid", "same"),
                     data_format=Choice("channels_last", "channels_first", default=None, allow_none=True),
                     dilation_rate=Ints(rank, 1))
    return {name: kinds[name] for name in names}


class Recurrent(Layer):
    """Shared by every recurrence: (batch, T, *spatial, C) -> the last state, or every step's."""

    gates = 1  # weight blocks side by side: 1 SimpleRNN, 3 GRU, 4 LSTM
    states = 1  # state tensors returned with return_state: [h], or [h, c] for LSTMs
    rank = 0  # spatial axes of one step (ConvLSTMnD: n)
    kernel_size: tuple = ()  # the ConvLSTMs' kernel; plain recurrences are 1x1 "convolutions"

    @property
    def size(self):
        """Units of the state."""
        return self.units

    def validate(self):
        if getattr(self, "use_cudnn", "auto") not in ("auto", True, False):
            raise self.error(f"use_cudnn must be \"auto\", True or False, got {self.use_cudnn!r}", "use_cudnn")
        super().validate()

    def check_input(self, x):
        if len(x) != self.rank + 3:
            shape = ("(batch, timesteps, features)", "(batch, time, steps, channels)",
                     "(batch, time, height, width, channels)", "(batch, time, depth, height, width, channels)")
            self.need_rank(x, self.rank + 3, shape[self.rank], self.rank_hint(x))

    def rank_hint(self, x) -> str | None:
        """How to feed an input of the wrong rank."""
        if len(x) == 2:
            return (f"it reads a sequence: add a time axis, e.g. Reshape(({x[1]}, 1)) to read the features one per "
                    f"step, or RepeatVector(n) to feed the same vector n times")
        if len(x) == self.rank + 2:
            return f"this looks like one frame: add a time axis with Reshape((1, {', '.join(map(str, x[1:]))}))"
        if self.rank:
            return "use LSTM for this input" if len(x) == 3 else \
                f"use ConvLSTM{len(x) - 3}D for this input" if len(x) <= 6 else None
        hint = f"to read axis 1 as time, merge the others: Reshape(({x[1]}, {sympy.Mul(*x[2:])}))"
        return hint + (f", or use ConvLSTM{len(x) - 3}D to keep them spatial" if len(x) <= 6 else "")

    def state_shape(self, x):
        return (x[0], self.size)

    def output_shape(self, x):
        state = self.state_shape(x)
        out = (state[0], x[1], *state[1:]) if self.return_sequences else state
        # Keras returns [output, *states], states after the output, in the cell's order (h, c).
        return [out] + [state] * self.states if self.return_state else out

    def bias_shape(self):
        return (self.gates * self.size,)

    def weights(self, x):
        width = self.gates * self.size
        result = [Weight("kernel", (*self.kernel_size, x[-1], width)),
                  Weight("recurrent_kernel", (*self.kernel_size, self.size, width))]
        return result + ([Weight("bias", self.bias_shape())] if self.use_bias else [])

    def macs(self, x):
        # Every step multiplies the input and the previous state by their kernels, at every
        # position of the state (ConvLSTMs: convolutions; others: one position, 1x1 kernel).
        positions = sympy.Mul(*self.state_shape(x)[:-1])
        per_position = sympy.Mul(*self.kernel_size) * (x[-1] + self.size) * self.gates * self.size
        return x[1] * positions * per_position

    def recurrence_windows(self, x) -> dict:
        """Spatial windows of one whole recurrence (none for plain RNNs)."""
        return {}

    # --- the NumPy reference ---------------------------------------------------------------------
    # Keras runs the cell from zero states over the steps in order (reversed with go_backwards,
    # whose output sequence stays in that processing order: step 0 is the last time step). The
    # output of every cell here is its new h, so the last output is the final h. Dropout is off at
    # inference; stateful and unroll change nothing in one call from zero states.

    def project_input(self, x_t, kernel):
        """One step's input times the kernel: (batch, C) @ (C, gates*u)."""
        return x_t @ kernel

    def project_state(self, h, kernel):
        """The previous state times the recurrent kernel: (batch, u) @ (u, gates*u)."""
        return h @ kernel

    def initial_states(self, x):
        """Zero states (h, and c for LSTMs) for input `x` (batch, T, *spatial, C)."""
        shape = tuple(int(d) for d in self.state_shape(x.shape))
        return [np.zeros(shape, dtype=x.dtype) for _ in range(self.states)]

    def step(self, x_t, states: list, w: list) -> list:
        """One step of the cell: the new states (h first) from input x_t and the previous states."""
        kernel, recurrent_kernel, *bias = w
        z = self.project_input(x_t, kernel) + self.project_state(states[0], recurrent_kernel)
        if self.use_bias:
            z = z + bias[0]
        return [activate(self.activation, z)]

    def reference(self, x, w):
        states = self.initial_states(x)
        steps = x[:, ::-1] if self.go_backwards else x
        outputs = []
        for t in range(steps.shape[1]):
            states = self.step(steps[:, t], states, w)
            outputs.append(states[0])
        if self.return_sequences:
            y = np.stack(outputs, axis=1) if outputs else np.zeros((x.shape[0], 0, *states[0].shape[1:]), x.dtype)
        else:
            y = states[0]
        return [y, *states] if self.return_state else y

    # --- the element formula ----------------------------------------------------------------------
    # A recurrence is a state sequence s(*state index, step), s(..., -1) = 0, with s(..., t) given by
    # cell_element from the input at step t and the states at t - 1 (the prover compares one cell
    # step and inducts over t). `x.recurrence` names the sequences of this layer in the composition.

    def element(self, x, w, idx, output=0):
        """h at the last step (at every step with return_sequences); with return_state, outputs 1.. are
        the states (h, c) at the last step."""
        states = x.recurrence(self, w)
        last = x.shape[1] - 1
        if output == 0 and self.return_sequences:
            return states[0](idx[0], *idx[2:], idx[1])
        return states[0 if output == 0 else output - 1](*idx, last)

    def gate_element(self, x_t, h, w, sidx, gate):
        """Gate block `gate` before its activation at state index `sidx`: the input projection, the
        recurrent one and the bias."""
        kernel, recurrent, *bias = w
        offset = gate * self.size
        z = self.project_input_element(x_t, kernel, sidx, offset) + self.project_state_element(h, recurrent, sidx, offset)
        return z + (bias[0][offset + sidx[-1]] if self.use_bias else 0)

    def project_input_element(self, x_t, kernel, sidx, offset):
        """Σ_c x_t[..., c]·kernel[c, offset + o]."""
        *lead, o = sidx
        c = x_t.index("c")
        return ix.Sum(x_t(*lead, c) * kernel[c, offset + o], (c, 0, x_t.shape[-1] - 1))

    def project_state_element(self, h, kernel, sidx, offset):
        """Σ_v h[..., v]·recurrent_kernel[v, offset + o]."""
        *lead, o = sidx
        v = h.index("v")
        return ix.Sum(h(*lead, v) * kernel[v, offset + o], (v, 0, self.size - 1))

    def cell_element(self, x_t, states, w, sidx) -> list:
        """The new states at `sidx` from the step's input `x_t` and the previous `states` (operands)."""
        return [ix.activate(self.activation, self.gate_element(x_t, states[0], w, sidx, 0))]

    def receptive_field(self, x, rf):
        # Features are mixed at every step (an axis carried on the feature axis is mixed too).    def receptive_field(self, x, rf):
        # Features are mixed at every step (an axis carried on the feature axis is mixed too).
        rf = rf.mix(len(x) - 1).window(self.recurrence_windows(x))
        if self.return_sequences:
            # Step t depends on every step before it (after it with go_backwards); the last one on
            # all T: the time axis reads "all" but stays at position 1 for the layers after.
            return RF(Axis(ALL, a.jump, a.pos, a.folded) if a.pos == 1 and a.size != 0 else a for a in rf)
        return rf.reduce([1]).move({p: p - 1 for p in range(2, len(x))})


@layer("SimpleRNN", **rnn_args(
    "units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
    "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "return_sequences", "return_state",
    "go_backwards", "stateful", "unroll", "seed", "zero_output_for_mask"))
class SimpleRNN(Recurrent):
    """SimpleRNN(units): (batch, T, C) -> (batch, units), or (batch, T, units) with return_sequences."""


@layer("GRU", **rnn_args(
    "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
    "bias_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
    "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed",
    "return_sequences", "return_state", "go_backwards", "stateful", "unroll", "reset_after", "use_cudnn",
    "implementation", "zero_output_for_mask"))
class GRU(Recurrent):
    """GRU(units): (batch, T, C) -> (batch, units), or (batch, T, units) with return_sequences."""

    gates = 3

    def bias_shape(self):
        # reset_after keeps separate input and recurrent biases, one row each.
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def step(self, x_t, states, w):
        kernel, recurrent_kernel, *bias = w
        u = int(self.units)
        h = states[0]
        x_proj = x_t @ kernel  # (batch, 3u): z, r, h blocks
        if self.use_bias:
            x_proj = x_proj + (bias[0][0] if self.reset_after else bias[0])
        x_z, x_r, x_h = x_proj[:, :u], x_proj[:, u:2 * u], x_proj[:, 2 * u:]
        if self.reset_after:
            # The reset gate multiplies the recurrent projection (its bias row 1 included).
            h_proj = h @ recurrent_kernel
            if self.use_bias:
                h_proj = h_proj + bias[0][1]
            h_z, h_r, h_h = h_proj[:, :u], h_proj[:, u:2 * u], h_proj[:, 2 * u:]
            z = activate(self.recurrent_activation, x_z + h_z)
            r = activate(self.recurrent_activation, x_r + h_r)
            candidate = activate(self.activation, x_h + r * h_h)
        else:
            # The reset gate multiplies the state before its projection.
            h_proj = h @ recurrent_kernel[:, :2 * u]
            z = activate(self.recurrent_activation, x_z + h_proj[:, :u])
            r = activate(self.recurrent_activation, x_r + h_proj[:, u:])
            candidate = activate(self.activation, x_h + (r * h) @ recurrent_kernel[:, 2 * u:])
        return [z * h + (1 - z) * candidate]

    def cell_element(self, x_t, states, w, sidx):
        h = states[0]
        kernel, recurrent, *bias = w
        u = self.units

        def projected(operand, weights, row, gate, at):
            """Σ operand[..., v]·weights[v, gate block] + that block's bias (row `row` with reset_after)."""
            *lead, o = at
            v = operand.index("v" if operand is h else "c")
            size = u if operand is h else x_t.shape[-1]
            total = ix.Sum(operand(*lead, v) * weights[v, gate * u + o], (v, 0, size - 1))
            if self.use_bias and (self.reset_after or operand is x_t):  # without reset_after: one bias
                total += bias[0][row, gate * u + o] if self.reset_after else bias[0][gate * u + o]
            return total

        def gate(g, at):
            return ix.activate(self.recurrent_activation, projected(x_t, kernel, 0, g, at) + projected(h, recurrent, 1, g, at))

        z = gate(0, sidx)
        if self.reset_after:
            candidate = projected(x_t, kernel, 0, 2, sidx) + gate(1, sidx) * projected(h, recurrent, 1, 2, sidx)
        else:
            *lead, o = sidx
            v = h.index("v")
            reset = gate(1, (*lead, v)) * h(*lead, v)
            candidate = projected(x_t, kernel, 0, 2, sidx) + ix.Sum(reset * recurrent[v, 2 * u + o], (v, 0, u - 1))
        return [z * h(*sidx) + (1 - z) * ix.activate(self.activation, candidate)]


@layer("LSTM", **rnn_args(
    "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
    "bias_initializer", "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
    "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
    "recurrent_dropout", "seed", "return_sequences", "return_state", "go_backwards", "stateful", "unroll",
    "use_cudnn", "implementation", "zero_output_for_mask"))
class LSTM(Recurrent):
    """LSTM(units): (batch, T, C) -> (batch, units), or (batch, T, units) with return_sequences."""

    gates, states = 4, 2

    def step(self, x_t, states, w):
        kernel, recurrent_kernel, *bias = w
        h, c = states
        z = self.project_input(x_t, kernel) + self.project_state(h, recurrent_kernel)
        if self.use_bias:
            z = z + bias[0]
        u = z.shape[-1] // 4  # gate blocks i, f, c, o on the last axis
        i = activate(self.recurrent_activation, z[..., :u])
        f = activate(self.recurrent_activation, z[..., u:2 * u])
        o = activate(self.recurrent_activation, z[..., 3 * u:])
        c = f * c + i * activate(self.activation, z[..., 2 * u:3 * u])
        return [o * activate(self.activation, c), c]

    def cell_element(self, x_t, states, w, sidx):
        h, c = states
        i, f, o = (ix.activate(self.recurrent_activation, self.gate_element(x_t, h, w, sidx, g)) for g in (0, 1, 3))
        cell = f * c(*sidx) + i * ix.activate(self.activation, self.gate_element(x_t, h, w, sidx, 2))
        return [o * ix.activate(self.activation, cell), cell]


def _conv(x, kernel, strides, dilation, padding: str):
    """Plain N-D convolution, channels last: x (batch, *spatial, C) * kernel (*k, C, F) -> (batch, *spatial', F).
    One tap at a time: the input window the tap sees at every output position, times kernel[tap]."""
    rank = kernel.ndim - 2
    k = kernel.shape[:rank]
    if padding == "same":
        pads = [same_padding(L, kk, s, d) for L, kk, s, d in zip(x.shape[1:-1], k, strides, dilation)]
        x = np.pad(x, [(0, 0), *pads, (0, 0)])
    out = [(L - d * (kk - 1) - 1) // s + 1 for L, kk, s, d in zip(x.shape[1:-1], k, strides, dilation)]
    y = np.zeros((x.shape[0], *out, kernel.shape[-1]), dtype=x.dtype)
    for tap in np.ndindex(*k):
        window = tuple(slice(t * d, t * d + (n - 1) * s + 1, s) for t, n, s, d in zip(tap, out, strides, dilation))
        y += x[(slice(None), *window)] @ kernel[tap]
    return y


class ConvLSTM(Recurrent, Conv):
    """Shared by ConvLSTM1D/2D/3D: (batch, T, *spatial, C) -> (batch, [T,] *spatial', filters).

    Conv supplies the argument checks (channels_last, strides with dilation) and the output grid.
    """

    gates, states = 4, 2

    @property
    def size(self):
        return self.filters

    def state_shape(self, x):
        # The input convolution sets the grid; the recurrent one is "same" with stride 1, keeping it.
        return (x[0], *self.spatial_out((x[0], *x[2:])), self.filters)

    step = LSTM.step  # the LSTM cell, its products being convolutions
    cell_element = LSTM.cell_element

    def project_input_element(self, x_t, kernel, sidx, offset):
        b, *pos, o = sidx
        return window_element(x_t, lambda taps, c: kernel[(*taps, c, offset + o)], b, pos, self.kernel_size,
                              self.strides, self.dilation_rate, self.padding, x_t.shape[-1],
                              lambda b, at, c: x_t(b, *at, c))

    def project_state_element(self, h, kernel, sidx, offset):
        b, *pos, o = sidx
        ones = (1,) * self.rank
        return window_element(h, lambda taps, v: kernel[(*taps, v, offset + o)], b, pos, self.kernel_size, ones, ones,
                              "same", self.size, lambda b, at, v: h(b, *at, v))

    def project_input(self, x_t, kernel):
        # The layer's own strides, dilation and padding.
        return _conv(x_t, kernel, [int(s) for s in self.strides], [int(d) for d in self.dilation_rate], self.padding)

    def project_state(self, h, kernel):
        # "same" with stride 1 and no dilation: the state keeps its grid.
        return _conv(h, kernel, [1] * self.rank, [1] * self.rank, "same")

    def constraints(self, x):
        if self.padding != "valid":
            return []
        result = []
        for axis, (L, k, d) in enumerate(zip(x[2:-1], self.kernel_size, self.dilation_rate), start=2):
            reach = d * (k - 1) + 1
            result.append(Constraint(sympy.Ge(L, reach), f"{self.kind} needs at least {reach} positions on "
                               f"axis {axis} for its kernel, but the input has {L}", "kernel_size",
                               'use padding="same", a smaller kernel or dilation, or a larger input'))
        return result

    def recurrence_windows(self, x):
        # The last state has seen the first step through the input convolution and then T - 1
        # recurrent convolutions (kernel k, stride 1 on the state grid, no dilation): the spatial
        # field grows by (k - 1) state positions per step. T is known (a number or a symbol), so
        # the field is exact, e.g. 3 + 2*(T - 1) for a 3-wide kernel, rather than "all".
        T = x[1]
        return {axis: (d * (k - 1) + 1 + (T - 1) * (k - 1) * s, s) for axis, (k, s, d) in
                enumerate(zip(self.kernel_size, self.strides, self.dilation_rate), start=2)}


def conv_lstm_args(rank: int) -> dict:
    return rnn_args(
        "filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
        "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
        "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
        "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed",
        "return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask", rank=rank)


@layer("ConvLSTM1D", **conv_lstm_args(1))
class ConvLSTM1D(ConvLSTM):
    """ConvLSTM1D(filters, kernel_size): (batch, T, steps, C) -> (batch, steps', filters)."""

    rank = 1


@layer("ConvLSTM2D", **conv_lstm_args(2))
class ConvLSTM2D(ConvLSTM):
    """ConvLSTM2D(filters, kernel_size): (batch, T, H, W, C) -> (batch, H', W', filters)."""

    rank = 2


@layer("ConvLSTM3D", **conv_lstm_args(3))
class ConvLSTM3D(ConvLSTM):
    """ConvLSTM3D(filters, kernel_size): (batch, T, D, H, W, C) -> (batch, D', H', W', filters)."""

    rank = 3
