"""The two kernel shapes every CUDA emitter is built from: one thread per output element, and a
shared-memory tiled GEMM with a fused epilogue (Dense, and convolutions as implicit GEMM).

Note: the GEMM. C[m, n] = epilogue(Σ_k A(m, k)·B(k, n)) over tiles of TILE_M x TILE_N outputs per
block of 16 x 16 threads, each thread summing a 4 x 4 block of outputs in registers. Per step of
TILE_K, the block stages A's and B's tiles in shared memory: A is read along k and B along n, so
consecutive threads load consecutive addresses when A's rows and B's rows are contiguous (a
Dense input, a convolution's channels, a kernel's filters). A's tile is stored transposed and one
column wider than it needs so that the stores do not collide in one bank. A(m, k) is an emitter's
expression: the input element for Dense, an im2col element computed on the fly for convolutions
(never materialised), 0 in the padding. With few output tiles (batch 1), K is split over blocks
(blockIdx.z) into partial sums that a second kernel adds before the epilogue.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..activations import LAST_AXIS
from ..lowering import unravel
from ..writer import Writer
from .base import CudaSite

TILE_M, TILE_N, TILE_K = 64, 64, 16  # outputs per block, and K per shared-memory step
THREADS_X, THREADS_Y = 16, 16  # threads per block; each computes (TILE_M/16) x (TILE_N/16) outputs
PER_M, PER_N = TILE_M // THREADS_Y, TILE_N // THREADS_X

Lines = Callable[[Writer], None]


def header(k: Writer, site: CudaSite, name: str, params: list[str]):
    k.line()
    k.line()
    k.line("@cuda.jit(cache=True)")
    k.line(f"def {name}({site.sizes()}{', '.join(params)}):")


def wrap(text: str) -> str:
    return text if text.replace("_", "").isalnum() else f"({text})"


def pointwise(site: CudaSite, k: Writer, f: Writer, name: str, params: list[str], args: list[str],
              dims: list[str], body: Callable[[Writer, list[str]], None]):
    """A kernel `name(sizes, *params)` with one thread per element of an array of shape `dims`
    (source), launched from forward with `args`; body(w, idx) writes that element."""
    header(k, site, name, params)
    k.level += 1
    total = " * ".join(wrap(d) for d in dims) or "1"
    k.line("i = cuda.grid(1)")
    with k.block(f"if i >= {total}"):
        k.line("return")
    body(k, unravel(k, "i", dims, "i"))
    k.level -= 1
    f.line(f"{name}[blocks({total}), THREADS]({site.sizes()}{', '.join(args)})")


def last_axis_pass(site: CudaSite, f: Writer, activation: str | None, array: str, last: str):
    """Launch softmax/log_softmax over the last axis of `array` (of last dimension `last`) in place."""
    if activation not in LAST_AXIS:
        return
    f.line(f"{activation}_rows[blocks({array}.size // {wrap(last)}), THREADS]({array}.reshape(-1, {last}))")


@dataclass
class Gemm:
    """One GEMM as an emitter describes it (all sizes as source over the free sizes)."""

    name: str
    rows: str  # M
    cols: str  # N (per group)
    depth: str  # K (per group)
    params: list[str]  # kernel parameters after the sizes (arrays the loads and the store read)
    args: list[str]  # forward expressions passed for them
    load_a: Callable[[Writer, str, str], str]  # (w, m, k) -> expression of A[m, k]; may write lines first
    load_b: Callable[[Writer, str, str], str]  # (w, k, n) -> expression of B[k, n]
    store: Callable[[Writer, str, str, str], None]  # (w, m, n, v): write output (m, n) from the sum v
    groups: int = 1  # independent GEMMs side by side (grouped convolutions): `g` in the loads and store
    notes: list[str] = field(default_factory=list)


def gemm(site: CudaSite, k: Writer, f: Writer, g: Gemm):
    """Write the tiled GEMM kernel (and its split-K finishing kernel) and their launches."""
    header(k, site, g.name, [*g.params, "splits", "span", "part"])
    k.level += 1
    k.line(f"a_tile = cuda.shared.array(({TILE_K}, {TILE_M + 1}), DT)")
    k.line(f"b_tile = cuda.shared.array(({TILE_K}, {TILE_N}), DT)")
    k.line(f"acc = cuda.local.array(({PER_M}, {PER_N}), DT)")
    k.line("tx = cuda.threadIdx.x")
    k.line("ty = cuda.threadIdx.y")
    k.line(f"tid = ty * {THREADS_X} + tx")
    k.line(f"m0 = cuda.blockIdx.y * {TILE_M}")
    k.line(f"n0 = cuda.blockIdx.x * {TILE_N}")
    if g.groups > 1:
        k.line("g = cuda.blockIdx.z // splits")
    k.line("k_begin = (cuda.blockIdx.z % splits) * span")
    k.line(f"k_end = min(k_begin + span, {g.depth})")
    with k.block(f"for i in range({PER_M})"):
        with k.block(f"for j in range({PER_N})"):
            k.line("acc[i, j] = ZERO")
    threads = THREADS_X * THREADS_Y
    with k.block(f"for k0 in range(k_begin, k_end, {TILE_K})"):
        # A's tile: consecutive threads take consecutive k (contiguous in A's rows).
        with k.block(f"for e in range(tid, {TILE_M * TILE_K}, {threads})"):
            k.line(f"kk = e % {TILE_K}")
            k.line(f"mm = e // {TILE_K}")
            k.line("m = m0 + mm")
            k.line("kg = k0 + kk")
            k.line("v = ZERO")
            with k.block(f"if m < {wrap(g.rows)} and kg < k_end"):
                k.line(f"v = {g.load_a(k, 'm', 'kg')}")
            k.line("a_tile[kk, mm] = v")
        # B's tile: consecutive threads take consecutive n (contiguous in B's rows).
        with k.block(f"for e in range(tid, {TILE_N * TILE_K}, {threads})"):
            k.line(f"nn = e % {TILE_N}")
            k.line(f"kk = e // {TILE_N}")
            k.line("n = n0 + nn")
            k.line("kg = k0 + kk")
            k.line("v = ZERO")
            with k.block(f"if n < {wrap(g.cols)} and kg < k_end"):
                k.line(f"v = {g.load_b(k, 'kg', 'n')}")
            k.line("b_tile[kk, nn] = v")
        k.line("cuda.syncthreads()")
        with k.block(f"for kk in range({TILE_K})"):
            with k.block(f"for i in range({PER_M})"):
                k.line(f"a = a_tile[kk, ty + {THREADS_Y} * i]")
                with k.block(f"for j in range({PER_N})"):
                    k.line(f"acc[i, j] += a * b_tile[kk, tx + {THREADS_X} * j]")
        k.line("cuda.syncthreads()")
    with k.block(f"for i in range({PER_M})"):
        k.line(f"m = m0 + ty + {THREADS_Y} * i")
        with k.block(f"if m < {wrap(g.rows)}"):
            with k.block(f"for j in range({PER_N})"):
                k.line(f"n = n0 + tx + {THREADS_X} * j")
                with k.block(f"if n < {wrap(g.cols)}"):
                    k.line("v = acc[i, j]")
                    with k.block("if splits > 1"):
                        column = f"g * {wrap(g.cols)} + n" if g.groups > 1 else "n"
                        k.line(f"part[cuda.blockIdx.z % splits, m, {column}] = v")
                    with k.block("else"):
                        g.store(k, "m", "n", "v")
    k.level -= 1

    # Split-K's second kernel: add the slices' partial sums, then the same epilogue.
    finish = f"{g.name}_finish"
    header(k, site, finish, [*g.params, "splits", "part"])
    k.level += 1
    k.line("i = cuda.grid(1)")
    width = f"{g.groups} * {wrap(g.cols)}" if g.groups > 1 else g.cols
    with k.block(f"if i >= {wrap(g.rows)} * {wrap(width)}"):
        k.line("return")
    k.line(f"m = i // {wrap(width)}")
    k.line(f"c = i % {wrap(width)}")
    if g.groups > 1:
        k.line(f"g = c // {wrap(g.cols)}")
    k.line(f"n = c % {wrap(g.cols)}")
    k.line("v = ZERO")
    with k.block("for s in range(splits)"):
        k.line("v += part[s, m, c]")
    g.store(k, "m", "n", "v")
    k.level -= 1

    tiles = f"tiles_{g.name}"
    f.line(f"{tiles} = blocks({g.cols}, {TILE_N}) * blocks({g.rows}, {TILE_M}) * {g.groups}")
    f.line(f"splits, span = split_k({tiles}, {g.depth}, {TILE_K})")
    f.line("part = scratch('none', (1, 1, 1))")
    with f.block("if splits > 1"):
        f.line(f"part = scratch({site.scratch_key + '_part'!r}, (splits, {g.rows}, {width}))")
    args = ", ".join(g.args)
    f.line(f"{g.name}[(blocks({g.cols}, {TILE_N}), blocks({g.rows}, {TILE_M}), {g.groups} * splits), "
           f"({THREADS_X}, {THREADS_Y})]({site.sizes()}{args}, splits, span, part)")
    with f.block("if splits > 1"):
        f.line(f"{finish}[blocks({g.rows} * {wrap(width)}), THREADS]({site.sizes()}{args}, splits, part)")
