"""CPU kernels of the layers that reduce over groups of elements: LayerNormalization, GroupNormalization,
UnitNormalization and Softmax (inference).

BatchNormalization scales and shifts each channel with its moving statistics: the input is viewed
as (outer, channels, inner) so that the inner loop runs over a contiguous axis. LayerNormalization
views the input as alternating blocks of kept and normalised axes (adjacent axes of one kind
merged): one task per group of kept coordinates, two passes for the mean and the (population)
variance, one to write. gamma and beta are read flat, row-major over the normalised axes in
ascending position order: that is Keras's reshape of them (see the analyzer's reference). The other
kinds loop the same way over codegen/lowering.py's group_view (GroupNormalization: the channel axis
split into groups kept and channels per group reduced), through `Groups`.
"""
from __future__ import annotations

from contextlib import contextmanager

from shapeproof.analyzer.exprs import py

from ..lowering import group_view, unravel
from ..writer import Writer
from .base import Site, kernel


def epsilon(layer) -> str:
    return f"DT({float(layer.epsilon)!r})"


@kernel("LayerNormalization")
def layer_normalization(site: Site, w: Writer):
    """(x - mean) · inv · gamma + beta over the layer's axes; rms_scaling (deprecated in Keras) scales x
    itself by the inverse standard deviation, times gamma, without beta."""
    layer = site.layer
    g = Groups(site, w)
    has_gamma = layer.scale or layer.rms_scaling
    has_beta = layer.center and not layer.rms_scaling
    if has_gamma:
        w.line("gm = gamma.reshape(-1)")
    if has_beta:
        w.line("bt = beta.reshape(-1)")
    g.open(means=True)
    group_statistics(g, w, epsilon(layer))
    with g.each():
        value = f"{g.x} * inv" if layer.rms_scaling else f"({g.x} - mean) * inv"
        if has_gamma or has_beta:  # gamma and beta span the normalised axes: their flat index
            flat = f"i{g.norm[0]}"
            for i in g.norm[1:]:
                flat = f"{flat} * d{i} + i{i}" if flat == f"i{g.norm[0]}" else f"({flat}) * d{i} + i{i}"
            value = f"{value} * gm[{flat}]" if has_gamma else value
            value = f"{value} + bt[{flat}]" if has_beta else value
        w.line(f"{g.y} = {value}")
    w.close()


class Groups:
    """The input `x` and the output `out` viewed as the layer's group_view blocks d0, d1, ...: `open`
    starts the parallel loop over the groups (the kept coordinates i<k>), `each` loops over the
    elements of one (the reduced coordinates); `x` and `y` are the element's reads."""

    def __init__(self, site: Site, w: Writer):
        self.w = w
        self.view = group_view(site.layer, [site.size(site.x, a, site.xd(a)) for a in range(len(site.x))])
        self.kept = [i for i, (_, normed) in enumerate(self.view) if not normed]
        self.norm = [i for i, (_, normed) in enumerate(self.view) if normed]
        for i, (size, _) in enumerate(self.view):
            w.line(f"d{i} = {py(size)}")
        dims = ", ".join(f"d{i}" for i in range(len(self.view)))
        w.line(f"xv = x.reshape({dims})")
        w.line(f"yv = out.reshape({dims})")
        index = ", ".join(f"i{i}" for i in range(len(self.view)))
        self.x, self.y = f"xv[{index}]", f"yv[{index}]"
        self.first = "xv[" + ", ".join("0" if i in self.norm else f"i{i}" for i in range(len(self.view))) + "]"

    def open(self, means: bool = False):
        if means:
            self.w.line("inv_n = ONE / DT(" + " * ".join(f"d{i}" for i in self.norm) + ")")
        self.w.open("for q in prange(" + " * ".join(f"d{i}" for i in self.kept) + ")")
        unravel(self.w, "q", [f"d{i}" for i in self.kept], [f"i{i}" for i in self.kept])

    @contextmanager
    def each(self):
        for i in self.norm:
            self.w.open(f"for i{i} in range(d{i})")
        yield
        self.w.close(len(self.norm))


def group_statistics(g: Groups, w: Writer, epsilon_text: str):
    """Inside a group: `mean` and `inv` = 1/√(population variance + epsilon) of its elements, two passes."""
    w.line("s = ZERO")
    with g.each():
        w.line(f"s += {g.x}")
    w.line("mean = s * inv_n")
    w.line("s = ZERO")
    with g.each():
        w.line(f"dev = {g.x} - mean")
        w.line("s += dev * dev")
    w.line(f"inv = ONE / math.sqrt(s * inv_n + {epsilon_text})")


@kernel("GroupNormalization")
def group_normalization(site: Site, w: Writer):
    """(x - mean) / sqrt(variance + epsilon) * gamma[c] + beta[c], the statistics over channel c's group."""
    layer = site.layer
    g = Groups(site, w)
    group, per = g.kept[1], g.kept[1] + 1  # the groups block and the channels-per-group block after it
    g.open(means=True)
    group_statistics(g, w, epsilon(layer))
    with g.each():
        w.line(f"v = ({g.x} - mean) * inv")
        if layer.scale or layer.center:
            w.line(f"c = i{group} * d{per} + i{per}")
        if layer.scale:
            w.line("v = v * gamma[c]")
        if layer.center:
            w.line("v = v + beta[c]")
        w.line(f"{g.y} = v")
    w.close()


@kernel("UnitNormalization")
def unit_normalization(site: Site, w: Writer):
    """x * min(1 / sqrt(sum of x²), 1e12) over the layer's axes, as Keras computes it."""
    g = Groups(site, w)
    g.open()
    w.line("s = ZERO")
    with g.each():
        w.line(f"v = {g.x}")
        w.line("s += v * v")
    w.line("inv = ONE / math.sqrt(s) if s > DT(1e-24) else DT(1e12)")  # rsqrt(s) capped at 1 / epsilon
    with g.each():
        w.line(f"{g.y} = {g.x} * inv")
    w.close()


@kernel("Softmax")
def softmax(site: Site, w: Writer):
    """exp(x - max) / sum of exp(x - max) over the layer's axes."""
    g = Groups(site, w)
    g.open()
    w.line(f"m = {g.first}")
    with g.each():
        w.line(f"m = max(m, {g.x})")
    w.line("s = ZERO")
    with g.each():
        w.line(f"e = math.exp({g.x} - m)")
        w.line(f"{g.y} = e")
        w.line("s += e")
    with g.each():
        w.line(f"{g.y} /= s")
    w.close()
