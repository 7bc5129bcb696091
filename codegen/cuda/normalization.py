"""CUDA kernels of the layers that reduce over groups of elements (inference): LayerNormalization,
GroupNormalization, UnitNormalization and Softmax (one block per group, statistics by shared-memory
tree reductions).

Note: LayerNormalization. The input is viewed as alternating blocks of kept and normalised axes
(adjacent axes of one kind merged), as the CPU kernel does: a group is one choice of the kept
coordinates, its elements are the normalised coordinates, and groups over non-last axes are
strided in memory - nothing assumes the normalised axes are the last. One block per group is the
standard layout for the usual case (the last axis, a few hundred to a few thousand features, as
many groups as tokens): the block's threads stride over the group's elements (consecutive threads
read consecutive addresses when the last axis is normalised), each sums its share in a register,
and a tree reduction in shared memory adds the shares. A thread per group would leave most of the
GPU idle when groups are few and long, and would read one group's elements serially. Two
reductions: the mean, then the mean squared deviation from it (the population variance, computed
the way the reference does rather than as E[x²] - E[x]², which cancels badly); then each thread
writes its elements. gamma and beta are read flat at the element's row-major index over the
normalised axes in ascending position order: that is Keras's reshape of them (see the analyzer's
reference). The other kinds take the same layout over codegen/lowering.py's group_view (see
`group_kernel`); Softmax reduces a maximum first, then the sum of exponentials.
"""
from __future__ import annotations

import sympy

from shapeproof.analyzer.exprs import product
from ..lowering import group_view, unravel
from ..writer import Writer
from .base import CudaSite, kernel
from .templates import header, wrap

GROUP_THREADS = 256  # threads per LayerNormalization block when the group size is only known at run time


def epsilon(layer) -> str:
    return f"DT({float(layer.epsilon)!r})"  # a literal: Numba folds it to a float32 constant


def block_sum(w: Writer, threads: int, value: str, total: str, largest: bool = False):
    """Lines adding every thread's `value` into `total` (in every thread; `largest`: their maximum): a
    tree reduction over the shared array `red` of `threads` (a power of two) elements, indexed by the
    thread number `t`."""
    w.line(f"red[t] = {value}")
    w.line("cuda.syncthreads()")
    w.line(f"step = {threads // 2}")
    with w.block("while step > 0"):
        with w.block("if t < step"):
            w.line("red[t] = max(red[t], red[t + step])" if largest else "red[t] += red[t + step]")
        w.line("cuda.syncthreads()")
        w.line("step //= 2")
    w.line(f"{total} = red[0]")
    w.line("cuda.syncthreads()")  # every thread has read red[0] before `red` is written again


def group_threads(count) -> int:
    """Threads per block for groups of `count` elements: a power of two, a warp at least, enough for
    one element each up to 256 (more elements: each thread takes several)."""
    count = sympy.sympify(count)
    if not count.is_number:
        return GROUP_THREADS
    threads = 32
    while threads < min(int(count), GROUP_THREADS):
        threads *= 2
    return threads



def group_statistics(k: Writer, element, count, threads: int, epsilon_text: str):
    """Lines setting `mean` and `inv` = 1/√(population variance + epsilon) of a block's group, each thread
    summing every `threads`-th element (element(k) prints the index of element `e`), two passes."""
    k.line(f"inv_n = ONE / DT({count})")
    k.line("s = ZERO")
    with k.block(f"for e in range(t, {count}, {threads})"):
        k.line(f"s += x[{element(k)}]")
    block_sum(k, threads, "s", "mean")
    k.line("mean *= inv_n")
    k.line("s = ZERO")
    with k.block(f"for e in range(t, {count}, {threads})"):
        k.line(f"dev = x[{element(k)}] - mean")
        k.line("s += dev * dev")
    block_sum(k, threads, "s", "variance")
    k.line(f"inv = ONE / math.sqrt(variance * inv_n + {epsilon_text})")

