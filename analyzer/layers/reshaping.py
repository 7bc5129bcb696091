"""Spatial reshaping: ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D.

Padding and cropping take Keras's forms: `n` (every side), one entry per axis that is `n` or
`(before, after)`; the 1-D layers take only `n` or `(before, after)`. Flatten, Reshape, Permute and
RepeatVector live in core.py.
"""
from __future__ import annotations

import sympy

from .. import indexing as ix
from ..lazy import np
from .base import Choice, Constraint, Int, Ints, Pairs, layer
from .conv import DATA_FORMAT, Spatial


class Pair(Pairs):
    """The 1-D form: `n` or `(before, after)`, as Keras's standardize_tuple(value, 2) takes it."""

    describe = "an integer or a (before, after) pair of integers"

    def __init__(self, default):
        super().__init__(1, default)

    def convert(self, value):
        if isinstance(value, (tuple, list)) and (len(value) != 2 or any(isinstance(v, (tuple, list)) for v in value)):
            error = self.wrong(value)
            error.hint = "e.g. 2, or (1, 3) for 1 before and 3 after"
            raise error
        return super().convert(value)


class Padding(Spatial):
    """Shared by ZeroPadding: (batch, *spatial, C) -> (batch, *(L + before + after), C)."""

    def output_shape(self, x):
        return (x[0], *(L + a + b for L, (a, b) in zip(x[1:-1], self.padding)), x[-1])

    # Receptive field: unchanged, as padded positions read no input.

    def element(self, x, w, idx, output=0):
        b, *pos, c = idx
        at = [p - before for p, (before, _) in zip(pos, self.padding)]
        return ix.padded(x(b, *at, c), sympy.And(*(ix.inside(a, L) for a, L in zip(at, x.shape[1:-1]))))

    def reference(self, x, w):
        return np.pad(x, [(0, 0), *((int(a), int(b)) for a, b in self.padding), (0, 0)])


@layer("ZeroPadding1D", padding=Pair(1), data_format=DATA_FORMAT)
class ZeroPadding1D(Padding):
    """ZeroPadding1D(padding=1): (batch, steps, C) -> (batch, steps + before + after, C)."""

    rank = 1


@layer("ZeroPadding2D", padding=Pairs(2, (1, 1)), data_format=DATA_FORMAT)
class ZeroPadding2D(Padding):
    """ZeroPadding2D(padding=(1, 1)): (batch, H, W, C) -> (batch, H + top + bottom, W + left + right, C)."""

    rank = 2


@layer("ZeroPadding3D", padding=Pairs(3, 1), data_format=DATA_FORMAT)
class ZeroPadding3D(Padding):
    """ZeroPadding3D(padding=1): (batch, D, H, W, C) -> (batch, D', H', W', C), each axis padded on both sides."""

    rank = 3


class Cropping(Spatial):
    """Shared by Cropping: (batch, *spatial, C) -> (batch, *(L - before - after), C)."""

    def output_shape(self, x):
        return (x[0], *(L - a - b for L, (a, b) in zip(x[1:-1], self.cropping)), x[-1])

    def constraints(self, x):
        return [Constraint(sympy.Ge(L - a - b, 1), f"{self.kind} crops {a + b} of the {L} positions on axis {axis}; "
                     f"at least one must remain", "cropping", "crop less, or make the input larger")
                for axis, (L, (a, b)) in enumerate(zip(x[1:-1], self.cropping), start=1)]

    def element(self, x, w, idx, output=0):
        b, *pos, c = idx
        return x(b, *(p + before for p, (before, _) in zip(pos, self.cropping)), c)

    def reference(self, x, w):
        kept = tuple(slice(int(a), L - int(b)) for L, (a, b) in zip(x.shape[1:-1], self.cropping))
        return x[(slice(None), *kept)]


@layer("Cropping1D", cropping=Pair(1))
class Cropping1D(Cropping):
    """Cropping1D(cropping=1): (batch, steps, C) -> (batch, steps - before - after, C)."""

    rank = 1


@layer("Cropping2D", cropping=Pairs(2, 0), data_format=DATA_FORMAT)
class Cropping2D(Cropping):
    """Cropping2D(cropping=0): (batch, H, W, C) -> (batch, H - top - bottom, W - left - right, C)."""

    rank = 2


@layer("Cropping3D", cropping=Pairs(3, 1), data_format=DATA_FORMAT)
class Cropping3D(Cropping):
    """Cropping3D(cropping=1): (batch, D, H, W, C) -> (batch, D', H', W', C), each axis cropped on both sides."""

    rank = 3


# How many neighbouring input positions one output position may read, per UpSampling2D interpolation
# (taps of the resampling kernel; for an integer upscale "area" reads one input position).
INTERPOLATION_TAPS = {"nearest": 1, "bilinear": 2, "bicubic": 4, "lanczos3": 6, "lanczos5": 10, "area": 1}


CUBIC_A = -0.75  # PyTorch's bicubic (Keras's torch backend); TF's is -0.5


