"""Keras 3's activations as plain NumPy: the reference every generated kernel is compared with.

Constants are Keras's: leaky_relu slope 0.2, elu alpha 1, selu's alpha and scale, exact
(erf) gelu, hard_sigmoid = relu6(x + 3) / 6, the shrink thresholds 0.5, squareplus's b = 4; softmax,
log_softmax and sparsemax act on the last axis (sparsemax as Keras 3 computes it, see _sparsemax).
"""
from __future__ import annotations

import math

from .lazy import np

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), without overflowing for very negative x


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _sparsemax(x):
    # Keras 3 (keras/src/backend/*/nn.py sparsemax), step by step: tau is (the sum of the cumulative
    # sums over the support - 1) / k, not the textbook (cumsum at k - 1) / k; kept as Keras computes it.
    ordered = -np.sort(-x, axis=-1)
    cumulative = np.cumsum(ordered, axis=-1)
    r = np.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    support = ordered - (cumulative - 1) / r > 0
    k = support.sum(axis=-1, keepdims=True)
    tau = (np.where(support, cumulative, 0).sum(axis=-1, keepdims=True) - 1) / k
    return np.maximum(x - tau, 0)


def _softplus(x):
    return np.logaddexp(x, 0)


FUNCTIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
    # ops.gelu(x) (approximate=True, torch's "tanh" form); no activation string names it
    "gelu_tanh": lambda x: 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3))),
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: np.clip(x + 3.0, 0, 6) / 6.0,
    "tanh": lambda x: np.tanh(x),
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "softplus": lambda x: np.logaddexp(x, 0),
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "swish": lambda x: x * _sigmoid(x),
    "silu": lambda x: x * _sigmoid(x),
    "exponential": lambda x: np.exp(x),
    "hard_silu": lambda x: x * np.clip(x + 3.0, 0, 6) / 6.0,
    "hard_swish": lambda x: x * np.clip(x + 3.0, 0, 6) / 6.0,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "log_sigmoid": lambda x: -_softplus(-x),
    "celu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),  # alpha 1: exp(x / alpha) - 1
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x < 1, 0.25 * (x + 1) ** 2, x)),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4.0)) / 2,
    "sparse_sigmoid": lambda x: np.where(x <= -1, 0, np.where(x >= 1, 1, 0.5 * (x + 1))),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0),
    "sparsemax": _sparsemax,
}


def activate(name: str | None, x):
    """`x` through the activation `name` (None: linear), keeping x's dtype."""
    if name is None or name == "linear":
        return x
    return np.asarray(FUNCTIONS[name](x), dtype=x.dtype)
