"""Fixed text at the top of every generated CPU module: imports, constants, shared helpers."""

PRELUDE = '''\
import math

import numpy as np
from numba import njit, prange

DT = np.{dtype}
ZERO, HALF, ONE, TWO, THREE, SIX = DT(0.0), DT(0.5), DT(1.0), DT(2.0), DT(3.0), DT(6.0)
LEAKY_SLOPE = DT(0.2)
SELU_ALPHA, SELU_SCALE = DT(1.6732632423543772), DT(1.0507009873554805)
INV_SQRT2 = DT(0.7071067811865476)
FASTMATH = {{"contract", "reassoc"}}  # lets LLVM fuse and vectorise sums; keeps NaN and inf handling
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
'''
