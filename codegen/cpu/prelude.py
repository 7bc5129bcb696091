"""Fixed text at the top of every generated CPU module: imports, constants, shared helpers."""

# {constants}: codegen/activations.py CONSTANTS, filled in by the module writer
PRELUDE = '''\
import math

import numpy as np
from numba import njit, prange

DT = np.{dtype}
{constants}FASTMATH = {{"contract", "reassoc"}}  # lets LLVM fuse and vectorise sums; keeps NaN and inf handling
PARALLEL = {parallel}  # prange loops on all cores (False compiles about twice as fast)


@njit(cache=True, parallel=PARALLEL, fastmath=FASTMATH)
def softmax_last_axis(a):
    rows = a.reshape(-1, a.shape[-1])
    for r in prange(rows.shape[0]):
        m = rows[r, 0]
        for j in range(rows.shape[1]):
            m = max(m, rows[r, j])
        total = ZERO
        for j in range(rows.shape[1]):
            rows[r, j] = math.exp(rows[r, j] - m)
            total += rows[r, j]
        for j in range(rows.shape[1]):
            rows[r, j] /= total


@njit(cache=True, parallel=PARALLEL, fastmath=FASTMATH)
def log_softmax_last_axis(a):
    rows = a.reshape(-1, a.shape[-1])
    for r in prange(rows.shape[0]):
        m = rows[r, 0]
        for j in range(rows.shape[1]):
            m = max(m, rows[r, j])
        total = ZERO
        for j in range(rows.shape[1]):
            total += math.exp(rows[r, j] - m)
        shift = m + math.log(total)
        for j in range(rows.shape[1]):
            rows[r, j] -= shift


@njit(cache=True, parallel=PARALLEL, fastmath=FASTMATH)
def sparsemax_last_axis(a):
    # Keras's sparsemax without the sort: element j sits at sorted position p (ties in index order),
    # after the elements before it, whose sum with it is the cumulative sum c there.
    rows = a.reshape(-1, a.shape[-1])
    n = rows.shape[1]
    for r in prange(rows.shape[0]):
        k = ZERO
        total = ZERO
        for j in range(n):
            zj = rows[r, j]
            c = ZERO
            p = 0
            for i in range(n):
                zi = rows[r, i]
                if zi > zj or (zi == zj and i <= j):
                    c += zi
                    p += 1
            if zj - (c - ONE) / DT(p) > ZERO:
                k += ONE
                total += c
        tau = (total - ONE) / k
        for j in range(n):
            rows[r, j] = max(rows[r, j] - tau, ZERO)
'''
