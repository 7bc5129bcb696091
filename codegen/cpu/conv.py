"""CPU kernels of the convolutions: Conv1D/2D/3D, Conv1D/2D/3DTranspose, DepthwiseConv1D/2D and
SeparableConv1D/2D.

Conv and ConvTranspose come in three forms:
- the position-blocked axpy form (Conv with up to 192 filters): a block of neighbouring output
  positions x all filters summed in registers, each kernel vector [taps, c, :] loaded once per block;
- the dot-product form (transposed convolutions, wider Convs, by the input values per window row):
  every output is a dot product over its window, register
  blocked over 4 positions x 4 filters, the window rows contiguous in the (zero-padded) input and
  in a re-laid-out kernel (see DotPlan). A transposed convolution is read as a convolution over its
  input (gather form, so tasks never write to the same output): the flipped kernel with stride 1,
  per-phase kernels with a stride;
- the plain axpy form (groups; few input values per row of a transposed convolution): the filters
  of one position accumulate in a vector, the inner loop over the contiguous filter axis.
Depthwise and separable convolutions use the axpy form, the inner loop over the channels.
One task per (sample, block of output positions). Padding follows Keras: "same" puts the odd extra
cell after, "causal" pads before only.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from math import prod


from ..lowering import unravel
from ..writer import Writer
from .activations import last_axis_pass
from .base import Site, kernel
from .epilogue import stored

POSITION_BLOCK = 16  # output positions per task: enough work to amortise the task, enough tasks for the cores


def spatial_positions(site: Site, w: Writer, rank: int) -> list[str]:
    """Define n_pos (the output positions of one sample) and return the output's spatial sizes."""
    sizes = [site.yd(a) for a in range(1, rank + 1)]
    w.line("n_pos = " + " * ".join(sizes))
    return sizes


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
    return unravel(w, "p", sizes, [f"o{a + 1}" for a in range(len(sizes))])


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
        w.line(f"pad{a + 1} = {site.padding_before(a + 1, k[a], s[a], d[a])}")


def finish(site: Site, w: Writer, out_idx: list[str], n: int):
    """out[b, o.., :] = activation(acc[:n]) (and the last-axis pass after every task, if any)."""
    with w.block(f"for f in range({n})"):
        w.line("v = acc[f]")
        value = stored(site, w, "v", "f")
        w.line(f"out[b, {', '.join(out_idx)}, f] = {value}")


def last_pass(site: Site, w: Writer):
    after = last_axis_pass(site.layer.activation, "out")
    if after:
        w.line(after)


def init_acc(site: Site, w: Writer, n: int, bias: str = "bias"):
    with w.block(f"for f in range({n})"):
        w.line("acc[f] = " + (f"{bias}[f]" if site.layer.use_bias else "ZERO"))


def merge_lora(site: Site, w: Writer) -> str:
    """The kernel to convolve with: `kernel`, or with LoRA `merged` = kernel + (alpha / rank) · a @ b
    (Keras's convolutions keep lora_alpha; see Conv.lora_scale)."""
    if getattr(site.layer, "lora_rank", None) is None:
        return "kernel"
    w.line(f"scale = DT({site.layer.lora_scale!r})")
    w.line("merged = kernel.copy()")
    w.line("flat = merged.reshape(-1, merged.shape[-1])")
    w.line("a = lora_kernel_a.reshape(-1, lora_kernel_a.shape[-1])")
    with w.block("for i in range(flat.shape[0])"):
        with w.block("for r in range(a.shape[1])"):
            with w.block("for f in range(flat.shape[1])"):
                w.line("flat[i, f] += scale * a[i, r] * lora_kernel_b[r, f]")
    return "merged"


@kernel("Conv1D", "Conv2D", "Conv3D")
def conv(site: Site, w: Writer):
    """The position-blocked axpy form up to BLOCKED_MAX_FILTERS filters; beyond, the dot-product form
    where window rows are long enough, else (and with groups) the plain axpy form."""
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    channels = int(site.x[-1])
    if site.arg("groups") == 1 and site.arg("filters") <= BLOCKED_MAX_FILTERS:
        conv_axpy_blocked(site, w)
    elif site.arg("groups") == 1 and (k[-1] * channels if d[-1] == 1 else channels) >= DOT_MIN:
        weight = merge_lora(site, w)
        write_pads(site, w, k, s, d)
        dot_conv(site, w, conv_plan(site, weight))
    else:
        conv_axpy(site, w)


