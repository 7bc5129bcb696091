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

from shapeproof import analyzer  # noqa: E402

keras = pytest.importorskip("keras")

from arrays import random_inputs, relative_error  # noqa: E402
from shapeproof.keras.export import build_keras, keras_shape  # noqa: E402


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
        keras_weights = [tuple(w.shape) for w in getattr(layer, "weights", [])]  # an operation has none
        our_weights = [tuple(int(d) for d in w.shape) for w in node.weights]
        assert our_weights == keras_weights, f"{where}: weight shapes {our_weights} != Keras {keras_weights}"
        trainable = sum(int(np.prod(w.shape)) for w in getattr(layer, "trainable_weights", []))
        frozen = sum(int(np.prod(w.shape)) for w in getattr(layer, "non_trainable_weights", []))
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


def random_keras_weights(keras_model, rng):
    """Random weights for every Keras variable (BatchNormalization variances kept positive), set on the
    model and returned in get_weights() order: Keras's own initial zeros would hide bias bugs."""
    weights = []
    for variable in keras_model.weights:
        w = rng.normal(0.0, 0.5, size=tuple(variable.shape)).astype("float32")
        if "int" in str(variable.dtype):  # Normalization's count
            w = rng.integers(1, 10, size=tuple(variable.shape))
        if "variance" in variable.path:
            w = np.abs(w) + 0.5
        weights.append(w)
    keras_model.set_weights(weights)
    return weights


def keras_setup(source: str, set: dict | None, model: str | None, batch: int, seed: int):
    """(our model, Keras model, {name: (layer, outputs)}, weights in our statement order, inputs):
    the spec analysed and built in Keras with random weights, and random inputs for it."""
    program = analyzer.loads(source, set=set)
    ours = program.models[model] if model else next(iter(program.models.values()))
    keras_model, layers = build_keras(ours)
    rng = np.random.default_rng(seed)
    random_keras_weights(keras_model, rng)
    # Our order is statement order; Keras's model.weights may list branches differently.
    weights = [w for node in ours.nodes for w in getattr(layers[node.name][0], "get_weights", list)()]
    return ours, keras_model, layers, weights, random_inputs(ours, batch, rng)


def assert_close(mine: list, theirs: list, tolerance: float, where: str = "output"):
    for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        assert a.shape == b.shape, f"{where} {i}: shape {a.shape} != Keras {b.shape}"
        err = relative_error(a, b)
        assert err <= tolerance, f"{where} {i}: relative error {err:.2e} > {tolerance:g}"


def numeric_crosscheck(source: str, set: dict | None = None, model: str | None = None, batch: int = 3,
                       seed: int = 0, tolerance: float = 1e-4):
    """Run the spec in Keras (predict, random weights) and through analyzer.reference.forward on the
    same inputs; assert every layer's output agrees within `tolerance`. Returns the analysed model."""
    import keras

    from shapeproof.analyzer.reference import forward

    ours, keras_model, layers, weights, inputs = keras_setup(source, set, model, batch, seed)
    names = [n.name for n in ours.nodes]
    probe = keras.Model(keras_model.inputs, [t for name in names for t in layers[name][1]])
    flat = probe.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    flat = flat if isinstance(flat, list) else [flat]
    _, by_layer = forward(ours, weights, *inputs, keep=True)
    for name in names:
        theirs = [flat.pop(0) for _ in layers[name][1]]
        mine = by_layer[name] if isinstance(by_layer[name], list) else [by_layer[name]]
        assert_close(mine, theirs, tolerance, f"{name} output")
    return ours


def codegen_crosscheck(source: str, set: dict | None = None, model: str | None = None, batch: int = 3,
                       seed: int = 0, tolerance: float = 1e-4):
    """Keras predict (random weights) vs the generated Numba CPU kernels fed the same get_weights()."""
    from shapeproof import codegen

    ours, keras_model, _, weights, inputs = keras_setup(source, set, model, batch, seed)
    theirs = keras_model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    theirs = theirs if isinstance(theirs, list) else [theirs]
    net = codegen.build(ours, parallel=False)  # compiles twice as fast; same loops as the parallel build
    net.set_weights(weights)
    mine = net(*inputs)
    assert_close(list(mine) if isinstance(mine, tuple) else [mine], theirs, tolerance)
    return ours
