"""Build a shapeproof model in real Keras 3, call for call (same classes, arguments and names).

Keras is our peer: the cross-check tests and the benchmarks use this to compare shapes, parameter
counts and timings. Needs the `keras` extra; nothing else in shapeproof imports Keras.
"""
from __future__ import annotations

import keras
import sympy

from shapeproof import analyzer
from shapeproof.analyzer import ir
from shapeproof.analyzer.values import evaluate


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


def keras_shape(shape) -> tuple:
    """A shape with the batch axis as None and every other axis concrete."""
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
        tensors[(inp.name, 0)] = keras.Input(shape=keras_shape(inp.shape)[1:], dtype=inp.dtype, name=inp.name)
    layers = {}
    for node in model.nodes:
        layer = keras_layer(node.layer.call, model.values, node.name)
        given = [tensors[ref] for ref in node.input_refs]
        out = layer(given if node.layer.inputs == "many" else given[0])
        outs = out if isinstance(out, (list, tuple)) else [out]
        for i, t in enumerate(outs):
            tensors[(node.name, i)] = t
        layers[node.name] = (layer, outs)
    outputs = [tensors[ref] for ref in model.output_refs]
    return keras.Model([tensors[(i.name, 0)] for i in model.inputs], outputs), layers
