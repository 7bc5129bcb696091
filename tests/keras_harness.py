"""Cross-check helper: build the same model in real Keras 3 from a .nn spec and compare every layer.

Used by the tests/test_keras_*.py modules. The Keras model is built from the layer calls exactly as
written in the spec (same class, same arguments, same names), so any difference in output shape,
weight shapes or trainable / non-trainable counts is a difference in our semantics.
"""
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import analyzer  # noqa: E402

keras = pytest.importorskip("keras")

from shapeproof.keras_peer import build_keras, keras_shape  # noqa: E402


def crosscheck(source: str, set: dict | None = None, model: str | None = None):
    """Analyse `source` and build it in Keras; assert that every layer agrees. Returns the model."""
    program = analyzer.loads(source, set=set)
    ours = program.models[model] if model else next(iter(program.models.values()))
    _, layers = build_keras(ours)
    for node in ours.nodes:
        layer, outs = layers[node.name]
        where = f"{node.name} ({node.text})"
        expected = [tuple(t.shape) for t in outs]
        got = [keras_shape(s) for s in node.output_shapes]
        assert got == expected, f"{where}: output shape {got} != Keras {expected}"
        keras_weights = [tuple(w.shape) for w in layer.weights]
        our_weights = [tuple(int(d) for d in w.shape) for w in node.weights]
        assert our_weights == keras_weights, f"{where}: weight shapes {our_weights} != Keras {keras_weights}"
        trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        frozen = sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)
        assert (int(node.trainable_params), int(node.non_trainable_params)) == (trainable, frozen), (
            f"{where}: params (trainable, non-trainable) = "
            f"{(node.trainable_params, node.non_trainable_params)} != Keras {(trainable, frozen)}")
    return ours


def run_and_count(source: str):
    """Run every layer of `source` (batch 2) in Keras on torch; assert that the real output shape and
    the multiply-accumulates torch counts (conv, matmul) equal ours."""
    if keras.backend.backend() != "torch":
        pytest.skip("the MAC count runs on the torch backend")
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    ours = next(iter(analyzer.loads(source, set={"batch": 2}).models.values()))
    _, layers = build_keras(ours)
    for node in ours.nodes:
        layer, _ = layers[node.name]
        x = torch.randn(*(int(d) for d in node.input_shapes))
        with FlopCounterMode(display=False) as counter:
            y = layer(x)
        where = f"{node.name} ({node.text})"
        assert tuple(y.shape) == tuple(int(d) for d in node.output_shape), f"{where}: ran to {tuple(y.shape)}"
        assert counter.get_total_flops() == 2 * int(node.macs), (
            f"{where}: torch counts {counter.get_total_flops() / 2} MACs, we say {node.macs}")
