"""Check generated CPU kernels against the NumPy reference (and, through it, against Keras).

    check_generated(source, set=None, sizes=[{"T": 7}, {"T": 12}])

builds the model's kernels, sets random weights, and compares the generated forward pass with
analyzer.reference.forward on random inputs: at each binding of the free sizes in `sizes` (batch
included, default 2), max error relative to the output's largest magnitude <= 1e-4. The generated
source must also parse and be stable byte for byte.
"""
from __future__ import annotations

import ast

import numpy as np

from shapeproof import analyzer
from shapeproof import codegen
from shapeproof.analyzer.reference import forward
from arrays import random_inputs, relative_error, unchecked_layers


def check_generated(source: str, set: dict | None = None, model: str | None = None, sizes=({},),
                    seed: int = 0, tolerance: float = 1e-4, dtype: str = "float32", parallel: bool = False,
                    target: str = "cpu"):
    """Generated kernels == NumPy reference on random inputs and weights, at each binding in `sizes`.
    Serial builds by default: they compile about twice as fast, and the loops are the same source
    (tests/test_codegen_cpu.py checks the parallel build too)."""
    program = analyzer.loads(source, set=set)
    ours = program.models[model] if model else next(iter(program.models.values()))
    assert not unchecked_layers(ours), f"layers whose results reach no output: {unchecked_layers(ours)}"
    text = codegen.generate(ours, target, dtype=dtype, parallel=parallel)
    ast.parse(text)
    assert codegen.generate(ours, target, dtype=dtype, parallel=parallel) == text, "generated source is not stable"
    net = codegen.build(ours, target, dtype=dtype, parallel=parallel)
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
