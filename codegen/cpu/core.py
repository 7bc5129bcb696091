"""CPU kernels of the core layers: Dense, Activation, Dropout and SpatialDropout (copies at inference),
Flatten, Reshape, Permute, RepeatVector, Embedding."""
from __future__ import annotations

from contextlib import nullcontext

from ..errors import masks_unsupported
from ..writer import Writer
from .activations import element, last_axis_pass
from .base import Site, extent, kernel, rows

# Dense is a blocked GEMM, (rows, K) @ (K, units). One task per (group of rows, block of units,
# slice of K). A task walks its slice of K in chunks whose kernel rows stay in cache while each
# block of ROW_BLOCK rows of the group passes over them; the innermost loop runs over a literal
# number of contiguous units, so LLVM unrolls it and keeps the block's sums in vector registers
# for the whole chunk (a 4 x 64 register tile). With few rows (batch 1 on a big kernel) K is split
# into slices so that every core streams its part of the kernel, and a short serial pass adds the
# slices' partial sums; otherwise each task adds the bias (and LoRA's term) and applies the
# activation to its rows itself. Few prange loops: each costs about half a second of compilation.
ROW_BLOCK = 4  # rows sharing each loaded kernel element
ROW_GROUP = 64  # rows per task: they share each chunk of kernel rows while it is in cache
K_CHUNK = 256  # kernel rows per chunk (256 x 64 floats: 64 KiB, in L2)
OUT_BLOCK = 64  # units per block (per task) when there are more than SINGLE
SINGLE = 120  # units in one block at most
TASKS = 64  # K is split until there are about this many tasks (enough for 64 cores)
MIN_SLICE = 512  # kernel rows per slice of K at least


