"""Keras's activation layers — ReLU (max_value, negative_slope, threshold), LeakyReLU, PReLU (a weight
per element, axes sharable), ELU, Identity, Softmax (over one axis or several) — and Rescaling
(x·scale + offset, a preprocessing layer of the same element-wise kind) and ConvNeXt's LayerScale (x
times a learned vector on the last axis). All but Softmax element-wise; shape unchanged.

Each element formula is written as Keras computes it (keras/src/activations/activations.py ReLU
.static_call: the rectified part, clipped, less negative_slope times the rectified negative part), so
the kernels printed from it (codegen/elements.py) and the NumPy reference agree with Keras to rounding.
With their defaults, ReLU is `relu(x)`, ReLU(max_value=6) `relu6(x)` and ELU `elu(x)`: the
activation functions the prover already knows, so `ReLU() == Activation("relu")` is provable.
"""
from __future__ import annotations

import sympy

from .. import indexing as ix
from ..lazy import np
from .base import Anything, Float, Ignored, Int, Layer, Weight, layer
from .conv import OptionalFloat
from .normalization import Normalization


class ActivationLayer(Layer):
    """Shared by the activation layers: one element in, one element out, nothing counted as MACs."""

    def check_input(self, x):
        return None

    def output_shape(self, x):
        return x

    def element(self, x, w, idx, output=0):
        return self.formula(x(*idx), w, idx)

    def formula(self, v, w, idx):
        raise NotImplementedError


def _rectified(v):
    """relu(v) as a formula the printer and the prover both read."""
    return ix.activate("relu", v)


@layer("ReLU", max_value=OptionalFloat(), negative_slope=Float(0.0), threshold=Float(0.0))
class ReLU(ActivationLayer):
    """ReLU(max_value=None, negative_slope=0.0, threshold=0.0): max(x, 0) clipped at max_value, with
    negative_slope·(x - threshold) below the threshold."""

    def validate(self):
        for arg in ("max_value", "negative_slope", "threshold"):
            value = getattr(self, arg)
            if value is not None and value < 0:
                raise self.error(f"ReLU {arg} must be at least 0, got {value}", arg, "as Keras requires")

    def formula(self, v, w, idx):
        slope, top, threshold = self.negative_slope, self.max_value, self.threshold
        if slope == 0 and threshold == 0 and top is None:
            return _rectified(v)
        if slope == 0 and threshold == 0 and top == 6:
            return ix.activate("relu6", v)
        if slope != 0 and top is None and threshold == 0:  # Keras: leaky_relu
            return sympy.Piecewise((v, v >= 0), (sympy.Float(slope) * v, True))
        y = sympy.Piecewise((v, v > sympy.Float(threshold)), (0, True)) if threshold != 0 else _rectified(v)
        if top is not None:
            y = sympy.Min(sympy.Max(y, 0), sympy.Float(top))
        if slope != 0:
            y = y - sympy.Float(slope) * _rectified(-v + sympy.Float(threshold) if threshold else -v)
        return y

    def reference(self, x, w):
        slope, top, threshold = self.negative_slope, self.max_value, self.threshold
        dtype = x.dtype
        if slope != 0 and top is None and threshold == 0:
            return np.where(x >= 0, x, x * dtype.type(slope)).astype(dtype)
        negative = np.maximum(-x + dtype.type(threshold), 0) if slope != 0 else None
        y = np.where(x > dtype.type(threshold), x, 0).astype(dtype) if threshold != 0 else np.maximum(x, 0)
        if top is not None:
            y = np.clip(y, 0, dtype.type(top))
        if slope != 0:
            y = y - dtype.type(slope) * negative
        return y.astype(dtype)


@layer("LeakyReLU", negative_slope=Float(0.3), alpha=OptionalFloat())
class LeakyReLU(ActivationLayer):
    """LeakyReLU(negative_slope=0.3): x, or negative_slope·x below 0 (`alpha`, tf.keras 2's name for the
    slope, is taken as it, as Keras 3 does)."""

    def validate(self):
        if self.alpha is not None:
            self.negative_slope = self.alpha
        if self.negative_slope < 0:
            raise self.error(f"LeakyReLU negative_slope must be at least 0, got {self.negative_slope}",
                             "negative_slope")

    def formula(self, v, w, idx):
        return sympy.Piecewise((v, v >= 0), (sympy.Float(self.negative_slope) * v, True))

    def reference(self, x, w):
        return np.where(x >= 0, x, x * x.dtype.type(self.negative_slope)).astype(x.dtype)


@layer("PReLU", alpha_initializer=Ignored(), alpha_regularizer=Ignored(), alpha_constraint=Ignored(),
       shared_axes=Anything(None))
