"""Fixed text at the top of every generated CPU module: imports, constants, shared helpers."""

import textwrap

from ..activations import SPARSEMAX_ROW

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
    rows = a.reshape(-1, a.shape[-1])
    for r in prange(rows.shape[0]):
''' + textwrap.indent(SPARSEMAX_ROW, " " * 8)

