"""Wrappers: TimeDistributed (a layer at every time step) and Bidirectional (a recurrence both ways).

A wrapper's row counts its inner layers' weights as its own, as Keras's summary does; an inner
layer built with trainable=False keeps its weights frozen inside the wrapper.
"""
from __future__ import annotations

import copy
from dataclasses import replace

import sympy

from ..errors import ShapeproofError
from ..lazy import np
from ..receptive import RF, Axis
from ..values import did_you_mean
from .base import Choice, Ignored, Layer, LayerArg, format_shape, layer
from .recurrent import Recurrent


class Wrapper(Layer):
    """Shared by the wrappers: the inner layers' weights, frozen where the inner layer is."""

    def weights(self, x):
        return [replace(w, trainable=w.trainable and sub.trainable)
                for sub in self.sublayers() for w in sub.weights(self.inner_input(x))]

    def inner_input(self, x):
        return x


@layer("TimeDistributed", layer=LayerArg())
class TimeDistributed(Wrapper):
    """TimeDistributed(layer): (batch, T, ...) -> (batch, T, ...'), `layer` applied to every step."""

    def validate(self):
        if self.layer.inputs != 1:
            raise self.error(f"TimeDistributed wraps a layer with one input, but {self.layer.kind} merges several",
                             "layer", f"apply {self.layer.kind} first, then TimeDistributed to its result")

    def sublayers(self):
        return [self.layer]

    def inner_input(self, x):
        return (x[0], *x[2:])

    def check_input(self, x):
        if len(x) < 3:
            raise self.error(f"TimeDistributed needs an input of rank 3 or more (batch, time, ...), "
                             f"got rank {len(x)} {format_shape(x)}",
                             hint=f"apply {self.layer.kind} directly: there is no time axis to distribute over")
        self.layer.check_input(self.inner_input(x))

    def output_shape(self, x):
        out = self.layer.output_shape(self.inner_input(x))
        if isinstance(out, list):
            raise self.error(f"TimeDistributed wraps a layer with one output, but {self.layer.kind} returns "
                             f"{len(out)} here", "layer", "drop return_state (or merge_mode=None) from the inner layer")
        return (out[0], x[1], *out[1:])

    def constraints(self, x):
        return [replace(c, reason=f"{c.reason} (inside TimeDistributed: axes of one time step)")
                for c in self.layer.constraints(self.inner_input(x))]

    def macs(self, x):
        return x[1] * self.layer.macs(self.inner_input(x))

    def element(self, x, w, idx, output=0):
        """The inner layer's element at row b·T + t of the input with time folded into the batch."""
        b, t, *rest = idx
        steps = x.shape[1]
        folded = x.view((x.shape[0] * steps, *x.shape[2:]),
                        lambda j, *r: x(sympy.floor(j / steps), sympy.Mod(j, steps), *r))
        return self.layer.element(folded, w, (b * steps + t, *rest))

    def reference(self, x, w):
        # Every step is independent: fold time into the batch, run the layer once, unfold.
        batch, steps = x.shape[:2]
        y = self.layer.reference(x.reshape(batch * steps, *x.shape[2:]), w)
        return y.reshape(batch, steps, *y.shape[1:])

    def receptive_field(self, x, rf):
        # The inner layer never sees the time axis: hide it (size 0 means "untouched by layers"),
        # shift the other axes down by one for the inner layer, shift them back, restore time.
        time = {i: a for i, a in enumerate(rf) if a.pos == 1 and a.size != 0}
        hidden = RF(Axis(0, a.jump, None) if i in time else a for i, a in enumerate(rf))
        inner = self.layer.receptive_field(self.inner_input(x), hidden.move({p: p - 1 for p in range(2, len(x))}))
        rank = len(self.layer.output_shape(self.inner_input(x)))
        back = inner.move({p: p + 1 for p in range(1, rank)})
        return RF(time.get(i, a) for i, a in enumerate(back))


class MergeMode(Choice):
    """Bidirectional's merge_mode: exactly one of Keras's lower-case names, or None."""

    def __init__(self):
        super().__init__("concat", "sum", "mul", "ave", allow_none=True)

    def convert(self, value):
        if isinstance(value, str) and value not in self.options:  # Keras does not lowercase it
            raise ShapeproofError(f"{value!r} is not one of {self.describe}", hint=did_you_mean(value, self.options))
        return super().convert(value)


