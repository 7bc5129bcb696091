"""CUDA kernels of the spatial reshaping layers: ZeroPadding1D/2D/3D, Cropping1D/2D/3D and
UpSampling1D/2D/3D (UpSampling2D with every interpolation the NumPy reference computes;
channels_last: the only layout the analyzer accepts).

Every kernel has one thread per output element (b, o1.., c), channels innermost so that
consecutive threads read and write consecutive addresses. Padding, cropping and nearest (or
"area") upsampling read one input element, at a shifted or divided position.
UpSampling2D's bilinear, bicubic and Lanczos modes: with a whole factor f, output position o
samples input position o // f + d, where d depends only on o % f, so the tap weights along an
axis are a (f, taps) table computed here in float64 (as analyzer.layers.reshaping.resize_matrix
does) and written as a module constant: no trigonometry on the device, whose float32 sin would
bring libdevice's float64 range reduction in. Each thread sums the products of its row and
column weights over the taps (the reference resamples rows then columns: the same up to
rounding).
"""
from __future__ import annotations

import math

from shapeproof.analyzer.layers.conv import ints
from shapeproof.analyzer.layers.reshaping import CUBIC_A, cubic_weight, lanczos_weight

from ..errors import CodegenError
from ..lowering import INTERPOLATED
from ..writer import Writer
from .base import CudaSite, kernel
from .templates import pointwise, wrap

def each_output(site: CudaSite, k: Writer, f: Writer, body):
    """A kernel with one thread per element of the output; body(w, b, positions, c)."""
    rank = len(site.y) - 2
    pointwise(site, k, f, site.fn, ["x", "out"], [site.ins[0], site.outs[0]],
              [site.yd(a) for a in range(rank + 2)], lambda w, idx: body(w, idx[0], idx[1:-1], idx[-1]))


@kernel("UpSampling1D", "UpSampling2D", "UpSampling3D")
def upsampling(site: CudaSite, k: Writer, f: Writer):
    interpolation = getattr(site.layer, "interpolation", "nearest")
    if interpolation in ("nearest", "area"):  # "area" by whole factors: every output cell is in one input cell
        nearest(site, k, f)
    elif interpolation in INTERPOLATED:
        interpolated(site, k, f, interpolation)
    else:
        raise CodegenError(f"{site.layer.kind} interpolation={interpolation!r} has no CUDA kernel "
                           f"(supported: nearest, area, {', '.join(INTERPOLATED)})")


def nearest(site: CudaSite, k: Writer, f: Writer):
    """out[b, o.., c] = x[b, o // factor.., c]: every input cell repeated `factor` times per axis."""
    sizes = ints(site.layer.factors())

    def body(w: Writer, b: str, pos: list[str], c: str):
        source = [o if s == 1 else f"{o} // {s}" for o, s in zip(pos, sizes)]
        w.line(f"out[{b}, {', '.join(pos)}, {c}] = x[{b}, {', '.join(source)}, {c}]")

    each_output(site, k, f, body)


def interpolated(site: CudaSite, k: Writer, f: Writer, interpolation: str):
    """out[b, oh, ow, c] = Σ_p Σ_q rows[oh % fh, p] · cols[ow % fw, q] · x[b, first(oh) + p, first(ow) + q, c],
    the indices clamped into the input (bilinear, bicubic), or the taps outside it left out and the
    weights renormalised (Lanczos)."""
    taps = INTERPOLATED[interpolation]
    back = (taps - 1) // 2  # taps before floor(src): bilinear 0, bicubic 1, Lanczos its radius
    lanczos = interpolation.startswith("lanczos")
    sizes = ints(site.layer.factors())
    tables = [f"taps_rows_{site.fn}", f"taps_cols_{site.fn}"]  # no kernel (k_...) is named so
    for name, factor in zip(tables, sizes):
        k.line()
        k.line(f"# {interpolation} weights of the {taps} taps of each output position, by position % {factor}")
        k.line(f"{name} = np.array({phase_weights(factor, interpolation)!r}, dtype=DT)")

    def body(w: Writer, b: str, pos: list[str], c: str):
        for a, (o, factor) in enumerate(zip(pos, sizes), start=1):
            # src = o // factor + d with d = (o % factor + 0.5) / factor - 0.5 in (-0.5, 0.5): floor(src)
            # is o // factor, less 1 where d < 0.
            w.line(f"ph{a} = {o} % {factor}")
            w.line(f"first{a} = {o} // {factor} - {back} - (1 if 2 * ph{a} + 1 < {factor} else 0)")
        w.line("v = ZERO")
        if lanczos:
            w.line("norm = ZERO")
        with w.block(f"for p in range({taps})"):
            w.line("j1 = first1 + p")
            if lanczos:  # the reference's resampling matrix has columns for input positions only
                with w.block(f"if j1 < 0 or j1 >= {wrap(site.xd(1))}"):
                    w.line("continue")
            else:  # the reference clamps tap indices into the input
                w.line(f"j1 = min(max(j1, 0), {wrap(site.xd(1))} - 1)")
            w.line(f"wh = {tables[0]}[ph1, p]")
            with w.block(f"for q in range({taps})"):
                w.line("j2 = first2 + q")
                if lanczos:
                    with w.block(f"if j2 < 0 or j2 >= {wrap(site.xd(2))}"):
                        w.line("continue")
                else:
                    w.line(f"j2 = min(max(j2, 0), {wrap(site.xd(2))} - 1)")
                w.line(f"wgt = wh * {tables[1]}[ph2, q]")
                w.line(f"v += wgt * x[{b}, j1, j2, {c}]")
                if lanczos:
                    w.line("norm += wgt")
        w.line(f"out[{b}, {', '.join(pos)}, {c}] = " + ("v / norm" if lanczos else "v"))

    each_output(site, k, f, body)


def phase_weights(factor: int, interpolation: str) -> list[list[float]]:
    """[phase][tap] weights (float64, as the reference's resize_matrix computes them) of output
    positions o with o % factor == phase: output o samples input position src = (o + 0.5) / factor
    - 0.5, and tap p reads input floor(src) - back + p. Lanczos weights are normalised over every
    tap (positions inside the input); the kernel renormalises near the borders."""
    taps = INTERPOLATED[interpolation]
    back = (taps - 1) // 2
    result = []
    for phase in range(factor):
        d = (phase + 0.5) / factor - 0.5  # src - o // factor
        ts = [d - (math.floor(d) - back + p) for p in range(taps)]  # src - tap position
        if interpolation == "bilinear":
            row = [1.0 - abs(t) for t in ts]
        elif interpolation == "bicubic":
            row = [float(cubic_weight(t, CUBIC_A)) for t in ts]
        else:
            row = [float(lanczos_weight(t, float(back))) for t in ts]
            row = [v / sum(row) for v in row]
        result.append(row)
    return result
