"""Activations in CPU kernels: the shared element expressions, and softmax-like passes over the last axis."""
from __future__ import annotations

from ..activations import ELEMENTWISE, element  # noqa: F401  (re-exported for the emitters)

LAST_AXIS = {"softmax": "softmax_last_axis", "log_softmax": "log_softmax_last_axis",
             "sparsemax": "sparsemax_last_axis"}


def last_axis_pass(name: str | None, array: str) -> str | None:
    """The statement that applies a last-axis activation to `array` in place, or None."""
    return f"{LAST_AXIS[name]}({array})" if name in LAST_AXIS else None