@layer("Bidirectional", layer=LayerArg(), merge_mode=MergeMode(), weights=Ignored(), backward_layer=LayerArg(None))
class Bidirectional(Wrapper):
    """Bidirectional(layer): runs a recurrence forwards and backwards, outputs merged by merge_mode."""

    def validate(self):
        for arg in ("layer", "backward_layer"):
            inner = getattr(self, arg)
            if inner is not None and not isinstance(inner, Recurrent):
                raise self.error(f"Bidirectional wraps a recurrent layer (SimpleRNN, GRU, LSTM, ConvLSTM1D/2D/3D), "
                                 f"got {inner.kind}", arg,
                                 f"to apply {inner.kind} at every time step, use TimeDistributed({inner.call.text})")
        self.forward = self.layer
        if self.backward_layer is None:
            # Keras copies the layer's configuration with go_backwards=True (set, not flipped).
            self.backward = copy.copy(self.layer)
            self.backward.go_backwards = True
        else:
            self.backward = self.backward_layer
        if self.forward.go_backwards == self.backward.go_backwards:
            raise self.error(f"the forward and backward layers both have go_backwards={self.forward.go_backwards}",
                             "backward_layer" if self.backward_layer is not None else "layer",
                             "the backward layer needs go_backwards=True and the forward one go_backwards=False")
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(self.forward, attr) != getattr(self.backward, attr):
                raise self.error(f"the forward and backward layers need the same {attr}, got "
                                 f"{getattr(self.forward, attr)} and {getattr(self.backward, attr)}", "backward_layer")

    def sublayers(self):
        return [self.forward, self.backward]

    def check_input(self, x):
        for sub in self.sublayers():
            sub.check_input(x)

    def output_shape(self, x):
        forward, backward = self.forward.output_shape(x), self.backward.output_shape(x)
        if forward != backward:
            # Keras derives the output from the forward layer alone; a different backward layer
            # would not match it when run.
            raise self.error(f"the backward layer's output {backward} differs from the forward layer's {forward}",
                             "backward_layer", "give both layers the same units/filters and kernel")
        out, states = (forward[0], forward[1:]) if self.return_state else (forward, [])
        if self.merge_mode == "concat":
            outs = [(*out[:-1], 2 * out[-1])]
        elif self.merge_mode is None:
            outs = [out, out]  # [forward, backward] unmerged
        else:
            outs = [out]
        # Keras's order: the output(s), then the forward layer's states, then the backward layer's.
        result = outs + states + states
        return result if len(result) > 1 else result[0]

    @property
    def return_state(self):
        return self.forward.return_state

    def constraints(self, x):
        return [c for sub in self.sublayers() for c in sub.constraints(x)]

    def macs(self, x):
        return sum(sub.macs(x) for sub in self.sublayers())

    def element(self, x, w, idx, output=0):
        """Both recurrences (the backward one's sequence read back in time order), merged."""
        split = len(self.forward.weights(x.shape))
        forward = x.recurrence(self.forward, w[:split], ":forward")
        backward = x.recurrence(self.backward, w[split:], ":backward")
        last = x.shape[1] - 1
        outputs = 2 if self.merge_mode is None else 1
        if output >= outputs:  # the states: the forward layer's, then the backward layer's
            k = output - outputs
            states = forward if k < self.forward.states else backward
            return states[k % self.forward.states](*idx, last)

        def sequence(states, backwards, at):
            if self.forward.return_sequences:
                b, t, *rest = at
                return states[0](b, *rest, last - t if backwards else t)
            return states[0](*at, last)

        if self.merge_mode is None:
            return sequence(forward if output == 0 else backward, output == 1, idx)
        if self.merge_mode == "concat":
            *lead, o = idx
            units = self.forward.size
            return sympy.Piecewise((sequence(forward, False, idx), o <= units - 1),
                                   (sequence(backward, True, (*lead, o - units)), True))
        a, b = sequence(forward, False, idx), sequence(backward, True, idx)
        return {"sum": a + b, "mul": a * b, "ave": (a + b) / 2}[self.merge_mode]

    def reference(self, x, w):
        # The weights are the forward layer's, then the backward layer's.
        split = len(self.forward.weights(x.shape))
        y, y_rev = self.forward.reference(x, w[:split]), self.backward.reference(x, w[split:])
        states = []
        if self.return_state:
            # [output, *states] each; Keras returns the forward states, then the backward ones.
            (y, *forward_states), (y_rev, *backward_states) = y, y_rev
            states = forward_states + backward_states
        if self.forward.return_sequences:
            # The backward layer's sequence is in processing order: flip it back to time order.
            y_rev = y_rev[:, ::-1]
        if self.merge_mode == "concat":
            outs = [np.concatenate([y, y_rev], axis=-1)]
        elif self.merge_mode == "sum":
            outs = [y + y_rev]
        elif self.merge_mode == "ave":
            outs = [(y + y_rev) / 2]
        elif self.merge_mode == "mul":
            outs = [y * y_rev]
        else:  # None: both, unmerged
            outs = [y, y_rev]
        result = outs + states
        return result if len(result) > 1 else result[0]

    def receptive_field(self, x, rf):
        return RF.merge([sub.receptive_field(x, rf) for sub in self.sublayers()])