class PReLU(ActivationLayer):
    """PReLU(shared_axes=None): relu(x) - alpha·relu(-x), alpha a learned weight per element of a
    sample (size 1 along the shared axes)."""

    def validate(self):
        axes = self.shared_axes
        axes = [] if axes is None else list(axes) if isinstance(axes, (list, tuple)) else [axes]
        if not all(isinstance(a, (int, sympy.Integer)) and not isinstance(a, bool) and a >= 1 for a in axes):
            raise self.error("PReLU shared_axes are axis numbers from 1 (the batch axis is 0)", "shared_axes",
                             "e.g. PReLU(shared_axes=[1, 2]) for one alpha per channel of an image")
        self.axes = [int(a) for a in axes]

    def check_input(self, x):
        for a in self.axes:
            if a >= len(x):
                raise self.error(f"PReLU shared axis {a} is not an axis of a rank-{len(x)} input", "shared_axes")

    def weights(self, x):
        return [Weight("alpha", tuple(sympy.Integer(1) if a in self.axes else d for a, d in enumerate(x) if a))]

    def formula(self, v, w, idx):
        at = tuple(sympy.Integer(0) if a in self.axes else i for a, i in enumerate(idx) if a)
        return _rectified(v) - w[0][at] * _rectified(-v)

    def reference(self, x, w):
        return (np.maximum(x, 0) - w[0] * np.maximum(-x, 0)).astype(x.dtype)


@layer("ELU", alpha=Float(1.0))
class ELU(ActivationLayer):
    """ELU(alpha=1.0): x, or alpha·(exp(x) - 1) at and below 0."""

    def formula(self, v, w, idx):
        if self.alpha == 1.0:
            return ix.activate("elu", v)
        return sympy.Piecewise((v, v > 0), (sympy.Float(self.alpha) * (sympy.exp(v) - 1), True))

    def reference(self, x, w):
        alpha = x.dtype.type(self.alpha)
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype)


@layer("Identity")
class Identity(ActivationLayer):
    """Identity(): the input, unchanged (a view in the kernels)."""

    def keeps_element_order(self, x) -> bool:
        return True

    def formula(self, v, w, idx):
        return v

    def reference(self, x, w):
        return x


@layer("Rescaling", scale=Float(), offset=Float(0.0))
class Rescaling(ActivationLayer):
    """Rescaling(scale, offset=0.0): x·scale + offset (e.g. 1/255 for pixels); a per-channel scale (a
    list) is not supported yet."""

    def formula(self, v, w, idx):
        return v * sympy.Float(self.scale) + sympy.Float(self.offset)

    def reference(self, x, w):
        return (x * x.dtype.type(self.scale) + x.dtype.type(self.offset)).astype(x.dtype)


@layer("LayerScale", init_values=Float(), projection_dim=Int())
class LayerScale(ActivationLayer):
    """LayerScale(init_values, projection_dim) (keras.applications.convnext): x·gamma, gamma a learned
    weight of shape (projection_dim,) on the last axis (init_values is its initial value)."""

    def check_input(self, x):
        if not ix.same_size(x[-1], self.projection_dim):
            raise self.error(f"LayerScale projection_dim={self.projection_dim} but the input's last axis is {x[-1]}",
                             "projection_dim", "projection_dim is the number of channels (the last axis)")

    def weights(self, x):
        return [Weight("gamma", (self.projection_dim,))]

    def formula(self, v, w, idx):
        return v * w[0][idx[-1]]

    def reference(self, x, w):
        return (x * w[0]).astype(x.dtype)


@layer("Softmax", axis=Anything(-1))
class Softmax(Normalization):
    """Softmax(axis=-1): exp(x) / Σ exp(x) over `axis` (an int or a tuple of ints, never the batch
    axis); shape unchanged. The call's `mask` is not supported."""

    batch_axis_hint = "each sample's softmax is its own; use axis=-1 for the features"

    def validate(self):
        self.axis_list()

    def output_shape(self, x):
        return x

    def receptive_field(self, x, rf):
        for p in self.positions(x):
            rf = rf.mix(p)
        return rf

    def element(self, x, w, idx, output=0):
        axes = sorted(self.positions(x.shape))
        if axes == [len(idx) - 1]:  # the formula of Activation("softmax"): the prover matches the two
            *lead, last = idx
            return ix.activation("softmax", lambda j: x(*lead, j), last, x.shape[-1], x.index)
        at, limits = list(idx), []
        for a in axes:
            at[a] = x.index("j")
            limits.append((at[a], 0, x.shape[a] - 1))
        return sympy.exp(x(*idx)) / ix.Sum(sympy.exp(x(*at)), *limits)

    def reference(self, x, w):
        # Keras: softmax along one axis; over several, exp(x - logsumexp(x)) (the same to rounding).
        axes = tuple(sorted(self.positions(x.shape)))
        e = np.exp(x - x.max(axis=axes, keepdims=True))
        return (e / e.sum(axis=axes, keepdims=True)).astype(x.dtype)


__all__ = ["ELU", "Identity", "LayerScale", "LeakyReLU", "PReLU", "ReLU", "Rescaling", "Softmax"]
