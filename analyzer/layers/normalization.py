"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization,
Normalization (preprocessing).

All keep the input's shape; their weights are vectors (or, for LayerNormalization over several
axes, tensors) sized by the normalised axes, as Keras builds them.
"""
from __future__ import annotations

import sympy

from .base import AnyInt, Anything, Bool, Constraint, Float, Ignored, Layer, Weight, _describe, format_shape, layer
from .. import indexing as ix
from ..lazy import np
from ..values import is_integer


def ignored(*names: str) -> dict:
    """Arguments accepted and ignored: they change no shape or count."""
    return {name: Ignored() for name in names}


REGULARIZER_ARGS = ignored("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint")


class Normalization(Layer):
    """Shared by the normalization layers: resolving `axis` (an int or a list of ints) against the input."""

    batch_axis_hint = "Keras needs a fixed size for its weights; use axis=-1 for the features"

    def axis_list(self) -> list:
        """The axes as given, each a concrete integer (may be negative)."""
        axes = list(self.axis) if isinstance(self.axis, (tuple, list)) else [self.axis]
        for a in axes:
            if not (is_integer(a) and sympy.sympify(a).is_number):
                raise self.error(f"{self.kind} axis must be an integer or a list of integers, got {_describe(a)}",
                                 "axis", "e.g. axis=-1 (the features)")
        if not axes:
            raise self.error(f"{self.kind} needs at least one axis", "axis", "e.g. axis=-1 (the features)")
        return [int(a) for a in axes]

    def positions(self, x) -> list[int]:
        """The normalised axes as non-negative positions in `x`, checked."""
        result = []
        for a in self.axis_list():
            if not -len(x) <= a < len(x):
                raise self.error(f"{self.kind} axis {a} is out of range for the rank-{len(x)} input {format_shape(x)}",
                                 "axis", f"axes run from 1 to {len(x) - 1} (or -1 to -{len(x) - 1} from the end)")
            if a % len(x) == 0:
                raise self.error(f"{self.kind} cannot normalise over the batch axis (axis {a})", "axis",
                                 self.batch_axis_hint)
            if a % len(x) in result:
                raise self.error(f"{self.kind} axis {a} names axis {a % len(x)} twice", "axis",
                                 "each axis may be listed once")
            result.append(a % len(x))
        return result

    def check_input(self, x):
        self.positions(x)


@layer("BatchNormalization", axis=AnyInt(-1), momentum=Float(0.99), epsilon=Float(1e-3), center=Bool(True),
       scale=Bool(True), **ignored("beta_initializer", "gamma_initializer", "moving_mean_initializer",
                                   "moving_variance_initializer"), **REGULARIZER_ARGS,
       renorm=Bool(False), renorm_clipping=Ignored(), renorm_momentum=Float(0.99), synchronized=Bool(False))
class BatchNormalization(Normalization):
    """BatchNormalization(axis=-1): shape unchanged; per-channel gamma, beta and moving statistics."""

    def weights(self, x):
        shape = (x[self.positions(x)[0]],)
        trained = [Weight(name, shape) for name, present in (("gamma", self.scale), ("beta", self.center)) if present]
        stats = ["moving_mean", "moving_variance"] + (["moving_stddev", "renorm_mean", "renorm_stddev"]
                                                      if self.renorm else [])
        return trained + [Weight(name, shape, trainable=False) for name in stats]

    # receptive field: at inference each element is scaled and shifted on its own (unchanged).

    def element(self, x, w, idx, output=0):
        """(x - moving_mean[c])·gamma[c]/√(moving_variance[c] + ε) + beta[c], c the index on `axis`."""
        c = idx[self.positions(x.shape)[0]]
        w = list(w)
        gamma = w.pop(0) if self.scale else None
        beta = w.pop(0) if self.center else None
        mean, variance = w[0], w[1]
        y = (x(*idx) - mean[c]) / sympy.sqrt(variance[c] + sympy.Float(self.epsilon))
        if gamma is not None:
            y = y * gamma[c]
        return y + beta[c] if beta is not None else y

    def reference(self, x, w):
        # Inference (renorm too): Keras normalises with the moving statistics,
        # (x - moving_mean) * (rsqrt(moving_variance + epsilon) * gamma) + beta, per channel;
        # renorm's extra statistics (moving_stddev, renorm_mean, renorm_stddev) serve training only.
        axis = self.positions(x.shape)[0]
        w = list(w)
        gamma = w.pop(0) if self.scale else None
        beta = w.pop(0) if self.center else None
        mean, variance = w[0], w[1]
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        inv = 1.0 / np.sqrt(variance + self.epsilon)
        if gamma is not None:
            inv = inv * gamma
        y = (x - mean.reshape(shape)) * inv.reshape(shape)
        if beta is not None:
            y = y + beta.reshape(shape)
        return y.astype(x.dtype, copy=False)


@layer("LayerNormalization", axis=Anything(-1), epsilon=Float(1e-3), center=Bool(True), scale=Bool(True),
       **ignored("beta_initializer", "gamma_initializer"), **REGULARIZER_ARGS, rms_scaling=Bool(False))
class LayerNormalization(Normalization):
    """LayerNormalization(axis=-1): shape unchanged; statistics over `axis` (an int or a list)."""

    def validate(self):
        self.axis_list()

    def weights(self, x):
        self.positions(x)
        # Keras sorts the axes as given (so [-1, 1] stays in that order) and shapes gamma and beta
        # from them; rms_scaling keeps gamma and drops beta.
        shape = tuple(x[a] for a in sorted(self.axis_list()))
        result = [Weight("gamma", shape)] if self.scale or self.rms_scaling else []
        return result + ([Weight("beta", shape)] if self.center and not self.rms_scaling else [])

    def receptive_field(self, x, rf):
        # Every output depends on all positions of the normalised axes (their statistics).
        for p in self.positions(x):
            rf = rf.mix(p)
        return rf

    def element(self, x, w, idx, output=0):
        """(x - mean)/√(variance + ε)·gamma + beta, mean and (population) variance over the axes;
        gamma and beta read as Keras reshapes them (see reference)."""
        axes = sorted(self.positions(x.shape))
        count = sympy.Mul(*(x.shape[a] for a in axes))

        def over(body):
            at, limits = list(idx), []
            for a in axes:
                at[a] = x.index("n")
                limits.append((at[a], 0, x.shape[a] - 1))
            return ix.Sum(body(at), *limits) / count

        mean = over(lambda at: x(*at))
        variance = over(lambda at: (x(*at) - over(lambda inner: x(*inner))) ** 2)
        scale = 1 / sympy.sqrt(variance + sympy.Float(self.epsilon))
        y = x(*idx) * scale if self.rms_scaling else (x(*idx) - mean) * scale
        given = sorted(self.axis_list())
        weight_at = ix.reshape_index(tuple(x.shape[a] for a in given), tuple(x.shape[a] for a in axes),
                                     tuple(idx[a] for a in axes))
        w = list(w)
        if self.scale or self.rms_scaling:
            y = y * w.pop(0)[weight_at]
        if self.center and not self.rms_scaling:
            y = y + w.pop(0)[weight_at]
        return y

    def reference(self, x, w):
        # Keras (ops.layer_normalization) sorts the axes as given, e.g. [-1, 1] stays [-1, 1], and
        # *reshapes* gamma and beta (shaped from that order) to the input's rank with the normalised
        # sizes in place: for axes out of ascending position order this reorders their elements
        # (row-major), which is what Keras computes, so the reference does the same.
        positions = self.positions(x.shape)
        broadcast = [1] * x.ndim
        for a in sorted(self.axis_list()):
            broadcast[a] = x.shape[a]
        axes = tuple(sorted(positions))
        w = list(w)
        gamma = w.pop(0).reshape(broadcast) if self.scale or self.rms_scaling else None
        beta = w.pop(0).reshape(broadcast) if self.center and not self.rms_scaling else None
        mean = x.mean(axis=axes, keepdims=True)
        variance = x.var(axis=axes, keepdims=True)  # population variance (no Bessel correction)
        inv = 1.0 / np.sqrt(variance + self.epsilon)
        if self.rms_scaling:
            # Keras's (deprecated) rms_scaling divides by the standard deviation without
            # subtracting the mean: x * rsqrt(var + epsilon) * gamma, no beta.
            y = x * inv
        else:
            y = (x - mean) * inv
        if gamma is not None:
            y = y * gamma
        if beta is not None:
            y = y + beta
        return y.astype(x.dtype, copy=False)


EPSILON = 1e-7  # keras.backend.epsilon(): Normalization's floor on the standard deviation


@layer("Normalization", axis=Anything(-1), mean=Anything(None), variance=Anything(None), invert=Bool(False))
class FeatureNormalization(Normalization):
    """Normalization(axis=-1): (x - mean) / max(√variance, 1e-7) per feature along `axis`, the statistics
    `adapt` stored (mean, variance, count: non-trainable weights) or given as numbers; `invert=True`
    maps back, mean + x·max(√variance, 1e-7). Shape unchanged."""

    MAX_LISTED = 64  # per-feature numbers written into the kernels (an RGB mean is 3)

    def validate(self):
        for name in ("mean", "variance"):
            value = getattr(self, name)
            items = list(value) if isinstance(value, (tuple, list)) else [value]
            if value is not None and (not items or len(items) > self.MAX_LISTED or any(
                    isinstance(v, (bool, str, tuple, list)) or not (isinstance(v, float) or is_integer(v))
                    for v in items)):
                raise self.error(f"Normalization {name} must be a number or a list of at most {self.MAX_LISTED} "
                                 "numbers, one per feature", name, "or leave mean and variance out and load the "
                                 "adapted weights")
        if (self.mean is None) != (self.variance is None):
            raise self.error("Normalization needs both mean and variance, or neither", "mean" if self.mean is None
                             else "variance")

    def given(self, name: str) -> list[float]:
        """The mean or variance given as numbers: one, or one per feature."""
        value = getattr(self, name)
        return [float(v) for v in (value if isinstance(value, (tuple, list)) else [value])]

    def check_input(self, x):
        kept = sorted(self.positions(x))
        for name in ("mean", "variance") if self.mean is not None else ():
            n = len(self.given(name))
            if n > 1 and (len(kept) != 1 or not x[kept[0]].is_number or int(x[kept[0]]) != n):
                raise self.error(f"Normalization {name} lists {n} numbers, but the features along axis "
                                 f"{self.axis} of {format_shape(x)} are {format_shape([x[a] for a in kept])}",
                                 name, "one number per feature (or one for all)")

    def weights(self, x):
        if self.mean is not None:
            return []
        shape = tuple(x[p] for p in sorted(self.positions(x)))
        return [Weight("mean", shape, trainable=False), Weight("variance", shape, trainable=False),
                Weight("count", (), trainable=False)]

    def statistics(self, w, at):
        if self.mean is not None:
            return self.number("mean", at), self.number("variance", at)
        return w[0][at], w[1][at]

    def number(self, name: str, at):
        """A given statistic at feature `at`: the number, or a choice by feature index when listed."""
        values = [sympy.Float(v) for v in self.given(name)]
        if len(values) == 1:
            return values[0]
        i = at[0]
        return sympy.Piecewise(*((v, sympy.Eq(i, k)) for k, v in enumerate(values[:-1])), (values[-1], True))

    def element(self, x, w, idx, output=0):
        at = tuple(idx[p] for p in sorted(self.positions(x.shape)))
        mean, variance = self.statistics(w, at)
        scale = sympy.Max(sympy.sqrt(variance), sympy.Float(EPSILON))
        v = x(*idx)
        return mean + v * scale if self.invert else (v - mean) / scale

    def reference(self, x, w):
        keep = sorted(self.positions(x.shape))
        shape = [x.shape[a] if a in keep else 1 for a in range(x.ndim)]
        if self.mean is not None:  # Keras broadcasts the given numbers to the kept axes
            mean = np.array(self.given("mean")).reshape(shape if len(self.given("mean")) > 1 else ())
            variance = np.array(self.given("variance")).reshape(shape if len(self.given("variance")) > 1 else ())
        else:
            mean, variance = w[0].reshape(shape), w[1].reshape(shape)
        scale = np.maximum(np.sqrt(variance), EPSILON)
        y = mean + x * scale if self.invert else (x - mean) / scale
        return y.astype(x.dtype)


@layer("GroupNormalization", groups=AnyInt(32), axis=AnyInt(-1), epsilon=Float(1e-3), center=Bool(True),
       scale=Bool(True), **ignored("beta_initializer", "gamma_initializer"), **REGULARIZER_ARGS)
class GroupNormalization(Normalization):
    """GroupNormalization(groups=32, axis=-1): the channels on `axis` split into `groups` groups of
    consecutive channels, each normalised with the mean and (population) variance over its channels
    and every non-batch position; per-channel gamma and beta. groups=-1: one group per channel."""

    def validate(self):
        if not (self.groups >= 1 or self.groups == -1):
            raise self.error(f"GroupNormalization groups must be positive (or -1, one per channel), got {self.groups}",
                             "groups", "e.g. groups=32")

    def group_count(self, x):
        return x[self.positions(x)[0]] if self.groups == -1 else sympy.Integer(self.groups)

    def constraints(self, x):
        channels, groups = x[self.positions(x)[0]], self.group_count(x)
        return [Constraint(sympy.Ge(channels, groups), f"GroupNormalization has more groups ({groups}) than "
                           f"channels ({channels})", "groups", "use at most one group per channel"),
                Constraint(sympy.Eq(channels % groups, 0), f"GroupNormalization needs channels ({channels}) "
                           f"divisible by groups={groups}", "groups", "each group holds channels / groups channels")]

    def weights(self, x):
        shape = (x[self.positions(x)[0]],)
        return [Weight(name, shape) for name, present in (("gamma", self.scale), ("beta", self.center)) if present]

    def receptive_field(self, x, rf):
        for p in range(1, len(x)):  # the statistics read every non-batch position and the group's channels
            rf = rf.mix(p)
        return rf

    def element(self, x, w, idx, output=0):
        """(x - mean)/√(variance + ε)·gamma[c] + beta[c], the statistics over channel c's group."""
        a = self.positions(x.shape)[0]
        per = x.shape[a] / self.group_count(x.shape)
        first = sympy.floor(idx[a] / per) * per
        count = per * sympy.Mul(*(x.shape[k] for k in range(1, len(idx)) if k != a))

        def over(body):
            at, limits = list(idx), []
            for k in range(1, len(idx)):
                n = x.index("n")
                at[k] = first + n if k == a else n
                limits.append((n, 0, (per if k == a else x.shape[k]) - 1))
            return ix.Sum(body(at), *limits) / count

        mean = over(lambda at: x(*at))
        variance = over(lambda at: (x(*at) - over(lambda inner: x(*inner))) ** 2)
        y = (x(*idx) - mean) / sympy.sqrt(variance + sympy.Float(self.epsilon))
        w = list(w)
        if self.scale:
            y = y * w.pop(0)[idx[a]]
        return y + w.pop(0)[idx[a]] if self.center else y

    def reference(self, x, w):
        # Keras: reshape the channels into (groups, channels / groups), moments over every axis but the
        # batch and the groups, inv = rsqrt(variance + epsilon)·gamma, x·inv + (beta - mean·inv).
        a = self.positions(x.shape)[0]
        channels = x.shape[a]
        groups = int(self.group_count(x.shape))
        grouped = x.reshape(x.shape[:a] + (groups, channels // groups) + x.shape[a + 1:])
        axes = tuple(k for k in range(1, grouped.ndim) if k != a)
        mean = grouped.mean(axis=axes, keepdims=True)
        variance = grouped.var(axis=axes, keepdims=True)
        broadcast = [1] * grouped.ndim
        broadcast[a], broadcast[a + 1] = groups, channels // groups
        inv = 1.0 / np.sqrt(variance + self.epsilon)
        w = list(w)
        if self.scale:
            inv = inv * w.pop(0).reshape(broadcast)
        shift = -mean * inv
        if self.center:
            shift = shift + w.pop(0).reshape(broadcast)
        return (grouped * inv + shift).reshape(x.shape).astype(x.dtype, copy=False)


UNIT_EPSILON = 1e-12  # UnitNormalization's epsilon: the inverse norm is at most 1e12


@layer("UnitNormalization", axis=Anything(-1))
class UnitNormalization(Normalization):
    """UnitNormalization(axis=-1): x / ‖x‖₂ over `axis` (an int or a list), as Keras computes it:
    x·min(1/√Σx², 1e12). Shape unchanged, no weights."""

    batch_axis_hint = "each sample is normalised on its own; use axis=-1 for the features"

    def validate(self):
        self.axis_list()

    def receptive_field(self, x, rf):
        for p in self.positions(x):
            rf = rf.mix(p)
        return rf

    def element(self, x, w, idx, output=0):
        at, limits = list(idx), []
        for a in sorted(self.positions(x.shape)):
            at[a] = x.index("n")
            limits.append((at[a], 0, x.shape[a] - 1))
        return x(*idx) * sympy.Min(1 / sympy.sqrt(ix.Sum(x(*at) ** 2, *limits)), sympy.Float(1 / UNIT_EPSILON))

    def reference(self, x, w):
        axes = tuple(sorted(self.positions(x.shape)))
        squares = np.square(x).sum(axis=axes, keepdims=True)
        with np.errstate(divide="ignore"):
            inv = np.minimum(1.0 / np.sqrt(squares), 1.0 / UNIT_EPSILON)
        return (x * inv).astype(x.dtype, copy=False)