def unit_blocks(n_out: int) -> tuple[int, int]:
    """(width, count) of the blocks of units. The width is a literal in the loops: LLVM then unrolls
    the loop over units and keeps a block's 4 x 64 sums in 16 AVX-512 registers across the loop over
    K (measured 2x faster than wider blocks, whose sums live in memory). Up to SINGLE units, one
    block of all of them is faster still (no overlap, below)."""
    if n_out <= SINGLE:
        return n_out, 1
    return OUT_BLOCK, -(-n_out // OUT_BLOCK)


@kernel("Dense")
def dense(site: Site, w: Writer):
    layer = site.layer
    n_in, n_out = int(site.x[-1]), int(layer.units)
    rank = layer.lora_rank
    w.line(f"n_rows = {rows(site, site.x, 'x', len(site.x) - 1)}")
    w.line(f"xr = x.reshape(n_rows, {n_in})")
    w.line(f"yr = out.reshape(n_rows, {n_out})")
    width, out_blocks = unit_blocks(n_out)
    sliced = min(TASKS, n_in // MIN_SLICE) > 1
    chunked = n_in > K_CHUNK
    w.line(f"n_groups = (n_rows + {ROW_GROUP - 1}) // {ROW_GROUP}")
    tasks = "n_groups" + (f" * {out_blocks}" if out_blocks > 1 else "")
    if sliced:
        # Partial sums per slice; with one slice, the output itself.
        w.line(f"slices = max(1, min({min(TASKS, n_in // MIN_SLICE)}, {TASKS} // max("
               f"{tasks}, 1)))")
        w.line(f"span = ({n_in} + slices - 1) // slices")
        w.line(f"part = yr.reshape(1, n_rows, {n_out}) if slices == 1 else "
               f"np.empty((slices, n_rows, {n_out}), dtype=DT)")
        tasks += " * slices"
    if rank is not None:
        _lora_rows(w, n_in)
    cols = str(width)  # a literal trip count: LLVM vectorises it fully (see unit_blocks)
    owned = "range(skip, {})".format(width) if out_blocks > 1 else f"range({width})"
    unit = "o0 + o" if out_blocks > 1 else "o"
    with w.block(f"for task in prange({tasks})"):
        per_group = " * ".join((["slices"] if sliced else []) + ([str(out_blocks)] if out_blocks > 1 else []))
        if not per_group:
            w.line(f"r0 = task * {ROW_GROUP}")
        else:
            w.line(f"r0 = (task // {per_group if ' ' not in per_group else f'({per_group})'}) * {ROW_GROUP}")
        w.line(f"r1 = min(r0 + {ROW_GROUP}, n_rows)")
        if out_blocks > 1:
            w.line(f"ob = (task // slices) % {out_blocks}" if sliced else f"ob = task % {out_blocks}")
            # Every block is `width` units wide: the last one starts earlier, overlapping the one
            # before, and stores only the units from `skip` on (the others are that block's).
            # max(.., 0): Numba wraps negative indices, and LLVM must see that o0 + o cannot be
            # negative to load kernel rows as vectors (with `% 5` it cannot tell; gathers, 5x slower).
            w.line(f"o0 = max(min(ob * {width}, {n_out - width}), 0)")
            w.line(f"skip = ob * {width} - o0")
        if sliced:
            w.line("sl = task % slices")
            w.line("k0 = sl * span")
            w.line(f"k1 = min(k0 + span, {n_in})")
        w.line(f"acc = np.empty(({ROW_BLOCK}, {width}), dtype=DT)")
        w.line(f"one = np.empty({width}, dtype=DT)")
        if chunked:
            w.open(f"for c0 in range({'k0' if sliced else '0'}, {'k1' if sliced else n_in}, {K_CHUNK})")
            w.line(f"c1 = min(c0 + {K_CHUNK}, {'k1' if sliced else n_in})")
        k_range = "c0, c1" if chunked else str(n_in)
        with w.block(f"for r in range(r0, r1, {ROW_BLOCK})"):
            w.line(f"nr = min(r1 - r, {ROW_BLOCK})")
            with w.block(f"if nr == {ROW_BLOCK}"):
                with w.block(f"for o in range({cols})"):
                    for a in range(ROW_BLOCK):
                        w.line(f"acc[{a}, o] = ZERO")
                with w.block(f"for i in range({k_range})"):
                    for a in range(ROW_BLOCK):
                        w.line(f"v{a} = xr[r{f' + {a}' if a else ''}, i]")
                    with w.block(f"for o in range({cols})"):
                        w.line(f"k = kernel[i, {unit}]")
                        for a in range(ROW_BLOCK):
                            w.line(f"acc[{a}, o] += v{a} * k")
            with w.block("else"):
                # The last rows one at a time, summed in `one` (a fixed index: kept in registers).
                with w.block("for a in range(nr)"):
                    with w.block(f"for o in range({cols})"):
                        w.line("one[o] = ZERO")
                    with w.block(f"for i in range({k_range})"):
                        w.line("v = xr[r + a, i]")
                        with w.block(f"for o in range({cols})"):
                            w.line(f"one[o] += v * kernel[i, {unit}]")
                    with w.block(f"for o in range({cols})"):
                        w.line("acc[a, o] = one[o]")
            with w.block("for a in range(nr)"):
                target = f"part[sl, r + a, {unit}]" if sliced else f"yr[r + a, {unit}]"
                if not chunked:
                    with w.block(f"for o in {owned}"):
                        w.line("v = acc[a, o]")
                        _finish(w, layer, "r + a", unit)
                        w.line(f"{target} = v")
                else:
                    # Separate plain loops: a branch inside this one slows the whole kernel down 2-3x.
                    with w.block(f"if c0 == {'k0' if sliced else '0'}"):
                        with w.block(f"for o in {owned}"):
                            w.line(f"{target} = acc[a, o]")
                    with w.block("else"):
                        with w.block(f"for o in {owned}"):
                            w.line(f"{target} += acc[a, o]")
        if chunked:
            w.close()
        if chunked and _finishes(layer):
            # The task's rows are complete (unless K is split): bias, LoRA and activation in place.
            with w.block("if slices == 1") if sliced else nullcontext():
                with w.block("for r in range(r0, r1)"):
                    with w.block(f"for o in {owned}"):
                        w.line(f"v = yr[r, {unit}]")
                        _finish(w, layer, "r", unit)
                        w.line(f"yr[r, {unit}] = v")
    if sliced:
        # The slices' partial sums (few rows: a short serial pass), then bias, LoRA and activation.
        with w.block("if slices > 1"):
            with w.block("for r in range(n_rows)"):
                with w.block("for p in range(1, slices)"):
                    with w.block(f"for o in range({n_out})"):
                        w.line("part[0, r, o] += part[p, r, o]")
                with w.block(f"for o in range({n_out})"):
                    w.line("v = part[0, r, o]")
                    _finish(w, layer, "r", "o")
                    w.line("yr[r, o] = v")
    after = last_axis_pass(layer.activation, "out")
    if after:
        w.line(after)


def _finishes(layer) -> bool:
    """Whether a sum needs more than storing: a bias, LoRA's term or an element-wise activation."""
    return layer.use_bias or layer.lora_rank is not None or element(layer.activation, "v") not in ("v", "(v)")


def _finish(w: Writer, layer, row: str, unit: str):
    """The sum `v` of output (row, unit) -> its value: bias, LoRA's low-rank term, activation."""
    if layer.use_bias:
        w.line(f"v += bias[{unit}]")
    if layer.lora_rank is not None:
        with w.block(f"for j in range({int(layer.lora_rank)})"):
            w.line(f"v += xa[{row}, j] * lora_kernel_b[j, {unit}]")
    if element(layer.activation, "v") not in ("v", "(v)"):
        w.line(f"v = {element(layer.activation, 'v')}")


def _lora_rows(w: Writer, n_in: int):
    """LoRA: the kernel applied is kernel + a @ b (Keras's scale is 1; see analyzer lora_kernel),
    computed as x @ kernel + (x @ a) @ b: xa = x @ a here, its product with b as each sum is finished."""
    w.line("xa = np.zeros((n_rows, lora_kernel_a.shape[1]), dtype=DT)")
    with w.block("for r in prange(n_rows)"):
        with w.block(f"for i in range({n_in})"):
            w.line("v = xr[r, i]")
            with w.block("for j in range(lora_kernel_a.shape[1])"):
                w.line("xa[r, j] += v * lora_kernel_a[i, j]")


def copy_flat(w: Writer):
    """out = x element for element (same number of elements, row-major)."""
    w.line("xf = x.reshape(-1)")
    w.line("yf = out.reshape(-1)")
    with w.block("for i in prange(xf.shape[0])"):
        w.line("yf[i] = xf[i]")


@kernel("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Reshape", "reshape")
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
        value = flat if not inner else f"{flat} // {inner}" if " " not in inner else f"{flat} // ({inner})"
        w.line(f"{name} = {value}" + (f" % {sizes[a]}" if a else ""))
    return names


@kernel("Permute", "transpose")
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
        raise masks_unsupported(layer)
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
