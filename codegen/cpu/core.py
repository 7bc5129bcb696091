"""CPU kernels of the core layers: Dense, Activation (more are added per family)."""
from __future__ import annotations

from ..writer import Writer
from .activations import element, last_axis_pass
from .base import Site, kernel, rows

ROW_BLOCK = 4  # rows sharing each loaded kernel row: a fourth of the weight traffic at batch >= 4
OUT_BLOCK = 64  # output units per task: two tasks keep two cores busy at batch 1


@kernel("Dense")
def dense(site: Site, w: Writer):
    n_out = int(site.layer.units)
    rank = len(site.x)
    w.line(f"n_rows = {rows(site, site.x, 'x', rank - 1)}")
    w.line(f"xr = x.reshape(n_rows, {site.xd(-1)})")
    w.line(f"yr = out.reshape(n_rows, {n_out})")
    weight = "kernel"
    if site.layer.lora_rank is not None:
        _merge_lora(site, w)
        weight = "merged"
    out_blocks = -(-n_out // OUT_BLOCK)
    w.line(f"n_tasks = ((n_rows + {ROW_BLOCK - 1}) // {ROW_BLOCK}) * {out_blocks}")
    with w.block("for task in prange(n_tasks)"):
        w.line(f"r0 = (task // {out_blocks}) * {ROW_BLOCK}")
        w.line(f"o0 = (task % {out_blocks}) * {OUT_BLOCK}")
        w.line(f"r1 = min(r0 + {ROW_BLOCK}, n_rows)")
        w.line(f"o1 = min(o0 + {OUT_BLOCK}, {n_out})")
        w.line(f"acc = np.zeros(({ROW_BLOCK}, {OUT_BLOCK}), dtype=DT)")
        with w.block(f"for i in range({site.xd(-1)})"):
            with w.block("for r in range(r0, r1)"):
                w.line("v = xr[r, i]")
                with w.block("for o in range(o0, o1)"):
                    w.line(f"acc[r - r0, o - o0] += v * {weight}[i, o]")
        with w.block("for r in range(r0, r1)"):
            with w.block("for o in range(o0, o1)"):
                w.line("s = acc[r - r0, o - o0]" + (" + bias[o]" if site.layer.use_bias else ""))
                w.line(f"yr[r, o] = {element(site.layer.activation, 's')}")
    after = last_axis_pass(site.layer.activation, "out")
    if after:
        w.line(after)


def _merge_lora(site: Site, w: Writer):
    """LoRA: the kernel applied is kernel + a @ b (Keras's scale is 1; see analyzer lora_kernel)."""
    w.line("merged = kernel.copy()")
    with w.block("for i in range(kernel.shape[0])"):
        with w.block("for r in range(lora_kernel_a.shape[1])"):
            with w.block("for o in range(kernel.shape[1])"):
                w.line("merged[i, o] += lora_kernel_a[i, r] * lora_kernel_b[r, o]")


@kernel("Activation")
def activation(site: Site, w: Writer):
    w.line("xf = x.reshape(-1)")
    w.line("yf = out.reshape(-1)")
    with w.block("for i in prange(xf.shape[0])"):
        w.line("v = xf[i]")
        w.line(f"yf[i] = {element(site.layer.activation, 'v')}")
    after = last_axis_pass(site.layer.activation, "out")
    if after:
        w.line(after)