@kernel("LayerNormalization")
def layer_normalization(site: CudaSite, k: Writer, f: Writer):
    """(x - mean) / sqrt(variance + epsilon) * gamma + beta over the normalised axes (rms_scaling:
    x / sqrt(variance + epsilon) * gamma): one block per group (see the module docstring)."""
    layer = site.layer
    normed = set(layer.positions(site.x))
    rank = len(site.x)
    # Adjacent axes of one kind merge into a block: [(normalised?, first axis, end axis), ...].
    blocks: list[list] = []
    for a in range(rank):
        if blocks and blocks[-1][0] == (a in normed):
            blocks[-1][2] = a + 1
        else:
            blocks.append([a in normed, a, a + 1])
    sizes = [product(site.x[start:stop]) for _, start, stop in blocks]
    kept = [i for i, b in enumerate(blocks) if not b[0]]
    norm = [i for i, b in enumerate(blocks) if b[0]]
    groups = product([site.x[a] for a in range(rank) if a not in normed])
    count_dim = sympy.Mul(*(site.x[a] for a in normed))
    count = product([count_dim])
    threads = group_threads(count_dim)
    has_gamma = layer.scale or layer.rms_scaling
    has_beta = layer.center and not layer.rms_scaling
    weights = (["gamma"] if has_gamma else []) + (["beta"] if has_beta else [])
    view = ", ".join(sizes)

    header(k, site, site.fn, ["x", *weights, "out"])
    k.level += 1
    k.line(f"red = cuda.shared.array({threads}, DT)")
    k.line("q = cuda.blockIdx.x")
    k.line("t = cuda.threadIdx.x")
    with k.block(f"if q >= {wrap(groups)}"):
        k.line("return")  # the whole block leaves: no thread waits at a barrier for it
    index = [""] * len(blocks)
    for i, name in zip(kept, unravel(k, "q", [sizes[i] for i in kept], "k")):
        index[i] = name

    def element(w: Writer) -> str:
        """Inside a loop over the group's flat element `e`: the element's coordinates; its x."""
        for i, name in zip(norm, unravel(w, "e", [sizes[i] for i in norm], "j")):
            index[i] = name
        return ", ".join(index)

    group_statistics(k, element, count, threads, epsilon(layer))
    with k.block(f"for e in range(t, {count}, {threads})"):
        at = element(k)
        # rms_scaling (deprecated in Keras) scales x itself by the inverse standard deviation.
        k.line(f"v = x[{at}] * inv" if layer.rms_scaling else f"v = (x[{at}] - mean) * inv")
        if has_gamma:
            k.line("v = v * gamma[e]")
        if has_beta:
            k.line("v = v + beta[e]")
        k.line(f"out[{at}] = v")
    k.level -= 1
    args = [f"{site.ins[0]}.reshape({view})", *(f"{site.weight(n)}.reshape(-1)" for n in weights),
            f"{site.outs[0]}.reshape({view})"]
    f.line(f"{site.fn}[blocks({groups}, 1), {threads}]({site.sizes()}{', '.join(args)})")


