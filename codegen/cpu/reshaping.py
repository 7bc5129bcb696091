"""CPU kernels of the spatial reshaping layers: ZeroPadding1D/2D/3D, Cropping1D/2D/3D and
UpSampling1D/2D/3D (UpSampling2D with every interpolation the NumPy reference computes).

Padding, cropping and nearest upsampling are copies by rows: one task per (sample, output
position on every spatial axis but the last, segment of the row), copying from the contiguous
(last axis x channels) row of the input.
UpSampling2D's bilinear, bicubic and Lanczos modes resample separably, as the reference does:
per-axis tap tables (input index and weight of every tap of every output position) built by a
helper at run time, since the lengths may be free sizes; then the rows, then the columns.
"""
from __future__ import annotations

from shapeproof.analyzer.layers.conv import ints
from shapeproof.analyzer.layers.reshaping import CUBIC_A

from ..lowering import INTERPOLATED
from ..writer import Writer
from .base import Site, kernel
from .conv import SEGMENT, open_segments
from .module import CodegenError

def _row_position(site: Site, w: Writer, rank: int):
    """b and o1..o<rank-1> from the flat output row index `row`."""
    rest = "row"
    for a in reversed(range(1, rank)):
        w.line(f"o{a} = {rest} % {site.yd(a)}")
        w.line(f"r{a} = {rest} // {site.yd(a)}")
        rest = f"r{a}"
    w.line(f"b = {rest}")


def _source_row(site: Site, rank: int, source: list[str]) -> str:
    """The flat input row of (b, source...): ((b * I1 + i1) * I2 + i2)..."""
    text = "b"
    for a in range(1, rank):
        text = f"({text}) * {site.xd(a)} + {source[a - 1]}" if a > 1 else f"b * {site.xd(a)} + {source[a - 1]}"
    return text


@kernel("UpSampling1D", "UpSampling2D", "UpSampling3D")
def upsampling(site: Site, w: Writer):
    interpolation = getattr(site.layer, "interpolation", "nearest")
    if interpolation in ("nearest", "area"):  # "area" by whole factors: every output cell is in one input cell
        nearest(site, w)
    elif interpolation in INTERPOLATED:
        interpolated(site, w, interpolation)
    else:
        raise CodegenError(f"{site.layer.kind} interpolation={interpolation!r} has no CPU kernel "
                           f"(supported: nearest, area, {', '.join(INTERPOLATED)})")


