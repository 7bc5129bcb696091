"""Check generated CUDA kernels against the NumPy reference.

    check_cuda(source, set=None, sizes=[{"T": 3}])
    check_case(("Conv1D(4, 3)", "(batch, T, 2)", {}, [{"T": 5}]))

A case is (layers, input shape, --set values, bindings): the layers (lines of a model body, or a
whole `model` when it starts with "model") after `input SHAPE` in `model M(batch[, T]...)`. Every
tests/cuda/test_cuda_*.py keeps its cases in KERNEL_CASES, which tests/test_cuda_ptx.py also
compiles to PTX for a real GPU.

builds the model's CUDA kernels, sets random weights, and compares the forward pass with
analyzer.reference.forward on random inputs at each binding of the free sizes (batch included,
default 2): max error relative to the output's largest magnitude <= 1e-4. The generated source
must parse and be stable byte for byte. Keep shapes tiny: the simulator is slow.
"""
from __future__ import annotations

import ast

import numpy as np
from arrays import random_inputs, relative_error, unchecked_layers

import analyzer
import codegen
from analyzer.reference import forward


def check_cuda(source: str, set: dict | None = None, model: str | None = None, sizes=({},), seed: int = 0,
               tolerance: float = 1e-4, dtype: str = "float32"):
    program = analyzer.loads(source, set=set)
    ours = program.models[model] if model else next(iter(program.models.values()))
    assert not unchecked_layers(ours), f"layers whose results reach no output: {unchecked_layers(ours)}"
    text = codegen.generate(ours, target="cuda", dtype=dtype)
    ast.parse(text)
    assert codegen.generate(ours, target="cuda", dtype=dtype) == text, "generated source is not stable"
    net = codegen.build(ours, target="cuda", dtype=dtype)
    weights = net.random_weights(seed)
    rng = np.random.default_rng(seed)
    for binding in sizes:
        xs = random_inputs(ours, binding.get("batch", 2), rng, binding)
        got = net(*xs)
        want = forward(ours, weights, *xs, dtype=np.dtype(dtype).type)
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        assert len(got) == len(want)
        for i, (g, r) in enumerate(zip(got, want)):
            assert isinstance(g, np.ndarray), f"output {i}: NumPy in, {type(g).__name__} out"
            assert g.shape == r.shape, f"output {i} at {binding}: shape {g.shape} != reference {r.shape}"
            err = relative_error(g, r)
            assert err <= tolerance, f"output {i} at {binding}: relative error {err:.2e} > {tolerance:g}"
    return net


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