def cubic_weight(t, a=CUBIC_A):
    """The cubic convolution kernel at distance |t| (Keys's, with PyTorch's a = -0.75)."""
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def lanczos_weight(t, radius):
    """The Lanczos kernel of `radius` at distance t, as Keras's JAX and NumPy backends compute it."""
    t = np.abs(t)
    y = radius * np.sin(np.pi * t) * np.sin(np.pi * t / radius) / np.where(t > 1e-3, np.pi ** 2 * t ** 2, 1.0)
    return np.where(t > radius, 0.0, np.where(t > 1e-3, y, 1.0))


def resize_matrix(length: int, factor: int, interpolation: str):
    """(length * factor, length) float64 matrix M with output = M @ input along one axis, for Keras's
    image resize by an integer factor. Sampling uses half-pixel centres: output position o reads input
    position src = (o + 0.5) / factor - 0.5.

    bilinear: the two neighbours of src, linearly, src clamped into [0, length - 1] (PyTorch's
      bilinear with align_corners=False; TF and JAX agree when enlarging).
    bicubic: the four neighbours floor(src) - 1 ... floor(src) + 2 with the cubic kernel, a = -0.75,
      indices past either end clamped to it: PyTorch's bicubic, which Keras's torch backend runs.
      (TF and JAX use a = -0.5 and re-weight at the borders: Keras's bicubic depends on its backend.)
    lanczos3 / lanczos5: every input position within the radius, the weights normalised to sum to 1
      (Keras's JAX and NumPy backends; the torch backend refuses Lanczos).
    """
    out = np.arange(length * factor)
    src = (out + 0.5) / factor - 0.5
    m = np.zeros((length * factor, length))
    if interpolation == "bilinear":
        src = np.clip(src, 0, length - 1)
        low = np.floor(src).astype(int)
        high = np.minimum(low + 1, length - 1)
        np.add.at(m, (out, low), 1 - (src - low))
        np.add.at(m, (out, high), src - low)
    elif interpolation == "bicubic":
        base = np.floor(src).astype(int)
        for tap in (-1, 0, 1, 2):
            np.add.at(m, (out, np.clip(base + tap, 0, length - 1)), cubic_weight(src - (base + tap)))
    else:  # lanczos3, lanczos5
        radius = {"lanczos3": 3.0, "lanczos5": 5.0}[interpolation]
        m = lanczos_weight(src[:, None] - np.arange(length)[None, :], radius)
        m = m / m.sum(axis=1, keepdims=True)
    return m


class UpSampling(Spatial):
    """Shared by UpSampling: (batch, *spatial, C) -> (batch, *(L * size), C), each position repeated."""

    def factors(self):
        return self.size if isinstance(self.size, tuple) else (self.size,)

    def output_shape(self, x):
        return (x[0], *(L * f for L, f in zip(x[1:-1], self.factors())), x[-1])

    def receptive_field(self, x, rf):
        taps = INTERPOLATION_TAPS[getattr(self, "interpolation", "nearest")]
        windows = {axis: (sympy.Integer(taps), 1) for axis in range(1, self.rank + 1)}
        return rf.window(windows).upsample(dict(enumerate(self.factors(), start=1)))

    def element(self, x, w, idx, output=0):
        if getattr(self, "interpolation", "nearest") not in ("nearest", "area"):
            raise ix.NoElement(f"{self.kind} with interpolation={self.interpolation!r} has no element formula")
        b, *pos, c = idx
        return x(b, *(sympy.floor(p / f) for p, f in zip(pos, self.factors())), c)

    def reference(self, x, w):
        # Nearest neighbour (Keras's ops.repeat along each axis). "area" is the same when enlarging by
        # whole factors: every output pixel lies inside one input pixel.
        for axis, f in enumerate(self.factors(), start=1):
            x = np.repeat(x, int(f), axis=axis)
        return x


@layer("UpSampling1D", size=Int(2))
class UpSampling1D(UpSampling):
    """UpSampling1D(size=2): (batch, steps, C) -> (batch, steps * size, C)."""

    rank = 1


@layer("UpSampling2D", size=Ints(2, 2), data_format=DATA_FORMAT, interpolation=Choice(*INTERPOLATION_TAPS))
class UpSampling2D(UpSampling):
    """UpSampling2D(size=(2, 2)): (batch, H, W, C) -> (batch, H * size[0], W * size[1], C)."""

    rank = 2

    def reference(self, x, w):
        if self.interpolation in ("nearest", "area"):
            return super().reference(x, w)
        # Separable resampling: height, then width (see resize_matrix).
        rows = resize_matrix(x.shape[1], int(self.size[0]), self.interpolation).astype(x.dtype)
        cols = resize_matrix(x.shape[2], int(self.size[1]), self.interpolation).astype(x.dtype)
        y = np.einsum("oh,bhwc->bowc", rows, x)
        return np.einsum("pw,bowc->bopc", cols, y)


@layer("UpSampling3D", size=Ints(3, 2), data_format=DATA_FORMAT)
class UpSampling3D(UpSampling):
    """UpSampling3D(size=(2, 2, 2)): (batch, D, H, W, C) -> (batch, D * s0, H * s1, W * s2, C)."""

    rank = 3
