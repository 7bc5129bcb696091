"""CPU kernels of the convolutions: Conv1D/2D/3D, Conv1D/2D/3DTranspose, DepthwiseConv1D/2D and
SeparableConv1D/2D.

One task per (sample, block of output positions): the outputs of one position accumulate in a
small vector whose inner loop runs over the contiguous last axis of the (kernel) weights, so it
vectorises. Padding follows Keras: "same" puts the odd extra cell after, "causal" pads before only.
Transposed convolutions gather: each output position sums over the kernel taps that reach it from
an input position, so tasks never write to the same output.
"""
from __future__ import annotations

from analyzer.layers.conv import transpose_padding

from ..writer import Writer
from .activations import element, last_axis_pass
from .base import Site, kernel

POSITION_BLOCK = 16  # output positions per task: enough work to amortise the task, enough tasks for the cores


def padding_before(site: Site, axis: int, kernel_size: int, stride: int, dilation: int) -> str:
    """Cells of padding before the input along spatial `axis` (1-based), as source."""
    padding = site.layer.padding
    if padding == "valid":
        return "0"
    if padding == "causal":
        return str(dilation * (kernel_size - 1))
    reach = dilation * (kernel_size - 1) + 1
    return f"max(({site.yd(axis)} - 1) * {stride} + {reach} - {site.xd(axis)}, 0) // 2"


def spatial_positions(site: Site, w: Writer, rank: int) -> list[str]:
    """Define n_pos (the output positions of one sample) and return the output's spatial sizes."""
    sizes = [site.yd(a) for a in range(1, rank + 1)]
    w.line("n_pos = " + " * ".join(sizes))
    return sizes


def decompose(w: Writer, sizes: list[str], flat: str = "p", prefix: str = "o") -> list[str]:
    """Coordinates from a flat index over `sizes` (row-major): o1, o2, ..."""
    names = [f"{prefix}{a + 1}" for a in range(len(sizes))]
    for a, name in enumerate(names):
        inner = " * ".join(sizes[a + 1:])
        value = f"{flat} // ({inner})" if inner else flat
        w.line(f"{name} = {value}" + (f" % {sizes[a]}" if a else ""))
    return names


def open_position_tasks(site: Site, w: Writer, rank: int, block: int = POSITION_BLOCK) -> list[str]:
    """Open `for task in prange(batch * blocks)`, defining b and p0 (the block's first position);
    returns the output's spatial sizes. Close with `w.close()` (after `open_positions`' loop)."""
    sizes = spatial_positions(site, w, rank)
    w.line(f"n_blocks = (n_pos + {block - 1}) // {block}")
    w.open(f"for task in prange({site.xd(0)} * n_blocks)")
    w.line("b = task // n_blocks")
    w.line(f"p0 = (task % n_blocks) * {block}")
    return sizes


def open_positions(w: Writer, sizes: list[str], block: int = POSITION_BLOCK) -> list[str]:
    """Open the loop over the block's positions; returns the output coordinates o1..o<rank>."""
    w.open(f"for p in range(p0, min(p0 + {block}, n_pos))")
    return decompose(w, sizes)


def open_taps(site: Site, w: Writer, out_idx: list[str], k, s, d) -> list[tuple[str, str]]:
    """Open one loop per spatial axis over the kernel taps, skipping those that fall into the
    padding; returns (tap, input index) names per axis. Expects pad1.. defined. Close with
    `w.close(rank)`."""
    taps = []
    for a in range(len(k)):
        t, i = f"t{a + 1}", f"i{a + 1}"
        w.open(f"for {t} in range({k[a]})")
        w.line(f"{i} = {out_idx[a]} * {s[a]} + {t} * {d[a]} - pad{a + 1}")
        with w.block(f"if {i} < 0 or {i} >= {site.xd(a + 1)}"):
            w.line("continue")
        taps.append((t, i))
    return taps


def write_pads(site: Site, w: Writer, k, s, d):
    for a in range(len(k)):
        w.line(f"pad{a + 1} = {padding_before(site, a + 1, k[a], s[a], d[a])}")


def finish(site: Site, w: Writer, out_idx: list[str], n: int):
    """out[b, o.., :] = activation(acc[:n]) (and the last-axis pass after every task, if any)."""
    with w.block(f"for f in range({n})"):
        w.line("v = acc[f]")
        w.line(f"out[b, {', '.join(out_idx)}, f] = {element(site.layer.activation, 'v')}")


