"""Spatial reshaping: ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D.

Padding and cropping take Keras's forms: `n` (every side), one entry per axis that is `n` or
`(before, after)`; the 1-D layers take only `n` or `(before, after)`. Flatten, Reshape, Permute and
RepeatVector live in core.py.
"""
from __future__ import annotations

import sympy

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


@layer("UpSampling1D", size=Int(2))
class UpSampling1D(UpSampling):
    """UpSampling1D(size=2): (batch, steps, C) -> (batch, steps * size, C)."""

    rank = 1


@layer("UpSampling2D", size=Ints(2, 2), data_format=DATA_FORMAT, interpolation=Choice(*INTERPOLATION_TAPS))
class UpSampling2D(UpSampling):
    """UpSampling2D(size=(2, 2)): (batch, H, W, C) -> (batch, H * size[0], W * size[1], C)."""

    rank = 2


@layer("UpSampling3D", size=Ints(3, 2), data_format=DATA_FORMAT)
class UpSampling3D(UpSampling):
    """UpSampling3D(size=(2, 2, 2)): (batch, D, H, W, C) -> (batch, D * s0, H * s1, W * s2, C)."""

    rank = 3
