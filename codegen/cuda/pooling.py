"""CUDA kernels of the pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and
GlobalMax/AveragePooling1D/2D/3D (channels_last: the only layout the analyzer accepts).

Windowed pooling: one thread per output element (b, o1.., c), channels innermost so that
consecutive threads read consecutive channels. Each axis's window is clipped to the input (the
taps in [lo, hi)), so padded cells are never read: they never win a maximum, and an average
divides by the number of cells inside the input (Keras's definition with padding="same"; see
analyzer/layers/pooling.py).
Global pooling: one thread per (sample, channel) looping over every position; consecutive
threads take consecutive channels, so each step's loads are coalesced.
"""
from __future__ import annotations

import math

from shapeproof.analyzer.exprs import product
from ..writer import Writer
from .base import CudaSite, kernel
from .templates import pointwise, wrap

MAX_KINDS = ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")
AVERAGE_KINDS = ("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
GLOBAL_KINDS = ("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
                "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D")


@kernel(*MAX_KINDS, *AVERAGE_KINDS)
def pooling(site: CudaSite, k: Writer, f: Writer):
    """out[b, o.., c] = max or mean of x[b, o * stride - before + t.., c] over the window's taps t inside the input."""
    rank = len(site.x) - 2
    average = site.layer.kind in AVERAGE_KINDS
    pool, strides = site.ints("pool_size"), site.ints("strides")
    clipped = site.layer.padding == "same"  # "valid" windows lie inside the input: fixed trip counts

    def body(w: Writer, idx: list[str]):
        b, out_pos, c = idx[0], idx[1:-1], idx[-1]
        for a in range(rank):
            n = a + 1
            pad = site.padding_before(n, pool[a], strides[a])
            start = out_pos[a] + (f" * {strides[a]}" if strides[a] != 1 else "")
            w.line(f"s{n} = {start}" + (f" - {wrap(pad)}" if pad != "0" else ""))  # the window's first input position
            if clipped:
                w.line(f"lo{n} = max(0, -s{n})")
                w.line(f"hi{n} = min({pool[a]}, {site.xd(n)} - s{n})")
        w.line("acc = " + ("ZERO" if average else "NEG_INF"))
        for a in range(rank):
            w.open(f"for t{a + 1} in range(lo{a + 1}, hi{a + 1})" if clipped else f"for t{a + 1} in range({pool[a]})")
        read = f"x[{b}, {', '.join(f's{a + 1} + t{a + 1}' for a in range(rank))}, {c}]"
        w.line(f"acc += {read}" if average else f"acc = max(acc, {read})")
        w.close(rank)
        if average and clipped:
            w.line("acc /= DT(" + " * ".join(f"(hi{a + 1} - lo{a + 1})" for a in range(rank)) + ")")
        elif average:
            w.line(f"acc /= DT({math.prod(pool)})")
        w.line(f"out[{', '.join(idx)}] = acc")

    pointwise(site, k, f, site.fn, ["x", "out"], [site.ins[0], site.outs[0]],
              [site.yd(a) for a in range(rank + 2)], body)


@kernel(*GLOBAL_KINDS)
def global_pooling(site: CudaSite, k: Writer, f: Writer):
    """out[b, c] (keepdims: out[b, 1.., c]) = max or mean of x[b, p.., c] over every position."""
    average = "Average" in site.layer.kind
    batch, channels = site.xd(0), site.xd(-1)
    positions = product(site.x[1:-1])

    def body(w: Writer, idx: list[str]):
        b, c = idx
        w.line("acc = " + ("ZERO" if average else "NEG_INF"))
        with w.block(f"for p in range({positions})"):
            w.line(f"acc += x[{b}, p, {c}]" if average else f"acc = max(acc, x[{b}, p, {c}])")
        if average:
            w.line(f"acc /= DT({positions})")
        w.line(f"out[{b}, {c}] = acc")

    # keepdims only adds axes of length 1: the output seen as (batch, channels) is the same array.
    pointwise(site, k, f, site.fn, ["x", "out"],
              [f"{site.ins[0]}.reshape({batch}, {wrap(positions)}, {channels})",
               f"{site.outs[0]}.reshape({batch}, {channels})"], [batch, channels], body)