# Measured on this machine (2 AVX-512 cores, batch 64), the position-blocked axpy form against the
# dot form: Conv1D 64 -> 64 filters, k=3, same: 0.70-0.79 ms against 1.21-1.35; 128 -> 100, k=5:
# 5.8 against 8.4; 64 -> 128, k=3: 2.1 against 3.1; 32 -> 32, k=3: 0.29 against 0.52; and a 3 x 3
# RGB Conv2D with 16 filters 4.7x faster than one position at a time.
BLOCKED_MAX_FILTERS = 192  # beyond, a block holds one position: the dot form is better
ACC_FLOATS = 384  # sums a register block may hold: 24 of the 32 AVX-512 registers


def axpy_block(filters: int) -> int:
    """Output positions per register block of conv_axpy_blocked: P x filters sums (filters rounded up
    to whole 16-float vectors) within ACC_FLOATS, 8 positions at most. Measured: 64 filters best at
    6 (4 and 8 are 15-50% slower), 128 at 3 (6 spills: 2x slower), 32 at 8."""
    vectors = -(-filters // 16) * 16
    return max(1, min(8, ACC_FLOATS // vectors))


def conv_axpy_blocked(site: Site, w: Writer):
    """Per task one row of output
    positions (all but the last spatial axis fixed), walked in blocks of P neighbouring positions
    along the last axis. Each kernel vector kernel[taps, c, :] is loaded once per block and
    multiplied by the P input values under it, so the P x filters sums stay in registers. A partial last
    block computes its missing positions on the last position again and does not store them."""
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    channels, filters = int(site.x[-1]), site.arg("filters")
    block = axpy_block(filters)
    weight = merge_lora(site, w)
    write_pads(site, w, k, s, d)
    sizes = [site.yd(a) for a in range(1, rank + 1)]
    outer = sizes[:-1]
    n_last, x_last = sizes[-1], site.xd(rank)
    w.line("n_rows = " + " * ".join(outer or ["1"]))
    w.open(f"for task in prange({site.xd(0)} * n_rows)")
    w.line("b = task // n_rows")
    out_idx = unravel(w, "task % n_rows", outer, [f"o{a + 1}" for a in range(len(outer))]) if outer else []
    w.line(f"acc = np.empty(({block}, {filters}), dtype=DT)")
    with w.block(f"for q in range(0, {n_last}, {block})"):
        w.line(f"count = min({block}, {n_last} - q)")
        for p in range(block):
            w.line(f"op{p} = " + ("q" if p == 0 else f"min(q + {p}, {n_last} - 1)"))
        with w.block(f"for p in range({block})"):
            with w.block(f"for f in range({filters})"):
                w.line("acc[p, f] = " + ("bias[f]" if site.layer.use_bias else "ZERO"))
        taps = open_taps(site, w, out_idx, k[:-1], s[:-1], d[:-1])
        last = rank
        w.open(f"for t{last} in range({k[-1]})")
        valid = site.layer.padding == "valid"  # windows never leave the input
        for p in range(block):
            w.line(f"j{p} = op{p} * {s[-1]} + t{last} * {d[-1]} - pad{last}")
        spatial = ", ".join(i for _, i in taps)
        tap_idx = ", ".join([t for t, _ in taps] + [f"t{last}"])
        with w.block(f"for c in range({channels})"):
            for p in range(block):
                read = f"x[b, {spatial + ', ' if spatial else ''}j{p}, c]"
                w.line(f"v{p} = {read}" if valid else f"v{p} = {read} if 0 <= j{p} < {x_last} else ZERO")
            with w.block(f"for f in range({filters})"):
                w.line(f"kv = {weight}[{tap_idx}, c, f]")
                for p in range(block):
                    w.line(f"acc[{p}, f] += v{p} * kv")
        w.close(1 + len(taps))
        with w.block("for p in range(count)"):
            with w.block(f"for f in range({filters})"):
                w.line("v = acc[p, f]")
                value = stored(site, w, "v", "f")
                w.line(f"out[b, {', '.join(out_idx) + ', ' if out_idx else ''}q + p, f] = {value}")
    w.close()
    last_pass(site, w)


def conv_axpy(site: Site, w: Writer):
    """Few input values per tap (or groups): the filters of one position accumulate in a vector, the
    inner loop over the contiguous filter axis of the kernel."""
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    groups = site.arg("groups")
    channels, filters = int(site.x[-1]), site.arg("filters")
    per_group_in, per_group_out = channels // groups, filters // groups
    weight = merge_lora(site, w)
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
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    channels = int(site.x[-1])
    row = (-(-k[-1] // s[-1]) if d[-1] == 1 else 1) * channels  # input values per window row
    if row >= DOT_MIN and not any(sa > 1 and da > 1 for sa, da in zip(s, d)):
        dot_conv(site, w, transpose_plan(site))
    else:
        conv_transpose_axpy(site, w)


def conv_transpose_axpy(site: Site, w: Writer):
    """Few input channels: the filters of one position accumulate in a vector (as conv_axpy)."""
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    channels, filters = int(site.x[-1]), site.arg("filters")
    # The kernel is (*k, filters, channels): transpose it once so that the filters are contiguous.
    n_taps = prod(k)
    w.line(f"kt = np.empty(({', '.join(map(str, k))}, {channels}, {filters}), dtype=DT)")
    w.line(f"kf = kernel.reshape({n_taps}, {filters}, {channels})")
    w.line(f"ktf = kt.reshape({n_taps}, {channels}, {filters})")
    with w.block(f"for t in range({n_taps})"):
        with w.block(f"for c in range({channels})"):
            with w.block(f"for f in range({filters})"):
                w.line("ktf[t, c, f] = kf[t, f, c]")
    offsets = site.layer.output_offsets()
    sizes = open_position_tasks(site, w, rank)
    w.line(f"acc = np.empty({filters}, dtype=DT)")
    out_idx = open_positions(w, sizes)
    init_acc(site, w, filters)
    for a in range(rank):
        w.line(f"q{a + 1} = " + _plus(out_idx[a], offsets[a]))
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


# --- the dot-product form of Conv and ConvTranspose -----------------------------------------------
# With many input values per window row, each output is a dot product over its window: the kernel
# is laid out once per call as kt[filter, outer taps.., (phase,) window row], so that the row is
# contiguous in both x and kt. A register block of P_BLOCK positions x Q_BLOCK filters shares its
# loads: scalar accumulators that LLVM vectorises along the row (reassoc). Where windows may cross
# the input's edges, the input is first copied into a zero-padded buffer, so that one code path
# without bounds checks serves every position (a second path for the edges doubles compile time).

DOT_MIN = 16  # input values per window row from which the dot-product form is worth its compile time
P_BLOCK = 4  # output positions per register block (along the last spatial axis)
Q_BLOCK = 4  # filters per register block
ROW_CHUNK = 32  # register-blocked output positions along the last spatial axis per task


@dataclass
class DotPlan:
    """How dot_conv reads windows, in the coordinates of the padded input (input position + before).
    Outer axes (all but the last): `outer` opens the loop over the taps that reach output o<a> and
    defines the input index. Last axis: output position p reads `slots` positions `step` apart from
    start(p), slot m weighted by kt[f, outer taps.., (ph,) m*C:(m+1)*C]; a phased plan (a strided
    transposed convolution) has per-phase weights, ph = phase(p), and processes the positions of
    one phase (out_step apart) together."""

    prep: Callable[[Writer], None]  # defines kt: (filters rounded up to Q, *outer taps, (phases,) slots * C)
    outer: Callable[[Writer, int], tuple[str, str]]  # opens the tap loop of outer axis a: (tap, input index)
    start: Callable[[str], str]
    before: list[str]  # padding before each spatial axis (source)
    needed: list[str]  # padded length each spatial axis needs (source)
    pad: bool  # copy the input into a zero-padded buffer (else windows never leave the input)
    slots: int
    step: int
    out_step: int = 1
    phase: Callable[[str], str] | None = None


def zeroed(w: Writer, name: str, shape: tuple):
    """`name = np.zeros(shape)` without np.zeros: in a parallel kernel that becomes a parfor of its
    own, which costs seconds of compile time."""
    w.line(f"{name} = np.empty(({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''}), dtype=DT)")
    w.line(f"{name}_flat = {name}.reshape(-1)")
    with w.block(f"for z in range({name}_flat.shape[0])"):
        w.line(f"{name}_flat[z] = ZERO")


def filter_block(site: Site) -> tuple[int, int]:
    """(filters per register block, filters rounded up to a multiple of it)."""
    filters = site.arg("filters")
    q = min(Q_BLOCK, filters)
    return q, -(-filters // q) * q


def conv_plan(site: Site, weight: str) -> DotPlan:
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    channels, filters = int(site.x[-1]), site.arg("filters")
    _, padded = filter_block(site)
    n_outer = prod(k[:-1])
    row = k[-1] * channels

    def prep(w: Writer):
        if weight == "kernel":  # re-laid out once, when the weights are set (a LoRA merge: every call)
            site.pack(weight, [f"packed = np.zeros(({padded}, {n_outer}, {row}), dtype=w.dtype)",
                               f"packed[:{filters}] = w.reshape({n_outer}, {row}, {filters}).transpose(2, 0, 1)",
                               f"packed = packed.reshape({', '.join(map(str, (padded, *k[:-1], row)))})"],
                      (padded, *k[:-1], row))
            w.line(f"kt = {weight}")
            return
        zeroed(w, "kt", (padded, *k[:-1], row))
        w.line(f"kt2 = kt.reshape({padded}, {n_outer}, {row})")
        w.line(f"wsrc = {weight}.reshape({n_outer}, {row}, {filters})")
        with w.block(f"for t in range({n_outer})"):
            with w.block(f"for j in range({row})"):
                with w.block(f"for f in range({filters})"):
                    w.line("kt2[f, t, j] = wsrc[t, j, f]")

    def outer(w: Writer, a: int):
        t, i = f"t{a}", f"i{a}"
        w.open(f"for {t} in range({k[a - 1]})")
        w.line(f"{i} = " + _lin(f"o{a}", s[a - 1], f"{t}", d[a - 1]))
        return t, i

    pad = site.layer.padding != "valid"
    before = [f"pad{a}" if pad else "0" for a in range(1, rank + 1)]
    needed = [f"({site.yd(a)} - 1) * {s[a - 1]} + {d[a - 1] * (k[a - 1] - 1) + 1}" for a in range(1, rank + 1)]
    return DotPlan(prep, outer, lambda p: _lin(p, s[-1]), before, needed, pad, slots=k[-1], step=d[-1])


def _lin(a: str, sa: int, b: str | None = None, sb: int = 1) -> str:
    """a * sa (+ b * sb) as short source."""
    text = a if sa == 1 else f"{a} * {sa}"
    if b is not None:
        text += f" + {b}" if sb == 1 else f" + {b} * {sb}"
    return text


def _plus(text: str, n: int) -> str:
    return text + (f" + {n}" if n > 0 else f" - {-n}" if n < 0 else "")


def transpose_plan(site: Site) -> DotPlan:
    """A transposed convolution read as a convolution over its input. Output o is full position
    q = o + offset, which input i reaches through tap t when q = i*s + t*d. Stride 1: the flipped
    kernel over the window ending at q. Stride s > 1 (dilation 1): the taps t = ph + j*s
    (ph = q % s) reach q from inputs q // s - j, a window of ceil(k / s) positions with the weights
    of phase ph; the positions of one phase, s apart, have consecutive windows."""
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    channels, filters = int(site.x[-1]), site.arg("filters")
    _, padded = filter_block(site)
    offsets = site.layer.output_offsets()
    n_outer = prod(k[:-1])
    kk, ss, dd, off = k[-1], s[-1], d[-1], offsets[-1]
    slots = kk if ss == 1 else -(-kk // ss)
    row = slots * channels
    before, needed = [], []
    for a in range(1, rank + 1):
        ka, sa, da, oa = k[a - 1], s[a - 1], d[a - 1], offsets[a - 1]
        if a == rank:
            lowest = oa - (ka - 1) * da if sa == 1 else oa // sa - (slots - 1)  # first window's start
        else:
            lowest = min((q - t * da) // sa for q in range(oa, oa + sa) for t in range(ka) if (q - t * da) % sa == 0)
        before.append(max(0, -lowest))
        last = f"{site.yd(a)} - 1 + {oa}" if oa else f"{site.yd(a)} - 1"  # the last output's full position
        needed.append(f"{last} + {before[-1] + 1}" if sa == 1 else f"({last}) // {sa} + {before[-1] + 1}")

    def prep(w: Writer):
        w.line(f"wsrc = kernel.reshape({n_outer}, {kk}, {filters}, {channels})")
        if ss == 1:
            zeroed(w, "kt", (padded, *k[:-1], row))
            w.line(f"kt2 = kt.reshape({padded}, {n_outer}, {row})")
            with w.block(f"for t in range({n_outer})"):
                with w.block(f"for m in range({kk})"):
                    with w.block(f"for f in range({filters})"):
                        with w.block(f"for c in range({channels})"):
                            w.line(f"kt2[f, t, m * {channels} + c] = wsrc[t, {kk - 1} - m, f, c]")
        else:
            zeroed(w, "kt", (padded, *k[:-1], ss, row))
            w.line(f"kt2 = kt.reshape({padded}, {n_outer}, {ss}, {row})")
            with w.block(f"for t in range({n_outer})"):
                with w.block(f"for ph in range({ss})"):
                    with w.block(f"for m in range({slots})"):
                        w.line(f"tap = ph + ({slots - 1} - m) * {ss}")
                        with w.block(f"if tap < {kk}"):
                            with w.block(f"for f in range({filters})"):
                                with w.block(f"for c in range({channels})"):
                                    w.line(f"kt2[f, t, ph, m * {channels} + c] = wsrc[t, tap, f, c]")

    def outer(w: Writer, a: int):
        q, t, i = f"q{a}", f"t{a}", f"i{a}"
        ka, sa, da = k[a - 1], s[a - 1], d[a - 1]
        w.line(f"{q} = " + _plus(f"o{a}", offsets[a - 1]))
        if sa == 1:
            w.open(f"for {t} in range({ka})")
            w.line(f"{i} = " + _plus(f"{q} - {t}" + (f" * {da}" if da != 1 else ""), before[a - 1]))
        else:  # dilation 1 (transpose_kernel checks): the taps congruent to q modulo the stride
            w.open(f"for {t} in range({q} % {sa}, {ka}, {sa})")
            w.line(f"{i} = " + _plus(f"({q} - {t}) // {sa}", before[a - 1]))
        return t, i

    if ss == 1:
        return DotPlan(prep, outer, lambda p: _plus(p, off - (kk - 1) * dd + before[-1]), [str(b) for b in before],
                       needed, True, slots=kk, step=dd)
    return DotPlan(prep, outer, lambda p: _plus(f"({_plus(p, off)}) // {ss}", before[-1] - (slots - 1)),
                   [str(b) for b in before], needed, True, slots=slots, step=1, out_step=ss,
                   phase=lambda p: f"({_plus(p, off)}) % {ss}")


def dot_conv(site: Site, w: Writer, plan: DotPlan):
    """Tasks: (sample, output position on the outer axes, chunk of the last axis); the chunk goes
    by register blocks of P_BLOCK positions (of one phase), the last block clamped to the chunk's
    last position (recomputing a position writes the same values)."""
    layer = site.layer
    rank = len(site.x) - 2
    channels, filters = int(site.x[-1]), site.arg("filters")
    q_block, padded = filter_block(site)
    plan.prep(w)
    zeroed(w, "bp", (padded,))
    if layer.use_bias:
        with w.block(f"for f in range({filters})"):
            w.line("bp[f] = bias[f]")
    batch = site.xd(0)
    if plan.pad:
        _padded_input(site, w, plan)
    else:
        dims = [site.xd(a) for a in range(1, rank)] + [f"{site.xd(rank)} * {channels}"]
        w.line(f"xr = x.reshape({batch}, {', '.join(dims)})")
    out_rows = [site.yd(a) for a in range(1, rank)]
    last_out, step = site.yd(rank), plan.out_step
    chunk = ROW_CHUNK * step
    w.line("n_rows = " + (" * ".join(out_rows) if out_rows else "1"))
    w.line(f"n_chunks = ({last_out} + {chunk - 1}) // {chunk}")
    with w.block(f"for task in prange({batch} * n_rows * n_chunks)"):
        w.line(f"e0 = (task % n_chunks) * {chunk}")
        w.line(f"e1 = min(e0 + {chunk}, {last_out})")
        w.line("row = task // n_chunks")
        w.line("b = row // n_rows")
        outer_idx = []
        if rank > 1:
            w.line("r = row % n_rows")
            outer_idx = unravel(w, "r", out_rows, [f"o{a + 1}" for a in range(len(out_rows))])
        if step > 1:
            w.open(f"for rho in range({step})")
            w.line(f"n_ph = (e1 - e0 - rho + {step - 1}) // {step}")
            first = "e0 + rho"
        else:
            w.line("n_ph = e1 - e0")
            first = "e0"
        w.open(f"for blk in range(0, n_ph, {P_BLOCK})")
        for p in range(P_BLOCK):
            index = "blk" if p == 0 else f"min(blk + {p}, n_ph - 1)"
            w.line(f"pos{p} = {first} + " + (index if step == 1 else f"{index} * {step}"))
            start = plan.start(f"pos{p}")
            w.line(f"j{p} = " + (f"{start} * {channels}" if start.isidentifier() else f"({start}) * {channels}"))
        if plan.phase:
            w.line(f"ph = {plan.phase('pos0')}")
        _dot_block(site, w, plan, outer_idx, q_block, padded)
        w.close(2 if step > 1 else 1)
    last_pass(site, w)


def _padded_input(site: Site, w: Writer, plan: DotPlan):
    """xr: the input with `before` zero positions ahead of each spatial axis and zeros after it up
    to the length the windows need, (batch, *padded spatial but last, padded last * C)."""
    rank = len(site.x) - 2
    channels = int(site.x[-1])
    batch = site.xd(0)
    for a in range(1, rank + 1):
        w.line(f"lp{a} = max({site.xd(a)} + {plan.before[a - 1]}, {plan.needed[a - 1]})")
    dims = [f"lp{a}" for a in range(1, rank)]
    w.line(f"xr = np.empty(({batch}, {''.join(d + ', ' for d in dims)}lp{rank} * {channels}), dtype=DT)")
    w.line(f"xin = x.reshape({batch}, {''.join(site.xd(a) + ', ' for a in range(1, rank))}{site.xd(rank)} * {channels})")
    w.line("n_prows = " + (" * ".join(dims) if dims else "1"))
    width = f"lp{rank} * {channels}"
    with open_segments(w, f"{batch} * n_prows", width, "prow"):
        w.line("b = prow // n_prows")
        names = []
        if rank > 1:
            w.line("r = prow % n_prows")
            names = unravel(w, "r", dims, [f"p{a + 1}" for a in range(len(dims))])
        w.line(f"dst = xr[b, {''.join(n + ', ' for n in names)}:]" if names else "dst = xr[b]")
        inside = []
        for a, n in enumerate(names, start=1):
            w.line(f"u{a} = {n} - {plan.before[a - 1]}")
            inside.append(f"0 <= u{a} < {site.xd(a)}")
        if inside:
            w.open(f"if {' and '.join(inside)}")
        w.line(f"src = xin[b, {''.join(f'u{a}, ' for a in range(1, rank))}:]" if rank > 1 else "src = xin[b]")
        copy_with_zeros(w, f"{plan.before[-1]} * {channels}", f"{site.xd(rank)} * {channels}")
        if inside:
            w.close()
            with w.block("else"):
                with w.block("for j in range(s0, s1)"):
                    w.line("dst[j] = ZERO")


SEGMENT = 8192  # values per task of a row copy: long rows (a 1-D sequence of one sample) split over the cores


@contextmanager
def open_segments(w: Writer, n_rows: str, width: str, row: str = "row", segment: int = SEGMENT):
    """A parallel loop over (row, segment of `segment` items of the row): defines `row`, s0 and s1."""
    w.line(f"n_segs = ({width} + {segment - 1}) // {segment}")
    with w.block(f"for task in prange({n_rows} * n_segs)"):
        w.line(f"s0 = (task % n_segs) * {segment}")
        w.line(f"s1 = min(s0 + {segment}, {width})")
        w.line(f"{row} = task // n_segs")
        yield


def copy_with_zeros(w: Writer, head: str, length: str):
    """dst[s0:s1] = the row [zeros(head), src[:length], zeros...] (row values s0 to s1)."""
    if head in ("0", "0 * 1") or head.startswith("0 * "):
        w.line("h = 0")
    else:
        w.line(f"h = {head}")
        with w.block("for j in range(s0, min(s1, h))"):
            w.line("dst[j] = ZERO")
    w.line(f"tail = h + {length}")
    with w.block("for j in range(max(s0, h), min(s1, tail))"):
        w.line("dst[j] = src[j - h]")
    with w.block("for j in range(max(s0, tail), s1)"):
        w.line("dst[j] = ZERO")


def _dot_block(site: Site, w: Writer, plan: DotPlan, outer_idx: list[str], q_block: int, padded: int):
    """The outputs at pos0..pos<P-1> for every filter, q_block filters at a time."""
    rank = len(site.x) - 2
    channels, filters = int(site.x[-1]), site.arg("filters")
    positions, filters_q = range(P_BLOCK), range(q_block)
    with w.block(f"for f in range(0, {padded}, {q_block})"):
        for p in positions:
            for q in filters_q:
                w.line(f"a{p}_{q} = bp[f + {q}]")
        taps = [plan.outer(w, a) for a in range(1, rank)]
        xi = "".join(f"{i}, " for _, i in taps)
        ki = "".join(f"{t}, " for t, _ in taps) + ("ph, " if plan.phase else "")
        if plan.step == 1:  # the window row is contiguous
            length = plan.slots * channels
            for p in positions:
                w.line(f"xs{p} = xr[b, {xi}j{p}:j{p} + {length}]")
            for q in filters_q:
                w.line(f"ws{q} = kt[f + {q}, {ki}:]")
        else:  # dilated: one slot (C values) at a time
            length = channels
            w.open(f"for m in range({plan.slots})")
            w.line(f"jm = m * {plan.step * channels}")
            w.line(f"km = m * {channels}")
            for p in positions:
                w.line(f"xs{p} = xr[b, {xi}j{p} + jm:j{p} + jm + {channels}]")
            for q in filters_q:
                w.line(f"ws{q} = kt[f + {q}, {ki}km:km + {channels}]")
        with w.block(f"for j in range({length})"):
            for p in positions:
                w.line(f"v{p} = xs{p}[j]")
            for q in filters_q:
                w.line(f"u{q} = ws{q}[j]")
                for p in positions:
                    w.line(f"a{p}_{q} += v{p} * u{q}")
        w.close(rank - 1 + (plan.step != 1))
        spare = filters % q_block  # the last block has padded filters: store only the real ones
        for p in positions:
            target = ", ".join(outer_idx + [f"pos{p}"])
            for q in filters_q:
                with w.block(f"if f + {q} < {filters}") if spare and q >= spare else nullcontext():
                    value = stored(site, w, f"a{p}_{q}", f"f + {q}")
                    w.line(f"out[b, {target}, f + {q}] = {value}")


def depthwise_weights(site: Site, w: Writer, weight: str) -> str:
    """The depthwise kernel (*k, C, M) as kd (*k, M, C): the inner loop then runs over the
    contiguous channels for every multiplier (output channel c*M + m is input channel c times
    weight[..., c, m])."""
    k = site.ints("kernel_size")
    channels, multiplier = int(site.x[-1]), site.arg("depth_multiplier")
    n_taps = prod(k)
    if multiplier == 1:
        w.line(f"kd = {weight}.reshape({', '.join(map(str, k))}, 1, {channels})")
        return "kd"
    w.line(f"kd = np.empty(({', '.join(map(str, k))}, {multiplier}, {channels}), dtype=DT)")
    w.line(f"kd2 = kd.reshape({n_taps}, {multiplier}, {channels})")
    w.line(f"ksrc = {weight}.reshape({n_taps}, {channels}, {multiplier})")
    with w.block(f"for t in range({n_taps})"):
        with w.block(f"for m in range({multiplier})"):
            with w.block(f"for c in range({channels})"):
                w.line("kd2[t, m, c] = ksrc[t, c, m]")
    return "kd"


def depthwise_taps(site: Site, w: Writer, out_idx: list[str], target: str):
    """Accumulate the depthwise convolution of one output position into `target` (M, C)."""
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    channels, multiplier = int(site.x[-1]), site.arg("depth_multiplier")
    taps = open_taps(site, w, out_idx, k, s, d)
    spatial_in = ", ".join(i for _, i in taps)
    tap_idx = ", ".join(t for t, _ in taps)
    w.line(f"xs = x[b, {spatial_in}]")
    if multiplier == 1:
        with w.block(f"for c in range({channels})"):
            w.line(f"{target}[0, c] += xs[c] * kd[{tap_idx}, 0, c]")
    else:
        with w.block(f"for m in range({multiplier})"):
            with w.block(f"for c in range({channels})"):
                w.line(f"{target}[m, c] += xs[c] * kd[{tap_idx}, m, c]")
    w.close(rank)


def _each_output_channel(site: Site, w: Writer):
    """Open loops over c (and m) so that `acc[m, c]` is output channel c*M + m as `j`."""
    channels, multiplier = int(site.x[-1]), site.arg("depth_multiplier")
    w.open(f"for c in range({channels})")
    if multiplier == 1:
        w.line("m = 0")
        w.line("j = c")
    else:
        w.open(f"for m in range({multiplier})")
        w.line(f"j = c * {multiplier} + m")
    return 1 if multiplier == 1 else 2


@kernel("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise_conv(site: Site, w: Writer):
    layer = site.layer
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    channels, multiplier = int(site.x[-1]), site.arg("depth_multiplier")
    write_pads(site, w, k, s, d)
    depthwise_weights(site, w, "kernel")
    sizes = open_position_tasks(site, w, rank)
    w.line(f"acc = np.empty(({multiplier}, {channels}), dtype=DT)")
    out_idx = open_positions(w, sizes)
    levels = _each_output_channel(site, w)
    w.line("acc[m, c] = " + ("bias[j]" if layer.use_bias else "ZERO"))
    w.close(levels)
    depthwise_taps(site, w, out_idx, "acc")
    levels = _each_output_channel(site, w)
    w.line("v = acc[m, c]")
    value = stored(site, w, "v", "j")
    w.line(f"out[b, {', '.join(out_idx)}, j] = {value}")
    w.close(levels)
    w.close(2)
    last_pass(site, w)


@kernel("SeparableConv1D", "SeparableConv2D")
def separable_conv(site: Site, w: Writer):
    """The depthwise convolution into a per-task array `mid` (M, C), then the pointwise 1x1
    convolution of it into `acc` (filters)."""
    rank = len(site.x) - 2
    k, s, d = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    channels, multiplier = int(site.x[-1]), site.arg("depth_multiplier")
    filters = site.arg("filters")
    write_pads(site, w, k, s, d)
    depthwise_weights(site, w, "depthwise_kernel")
    w.line(f"pw = pointwise_kernel.reshape({channels * multiplier}, {filters})")
    sizes = open_position_tasks(site, w, rank)
    w.line(f"mid = np.empty(({multiplier}, {channels}), dtype=DT)")
    w.line(f"acc = np.empty({filters}, dtype=DT)")
    out_idx = open_positions(w, sizes)
    with w.block(f"for m in range({multiplier})"):
        with w.block(f"for c in range({channels})"):
            w.line("mid[m, c] = ZERO")
    depthwise_taps(site, w, out_idx, "mid")
    init_acc(site, w, filters)
    levels = _each_output_channel(site, w)
    w.line("v = mid[m, c]")
    with w.block(f"for f in range({filters})"):
        w.line("acc[f] += v * pw[j, f]")
    w.close(levels)
    finish(site, w, out_idx, filters)
    w.close(2)
    last_pass(site, w)