def last_pass(site: Site, w: Writer):
    after = last_axis_pass(site.layer.activation, "out")
    if after:
        w.line(after)


def init_acc(site: Site, w: Writer, n: int, bias: str = "bias"):
    with w.block(f"for f in range({n})"):
        w.line("acc[f] = " + (f"{bias}[f]" if site.layer.use_bias else "ZERO"))


@kernel("Conv1D", "Conv2D", "Conv3D")
def conv(site: Site, w: Writer):
    layer = site.layer
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    groups = site.arg("groups")
    channels, filters = int(site.x[-1]), site.arg("filters")
    per_group_in, per_group_out = channels // groups, filters // groups
    weight = "kernel"
    if getattr(layer, "lora_rank", None) is not None:
        w.line("merged = kernel.copy()")
        w.line("flat = merged.reshape(-1, merged.shape[-1])")
        w.line("a = lora_kernel_a.reshape(-1, lora_kernel_a.shape[-1])")
        with w.block("for i in range(flat.shape[0])"):
            with w.block("for r in range(a.shape[1])"):
                with w.block("for f in range(flat.shape[1])"):
                    w.line("flat[i, f] += a[i, r] * lora_kernel_b[r, f]")
        weight = "merged"
    write_pads(site, w, k, s, d)
    sizes = open_position_tasks(site, w, rank)
    w.line(f"acc = np.empty({filters}, dtype=DT)")
    out_idx = open_positions(w, sizes)
    init_acc(site, w, filters)
    taps = open_taps(site, w, out_idx, k, s, d)
    spatial_in = ", ".join(i for _, i in taps)
    tap_idx = ", ".join(t for t, _ in taps)
    if groups == 1:
        with w.block(f"for c in range({channels})"):
            w.line(f"v = x[b, {spatial_in}, c]")
            with w.block(f"for f in range({filters})"):
                w.line(f"acc[f] += v * {weight}[{tap_idx}, c, f]")
    else:
        with w.block(f"for g in range({groups})"):
            with w.block(f"for c in range({per_group_in})"):
                w.line(f"v = x[b, {spatial_in}, g * {per_group_in} + c]")
                with w.block(f"for f in range({per_group_out})"):
                    w.line(f"acc[g * {per_group_out} + f] += v * {weight}[{tap_idx}, c, g * {per_group_out} + f]")
    w.close(rank)
    finish(site, w, out_idx, filters)
    w.close(2)
    last_pass(site, w)


