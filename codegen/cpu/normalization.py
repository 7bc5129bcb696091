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
from .base import Site, extent, kernel


def epsilon(layer) -> str:
    return f"DT({float(layer.epsilon)!r})"


@kernel("LayerNormalization")
def layer_normalization(site: Site, w: Writer):
    layer = site.layer
    normed = set(layer.positions(site.x))
    rank = len(site.x)
    # Adjacent axes of one kind merge into a block: [(normalised?, first axis, end axis), ...].
    blocks: list[list] = []
    for a in range(rank):
        if blocks and blocks[-1][0] == (a in normed):
            blocks[-1][2] = a + 1
        else:
            blocks.append([a in normed, a, a + 1])
    sizes = [extent(site, site.x, "x", start, stop) for _, start, stop in blocks]
    kept = [i for i, b in enumerate(blocks) if not b[0]]
    norm = [i for i, b in enumerate(blocks) if b[0]]
    for i, size in enumerate(sizes):
        w.line(f"d{i} = {size}")
    view = ", ".join(f"d{i}" for i in range(len(blocks)))
    w.line(f"xv = x.reshape({view})")
    w.line(f"yv = out.reshape({view})")
    w.line("n_groups = " + " * ".join(f"d{i}" for i in kept))
    w.line("n_norm = " + " * ".join(f"d{i}" for i in norm))
    w.line("inv_n = ONE / DT(n_norm)")
    has_gamma = layer.scale or layer.rms_scaling
    has_beta = layer.center and not layer.rms_scaling
    if has_gamma:
        w.line("g = gamma.reshape(-1)")
    if has_beta:
        w.line("bt = beta.reshape(-1)")
    index = [f"i{i}" for i in range(len(blocks))]
    element = f"xv[{', '.join(index)}]"
    with w.block("for q in prange(n_groups)"):
        for pos, i in enumerate(kept):
            inner = " * ".join(f"d{k}" for k in kept[pos + 1:])
            value = "q" if not inner else f"q // {inner}" if " " not in inner else f"q // ({inner})"
            w.line(f"i{i} = {value}" + (f" % d{i}" if pos else ""))

        def over_normalised():
            for i in norm:
                w.open(f"for i{i} in range(d{i})")

        w.line("s = ZERO")
        over_normalised()
        w.line(f"s += {element}")
        w.close(len(norm))
        w.line("mean = s * inv_n")
        w.line("s = ZERO")
        over_normalised()
        w.line(f"dev = {element} - mean")
        w.line("s += dev * dev")
        w.close(len(norm))
        w.line(f"inv = ONE / math.sqrt(s * inv_n + {epsilon(layer)})")
        over_normalised()
        # rms_scaling (deprecated in Keras) scales x itself by the inverse standard deviation.
        value = f"{element} * inv" if layer.rms_scaling else f"({element} - mean) * inv"
        if has_gamma or has_beta:
            flat = f"i{norm[0]}"
            for i in norm[1:]:
                flat = f"{flat} * d{i} + i{i}" if flat == f"i{norm[0]}" else f"({flat}) * d{i} + i{i}"
            value = f"{value} * g[{flat}]" if has_gamma else value
            value = f"{value} + bt[{flat}]" if has_beta else value
        w.line(f"yv[{', '.join(index)}] = {value}")
        w.close(len(norm))


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


@kernel("GroupNormalization")
def group_normalization(site: Site, w: Writer):
    """(x - mean) / sqrt(variance + epsilon) * gamma[c] + beta[c], the statistics over channel c's group."""
    layer = site.layer
    g = Groups(site, w)
    group, per = g.kept[1], g.kept[1] + 1  # the groups block and the channels-per-group block after it
    g.open(means=True)
    w.line("s = ZERO")
    with g.each():
        w.line(f"s += {g.x}")
    w.line("mean = s * inv_n")
    w.line("s = ZERO")
    with g.each():
        w.line(f"dev = {g.x} - mean")
        w.line("s += dev * dev")
    w.line(f"inv = ONE / math.sqrt(s * inv_n + {epsilon(layer)})")
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