def nearest(site: Site, w: Writer):
    """Every input cell repeated f times along each axis."""
    rank = len(site.x) - 2
    f = ints(site.layer.factors())
    channels = int(site.x[-1])
    w.line(f"xr = x.reshape(-1, {site.xd(rank)} * {channels})")
    w.line(f"yr = out.reshape(-1, {site.yd(rank)} * {channels})")
    with open_segments(w, "yr.shape[0]", site.yd(rank), segment=max(1, SEGMENT // channels)):
        _row_position(site, w, rank)
        w.line("dst = yr[row]")
        w.line(f"src = xr[{_source_row(site, rank, [f'o{a} // {f[a - 1]}' for a in range(1, rank)])}]")
        with w.block("for e in range(s0, s1)"):  # output positions along the last axis
            w.line(f"base = e * {channels}")
            w.line(f"start = (e // {f[-1]}) * {channels}" if f[-1] != 1 else f"start = e * {channels}")
            with w.block(f"for c in range({channels})"):
                w.line("dst[base + c] = src[start + c]")



TAP_WEIGHTS = {
    # float64 weights as the reference's resize_matrix computes them; `src` is the sampled position
    "bilinear": """\
src = min(max(src, 0.0), length - 1.0)
low = int(math.floor(src))
frac = src - low
idx[o, 0] = low
wts[o, 0] = DT(1.0 - frac)
idx[o, 1] = min(low + 1, length - 1)
wts[o, 1] = DT(frac)""",
    "bicubic": f"""\
base = int(math.floor(src))
for k in range(4):
    j = base - 1 + k
    t = abs(src - j)
    if t <= 1.0:
        v = (({CUBIC_A} + 2.0) * t - ({CUBIC_A} + 3.0)) * t * t + 1.0
    elif t < 2.0:
        v = (({CUBIC_A} * t - 5.0 * {CUBIC_A}) * t + 8.0 * {CUBIC_A}) * t - 4.0 * {CUBIC_A}
    else:
        v = 0.0
    idx[o, k] = min(max(j, 0), length - 1)
    wts[o, k] = DT(v)""",
    # Lanczos of radius R: input positions floor(src) - R .. floor(src) + R, normalised to sum 1
    "lanczos": """\
base = int(math.floor(src))
total = 0.0
for k in range({taps}):
    j = base - {r} + k
    t = abs(src - j)
    v = 0.0
    if 0 <= j < length and t <= {r}.0:
        if t > 1e-3:
            v = {r}.0 * math.sin(math.pi * t) * math.sin(math.pi * t / {r}.0) / (math.pi * math.pi * t * t)
        else:
            v = 1.0
    ws[k] = v
    total += v
    idx[o, k] = min(max(j, 0), length - 1)
for k in range({taps}):
    wts[o, k] = DT(ws[k] / total)""",
}


def tap_table(name: str, interpolation: str) -> str:
    """An @njit helper: (index, weight) tables of shape (length * factor, taps) for one axis."""
    taps = INTERPOLATED[interpolation]
    body = TAP_WEIGHTS["lanczos" if interpolation.startswith("lanczos") else interpolation]
    if interpolation.startswith("lanczos"):
        body = body.format(taps=taps, r=(taps - 1) // 2)
    lines = [
        "@njit(cache=True, fastmath=FASTMATH)",
        f"def {name}(length, factor):",
        f'    """Input index and weight of each of the {taps} taps of every output position along one axis',
        f'    ({interpolation}, half-pixel centres: output o samples input position (o + 0.5) / factor - 0.5)."""',
        "    n = length * factor",
        f"    idx = np.empty((n, {taps}), dtype=np.int64)",
        f"    wts = np.empty((n, {taps}), dtype=DT)",
    ]
    if interpolation.startswith("lanczos"):
        lines.append(f"    ws = np.empty({taps}, dtype=np.float64)")
    lines.append("    for o in range(n):")
    lines.append("        src = (o + 0.5) / factor - 0.5")
    lines += ["        " + line for line in body.splitlines()]
    lines.append("    return idx, wts")
    return "\n".join(lines)


def interpolated(site: Site, w: Writer, interpolation: str):
    """Separable resampling: rows into `tmp` (batch, H', W, C), then columns into out."""
    taps = INTERPOLATED[interpolation]
    f = ints(site.layer.factors())
    channels = int(site.x[-1])
    helper = f"{site.fn}_taps"
    site.helpers.append(tap_table(helper, interpolation))
    batch, height, width = site.xd(0), site.xd(1), site.xd(2)
    out_h, out_w = site.yd(1), site.yd(2)
    w.line(f"row_idx, row_wts = {helper}({height}, {f[0]})")
    w.line(f"col_idx, col_wts = {helper}({width}, {f[1]})")
    w.line(f"tmp = np.empty(({batch}, {out_h}, {width}, {channels}), dtype=DT)")
    w.line(f"xr = x.reshape({batch}, {height}, {width} * {channels})")
    w.line(f"tr = tmp.reshape({batch}, {out_h}, {width} * {channels})")
    with w.block(f"for task in prange({batch} * {out_h})"):
        w.line(f"b = task // {out_h}")
        w.line(f"oh = task % {out_h}")
        w.line("wgt = row_wts[oh, 0]")
        w.line("r = row_idx[oh, 0]")
        with w.block(f"for j in range({width} * {channels})"):
            w.line("tr[b, oh, j] = wgt * xr[b, r, j]")
        with w.block(f"for k in range(1, {taps})"):
            w.line("wgt = row_wts[oh, k]")
            w.line("r = row_idx[oh, k]")
            with w.block(f"for j in range({width} * {channels})"):
                w.line("tr[b, oh, j] += wgt * xr[b, r, j]")
    with w.block(f"for task in prange({batch} * {out_h})"):
        w.line(f"b = task // {out_h}")
        w.line(f"oh = task % {out_h}")
        with w.block(f"for ow in range({out_w})"):
            w.line("wgt = col_wts[ow, 0]")
            w.line("r = col_idx[ow, 0]")
            with w.block(f"for c in range({channels})"):
                w.line("out[b, oh, ow, c] = wgt * tmp[b, oh, r, c]")
            with w.block(f"for k in range(1, {taps})"):
                w.line("wgt = col_wts[ow, k]")
                w.line("r = col_idx[ow, k]")
                with w.block(f"for c in range({channels})"):
                    w.line("out[b, oh, ow, c] += wgt * tmp[b, oh, r, c]")
