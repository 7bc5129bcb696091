"""CPU kernels of the normalization layers: BatchNormalization, LayerNormalization (inference).

BatchNormalization scales and shifts each channel with its moving statistics: the input is viewed
as (outer, channels, inner) so that the inner loop runs over a contiguous axis. LayerNormalization
views the input as alternating blocks of kept and normalised axes (adjacent axes of one kind
merged): one task per group of kept coordinates, two passes for the mean and the (population)
variance, one to write. gamma and beta are read flat, row-major over the normalised axes in
ascending position order: that is Keras's reshape of them (see the analyzer's reference).
"""
from __future__ import annotations

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
