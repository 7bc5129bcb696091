"""Fixed text at the top of every generated CUDA module: imports, constants, allocation, shared kernels."""

import textwrap

from ..activations import SPARSEMAX_ROW

# {constants}: codegen/activations.py CONSTANTS, filled in by the module writer
PRELUDE = '''\
import math

import numpy as np
from numba import cuda

DT = np.{dtype}
{constants}NEG_INF = DT(-np.inf)
THREADS = 256  # threads per block of the one-thread-per-output kernels
TARGET_BLOCKS = 264  # blocks that keep a large GPU busy (2 per SM of an H100): split-K below that
SCRATCH = {{}}  # (layer buffer, shape) -> device array, reused from call to call


def empty(shape):
    """A fresh device array (model outputs: the caller keeps them)."""
    return cuda.device_array(shape, dtype=DT)


def scratch(key, shape, dtype=DT):
    """A device array for an intermediate value, allocated once per shape and reused by later calls."""
    found = SCRATCH.get((key, shape))
    if found is None:
        found = SCRATCH[(key, shape)] = cuda.device_array(shape, dtype=dtype)
    return found


def fresh(a):
    """A device copy of `a` that no later call overwrites."""
    b = cuda.device_array(a.shape, dtype=a.dtype)
    b.copy_to_device(a)
    return b


def blocks(n, threads=THREADS):
    """Blocks of `threads` threads covering n outputs (at least one)."""
    return max(1, (n + threads - 1) // threads)


def split_k(tiles, depth, tile_k):
    """(splits, span): how many slices to cut a GEMM's K into, and the length of each (a multiple of
    tile_k), so that about TARGET_BLOCKS blocks run when the output has few tiles (batch 1)."""
    if tiles >= TARGET_BLOCKS // 2 or depth < 4 * tile_k:
        return 1, depth
    splits = min(TARGET_BLOCKS // tiles, depth // (2 * tile_k))
    span = -(-depth // max(splits, 1))
    span = -(-span // tile_k) * tile_k
    return -(-depth // span), span


@cuda.jit(cache=True)
def softmax_rows(a):
    """Softmax over the last axis of a 2-D array, in place: one thread per row."""
    r = cuda.grid(1)
    if r >= a.shape[0]:
        return
    m = a[r, 0]
    for j in range(1, a.shape[1]):
        m = max(m, a[r, j])
    total = ZERO
    for j in range(a.shape[1]):
        e = math.exp(a[r, j] - m)
        a[r, j] = e
        total += e
    for j in range(a.shape[1]):
        a[r, j] /= total


@cuda.jit(cache=True)
def log_softmax_rows(a):
    """Log-softmax over the last axis of a 2-D array, in place: one thread per row."""
    r = cuda.grid(1)
    if r >= a.shape[0]:
        return
    m = a[r, 0]
    for j in range(1, a.shape[1]):
        m = max(m, a[r, j])
    total = ZERO
    for j in range(a.shape[1]):
        total += math.exp(a[r, j] - m)
    shift = m + math.log(total)
    for j in range(a.shape[1]):
        a[r, j] -= shift


@cuda.jit(cache=True)
def sparsemax_rows(rows):
    """Keras's sparsemax over the last axis of a 2-D array, in place: one thread per row."""
    r = cuda.grid(1)
    if r >= rows.shape[0]:
        return
''' + textwrap.indent(SPARSEMAX_ROW, " " * 4)

