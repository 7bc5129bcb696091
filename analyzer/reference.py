"""The NumPy reference forward of a model: plain, obviously-correct code, layer by layer.

Each layer kind's `reference(x, w)` (in analyzer/layers/) computes its output from NumPy inputs and
its weights in Keras's `get_weights()` order and layouts. This module binds a model's free symbols
from the input arrays, splits a flat weight list per layer (checking every shape), and runs the
graph. Generated kernels and the equivalence witness are tested against it.

    model = analyzer.load("examples/seeds.nn").models["ConvModel"]
    y = forward(model, weights, x)        # weights: keras_model.get_weights()
"""
from __future__ import annotations

import numpy as np
import sympy

from .errors import ShapeproofError
from .graph import Model, analyze_model
from .layers import format_shape


def bind_symbols(model: Model, inputs: list) -> dict[str, int]:
    """{parameter name: size} for the model's free symbols, read off the input arrays' shapes;
    raises ShapeproofError when an array's rank or a size does not fit or a constraint fails."""
    if len(inputs) != len(model.inputs):
        raise ShapeproofError(f"model {model.name} takes {len(model.inputs)} input(s), got {len(inputs)}")
    bound: dict = {}
    pending = []
    for spec, array in zip(model.inputs, inputs):
        if np.ndim(array) != len(spec.shape):
            raise ShapeproofError(f"input {spec.name!r} of {model.name} has shape {format_shape(spec.shape)}; "
                                  f"got an array of shape {tuple(np.shape(array))}")
        for dim, size in zip(spec.shape, np.shape(array)):
            if dim.is_Symbol:
                if bound.setdefault(dim, size) != size:
                    raise ShapeproofError(f"{dim} is {bound[dim]} in one input axis and {size} in another")
            else:
                pending.append((dim, size, spec.name))
    for dim, size, name in pending:
        dim = dim.xreplace(bound)
        if not dim.is_number:
            solutions = sympy.solve(sympy.Eq(dim, size), sorted(dim.free_symbols, key=str)[0])
            if len(solutions) != 1 or not solutions[0].is_integer:
                raise ShapeproofError(f"input {name!r}: no whole value of {dim} makes it {size}")
            bound[sorted(dim.free_symbols, key=str)[0]] = solutions[0]
        elif dim != size:
            raise ShapeproofError(f"input {name!r} of {model.name} needs {dim} on an axis of size {size}")
    for c in model.constraints:
        if c.condition.xreplace(bound) is sympy.false:
            raise ShapeproofError(f"{model.name} is not valid at these sizes: {c.reason}".replace(
                "but", f"with {', '.join(f'{k}={v}' for k, v in bound.items())}, but"))
    return {str(s): int(v) for s, v in bound.items()}


def concrete(model: Model, sizes: dict[str, int]) -> Model:
    """The same model with its free symbols set to `sizes`: every shape, count and argument concrete."""
    overrides = {}
    for name, value in model.values.items():
        if value.is_number:
            overrides[name] = int(value)
        elif str(value) in sizes:  # a free parameter, or one renamed by --set n=N (bound as N)
            overrides[name] = sizes[str(value)]
    result = analyze_model(model.source, overrides)
    unbound = [name for name, value in result.symbols.items() if value is None]
    if unbound:
        raise ShapeproofError(f"{model.name}: the inputs do not determine {', '.join(unbound)}",
                              hint="give it a value with --set NAME=VALUE")
    return result


def split_weights(model: Model, weights: list) -> dict[str, list[np.ndarray]]:
    """The flat `get_weights()` list cut per layer, every array's shape checked against the model."""
    expected = [(node, w) for node in model.nodes for w in node.weights]
    if len(weights) != len(expected):
        detail = ", ".join(f"{n.name}.{w.name} {format_shape(w.shape)}" for n, w in expected) or "none"
        raise ShapeproofError(f"{model.name} has {len(expected)} weight arrays, got {len(weights)}",
                              hint=f"in order: {detail}")
    per_layer: dict[str, list] = {node.name: [] for node in model.nodes}
    for (node, w), array in zip(expected, weights):
        shape = tuple(int(d) for d in w.shape)
        if tuple(np.shape(array)) != shape:
            raise ShapeproofError(f"layer {node.name!r} ({node.type}) weight {w.name!r} must have shape "
                                  f"{shape}, got {tuple(np.shape(array))}")
        per_layer[node.name].append(np.asarray(array))
    return per_layer


def forward(model: Model, weights: list, *inputs, dtype=np.float32, keep: bool = False):
    """Run the model on `inputs` (one array per `input` statement) with Keras-ordered `weights`.

    Returns the output array, or a tuple of them for several outputs; with `keep=True`, also a dict
    of every layer's output(s) by layer name (for per-layer comparisons).
    """
    inputs = [np.asarray(x) for x in inputs]
    model = concrete(model, bind_symbols(model, inputs))
    per_layer = split_weights(model, [np.asarray(w, dtype=dtype) for w in weights])
    values: dict[tuple[str, int], np.ndarray] = {}
    for spec, x in zip(model.inputs, inputs):
        values[(spec.name, 0)] = x if spec.dtype.startswith(("int", "uint", "bool")) else x.astype(dtype)
    outputs_by_layer = {}
    for node in model.nodes:
        given = [values[ref] for ref in node.input_refs]
        out = node.layer.reference(given if node.layer.inputs == "many" else given[0], per_layer[node.name])
        outs = out if isinstance(out, list) else [out]
        for i, y in enumerate(outs):
            values[(node.name, i)] = y
        outputs_by_layer[node.name] = out
    result = [values[ref] for ref in model.output_refs]
    result = result[0] if len(result) == 1 else tuple(result)
    return (result, outputs_by_layer) if keep else result
