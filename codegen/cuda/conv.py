"""CUDA kernels of the convolutions: Conv1D/2D/3D and Conv1D/2D/3DTranspose (implicit GEMMs),
DepthwiseConv1D/2D (one thread per output) and SeparableConv1D/2D (depthwise, then a GEMM).

Note: the implicit GEMM. A convolution is C[m, n] = Σ_k A[m, k]·B[k, n] with m = (sample, output
position), n = filter (of the group), k = (kernel tap, input channel), channels fastest: B is the
Keras kernel (*k, C / groups, F) viewed as (K, F) (a free reshape), and A[m, k], the input element
under tap k // C for channel k % C of output position m, is computed on the fly by `im2col` when
templates.gemm stages A's tile (never materialised), 0 in the padding. Consecutive threads load
consecutive k, hence consecutive channels of one input position: contiguous reads. Groups are
templates.gemm's groups (`g` picks the group's channels and filters); bias and the element-wise
activation are the GEMM's epilogue, softmax a pass after it.

A transposed convolution is gathered the same way, one GEMM per stride phase (see
`conv_transpose`): output position o reads input position i through tap t when i*s + t*d = o +
offset, so the outputs of one phase (o mod s) all read the same taps, a plain convolution with a
sub-kernel of ceil(k / s) taps. The phases are templates.gemm's groups.

Padding follows Keras: "same" puts the odd extra cell after, "causal" pads before only.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod as int_prod

import sympy

from shapeproof.analyzer.layers.conv import padding_before

from ..activations import element
from shapeproof.analyzer.exprs import product, py, shape
from ..lowering import unravel
from ..writer import Writer
from .base import CudaSite, kernel
from .core import finish, lora_b
from .templates import Gemm, gemm, last_axis_pass, pointwise, wrap

Store = Callable[[Writer, str, str, str], None]  # (w, m, n, v): write output (m, n) from the sum v


# --- the convolution as an implicit GEMM: shared with the ConvLSTMs (codegen/cuda/recurrent.py) ---


@dataclass
class Window:
    """One convolution's geometry, sizes as source over the free sizes: A's rows are samples x
    output positions (row-major), its columns kernel taps x input channels (channels fastest)."""

    batch: str  # samples
    spatial_in: list[str]  # the input's spatial sizes
    spatial_out: list[str]  # the output's spatial sizes
    channels: int  # input channels one group convolves
    kernel_size: tuple[int, ...]
    strides: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: str  # "valid", "same" or "causal": which bounds a read must check
    pads: list[str]  # padding before each spatial axis
    rows: str  # M = batch x output positions

    @property
    def depth(self) -> int:
        """K = taps x channels (per group)."""
        return int_prod(self.kernel_size) * self.channels


def window(layer, x: tuple, y: tuple, channels: int | None = None, padding: str | None = None,
           strides: tuple[int, ...] | None = None, dilation: tuple[int, ...] | None = None) -> Window:
    """The geometry of `layer`'s convolution (its kernel_size, strides, dilation_rate, padding) of
    an input of shape x = (batch, *spatial, C) into an output of shape y (SymPy dims);
    channels = C / groups. padding/strides/dilation replace the layer's (ConvLSTM's recurrent
    convolution: "same", 1, 1)."""
    k = tuple(int(v) for v in layer.kernel_size)
    s = strides or tuple(int(v) for v in layer.strides)
    d = dilation or tuple(int(v) for v in layer.dilation_rate)
    padding = padding or layer.padding
    spatial_in, spatial_out = [py(v) for v in x[1:-1]], [py(v) for v in y[1:-1]]
    pads = [py(padding_before(L, ka, sa, da, padding)) for L, ka, sa, da in zip(x[1:-1], k, s, d)]
    return Window(py(x[0]), spatial_in, spatial_out, channels or int(x[-1]), k, s, d, padding, pads,
                  product((x[0], *y[1:-1])))


def im2col(w: Writer, win: Window, x: str, m: str, k: str, channel0: str = "") -> str:
    """A[m, k] of the convolution `win` of the kernel parameter `x` (batch, *spatial, channels):
    writes the lines that locate it and returns its expression, 0 in the padding. The lines use
    names starting with x: xo0 the sample, xo<a+1> the output position, xt<a> the tap and
    xi<a> the input position along spatial axis a, xt<rank> the channel. channel0: the group's
    first channel (`g * C + `), '' without groups."""
    rank = len(win.kernel_size)
    out = unravel(w, m, [win.batch, *win.spatial_out], "xo")
    taps = unravel(w, k, [*map(str, win.kernel_size), str(win.channels)], "xt")
    inside = []
    for a in range(rank):
        step = f" * {win.strides[a]}" if win.strides[a] != 1 else ""
        tap = f"xt{a}" + (f" * {win.dilation[a]}" if win.dilation[a] != 1 else "")
        pad = f" - {wrap(win.pads[a])}" if win.pads[a] != "0" else ""
        w.line(f"xi{a} = {out[a + 1]}{step} + {tap}{pad}")
        if win.padding == "same":
            inside.append(f"0 <= xi{a} < {wrap(win.spatial_in[a])}")
        elif win.padding == "causal":  # padding before only: never past the end
            inside.append(f"xi{a} >= 0")
    read = f"{x}[{out[0]}, {', '.join(f'xi{a}' for a in range(rank))}, {channel0}{taps[-1]}]"
    return f"{read} if {' and '.join(inside)} else ZERO" if inside else read


def conv_gemm(site: CudaSite, k: Writer, f: Writer, name: str, win: Window, x_var: str, kernel_var: str,
              filters: int, store: Store, params: Sequence[str] = (), args: Sequence[str] = (), groups: int = 1,
              load_b: Callable[[Writer, str, str], str] | None = None):
    """Write kernel `name` (and its launch): the convolution `win` of forward array x_var
    (batch, *spatial, channels x groups) with forward array kernel_var (*k, channels, filters x
    groups) as a tiled GEMM. store(w, m, n, v) writes output row m (sample x output position,
    row-major), filter n of group `g`, from the sum v; it may read the extra kernel parameters
    `params` (launched with the forward expressions `args`). In the kernel the input is `x` and
    the kernel `kernel`, viewed as (K, filters x groups); load_b(w, k, n) replaces
    B[k, n] = kernel[k, g * filters + n] (LoRA). The A-load's names are im2col's; store runs in
    templates.gemm's epilogue (i, j, m, n, v, g are taken: use other names)."""
    total = filters * groups

    def kernel_at(w: Writer, kk: str, n: str) -> str:
        return f"kernel[{kk}, {group_column(n, filters, groups)}]"

    first = f"g * {win.channels} + " if groups > 1 else ""
    gemm(site, k, f, Gemm(
        name=name, rows=win.rows, cols=str(filters), depth=str(win.depth),
        params=["x", "kernel", *params], args=[x_var, f"{kernel_var}.reshape({win.depth}, {total})", *args],
        load_a=lambda w, m, kk: im2col(w, win, "x", m, kk, first),
        load_b=load_b or kernel_at, store=store, groups=groups))


