"""CPU kernels of the convolutions: Conv1D/2D/3D as implicit GEMMs (more are added per family).

One task per (sample, block of output positions): the filters of one position accumulate in a
small vector whose inner loop runs over the contiguous filter axis of the kernel, so it vectorises.
Padding follows Keras: "same" puts the odd extra cell after, "causal" pads before only.
"""
from __future__ import annotations

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
    """Define n_pos and, inside the per-position loop, the output coordinates o1..o<rank>."""
    sizes = [site.yd(a) for a in range(1, rank + 1)]
    w.line("n_pos = " + " * ".join(sizes))
    return sizes


def decompose(w: Writer, sizes: list[str], flat: str = "p") -> list[str]:
    """Output coordinates from a flat position index (row-major)."""
    names = [f"o{a + 1}" for a in range(len(sizes))]
    for a, name in enumerate(names):
        inner = " * ".join(sizes[a + 1:])
        value = f"{flat} // ({inner})" if inner else flat
        w.line(f"{name} = {value}" + (f" % {sizes[a]}" if a else ""))
    return names


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
    for a in range(rank):
        w.line(f"pad{a + 1} = {padding_before(site, a + 1, k[a], s[a], d[a])}")
    sizes = spatial_positions(site, w, rank)
    w.line(f"n_blocks = (n_pos + {POSITION_BLOCK - 1}) // {POSITION_BLOCK}")
    with w.block(f"for task in prange({site.xd(0)} * n_blocks)"):
        w.line("b = task // n_blocks")
        w.line(f"p0 = (task % n_blocks) * {POSITION_BLOCK}")
        w.line(f"acc = np.empty({filters}, dtype=DT)")
        with w.block(f"for p in range(p0, min(p0 + {POSITION_BLOCK}, n_pos))"):
            out_idx = decompose(w, sizes)
            with w.block(f"for f in range({filters})"):
                w.line("acc[f] = " + ("bias[f]" if layer.use_bias else "ZERO"))
            taps = []
            for a in range(rank):
                t, i = f"t{a + 1}", f"i{a + 1}"
                w.open(f"for {t} in range({k[a]})")
                w.line(f"{i} = {out_idx[a]} * {s[a]} + {t} * {d[a]} - pad{a + 1}")
                with w.block(f"if {i} < 0 or {i} >= {site.xd(a + 1)}"):
                    w.line("continue")
                taps.append((t, i))
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
            with w.block(f"for f in range({filters})"):
                w.line("v = acc[f]")
                w.line(f"out[b, {', '.join(out_idx)}, f] = {element(layer.activation, 'v')}")
    after = last_axis_pass(layer.activation, "out")
    if after:
        w.line(after)
