"""Check generated CUDA kernels against the NumPy reference (tests/codegen_harness.py, target "cuda").

    check_cuda(source, set=None, sizes=[{"T": 3}])
    check_case(("Conv1D(4, 3)", "(batch, T, 2)", {}, [{"T": 5}]))

builds the model's CUDA kernels, sets random weights, and compares the forward pass with
analyzer.reference.forward on random inputs at each binding of the free sizes (batch included,
default 2): max error relative to the output's largest magnitude <= 1e-4; the generated source
must parse and be stable byte for byte. Keep shapes tiny: the simulator is slow.

A case is (layers, input shape, --set values, bindings): the layers (lines of a model body, or a
whole `model` when it starts with "model") after `input SHAPE` in `model M(batch[, T]...)`. Every
tests/cuda/test_cuda_*.py keeps its cases in KERNEL_CASES, which tests/test_cuda_ptx.py also
compiles to PTX for a real GPU.
"""
from __future__ import annotations

from codegen_harness import check_generated


def check_cuda(source: str, set: dict | None = None, model: str | None = None, sizes=({},), seed: int = 0,
               tolerance: float = 1e-4, dtype: str = "float32"):
    """check_generated (tests/codegen_harness.py) for the CUDA target."""
    return check_generated(source, set, model, sizes, seed, tolerance, dtype, target="cuda")


def source_of(case: tuple) -> str:
    """The .nn source of a case (see the module docstring)."""
    layers, shape, _, _ = case
    if layers.lstrip().startswith("model"):
        return layers
    sizes = ["batch"] + [s for s in ("T", "H", "W", "L") if s in shape.replace("batch", "")]
    return f"model M({', '.join(sizes)}):\n    input {shape}\n    {layers}\n"


def check_case(case: tuple, **options):
    _, _, given, sizes = case
    return check_cuda(source_of(case), set=given or None, sizes=sizes, **options)
