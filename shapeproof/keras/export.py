"""A shapeproof model in real Keras 3, call for call (same classes, arguments and names), and as the
Python source that builds it (`shapeproof export`).

Keras is our peer: the cross-check tests and the benchmarks use `build_keras` to compare shapes,
parameter counts and timings. `python_source` needs nothing; the rest needs the `keras` extra
(set KERAS_BACKEND before the first import). Free sizes other than the batch axis become None
input axes where Keras allows it; a size that a weight or an argument needs must be given (--set).
"""
from __future__ import annotations

import keyword
import re

import sympy

from shapeproof import analyzer
from shapeproof.analyzer import ir
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.graph import block_inputs
from shapeproof.analyzer.layers.ops import Operation
from shapeproof.analyzer.values import evaluate


def _python(value):
    """SymPy integers -> int, recursively through tuples and lists."""
    if isinstance(value, sympy.Basic):
        if not value.is_number:
            raise ShapeproofError(f"a Keras argument would be {value}: give {', '.join(map(str, value.free_symbols))} "
                                  "a value", hint="e.g. --set " + f"{sorted(map(str, value.free_symbols))[0]}=16")
        return int(value)
    if isinstance(value, tuple):
        return tuple(_python(v) for v in value)
    if isinstance(value, list):
        return [_python(v) for v in value]
    return value


# Layer classes Keras registers outside keras.layers: the module that defines each.
OUTSIDE_LAYERS = {"LayerScale": "keras.src.applications.convnext",
                  "CustomScaleLayer": "keras.src.applications.inception_resnet_v2"}


def keras_class(kind: str):
    """The Keras class of a layer kind."""
    import importlib

    import keras

    return getattr(importlib.import_module(OUTSIDE_LAYERS[kind]) if kind in OUTSIDE_LAYERS else keras.layers, kind)


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
    return keras_class(call.name)(*args, **kwargs)


def keras_operation(op: Operation, values: dict, name: str):
    """The Keras operation (keras.src.ops) for one operation node, with its options and our name."""
    import importlib

    args = [_python(evaluate(a, values)) for a in op.call.args]
    kwargs = {kw.name: _python(evaluate(kw.value, values)) for kw in op.call.keywords}
    return getattr(importlib.import_module(op.keras_module), op.keras_class)(*args, **kwargs, name=name)


def operands(op: Operation, given: list) -> list:
    """An operation's call arguments: its tensors in place, its numbers as written (`x * 0.5`), or the
    list of tensors of concatenate."""
    if op.operand_count == "list":
        return [given]
    tensors = iter(given)
    return [next(tensors) if o is None else o for o in op.operands]


def call_arguments(layer, given: list) -> tuple[list, dict]:
    """(args, kwargs) of a layer's Keras call: its value (a list for merges), or with a call signature
    (MultiHeadAttention) the tensors Keras takes positionally, then the others and the call options
    the spec wrote as keywords."""
    signature = layer.call_signature
    if signature is None or not signature.tensors:
        n = len(given) - len(layer.call_inputs)  # Attention: [query, value(, key)], then the masks given
        kwargs = {}
        for key, items in (signature.tensor_lists if signature is not None else {}).items():
            got = dict(zip(layer.call_inputs, given[n:]))
            if any(item in got for item in items):
                kwargs[key] = [got.get(item) for item in items]  # mask=[None, value_mask]
        args = [given[:n] if layer.inputs == "many" else given[0]]
        return args, {**kwargs, **{name: layer.call_options[name] for name in layer.call_given}}
    args, kwargs = [], {}
    for i, (name, tensor) in enumerate(zip(layer.call_inputs, given)):
        if not kwargs and i < len(signature.tensors) and signature.tensors[i] == name:
            args.append(tensor)
        else:
            kwargs[name] = tensor
    kwargs.update({name: layer.call_options[name] for name in layer.call_given})
    return args, kwargs


def keras_shape(shape, free_as_none: bool = False) -> tuple:
    """A shape with the batch axis as None and every other axis concrete (or None when free and
    `free_as_none`: Keras's variable-length axes)."""
    out = []
    for i, d in enumerate(shape):
        if i == 0 or (free_as_none and not d.is_number):
            out.append(None)
        else:
            if not d.is_number:
                raise ShapeproofError(f"input axis {i} is {d}: give {', '.join(map(str, d.free_symbols))} a value",
                                      hint="--set NAME=VALUE binds a size")
            out.append(int(d))
    return tuple(out)


