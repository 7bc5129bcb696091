"""Numba CPU kernels: one emitter per layer kind, one module writer."""
from . import attention, conv, core, einsum, elementwise, merging, normalization, ops, pooling, reshaping, recurrent, wrappers  # noqa: F401  (each family module registers its emitters)
from .base import EMITTERS, Site, kernel
from ..errors import CodegenError
from .module import emit_module

__all__ = ["EMITTERS", "Site", "kernel", "CodegenError", "emit_module"]
