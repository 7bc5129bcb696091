"""Normalization layers: BatchNormalization, LayerNormalization.

Both keep the input's shape; their weights are vectors (or, for LayerNormalization over several
axes, tensors) sized by the normalised axes, as Keras builds them.
"""
from __future__ import annotations

import sympy

from .base import AnyInt, Anything, Bool, Float, Ignored, Layer, Weight, _describe, format_shape, layer
from .. import indexing as ix
from ..lazy import np
from ..values import is_integer


def ignored(*names: str) -> dict:
    """Arguments accepted and ignored: they change no shape or count."""
    return {name: Ignored() for name in names}


REGULARIZER_ARGS = ignored("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint")


class Normalization(Layer):
    """Shared by the normalization layers: resolving `axis` (an int or a list of ints) against the input."""

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
                                 "Keras needs a fixed size for its weights; use axis=-1 for the features")
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

    def validate(self):
        for name in ("mean", "variance"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, (bool, str, tuple, list)) or
                                      not (isinstance(value, float) or is_integer(value))):
                raise self.error(f"Normalization {name} must be a number here (per-feature lists are not "
                                 "supported yet)", name, "leave mean and variance out and load the adapted weights")
        if (self.mean is None) != (self.variance is None):
            raise self.error("Normalization needs both mean and variance, or neither", "mean" if self.mean is None
                             else "variance")

    def weights(self, x):
        if self.mean is not None:
            return []
        shape = tuple(x[p] for p in sorted(self.positions(x)))
        return [Weight("mean", shape, trainable=False), Weight("variance", shape, trainable=False),
                Weight("count", (), trainable=False)]

    def statistics(self, w, at):
        if self.mean is not None:
            return sympy.Float(float(self.mean)), sympy.Float(float(self.variance))
        return w[0][at], w[1][at]

    def element(self, x, w, idx, output=0):
        at = tuple(idx[p] for p in sorted(self.positions(x.shape)))
        mean, variance = self.statistics(w, at)
        scale = sympy.Max(sympy.sqrt(variance), sympy.Float(EPSILON))
        v = x(*idx)
        return mean + v * scale if self.invert else (v - mean) / scale

    def reference(self, x, w):
        keep = sorted(self.positions(x.shape))
        shape = [x.shape[a] if a in keep else 1 for a in range(x.ndim)]
        if self.mean is not None:
            mean, variance = np.float64(self.mean), np.float64(self.variance)
        else:
            mean, variance = w[0].reshape(shape), w[1].reshape(shape)
        scale = np.maximum(np.sqrt(variance), EPSILON)
        y = mean + x * scale if self.invert else (x - mean) / scale
        return y.astype(x.dtype)