@kernel("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
def conv_transpose(site: Site, w: Writer):
    """Gather form of Keras's conv_transpose. The "full" transposed output has input position i
    and tap t land at q = i*s + t*d; Keras's output position o is full position q = o + offset
    (offset = reach - 1 - padding before, see transpose_padding). So output o sums the taps t with
    q - t*d a multiple of s, from input position (q - t*d) / s when it lies inside the input."""
    layer = site.layer
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    output_padding = site.ints("output_padding") if layer.output_padding is not None else (None,) * rank
    channels, filters = int(site.x[-1]), site.arg("filters")
    # The kernel is (*k, filters, channels): transpose it once so that the filters are contiguous.
    n_taps = 1
    for kk in k:
        n_taps *= kk
    w.line(f"kt = np.empty(({', '.join(map(str, k))}, {channels}, {filters}), dtype=DT)")
    w.line(f"kf = kernel.reshape({n_taps}, {filters}, {channels})")
    w.line(f"ktf = kt.reshape({n_taps}, {channels}, {filters})")
    with w.block(f"for t in range({n_taps})"):
        with w.block(f"for c in range({channels})"):
            with w.block(f"for f in range({filters})"):
                w.line("ktf[t, c, f] = kf[t, f, c]")
    offsets = []
    for kk, ss, dd, op in zip(k, s, d, output_padding):
        before, _ = transpose_padding(kk, ss, dd, layer.padding, op)
        offsets.append(dd * (kk - 1) - before)
    sizes = open_position_tasks(site, w, rank)
    w.line(f"acc = np.empty({filters}, dtype=DT)")
    out_idx = open_positions(w, sizes)
    init_acc(site, w, filters)
    for a in range(rank):
        w.line(f"q{a + 1} = {out_idx[a]}" + (f" + {offsets[a]}" if offsets[a] > 0 else
                                              f" - {-offsets[a]}" if offsets[a] < 0 else ""))
    taps = []
    for a in range(rank):
        q, t, i = f"q{a + 1}", f"t{a + 1}", f"i{a + 1}"
        if s[a] == 1:
            w.open(f"for {t} in range({k[a]})")
            w.line(f"{i} = {q} - {t}" + (f" * {d[a]}" if d[a] != 1 else ""))
        elif d[a] == 1:  # only the taps congruent to q modulo the stride reach o
            w.open(f"for {t} in range({q} % {s[a]}, {k[a]}, {s[a]})")
            w.line(f"{i} = ({q} - {t}) // {s[a]}")
        else:  # Keras refuses strides > 1 with dilation > 1 today; kept general anyway
            w.open(f"for {t} in range({k[a]})")
            w.line(f"u = {q} - {t} * {d[a]}")
            with w.block(f"if u % {s[a]} != 0"):
                w.line("continue")
            w.line(f"{i} = u // {s[a]}")
        with w.block(f"if {i} < 0 or {i} >= {site.xd(a + 1)}"):
            w.line("continue")
        taps.append((t, i))
    spatial_in = ", ".join(i for _, i in taps)
    tap_idx = ", ".join(t for t, _ in taps)
    with w.block(f"for c in range({channels})"):
        w.line(f"v = x[b, {spatial_in}, c]")
        with w.block(f"for f in range({filters})"):
            w.line(f"acc[f] += v * kt[{tap_idx}, c, f]")
    w.close(rank)
    finish(site, w, out_idx, filters)
    w.close(2)
    last_pass(site, w)


def depthwise_taps(site: Site, w: Writer, out_idx: list[str], target: str, weight: str):
    """Accumulate the depthwise convolution of one output position into `target` (C * M long:
    output channel c*M + m is input channel c times weight[..., c, m])."""
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    channels, multiplier = int(site.x[-1]), site.arg("depth_multiplier")
    taps = open_taps(site, w, out_idx, k, s, d)
    spatial_in = ", ".join(i for _, i in taps)
    tap_idx = ", ".join(t for t, _ in taps)
    if multiplier == 1:
        with w.block(f"for c in range({channels})"):
            w.line(f"{target}[c] += x[b, {spatial_in}, c] * {weight}[{tap_idx}, c, 0]")
    else:
        with w.block(f"for c in range({channels})"):
            w.line(f"v = x[b, {spatial_in}, c]")
            with w.block(f"for m in range({multiplier})"):
                w.line(f"{target}[c * {multiplier} + m] += v * {weight}[{tap_idx}, c, m]")
    w.close(rank)


@kernel("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise_conv(site: Site, w: Writer):
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    n_out = int(site.x[-1]) * site.arg("depth_multiplier")
    write_pads(site, w, k, s, d)
    sizes = open_position_tasks(site, w, rank)
    w.line(f"acc = np.empty({n_out}, dtype=DT)")
    out_idx = open_positions(w, sizes)
    init_acc(site, w, n_out)
    depthwise_taps(site, w, out_idx, "acc", "kernel")
    finish(site, w, out_idx, n_out)
    w.close(2)
    last_pass(site, w)


@kernel("SeparableConv1D", "SeparableConv2D")
def separable_conv(site: Site, w: Writer):
    """The depthwise convolution into a per-task vector `mid` (C * M), then the pointwise 1x1
    convolution of it into `acc` (filters)."""
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    n_mid = int(site.x[-1]) * site.arg("depth_multiplier")
    filters = site.arg("filters")
    write_pads(site, w, k, s, d)
    w.line(f"pw = pointwise_kernel.reshape({n_mid}, {filters})")
    sizes = open_position_tasks(site, w, rank)
    w.line(f"mid = np.empty({n_mid}, dtype=DT)")
    w.line(f"acc = np.empty({filters}, dtype=DT)")
    out_idx = open_positions(w, sizes)
    with w.block(f"for j in range({n_mid})"):
        w.line("mid[j] = ZERO")
    depthwise_taps(site, w, out_idx, "mid", "depthwise_kernel")
    init_acc(site, w, filters)
    with w.block(f"for j in range({n_mid})"):
        w.line("v = mid[j]")
        with w.block(f"for f in range({filters})"):
            w.line("acc[f] += v * pw[j, f]")
    finish(site, w, out_idx, filters)
    w.close(2)
    last_pass(site, w)