def build_keras(model: analyzer.Model, free_as_none: bool = False):
    """(keras.Model, {layer name: keras layer}) built from the analysed model's calls; each block call
    (and each model used as a layer) a nested Keras model, as Keras users nest them."""
    import keras

    tensors = {}
    for inp in model.inputs:
        tensors[(inp.name, 0)] = keras.Input(shape=keras_shape(inp.shape, free_as_none)[1:], dtype=inp.dtype,
                                             name=inp.name)
    layers = {}
    calls = model.extra.get("blocks", {})
    for node in model.nodes:
        if node.block is None:
            _build_node(node, tensors, layers)
        elif node.block not in layers:  # a block call's first layer: the whole call, once
            members = [n for n in model.nodes if n.block == node.block]
            outer = block_inputs(members)
            inner = {ref: keras.Input(shape=tensors[ref].shape[1:], dtype=tensors[ref].dtype,
                                      name=f"{node.block}_input_{i}") for i, ref in enumerate(outer)}
            for member in members:
                _build_node(member, inner, layers)
            outputs = calls[node.block][1]
            results = inner[outputs[0]] if len(outputs) == 1 else [inner[r] for r in outputs]
            nested = keras.Model([inner[r] for r in outer], results, name=node.block)
            outs = nested([tensors[r] for r in outer])
            for ref, t in zip(outputs, outs if isinstance(outs, (list, tuple)) else [outs], strict=True):
                tensors[ref] = t
            layers[node.block] = (nested, outs)
    outputs = [tensors[ref] for ref in model.output_refs]
    return keras.Model([tensors[(i.name, 0)] for i in model.inputs], outputs, name=model.name), layers


