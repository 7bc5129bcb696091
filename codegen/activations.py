"""Keras's element-wise activations as Numba source, shared by the CPU and CUDA kernels.

The expressions use the float constants of the module prelude (ZERO, ONE, ...) so that float32
arithmetic stays float32: a bare `0.0` is a float64 and would widen the whole computation.
tanh is written through exp (math.tanh does not vectorise on the CPU).
"""
from __future__ import annotations

# The module-level float constants the expressions use, for every generated module's prelude (DT is
# the module's float type). A literal in a kernel would be a float64.
CONSTANTS = """\
ZERO = DT(0.0)
HALF = DT(0.5)
ONE = DT(1.0)
TWO = DT(2.0)
THREE = DT(3.0)
SIX = DT(6.0)
LEAKY_SLOPE = DT(0.2)
SELU_ALPHA = DT(1.6732632423543772)
SELU_SCALE = DT(1.0507009873554805)
INV_SQRT2 = DT(0.7071067811865476)
QUARTER = DT(0.25)
FOUR = DT(4.0)
"""

ELEMENTWISE = {
    "linear": "{v}",
    "relu": "max({v}, ZERO)",
    "relu6": "min(max({v}, ZERO), SIX)",
    "leaky_relu": "{v} if {v} >= ZERO else LEAKY_SLOPE * {v}",
    "elu": "{v} if {v} > ZERO else math.expm1({v})",
    "selu": "SELU_SCALE * {v} if {v} > ZERO else SELU_SCALE * SELU_ALPHA * math.expm1({v})",
    "gelu": "HALF * {v} * (ONE + math.erf({v} * INV_SQRT2))",
    # 1 + tanh(z) = 2 - 2 / (exp(2z) + 1), z = sqrt(2/pi)·(v + 0.044715·v³)
    "gelu_tanh": "HALF * {v} * (TWO - TWO / (math.exp(DT(1.5957691216057308) * ({v} + DT(0.044715) * {v} * {v} * {v}))"
                 " + ONE))",
    "sigmoid": "ONE / (ONE + math.exp(-{v}))",
    "hard_sigmoid": "min(max({v} + THREE, ZERO), SIX) / SIX",
    "tanh": "ONE - TWO / (math.exp(TWO * {v}) + ONE)",
    "softplus": "max({v}, ZERO) + math.log1p(math.exp(-abs({v})))",
    "softsign": "{v} / (ONE + abs({v}))",
    "swish": "{v} / (ONE + math.exp(-{v}))",
    "silu": "{v} / (ONE + math.exp(-{v}))",
    "exponential": "math.exp({v})",
    "hard_silu": "{v} * min(max({v} + THREE, ZERO), SIX) / SIX",
    "hard_swish": "{v} * min(max({v} + THREE, ZERO), SIX) / SIX",
    "mish": "{v} * (ONE - TWO / (math.exp(TWO * (max({v}, ZERO) + math.log1p(math.exp(-abs({v}))))) + ONE))",
    "log_sigmoid": "min({v}, ZERO) - math.log1p(math.exp(-abs({v})))",
    "celu": "{v} if {v} > ZERO else math.expm1({v})",
    "sparse_plus": "ZERO if {v} <= -ONE else (QUARTER * ({v} + ONE) * ({v} + ONE) if {v} < ONE else {v})",
    "squareplus": "({v} + math.sqrt({v} * {v} + FOUR)) * HALF",
    "sparse_sigmoid": "ZERO if {v} <= -ONE else (ONE if {v} >= ONE else HALF * ({v} + ONE))",
    "tanh_shrink": "{v} - (ONE - TWO / (math.exp(TWO * {v}) + ONE))",
    "hard_tanh": "min(max({v}, -ONE), ONE)",
    "soft_shrink": "{v} - HALF if {v} > HALF else ({v} + HALF if {v} < -HALF else ZERO)",
    "hard_shrink": "{v} if abs({v}) > HALF else ZERO",
}
# Keras's sparsemax of row r of a 2-D array `rows`, in place, without the sort: element j sits at
# sorted position p (ties in index order), after the elements before it, whose sum with it is the
# cumulative sum c there. The body of both preludes' sparsemax (a CPU task, a CUDA thread per row).
SPARSEMAX_ROW = """\
n = rows.shape[1]
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
"""

LAST_AXIS = ("softmax", "log_softmax", "sparsemax")  # read a whole axis: applied by a pass after the kernel


def element(name: str | None, v: str) -> str:
    """The activation of the scalar expression `v` (a variable name), as source. Softmax-like
    activations are the identity here and applied afterwards by `last_axis_pass`."""
    if name is None or name in LAST_AXIS:
        return v
    return "(" + ELEMENTWISE[name].format(v=v) + ")"


def check_recurrent(layer, target: str):
    """Softmax-like activations act on a whole axis: refused inside a recurrence's element-wise gates
    (a CodegenError naming the target)."""
    from .errors import CodegenError

    for slot in ("activation", "recurrent_activation"):
        name = getattr(layer, slot, None)
        if name in LAST_AXIS:
            raise CodegenError(f"{layer.kind}: {slot}={name!r} inside a recurrence has no {target} kernel; "
                               "use an elementwise activation")