def group_kernel(site: CudaSite, k: Writer, f: Writer, weights: list[str]):
    """The header of a one-block-per-group kernel over the layer's group_view: `x`, the weights, `out`
    viewed as the blocks; the kept coordinates bound from the block number. Returns (element, count,
    threads, at): element(w) writes, inside a loop over the group's flat element `e`, its reduced
    coordinates and returns the index text; at[i] is block i's coordinate name."""
    view = group_view(site.layer, list(site.x))
    sizes = [product([size]) for size, _ in view]
    kept = [i for i, (_, normed) in enumerate(view) if not normed]
    norm = [i for i, (_, normed) in enumerate(view) if normed]
    count_dim = sympy.Mul(*(view[i][0] for i in norm))
    threads = group_threads(count_dim)
    groups = product([view[i][0] for i in kept])
    header(k, site, site.fn, ["x", *weights, "out"])
    k.level += 1
    k.line(f"red = cuda.shared.array({threads}, DT)")
    k.line("q = cuda.blockIdx.x")
    k.line("t = cuda.threadIdx.x")
    with k.block(f"if q >= {wrap(groups)}"):
        k.line("return")  # the whole block leaves: no thread waits at a barrier for it
    at = [""] * len(view)
    for i, name in zip(kept, unravel(k, "q", [sizes[i] for i in kept], "k"), strict=True):
        at[i] = name

    def element(w: Writer) -> str:
        for i, name in zip(norm, unravel(w, "e", [sizes[i] for i in norm], "j"), strict=True):
            at[i] = name
        return ", ".join(at)

    view_text = ", ".join(sizes)
    args = [f"{site.ins[0]}.reshape({view_text})", *(site.weight(n) for n in weights),
            f"{site.outs[0]}.reshape({view_text})"]
    f.line(f"{site.fn}[blocks({groups}, 1), {threads}]({site.sizes()}{', '.join(args)})")
    return element, product([count_dim]), threads, at


@kernel("GroupNormalization")
def group_normalization(site: CudaSite, k: Writer, f: Writer):
    """(x - mean) / sqrt(variance + epsilon) * gamma[c] + beta[c] over channel c's group: one block per
    (sample, group)."""
    layer = site.layer
    weights = (["gamma"] if layer.scale else []) + (["beta"] if layer.center else [])
    element, count, threads, at = group_kernel(site, k, f, weights)
    view = group_view(layer, list(site.x))
    group = [i for i, (_, normed) in enumerate(view) if not normed][1]  # then the channels per group
    per = product([view[group + 1][0]])
    group_statistics(k, element, count, threads, epsilon(layer))
    with k.block(f"for e in range(t, {count}, {threads})"):
        index = element(k)
        k.line(f"v = (x[{index}] - mean) * inv")
        if weights:
            k.line(f"c = {at[group]} * {wrap(per)} + {at[group + 1]}")
        if layer.scale:
            k.line("v = v * gamma[c]")
        if layer.center:
            k.line("v = v + beta[c]")
        k.line(f"out[{index}] = v")
    k.level -= 1


@kernel("UnitNormalization")
def unit_normalization(site: CudaSite, k: Writer, f: Writer):
    """x * min(1 / sqrt(sum of x²), 1e12) over the layer's axes: one block per group."""
    element, count, threads, _ = group_kernel(site, k, f, [])
    k.line("s = ZERO")
    with k.block(f"for e in range(t, {count}, {threads})"):
        k.line(f"v = x[{element(k)}]")
        k.line("s += v * v")
    block_sum(k, threads, "s", "total")
    k.line("inv = ONE / math.sqrt(total) if total > DT(1e-24) else DT(1e12)")  # rsqrt capped at 1 / epsilon
    with k.block(f"for e in range(t, {count}, {threads})"):
        index = element(k)
        k.line(f"out[{index}] = x[{index}] * inv")
    k.level -= 1


@kernel("Softmax")
def softmax(site: CudaSite, k: Writer, f: Writer):
    """exp(x - max) / sum of exp(x - max) over the layer's axes: one block per group."""
    element, count, threads, _ = group_kernel(site, k, f, [])
    k.line("m = NEG_INF")
    with k.block(f"for e in range(t, {count}, {threads})"):
        k.line(f"m = max(m, x[{element(k)}])")
    block_sum(k, threads, "m", "top", largest=True)
    k.line("s = ZERO")
    with k.block(f"for e in range(t, {count}, {threads})"):
        k.line(f"s += math.exp(x[{element(k)}] - top)")
    block_sum(k, threads, "s", "total")
    with k.block(f"for e in range(t, {count}, {threads})"):
        index = element(k)
        k.line(f"out[{index}] = math.exp(x[{index}] - top) / total")
    k.level -= 1
