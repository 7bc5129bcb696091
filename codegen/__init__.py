"""shapeproof's code generator: analysed model -> Numba forward kernels.

    from shapeproof import analyzer, codegen
    program = analyzer.load("examples/seeds.nn", set={"n_features": 50})
    net = codegen.build(program.models["ConvModel"], target="cpu")   # or "cuda"
    net.set_weights(weights)       # Keras get_weights() order and layouts
    y = net(x)

NumPy and Numba are imported on first use, so `import shapeproof.codegen` (and the CLI's `report`) stays fast.
"""
from __future__ import annotations

from .errors import CodegenError

TARGETS = ("cpu", "cuda")


def generate(model, target: str = "cpu", dtype: str = "float32", source_file: str = "",
             parallel: bool = True) -> str:
    """The generated module's source text."""
    if target not in TARGETS:
        raise CodegenError(f"unknown target {target!r}; one of {', '.join(TARGETS)}")
    if dtype not in ("float32", "float64"):
        raise CodegenError(f"dtype must be float32 or float64, got {dtype!r}")
    if target == "cuda":
        from .cuda import emit_module as emit_cuda

        return emit_cuda(model, dtype, source_file)
    from .cpu import emit_module

    return emit_module(model, dtype, source_file, parallel)


def build(model, target: str = "cpu", dtype: str = "float32", parallel: bool = True, threads: int | None = None):
    """Generate, import (from the cache folder) and wrap the forward pass of an analysed model: a Net.
    `threads`: Numba threads for its parallel loops (CPU; default all of NUMBA_NUM_THREADS)."""
    from .net import CudaNet, Net, import_source, set_threads

    source = generate(model, target, dtype, parallel=parallel)
    if threads is not None and target == "cpu":
        set_threads(threads)  # checks the count now rather than at the first call
    return (CudaNet if target == "cuda" else Net)(model, source, import_source(source), threads=threads)


__all__ = ["CodegenError", "build", "generate"]
