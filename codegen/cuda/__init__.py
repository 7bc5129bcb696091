"""Numba CUDA kernels: one emitter per layer kind, two kernel templates, one module writer."""
from . import (  # noqa: F401  (each family module registers its emitters)
    attention,
    conv,
    core,
    einsum,
    elementwise,
    merging,
    normalization,
    ops,
    pooling,
    recurrent,
    reshaping,
    wrappers,
)
from .base import EMITTERS, CudaSite, kernel
from .module import emit_module

__all__ = ["EMITTERS", "CudaSite", "emit_module", "kernel"]
