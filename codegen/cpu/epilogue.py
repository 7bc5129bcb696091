"""Epilogue fusion: element-wise layers computed in the stores of the convolution before them.

Note: a convolution followed by BatchNormalization (inference) and an activation, as in every block of
ResNet, MobileNet and EfficientNet, writes its output once, normalised and activated, instead of three
kernels each reading and writing the whole tensor (and three calls from forward). A layer joins the
epilogue of the kernel before it when:
- it is printed from its element formula (codegen/elements.py) and that formula reads its one input at
  the output's own index and its weights along the last axis only (BatchNormalization over the
  channels, activations, ReLU, Rescaling, LayerScale, ...), with no softmax-like activation;
- the kernel before it is a convolution (FUSE_INTO) whose own activation is element-wise;
- nothing else reads the value between them (nor is it a model output).
Its weights become parameters of the convolution's kernel; the parts of its formula that vary along
the channels only (BatchNormalization's gamma / sqrt(variance + epsilon), hoisted as for its own
kernel) are computed into tables once per call, before the loops; each stored value then goes
through the chain. The layer itself gets no kernel and no call.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sympy

from ..elements import ELEMENT_KINDS, ElementForm, ValuePrinter, element_form, without_last_axis_activation
from ..errors import CodegenError
from ..writer import Writer
from .activations import element, last_axis_pass
from .base import Site

FUSE_INTO = {"Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
             "SeparableConv2D"}

VALUE = sympy.Symbol("ev")  # the value being stored, as the fused formulas read it
CHANNEL = sympy.Symbol("CHANNEL_")  # stands for the channel index in a stage's printed statements


@dataclass
class Stage:
    """One fused layer: its element formula over its input `v` and its weights' parameter names."""

    name: str  # the layer's name
    text: str  # its DSL line
    form: ElementForm
    prefix: str  # its tables' names start with this
    lines: list[str] | None = None  # its statements in a store (see _statements)


def plan(model, sites: list[Site]) -> dict[str, str]:
    """Fuse what can be fused: each site's `epilogue` gets its Stages (and their weights); returns each
    fused layer's name -> the name of the layer whose kernel computes it."""
    readers = Counter(ref for node in model.nodes for ref in node.input_refs)
    readers.update(model.output_refs)
    owner_of: dict[str, str] = {}  # fused layer -> the layer whose kernel computes it
    by_name = {node.name: (node, site) for node, site in zip(model.nodes, sites)}
    for node, site in zip(model.nodes, sites):
        if node.type not in ELEMENT_KINDS or len(node.input_refs) != 1 or len(node.output_shapes) != 1:
            continue
        ref = node.input_refs[0]
        owner = owner_of.get(ref[0], ref[0])
        if owner not in by_name or readers[ref] != 1:
            continue
        producer, target = by_name[owner]
        if (producer.type not in FUSE_INTO or len(producer.output_shapes) != 1
                or last_axis_pass(producer.layer.activation, "out")
                or tuple(node.output_shapes[0]) != tuple(target.y)):
            continue
        form = _form(node, [w.name for w in node.weights])
        if form is None:
            continue
        first = len(target.args()) - 1  # where the layer's weights go: after the kernel's own, before `out`
        target.weights = list(target.weights) + list(node.weights)
        names = target.args()[first:first + len(node.weights)]  # renamed where the kernel's own clash
        renamed = {sympy.IndexedBase(w.name): sympy.IndexedBase(n) for w, n in zip(node.weights, names)}
        form = ElementForm(form.index, form.value.xreplace(renamed),
                           [(name, e.xreplace(renamed), axis) for name, e, axis in form.bindings])
        target.epilogue.append(Stage(node.name, node.text, form, f"z{len(target.epilogue)}_"))
        owner_of[node.name] = owner
    return owner_of


def _form(node, weights: list[str]) -> ElementForm | None:
    """The layer's element formula over a scalar input read at the output's own index, or None when it
    reads anything else (another position, a weight along another axis) or cannot be printed."""
    layer, last_axis = without_last_axis_activation(node.layer)
    if last_axis:
        return None
    rank = len(node.output_shapes[0])
    shape = tuple(sympy.Symbol(f"n{a}", integer=True, positive=True) for a in range(rank))
    try:
        form = element_form(layer, [("v", shape)], weights, rank)
    except (CodegenError, TypeError, ValueError):
        return None
    own, others = tuple(form.index), set(form.index[:-1])
    for expr in [form.value] + [e for _, e, _ in form.bindings]:
        for read in expr.atoms(sympy.Indexed):
            if read.base.name == "v" and read.indices != own:
                return None
            if read.base.name != "v" and any(i.free_symbols & others for i in read.indices):
                return None
        plain = expr.xreplace({sympy.IndexedBase("v")[own]: VALUE})
        if plain.free_symbols & others:
            return None
    if any(axis not in (None, rank - 1) for _, _, axis in form.bindings):
        return None
    return form


def tables(site: Site, w: Writer):
    """Before the kernel's loops: the fused layers' per-channel tables (once per call)."""
    p = ValuePrinter(w)
    for stage in site.epilogue:
        for name, expr, axis in stage.form.bindings:
            table = stage.prefix + name.name
            if axis is None:
                w.line(f"{table} = {p.value(expr)}")
                continue
            w.line(f"{table} = np.empty({site.yd(-1)}, dtype=DT)")
            with w.block(f"for c in range({site.yd(-1)})"):
                w.line(f"{table}[c] = {p.value(expr.xreplace({stage.form.index[axis]: sympy.Symbol('c')}))}")


def stored(site: Site, w: Writer, value: str, channel: str) -> str:
    """The expression to store for the kernel's sum `value` of output channel `channel` (source): its
    own activation, then each fused layer (their statements written to `w` first)."""
    result = element(site.layer.activation, value)
    if not site.epilogue:
        return result
    w.line(f"{VALUE} = {result}")
    for stage in site.epilogue:
        for line in _statements(stage):  # printed once per layer: a kernel stores in up to 16 places
            w.line(line.replace(CHANNEL.name, channel))
    return str(VALUE)


def _statements(stage: Stage) -> list[str]:
    """The statements that apply a fused layer to `ev`, the channel index written as CHANNEL_."""
    if stage.lines is None:
        form, last = stage.form, stage.form.index[-1]
        at = {sympy.IndexedBase("v")[tuple(form.index)]: VALUE}
        at.update({name: sympy.IndexedBase(stage.prefix + name.name)[last] if axis is not None
                   else sympy.Symbol(stage.prefix + name.name) for name, _, axis in form.bindings})
        scratch = Writer()
        expr = form.value.xreplace(at).xreplace({last: CHANNEL})
        scratch.line(f"{VALUE} = {ValuePrinter(scratch).value(expr)}")
        stage.lines = scratch.lines
    return stage.lines
