"""CPU kernels of the core layers: Dense, Activation, Dropout and SpatialDropout (copies at inference),
Flatten, Reshape, Permute, RepeatVector, Embedding."""
from __future__ import annotations

import sympy

from ..writer import Writer
from .activations import element, last_axis_pass
from .base import Site, kernel, rows
from .module import CodegenError

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


def extent(site: Site, shape: tuple, array: str, start: int, stop: int | None = None) -> str:
    """The product of axes start..stop-1 of an array as source (literal factors folded; "1" if none)."""
    stop = len(shape) if stop is None else stop
    literal, symbolic = 1, []
    for axis in range(start, stop):
        d = sympy.sympify(shape[axis])
        if d.is_number:
            literal *= int(d)
        else:
            symbolic.append(site.dim(array, shape, axis))
    parts = ([str(literal)] if literal != 1 or not symbolic else []) + symbolic
    return " * ".join(parts)


def copy_flat(w: Writer):
    """out = x element for element (same number of elements, row-major)."""
    w.line("xf = x.reshape(-1)")
    w.line("yf = out.reshape(-1)")
    with w.block("for i in prange(xf.shape[0])"):
        w.line("yf[i] = xf[i]")


@kernel("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Reshape")
def identity(site: Site, w: Writer):
    # Inference: dropout is the identity; Reshape keeps the row-major order of the elements.
    copy_flat(w)


TILE = 32  # positions per task of a transposing copy: reads stay contiguous, writes fill whole lines


@kernel("Flatten")
def flatten(site: Site, w: Writer):
    if site.layer.data_format != "channels_first" or len(site.x) <= 2:
        copy_flat(w)
        return
    # Keras moves the channel axis (1) last before flattening: out[b, p * C + c] = x[b, c, p].
    channels = site.xd(1)
    w.line(f"n_pos = {extent(site, site.x, 'x', 2)}")
    w.line(f"xr = x.reshape({site.xd(0)}, {channels}, n_pos)")
    w.line(f"yr = out.reshape({site.xd(0)}, n_pos, {channels})")
    w.line(f"n_tiles = (n_pos + {TILE - 1}) // {TILE}")
    with w.block(f"for task in prange({site.xd(0)} * n_tiles)"):
        w.line("b = task // n_tiles")
        w.line(f"p0 = (task % n_tiles) * {TILE}")
        w.line(f"p1 = min(p0 + {TILE}, n_pos)")
        with w.block(f"for c in range({channels})"):
            with w.block("for p in range(p0, p1)"):
                w.line("yr[b, p, c] = xr[b, c, p]")


def outer_positions(site: Site, w: Writer, shape: tuple, array: str, flat: str = "q") -> list[str]:
    """Inside a loop over the flat index `flat` of all but the last axis of `shape`: define that
    index's coordinates j0..j<rank-2> (row-major) and return their names."""
    rank = len(shape)
    sizes = [site.dim(array, shape, a) for a in range(rank - 1)]
    names = [f"j{a}" for a in range(rank - 1)]
    for a, name in enumerate(names):
        inner = " * ".join(sizes[a + 1:])
        value = f"{flat} // ({inner})" if inner else flat
        w.line(f"{name} = {value}" + (f" % {sizes[a]}" if a else ""))
    return names


@kernel("Permute")
def permute(site: Site, w: Writer):
    # out[b, j1, ..., jn] = x[b, i1, ..., in] with i_dims[k] = j_k; the last output axis innermost.
    dims = site.layer.dims
    rank = len(site.y)
    w.line(f"n_outer = {extent(site, site.y, 'out', 0, rank - 1)}")
    with w.block("for q in prange(n_outer)"):
        coords = outer_positions(site, w, site.y, "out") + ["j"]
        source = ["j0"] + [coords[dims.index(a) + 1] for a in range(1, rank)]
        with w.block(f"for j in range({site.yd(-1)})"):
            w.line(f"out[{', '.join(coords)}] = x[{', '.join(source)}]")


@kernel("RepeatVector")
def repeat_vector(site: Site, w: Writer):
    n = site.arg("n")
    with w.block(f"for task in prange({site.xd(0)} * {n})"):
        w.line(f"b = task // {n}")
        w.line(f"r = task % {n}")
        with w.block(f"for f in range({site.xd(1)})"):
            w.line("out[b, r, f] = x[b, f]")


@kernel("Embedding")
def embedding(site: Site, w: Writer):
    layer = site.layer
    if layer.mask_zero:
        raise CodegenError(f"{layer.name}: Embedding(mask_zero=True) makes a mask for later layers, and masking "
                           "is not supported by generated kernels (they would use the padded positions); "
                           "use mask_zero=False")
    vocab, width = site.arg("input_dim"), site.arg("output_dim")
    w.line("ids = x.reshape(-1)")
    w.line(f"yr = out.reshape(ids.shape[0], {width})")
    with w.block("for i in prange(ids.shape[0])"):
        # Keras casts float ids to int32 (truncating) and ops.take wraps a negative id once; ids still
        # out of range (an error in Keras) are clamped so that no memory outside the table is read.
        w.line("k = int(ids[i])")
        with w.block("if k < 0"):
            w.line(f"k += {vocab}")
        w.line(f"k = min(max(k, 0), {vocab - 1})")
        with w.block(f"for d in range({width})"):
            w.line("yr[i, d] = embeddings[k, d]")
        if layer.lora_rank is not None:
            # LoRA looks up in embeddings + a @ b (scale 1, as for Dense): only the rows used.
            with w.block("for r in range(lora_embeddings_a.shape[1])"):
                w.line("a = lora_embeddings_a[k, r]")
                with w.block(f"for d in range({width})"):
                    w.line("yr[i, d] += a * lora_embeddings_b[r, d]")
