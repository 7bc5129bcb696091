"""Build the same model in real Keras 3 from a .nn spec and compare every layer with shapeproof.

Used by the tests/test_keras_*.py modules. The Keras model is built from the layer calls exactly as
written in the spec (same class, same arguments, same names), so any difference in output shape,
weight shapes or trainable / non-trainable counts is a difference in our semantics.
"""
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sympy  # noqa: E402

import analyzer  # noqa: E402
from analyzer import ir  # noqa: E402
from analyzer.values import evaluate  # noqa: E402

keras = pytest.importorskip("keras")


def _python(value):
    """SymPy integers -> int, recursively through tuples and lists."""
    if isinstance(value, sympy.Basic):
        assert value.is_number, f"free symbol {value} left in a Keras argument: bind it with set="
        return int(value)
    if isinstance(value, tuple):
        return tuple(_python(v) for v in value)
    if isinstance(value, list):
        return [_python(v) for v in value]
    return value


def keras_layer(call: ir.Call, values: dict, name: str | None):
    """The Keras layer for one call of the spec, with the same arguments (and our name)."""
    args = []
    for node in call.args:
        v = evaluate(node, values)
        args.append(keras_layer(v, values, None) if isinstance(v, ir.Call) else _python(v))
    kwargs = {}
    for kw in call.keywords:
        v = evaluate(kw.value, values)
        kwargs[kw.name] = keras_layer(v, values, None) if isinstance(v, ir.Call) else _python(v)
    if name is not None:
        kwargs["name"] = name
    return getattr(keras.layers, call.name)(*args, **kwargs)


def _keras_shape(shape, batch):
    out = []
    for i, d in enumerate(shape):
        if i == 0:
            out.append(None)
        else:
            assert d.is_number, f"free symbol in {shape}: bind it with set="
            out.append(int(d))
    return tuple(out)


def build_keras(model: analyzer.Model):
    """(keras.Model, {layer name: keras layer}) built from the analysed model's calls."""
    tensors = {}
    for inp in model.inputs:
        tensors[(inp.name, 0)] = keras.Input(shape=_keras_shape(inp.shape, None)[1:], dtype=inp.dtype, name=inp.name)
    layers = {}
    for node in model.nodes:
        layer = keras_layer(node.layer.call, model.values, node.name)
        given = [tensors[ref] for ref in node.input_refs]
        out = layer(given if node.layer.inputs == "many" else given[0])
        outs = out if isinstance(out, (list, tuple)) else [out]
        for i, t in enumerate(outs):
            tensors[(node.name, i)] = t
        layers[node.name] = (layer, outs)
    outputs = [tensors[(name, 0)] for name, _ in model.outputs]
    return keras.Model([tensors[(i.name, 0)] for i in model.inputs], outputs), layers


def crosscheck(source: str, set: dict | None = None, model: str | None = None):
    """Analyse `source` and build it in Keras; assert that every layer agrees. Returns the model."""
    program = analyzer.loads(source, set=set)
    ours = program.models[model] if model else next(iter(program.models.values()))
    _, layers = build_keras(ours)
    for node in ours.nodes:
        layer, outs = layers[node.name]
        where = f"{node.name} ({node.text})"
        expected = [tuple(t.shape) for t in outs]
        got = [_keras_shape(s, None) for s in node.output_shapes]
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