def _build_node(node, tensors: dict, layers: dict):
    """Call one node's Keras layer (or operation) on its inputs in `tensors`, adding its outputs there."""
    given = [tensors[ref] for ref in node.input_refs]
    if isinstance(node.layer, Operation):
        layer = keras_operation(node.layer, node.values, node.name)
        out = layer(*operands(node.layer, given))
    else:
        layer = keras_layer(node.layer.call, node.values, node.name)
        args, kwargs = call_arguments(node.layer, given)
        out = layer(*args, **kwargs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    for i, t in enumerate(outs):
        tensors[(node.name, i)] = t
    layers[node.name] = (layer, outs)


def python_source(model: analyzer.Model, source_file: str = "") -> str:
    """The Keras code that builds the model: one line per layer, Keras's names kept; a block call a
    nested keras.Model (its inputs, its layers, then the model applied where the spec calls it)."""
    names: dict = {}
    shapes = {(i.name, 0): (i.shape, i.dtype) for i in model.inputs}
    shapes.update({(n.name, k): (s, n.dtype) for n in model.nodes for k, s in enumerate(n.output_shapes)})
    lines = [f'"""Keras 3 model {model.name}, exported by shapeproof' + (f" from {source_file}" if source_file else "")
             + '."""', "import keras", "from keras import layers", "", "",
             f"def build_{_identifier(model.name).lower()}():"]
    outside = sorted({n.layer.kind for n in model.nodes} & set(OUTSIDE_LAYERS))
    if outside:
        lines[3:3] = [f"from {OUTSIDE_LAYERS[kind]} import {kind}" for kind in outside]
    for inp in model.inputs:
        names[(inp.name, 0)] = v = _identifier(inp.name)
        shape = keras_shape(inp.shape, free_as_none=True)[1:]
        lines.append(f"    {v} = keras.Input(shape={shape!r}, dtype={inp.dtype!r}, name={inp.name!r})")
    calls = model.extra.get("blocks", {})
    done = set()
    for node in model.nodes:
        if node.block is None:
            lines.append(_node_source(node, names))
        elif node.block not in done:  # a block call's first layer: the whole nested model, once
            done.add(node.block)
            label, kind = node.block, calls[node.block][0]
            members = [n for n in model.nodes if n.block == label]
            outer = block_inputs(members)
            inner = dict(names)
            lines.append(f"    # {label}: block {kind}, a nested model")
            for i, ref in enumerate(outer):
                shape, dtype = shapes[ref]
                inner[ref] = v = f"{_identifier(label)}_input_{i}"
                lines.append(f"    {v} = keras.Input(shape={keras_shape(shape, free_as_none=True)[1:]!r}, "
                             f"dtype={dtype!r}, name={v!r})")
            lines += [_node_source(m, inner) for m in members]
            outputs = calls[label][1]
            v = _identifier(label)
            results = inner[outputs[0]] if len(outputs) == 1 else f"[{', '.join(inner[r] for r in outputs)}]"
            lines.append(f"    {v} = keras.Model([{', '.join(inner[r] for r in outer)}], {results}, name={label!r})")
            outs = [f"{v}_out" + (f"_{k}" if len(outputs) > 1 else "") for k in range(len(outputs))]
            lines.append(f"    {', '.join(outs)} = {v}([{', '.join(names[r] for r in outer)}])")
            names.update(zip(outputs, outs))
    ins = ", ".join(names[(i.name, 0)] for i in model.inputs)
    outs = ", ".join(names[ref] for ref in model.output_refs)
    lines.append(f"    return keras.Model([{ins}], [{outs}], name={model.name!r})")
    lines += ["", "", f"model = build_{_identifier(model.name).lower()}()", ""]
    return "\n".join(lines)


def _node_source(node, names: dict) -> str:
    """One layer's (or operation's) line, its outputs' variables added to `names`."""
    outs = [_identifier(node.name) + (f"_{k}" if len(node.output_shapes) > 1 else "")
            for k in range(len(node.output_shapes))]
    given = [names[ref] for ref in node.input_refs]
    for k, v in enumerate(outs):
        names[(node.name, k)] = v
    if isinstance(node.layer, Operation):
        return f"    {', '.join(outs)} = {_operation_text(node.layer, node.values, given)}"
    args, kwargs = call_arguments(node.layer, given)
    applied = ", ".join([f"[{', '.join(a)}]" if isinstance(a, list) else a for a in args] +
                        [f"{k}={_source(v)}" for k, v in kwargs.items()])
    return f"    {', '.join(outs)} = {_call_text(node.layer.call, node.values, node.name)}({applied})"


def _source(value) -> str:
    """A call argument in the Python source: a tensor's variable as is, a list of them (mask=[None, vm])."""
    if isinstance(value, list):
        return f"[{', '.join(_source(v) for v in value)}]"
    return value if isinstance(value, str) else repr(value)


def _call_text(call: ir.Call, values: dict, name: str | None) -> str:
    parts = []
    for node in call.args:
        v = evaluate(node, values)
        parts.append(_call_text(v, values, None) if isinstance(v, ir.Call) else repr(_python(v)))
    for kw in call.keywords:
        v = evaluate(kw.value, values)
        parts.append(f"{kw.name}=" + (_call_text(v, values, None) if isinstance(v, ir.Call) else repr(_python(v))))
    if name is not None and all(kw.name != "name" for kw in call.keywords):  # a `name=` written is kept
        parts.append(f"name={name!r}")
    return f"{'' if call.name in OUTSIDE_LAYERS else 'layers.'}{call.name}({', '.join(parts)})"


def _operation_text(op: Operation, values: dict, given: list) -> str:
    """`a + b`, `a * 0.5` where the spec's operator records the same Keras class, else
    `keras.ops.mean(a, axis=1)`: Keras names them as we do (add, multiply, mean, ...)."""
    parts = [f"[{', '.join(given)}]" if p is given else p if isinstance(p, str) else repr(p)
             for p in operands(op, given)]
    symbol = getattr(op, "symbol", None)
    if symbol is not None:
        return f"{parts[0]} {symbol} {parts[1]}"
    if op.kind == "negative":
        return f"-{parts[0]}"
    options = [repr(_python(evaluate(a, values))) for a in op.call.args]
    options += [f"{kw.name}={_python(evaluate(kw.value, values))!r}" for kw in op.call.keywords]
    return f"keras.ops.{op.kind}({', '.join(parts + options)})"


def _identifier(name: str) -> str:
    text = re.sub(r"\W", "_", name)
    return text if text.isidentifier() and not keyword.iskeyword(text) else f"_{text}"


def export_keras(model: analyzer.Model, path: str):
    """Build the model in Keras and save it, untrained (.keras)."""
    keras_model, _ = build_keras(model, free_as_none=True)
    keras_model.save(path)
    return keras_model