def group_column(n: str, filters: int, groups: int) -> str:
    """Column of filter n of group g among all the filters."""
    return f"g * {filters} + {n}" if groups > 1 else n


# --- Conv1D/2D/3D ------------------------------------------------------------------------------------


@kernel("Conv1D", "Conv2D", "Conv3D")
def conv(site: CudaSite, k: Writer, f: Writer):
    """An implicit GEMM (conv_gemm); with LoRA, B[k, n] adds (alpha / rank) x (a @ b)[k, n]."""
    layer = site.layer
    groups, filters = site.arg("groups"), site.arg("filters")
    per_group = filters // groups
    win = window(layer, site.x, site.y, channels=int(site.x[-1]) // groups)
    bias = "bias" if layer.use_bias else None
    rows = win.rows
    params, args = [*(["bias"] if bias else []), "out"], [*([site.weight("bias")] if bias else []),
                                                        f"{site.outs[0]}.reshape({wrap(rows)}, {filters})"]
    load_b = None
    if layer.lora_rank is not None:
        rank = int(layer.lora_rank)
        params += ["lora_a", "lora_b"]
        args += [f"{site.weight('lora_kernel_a')}.reshape({win.depth}, {rank})", site.weight("lora_kernel_b")]
        scale = "" if layer.lora_scale == 1 else f"DT({layer.lora_scale!r}) * "

        def load_b(w: Writer, kk: str, n: str) -> str:
            return lora_b(site, "kernel", kk, group_column(n, per_group, groups), scale)

    def store(w: Writer, m: str, n: str, v: str):
        column = n
        if groups > 1:
            w.line(f"nf = {group_column(n, per_group, groups)}")  # the filter among all of them
            column = "nf"
        for line in finish(layer, bias, column, v):
            w.line(line)
        w.line(f"out[{m}, {column}] = {v}")

    conv_gemm(site, k, f, site.fn, win, site.ins[0], site.weight("kernel"), per_group, store, params, args,
              groups, load_b)
    last_axis_pass(site, f, layer.activation, site.outs[0], str(filters))


# --- Conv1D/2D/3DTranspose ---------------------------------------------------------------------------


@kernel("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
def conv_transpose(site: CudaSite, k: Writer, f: Writer):
    """Gather form of Keras's conv_transpose (see codegen/cpu/conv.py): output o, at full position
    q = o + offset, sums tap t of input i = (q - t*d) / s where that is an integer inside the input.

    Along an axis with stride s > 1 (dilation 1: Keras refuses both), the outputs o = j*s + r of
    phase r use the taps t = φ + u*s, φ = (r + offset) % s, u < U = ceil(k / s) (t < k), reading
    input i = j + (r + offset) // s - u: a convolution over j with U taps. Each phase (one per
    combination of the axes' r) is a group of one GEMM: rows (sample, j) over ceil(L' / s)
    positions (a row whose o falls past the end is not stored), K = (u, channel), B = the phase's
    taps of the kernel (*k, F, C), 0 for t >= k. With stride 1 there is one phase: t = u,
    i = o + offset - t*d."""
    layer = site.layer
    rank = len(site.x) - 2
    ks, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    assert not any(sa > 1 and da > 1 for sa, da in zip(s, d)), "Keras refuses strides > 1 with dilation > 1"
    channels, filters = int(site.x[-1]), site.arg("filters")
    offsets = site.layer.output_offsets()
    spans = [-(-ka // sa) for ka, sa in zip(ks, s)]  # U: the taps of one phase
    strided = [a for a in range(rank) if s[a] > 1]
    phases = int_prod(s)
    positions = [py(sympy.ceiling(site.y[a + 1] / s[a])) for a in range(rank)]  # j: ceil(L' / s)
    batch = site.xd(0)
    rows = product((site.x[0], *(sympy.ceiling(site.y[a + 1] / s[a]) for a in range(rank))))
    depth = int_prod(spans) * channels
    bias = "bias" if layer.use_bias else None

    def phase(w: Writer):
        """xr<a>: the output phase r of strided axis a (from g, row-major over the strided axes),
        xf<a>: its first tap φ, xs<a>: (r + offset) // s (0 without offset: not written)."""
        for n, a in enumerate(strided):
            inner = int_prod(s[b] for b in strided[n + 1:])
            w.line(f"xr{a} = g" + (f" // {inner}" if inner > 1 else "") + (f" % {s[a]}" if n else ""))
            shifted = f"xr{a} + {offsets[a]}" if offsets[a] else f"xr{a}"
            if offsets[a]:
                w.line(f"xf{a} = ({shifted}) % {s[a]}")
                w.line(f"xs{a} = ({shifted}) // {s[a]}")
            else:
                w.line(f"xf{a} = xr{a}")

    def taps(w: Writer, kk: str) -> tuple[list[str], list[str], list[str]]:
        """(u and channel, tap of each axis, conditions that the taps exist) of column kk."""
        us = unravel(w, kk, [*map(str, spans), str(channels)], "xu")
        tap, inside = [], []
        for a in range(rank):
            if s[a] > 1:
                w.line(f"xt{a} = xf{a} + {us[a]} * {s[a]}")
                tap.append(f"xt{a}")
                inside.append(f"xt{a} < {ks[a]}")
            else:
                tap.append(us[a])
        return us, tap, inside

    def load_a(w: Writer, m: str, kk: str) -> str:
        phase(w)
        out = unravel(w, m, [batch, *positions], "xj")
        us, tap, inside = taps(w, kk)
        for a in range(rank):
            if s[a] > 1:
                w.line(f"xi{a} = {out[a + 1]}" + (f" + xs{a}" if offsets[a] else "") + f" - {us[a]}")
            else:
                back = tap[a] + (f" * {d[a]}" if d[a] != 1 else "")
                w.line(f"xi{a} = {out[a + 1]}" + (f" + {offsets[a]}" if offsets[a] else "") + f" - {back}")
            inside.append(f"0 <= xi{a} < {wrap(site.xd(a + 1))}")
        read = f"x[{out[0]}, {', '.join(f'xi{a}' for a in range(rank))}, {us[-1]}]"
        return f"{read} if {' and '.join(inside)} else ZERO"

    def load_b(w: Writer, kk: str, n: str) -> str:
        phase(w)
        us, tap, inside = taps(w, kk)
        read = f"kernel[{', '.join(tap)}, {n}, {us[-1]}]"
        return f"{read} if {' and '.join(inside)} else ZERO" if inside else read

    def store(w: Writer, m: str, n: str, v: str):
        phase(w)
        out = unravel(w, m, [batch, *positions], "xj")
        for a in range(rank):
            w.line(f"xo{a} = {out[a + 1]}" + (f" * {s[a]} + xr{a}" if s[a] > 1 else ""))
        past = [f"xo{a} < {wrap(site.yd(a + 1))}" for a in strided]  # the last j of a phase may not exist
        if past:
            w.open(f"if {' and '.join(past)}")
        for line in finish(layer, bias, n, v):
            w.line(line)
        w.line(f"out[{out[0]}, {', '.join(f'xo{a}' for a in range(rank))}, {n}] = {v}")
        if past:
            w.close()

    gemm(site, k, f, Gemm(
        name=site.fn, rows=rows, cols=str(filters), depth=str(depth),
        params=["x", "kernel", *(["bias"] if bias else []), "out"],
        args=[site.ins[0], site.weight("kernel"), *([site.weight("bias")] if bias else []), site.outs[0]],
        load_a=load_a, load_b=load_b, store=store, groups=phases))
    last_axis_pass(site, f, layer.activation, site.outs[0], str(filters))


# --- DepthwiseConv1D/2D and SeparableConv1D/2D --------------------------------------------------------


def depthwise(site: CudaSite, k: Writer, f: Writer, name: str, kernel_var: str, out_var: str,
              bias: str | None, activation: str | None):
    """Kernel `name`: one thread per output element (sample, position, channel c, multiplier m),
    out_var viewed as (batch, *spatial', C, M) (output channel c*M + m): Σ over the taps inside the
    input of x[.., c] * kernel[taps, c, m], + bias[c*M + m], activation."""
    layer = site.layer
    rank = len(site.x) - 2
    channels, multiplier = int(site.x[-1]), site.arg("depth_multiplier")
    win = window(layer, site.x, site.y)
    spatial_out = [site.yd(a + 1) for a in range(rank)]

    def body(w: Writer, idx: list[str]):
        b, *out, c, m = idx
        w.line("v = " + (f"bias[{c} * {multiplier} + {m}]" if bias else "ZERO"))
        for a in range(rank):
            w.open(f"for t{a} in range({win.kernel_size[a]})")
            step = f" * {win.strides[a]}" if win.strides[a] != 1 else ""
            tap = f"t{a}" + (f" * {win.dilation[a]}" if win.dilation[a] != 1 else "")
            pad = f" - {wrap(win.pads[a])}" if win.pads[a] != "0" else ""
            w.line(f"xi{a} = {out[a]}{step} + {tap}{pad}")
            if win.padding != "valid":  # skip the taps in the padding
                with w.block(f"if xi{a} < 0 or xi{a} >= {wrap(win.spatial_in[a])}"):
                    w.line("continue")
        spatial = ", ".join(f"xi{a}" for a in range(rank))
        taps = ", ".join(f"t{a}" for a in range(rank))
        w.line(f"v += x[{b}, {spatial}, {c}] * kernel[{taps}, {c}, {m}]")
        w.close(rank)
        w.line(f"out[{', '.join(idx)}] = {element(activation, 'v')}")

    view = f"{out_var}.reshape({', '.join([site.xd(0), *spatial_out, str(channels), str(multiplier)])})"
    pointwise(site, k, f, name, ["x", "kernel", *(["bias"] if bias else []), "out"],
              [site.ins[0], kernel_var, *([bias] if bias else []), view],
              [site.xd(0), *spatial_out, str(channels), str(multiplier)], body)


@kernel("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise_conv(site: CudaSite, k: Writer, f: Writer):
    layer = site.layer
    bias = site.weight("bias") if layer.use_bias else None
    depthwise(site, k, f, site.fn, site.weight("kernel"), site.outs[0], bias, layer.activation)
    last_axis_pass(site, f, layer.activation, site.outs[0], site.yd(-1))


@kernel("SeparableConv1D", "SeparableConv2D")
def separable_conv(site: CudaSite, k: Writer, f: Writer):
    """The depthwise convolution into a scratch buffer (batch, *spatial', C*M), then the pointwise
    1x1 convolution of it as a GEMM (K = C*M) with bias and activation."""
    layer = site.layer
    channels, multiplier, filters = int(site.x[-1]), site.arg("depth_multiplier"), site.arg("filters")
    mid, width = f"{site.outs[0]}_mid", channels * multiplier
    f.line(f"{mid} = scratch({site.scratch_key + '_mid'!r}, {shape((*site.y[:-1], width))})")
    depthwise(site, k, f, f"{site.fn}_depthwise", site.weight("depthwise_kernel"), mid, None, None)
    rows = product(site.y[:-1])
    bias = "bias" if layer.use_bias else None

    def store(w: Writer, m: str, n: str, v: str):
        for line in finish(layer, bias, n, v):
            w.line(line)
        w.line(f"out[{m}, {n}] = {v}")

    gemm(site, k, f, Gemm(
        name=site.fn, rows=rows, cols=str(filters), depth=str(width),
        params=["x", "kernel", *(["bias"] if bias else []), "out"],
        args=[f"{mid}.reshape({wrap(rows)}, {width})", f"{site.weight('pointwise_kernel')}.reshape({width}, {filters})",
              *([site.weight("bias")] if bias else []), f"{site.outs[0]}.reshape({wrap(rows)}, {filters})"],
        load_a=lambda w, m, kk: f"x[{m}, {kk}]", load_b=lambda w, kk, n: f"kernel[{kk}, {n}]", store=store))
    last_axis_pass(site, f, layer.activation, site.outs[0], str(filters))
