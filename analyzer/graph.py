"""Syntax IR of one model -> analysed graph: symbols bound, layers built, shapes and costs derived.

This is the one pass that walks a model's statements. Each layer kind answers for itself
(output shape, weights, constraints, MACs, receptive field); this module wires values between
statements, collects the answers into `Node`s and checks what holds for every layer (no dimension
may become zero or negative).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from . import ir
from .errors import ShapeproofError, Span
from .layers import REGISTRY, Constraint, Layer, Weight, build_layer, format_shape, to_snake_case
from .layers.ops import OPERATORS, Operation, is_operation
from .receptive import RF
from .symbolic import lower_bounds, max_of, normalize, strongest
from .values import did_you_mean, evaluate, is_integer, symbol

DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int8": 1, "uint8": 1,
               "int16": 2, "int32": 4, "int64": 8, "bool": 1}


@dataclass
class Tensor:
    """A value flowing between statements."""

    shape: tuple
    dtype: str
    producer: str  # the name of the input or layer that made it
    rf: RF
    index: int = 0  # which output of the producer (layers with return_state have several)


@dataclass
class Input:
    name: str
    shape: tuple
    dtype: str
    line: int


@dataclass
class Node:
    """One layer applied in a model, with everything derived about it."""

    name: str
    layer: Layer
    inputs: list[str]
    input_refs: list[tuple[str, int]]  # (producer, output index) per input
    input_shapes: object  # a shape, or a list of shapes for merges
    output_shapes: list[tuple]  # one per output (several with return_state / merge_mode=None)
    dtype: str
    weights: list[Weight]
    trainable_params: sympy.Expr
    non_trainable_params: sympy.Expr
    macs: sympy.Expr
    receptive_field: list
    constraints: list[Constraint]
    span: Span
    text: str
    block: str | None = None  # the block call this layer belongs to (`bottleneck_1`), or None
    values: dict | None = None  # the names its call's arguments were evaluated with (a block's own)

    @property
    def type(self) -> str:
        return self.layer.kind

    @property
    def params(self) -> sympy.Expr:
        return self.trainable_params + self.non_trainable_params

    @property
    def output_shape(self):
        """A shape, or a list of shapes when the layer has several outputs (as in the JSON)."""
        return self.output_shapes[0] if len(self.output_shapes) == 1 else self.output_shapes

    @property
    def elements(self) -> sympy.Expr:
        return sum((sympy.Mul(*s) for s in self.output_shapes), sympy.Integer(0))

    @property
    def bytes(self) -> sympy.Expr:
        return self.elements * DTYPE_BYTES[self.dtype]


@dataclass
class Model:
    """An analysed model: the graph, its totals and its validity constraints."""

    name: str
    symbols: dict  # parameter name -> SymPy value, or None when free
    values: dict  # parameter name -> SymPy value or free Symbol
    inputs: list[Input]
    nodes: list[Node]
    outputs: list[tuple[str, tuple]]  # (producer name, shape) per model output
    output_refs: list[tuple[str, int]]  # (producer name, output index) per model output
    constraints: list[Constraint]
    peak_activation_bytes: sympy.Expr
    source: ir.Model
    line: int = 0
    extra: dict = field(default_factory=dict)
    fused_peak_bytes: sympy.Expr | None = None  # the peak with the generated kernels' own intermediates

    @property
    def trainable_params(self):
        return sympy.Add(*(n.trainable_params for n in self.nodes))

    @property
    def non_trainable_params(self):
        return sympy.Add(*(n.non_trainable_params for n in self.nodes))

    @property
    def total_params(self):
        return self.trainable_params + self.non_trainable_params

    @property
    def macs(self):
        return sympy.Add(*(n.macs for n in self.nodes))

    @property
    def layer_kinds(self) -> list[tuple[str, str]]:
        """(name, Keras class) of every layer, in order: where a Keras weight file keeps its arrays."""
        return [(n.name, n.layer.keras_class) for n in self.nodes]

    @property
    def weight_shapes(self) -> list[tuple[str, str, tuple]]:
        """(layer, weight, shape) in get_weights() order, shapes as ints (every weight size concrete)."""
        return [(n.name, w.name, tuple(int(d) for d in w.shape)) for n in self.nodes for w in n.weights]

    @property
    def free_symbols(self) -> list[sympy.Symbol]:
        return [v for k, v in self.values.items() if self.symbols[k] is None]

    @property
    def output_shapes(self) -> list[tuple]:
        return [shape for _, shape in self.outputs]


def keras_order(nodes: list[Node], output_refs: list, calls: dict) -> list[Node]:
    """The layers in the order Keras's functional model lists them (model.layers, get_weights(), the
    summary): by depth from the outputs, deepest first, ties in the order a depth-first walk from the
    outputs meets them (keras/src/ops/function.py map_graph). A block call is one nested model: ordered
    as a unit here, its own layers by the same rule inside it."""
    units: dict = {}  # a layer's name or a block call's label -> its layers, in statement order
    for n in nodes:
        units.setdefault(n.block or n.name, []).append(n)
    producer = {(n.name, k): n.block or n.name for n in nodes for k in range(len(n.output_shapes))}
    reads = {u: block_inputs(members) for u, members in units.items()}
    ordered = []
    for unit in _depth_order(reads, producer, output_refs):
        members = units[unit]
        if members[0].block is None:
            ordered += members
        else:
            inner_reads = {m.name: m.input_refs for m in members}
            inner = {(m.name, k): m.name for m in members for k in range(len(m.output_shapes))}
            by_name = {m.name: m for m in members}
            ordered += [by_name[u] for u in _depth_order(inner_reads, inner, calls[unit][1])]
    return ordered


def _depth_order(reads: dict, producer: dict, output_refs: list) -> list:
    """Keras's map_graph order of the units (`reads`: unit -> the refs it reads; `producer`: ref ->
    its unit, refs of no unit are inputs)."""
    index, post = {}, []  # Keras's _build_map_helper: a traversal index on entry, post-order on exit
    for ref in output_refs:
        if ref not in producer or producer[ref] in index:
            continue
        index[producer[ref]] = len(index)
        stack = [(producer[ref], iter(reads[producer[ref]]))]
        while stack:  # depth-first without recursion: a 1,000-layer chain is deeper than Python's stack
            unit, pending = stack[-1]
            for read in pending:
                if read in producer and producer[read] not in index:
                    index[producer[read]] = len(index)
                    stack.append((producer[read], iter(reads[producer[read]])))
                    break
            else:
                stack.pop()
                post.append(unit)
    depth: dict = {}
    for unit in reversed(post):
        d = depth.setdefault(unit, 0)
        for ref in reads[unit]:
            if ref in producer:
                depth[producer[ref]] = max(depth.get(producer[ref], 0), d + 1)
    order = sorted(post, key=lambda u: (-depth[u], index[u]))
    return order + [u for u in reads if u not in index]  # layers no output needs: last, in statement order


def block_inputs(members: list[Node]) -> list:
    """The values a block call (its layers: `members`) reads from outside it, in order."""
    inside = {m.name for m in members}
    return list(dict.fromkeys(r for m in members for r in m.input_refs if r[0] not in inside))


class Names:
    """Hands out Keras-style unique names within a model: dense, dense_1, dense_2, ..."""

    def __init__(self):
        self.taken: set[str] = set()
        self.next_suffix: dict[str, int] = {}  # so that the 1,000th dense costs no more than the first

    def claim(self, base: str, explicit: bool = False, span: Span | None = None) -> str:
        if explicit:
            if base in self.taken:
                raise ShapeproofError(f"the name {base!r} is used twice in this model", span,
                                      "layer names must be unique within a model")
            self.taken.add(base)
            return base
        name, i = base, self.next_suffix.get(base, 0)
        if i:
            name = f"{base}_{i}"
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.next_suffix[base] = i + 1
        self.taken.add(name)
        return name


def bind_symbols(model: ir.Model, overrides: dict) -> tuple[dict, dict]:
    """(symbols, values): each parameter's given value (None when free) and its SymPy value."""
    symbols: dict = {}
    values: dict = {}
    for param in model.params:
        if param.name in values:
            raise ShapeproofError(f"parameter {param.name!r} is declared twice", param.span)
        if param.name in overrides:
            given = overrides[param.name]
            value = symbol(given) if isinstance(given, str) else sympy.Integer(given)
            symbols[param.name] = None if isinstance(given, str) else value
        elif param.default is not None:
            value = evaluate(param.default, values)
            if not is_integer(value):
                raise ShapeproofError(f"the default of {param.name!r} must be an integer", param.default.span)
            symbols[param.name] = value if value.is_number else None
        else:
            value = symbol(param.name)
            symbols[param.name] = None
        if value.is_number and value < 1:
            raise ShapeproofError(f"dimension {param.name!r} must be at least 1, got {value}", param.span)
        values[param.name] = value
    return symbols, values


@dataclass
class _Scope:
    """Where statements are analysed: a model's body, or a block's body at one call site."""

    values: dict  # size and number names -> SymPy values
    env: dict  # value names -> Tensor (or a tuple of them)
    block: str | None = None  # the block call the layers belong to
    depth: int = 0
    feeds: list | None = None  # a called model's body: the values its `input` statements take, in order


@dataclass
class _Context:
    """What one model's analysis shares across its scopes."""

    model: ir.Model
    names: Names
    blocks: dict  # name -> ir.Block, or ir.Model for another model of the file used as a layer
    nodes: list
    inputs: list
    ranks: list
    block_calls: dict  # label -> (block name, output refs)


def analyze_model(model: ir.Model, overrides: dict | None = None) -> Model:
    """Analyse one model: bind its symbols, build its layers, derive every node (raises ShapeproofError)."""
    symbols, values = bind_symbols(model, overrides or {})
    input_stmts = [s for s in model.body if isinstance(s, ir.InputStmt)]
    if not input_stmts:
        raise ShapeproofError(f"model {model.name!r} has no input", model.name_span,
                              "start the body with `input (batch, ...)`")
    ranks = [(len(_shape_of(s, values)), _dtype_of(s).startswith(("int", "uint", "bool"))) for s in input_stmts]
    ctx = _Context(model, Names(), {b.name: b for b in model.blocks}, [], [], ranks, {})
    previous, outputs = _run(model.body, _Scope(values, {}), ctx)
    if outputs is None:
        outputs = [_single(previous, model.body[-1].span)]
    nodes, inputs = keras_order(ctx.nodes, [(t.producer, t.index) for t in outputs], ctx.block_calls), ctx.inputs
    constraints = _dedupe([c for n in nodes for c in n.constraints])
    named = [(t.producer, t.shape) for t in outputs]
    bounds = lower_bounds([c.condition for c in constraints])
    peak = _peak_activation_bytes(inputs, nodes, named, bounds, lambda layer, x: layer.intermediate_shapes(x))
    fused = peak  # the same unless a layer holds tensors inside (attention): then a second pass
    if any(n.layer.intermediate_shapes(n.input_shapes) for n in nodes):
        fused = _peak_activation_bytes(inputs, nodes, named, bounds, lambda layer, x: layer.fused_intermediate_shapes(x))
    return Model(model.name, symbols, values, inputs, nodes, named, [(t.producer, t.index) for t in outputs],
                 constraints, peak, model, model.span.line, {"blocks": ctx.block_calls}, fused)


def _run(body: tuple, scope: _Scope, ctx: _Context, previous=None):
    """Analyse statements in order: (the last value, the `output` values or None)."""
    outputs = None
    for stmt in body:
        if outputs is not None:
            raise ShapeproofError("statements after `output`", stmt.span, "`output` ends a body")
        if isinstance(stmt, ir.InputStmt) and scope.feeds is not None:
            previous = _feed(stmt, scope)
        elif isinstance(stmt, ir.InputStmt):
            if scope.block is not None:
                raise ShapeproofError("a block takes its inputs as parameters, not with `input`", stmt.span,
                                      "write `block NAME(x, ...):` and use x")
            values = scope.values
            shape, dtype = _shape_of(stmt, values), _dtype_of(stmt)
            name = ctx.names.claim(stmt.target, explicit=True, span=stmt.span) if stmt.target else \
                ctx.names.claim("input")
            rf = RF.of_input(shape, dtype.startswith(("int", "uint", "bool")), len(ctx.inputs), ctx.ranks)
            previous = scope.env[name] = Tensor(shape, dtype, name, rf)
            ctx.inputs.append(Input(name, shape, dtype, stmt.span.line))
        elif isinstance(stmt, (ir.LayerStmt, ir.ExprStmt)):
            previous = _statement(stmt, scope, ctx, previous)
        elif isinstance(stmt, ir.RepeatStmt):
            for _ in range(stmt.count):
                previous = _layer_statement(ir.LayerStmt((), stmt.call, None, stmt.span), scope, ctx, previous)
        elif isinstance(stmt, ir.OutputStmt):
            if stmt.layer is not None:
                outputs = [_single(_statement(stmt.layer, scope, ctx, previous), stmt.span)]
            else:
                outputs = [_single(_lookup(n, scope.env), n.span) for n in stmt.names]
    return previous, outputs


def _statement(stmt, scope: _Scope, ctx: _Context, previous):
    """A layer statement or tensor arithmetic: the value(s) it produces, bound to its names. A bare
    call of an operation (`relu(x)`) is arithmetic; of a layer (`Dense(4)`), applied to `previous`."""
    if isinstance(stmt, ir.LayerStmt) and stmt.applied_to is None and stmt.call.name not in ctx.blocks and (
            is_operation(stmt.call.name) or stmt.call.name not in REGISTRY):
        stmt = ir.ExprStmt(stmt.targets, stmt.call, stmt.span)
    if isinstance(stmt, ir.ExprStmt):
        value = _expression(stmt.value, scope, ctx, stmt)
        if not isinstance(value, (Tensor, tuple)):
            raise ShapeproofError("this expression is a number, not a tensor", stmt.value.span,
                                  "tensor arithmetic needs at least one tensor operand, e.g. `y = x * 0.5`")
        return _bind_targets(stmt, "this expression", list(value) if isinstance(value, tuple) else [value],
                             scope.env)
    return _layer_statement(stmt, scope, ctx, previous)


def _layer_statement(stmt: ir.LayerStmt, scope: _Scope, ctx: _Context, previous):
    """A layer (or block) applied to its value(s): the value(s) it produces, bound to its names."""
    given = previous if stmt.applied_to is None else _operand(stmt.applied_to, scope, ctx)
    if given is None:
        raise ShapeproofError("this layer has no input", stmt.span, "start the body with `input (batch, ...)`")
    if stmt.call.name in ctx.blocks:
        if stmt.keywords:
            raise ShapeproofError(f"block {stmt.call.name} takes no keyword call arguments", stmt.keywords[0].span,
                                  f"give its numbers in the first call: `{stmt.call.name}(...)(x)`")
        if stmt.more:  # `Block(...)(a, b)` is `Block(...)([a, b])`
            given = [_single(_operand(v, scope, ctx) if i else given, v.span)
                     for i, v in enumerate([stmt.applied_to, *stmt.more])]
        callee = ctx.blocks[stmt.call.name]
        expand = _call_model if isinstance(callee, ir.Model) else _expand
        produced = expand(callee, stmt, given, scope, ctx)
        return _bind_targets(stmt, stmt.call.name, produced, scope.env)
    layer = build_layer(stmt.call, scope.values, ctx.names)
    if isinstance(layer, Operation):
        raise ShapeproofError(f"{stmt.call.name} is an operation: write its operands as arguments",
                              stmt.call.span, f"e.g. `y = {stmt.call.name}(x)`")
    given = _call_values(layer, stmt, given, scope, ctx)
    node, produced = _apply(layer, given, stmt, ctx.model)
    node.block, node.values = scope.block, scope.values
    ctx.nodes.append(node)
    return _bind_targets(stmt, layer.kind, produced, scope.env)


def _call_values(layer: Layer, stmt: ir.LayerStmt, first, scope: _Scope, ctx: _Context):
    """What the layer is given, with Keras's call arguments beyond the first value: the further values
    and keyword tensors (in the layer's call_signature) are collected into a list, in the order the
    layer is told through `bind_call`, and its call options are checked and bound."""
    signature = layer.call_signature
    if signature is None:
        if stmt.more:
            raise ShapeproofError(f"{layer.kind} is applied to one value, got {1 + len(stmt.more)}", stmt.more[0].span,
                                  f"a merge takes a list: `{layer.kind}()([a, b])`" if layer.inputs == "many" else
                                  f"apply it to one tensor: `{layer.kind}(...)(x)`")
        if stmt.keywords:
            kw = stmt.keywords[0]
            raise ShapeproofError(f"{layer.kind} takes no call argument {kw.name!r}", kw.span,
                                  "only layers with Keras call arguments take them, e.g. "
                                  "`MultiHeadAttention(4, 16)(q, v, use_causal_mask=True)`")
        return first
    names, values = [], []
    if signature.tensors:
        if isinstance(first, list):
            raise ShapeproofError(f"{layer.kind} takes its values as separate arguments, not a list",
                                  stmt.applied_to.span, f"write `{layer.kind}(...)({', '.join(signature.tensors[:2])})`")
        values = [first, *(_operand(v, scope, ctx) for v in stmt.more)]
        if len(values) > len(signature.tensors):
            raise ShapeproofError(f"{layer.kind} takes at most {len(signature.tensors)} values "
                                  f"({', '.join(signature.tensors)}), got {len(values)}",
                                  stmt.more[len(signature.tensors) - 1].span,
                                  f"its other call arguments are keywords: {', '.join(signature.keywords)}")
        names = list(signature.tensors[:len(values)])
    elif stmt.more:
        raise ShapeproofError(f"{layer.kind} is applied to one value, got {1 + len(stmt.more)}", stmt.more[0].span,
                              f"write `{layer.kind}(...)([a, b])`" if layer.inputs == "many" else None)
    options, spans, lists = {}, [stmt.applied_to, *stmt.more], set()
    for kw in stmt.keywords:
        if kw.name in signature.tensor_lists:
            if kw.name in lists:
                raise ShapeproofError(f"{layer.kind}'s {kw.name!r} is given twice", kw.span)
            lists.add(kw.name)
            for name, item in _tensor_list(layer, kw, signature.tensor_lists[kw.name]):
                names.append(name)
                values.append(_operand(item, scope, ctx))
                spans.append(item)
        elif kw.name in signature.tensors or kw.name in signature.keyword_tensors:
            if kw.name in names:
                raise ShapeproofError(f"{layer.kind}'s {kw.name!r} is given twice", kw.span)
            names.append(kw.name)
            values.append(_operand(kw.value, scope, ctx))
            spans.append(kw.value)
        elif kw.name in signature.options:
            kind = signature.options[kw.name]
            try:
                options[kw.name] = kind.convert(evaluate(kw.value, scope.values))
            except ShapeproofError as e:
                if e.span is None:
                    e.message = f"{layer.kind} call argument {kw.name!r}: {e.message}"
                raise e.located(kw.value.span)
        else:
            raise ShapeproofError(f"{layer.kind} has no call argument {kw.name!r}", kw.span,
                                  did_you_mean(kw.name, signature.keywords) or
                                  f"its call arguments are {', '.join(signature.keywords)}")
    missing = [n for n in signature.tensors[:signature.required] if n not in names]
    if missing:
        raise ShapeproofError(f"{layer.kind} needs its {' and '.join(repr(n) for n in missing)} "
                              f"call argument{'s' * (len(missing) > 1)}", stmt.span,
                              f"write `{layer.kind}(...)({', '.join(signature.tensors[:signature.required])})`"
                              + (" (self-attention: the same value twice)" if signature.required > 1 else ""))
    layer.bind_call(tuple(names), {name: options.get(name, kind.default) for name, kind in signature.options.items()},
                    tuple(options))
    if not signature.tensors:  # a list-taking layer (Attention): its tensor keywords follow the list
        if not names or not isinstance(first, list):
            return first
        return [*first, *(_single(v, node.span) for v, node in zip(values, spans[1 + len(stmt.more):]))]
    return [_single(v, node.span) for v, node in zip(values, spans)]


def _tensor_list(layer: Layer, kw: ir.Keyword, items: tuple) -> list:
    """[(call_inputs name, value)] of a keyword given as a list of tensors or None
    (`mask=[query_mask, None]`), the None items left out."""
    form = f"[{', '.join(items)}]"
    if not isinstance(kw.value, ir.List):
        raise ShapeproofError(f"{layer.kind}'s {kw.name}= is a list of {len(items)}, {form}", kw.value.span,
                              f"write `{kw.name}={form}`, None for an item not given")
    if len(kw.value.items) != len(items):
        where = kw.value.items[len(items)].span if len(kw.value.items) > len(items) else kw.value.span
        raise ShapeproofError(f"{layer.kind}'s {kw.name}= is a list of {len(items)}, {form}, got "
                              f"{len(kw.value.items)} item{'s' * (len(kw.value.items) != 1)}", where,
                              f"write `{kw.name}={form}`, None for an item not given"
                              + (" (Keras ignores a third, the key's)" if len(kw.value.items) == 3 else ""))
    return [(name, item) for name, item in zip(items, kw.value.items)
            if not (isinstance(item, ir.Const) and item.value is None)]


def _operand(value, scope: _Scope, ctx: _Context):
    """What a layer is applied to: a named value, a list of values, or an expression's tensor."""
    if isinstance(value, ir.List):
        return [_single(_operand(v, scope, ctx), v.span) for v in value.items]
    if isinstance(value, ir.Name):
        return _lookup(value, scope.env)
    result = _expression(value, scope, ctx)
    if not isinstance(result, (Tensor, tuple)):
        raise ShapeproofError("a layer is applied to a tensor, not a number", value.span,
                              "e.g. `h = Dense(8)(x)` or `y = Add()([x, h])`")
    return result


def _expression(e, scope: _Scope, ctx: _Context, stmt: ir.ExprStmt | None = None):
    """The value of tensor arithmetic: a Tensor (each operation on a tensor a node, named as Keras names
    it), or a Python number when no tensor is involved. `stmt` is the statement whose whole value `e` is."""
    if isinstance(e, ir.Name):
        if e.name in scope.env:
            return scope.env[e.name]
        if e.name in scope.values:
            number = scope.values[e.name]
            if not number.is_number:
                raise ShapeproofError(f"{e.name!r} is a free size, and an operand must be a tensor or a number",
                                      e.span, f"bind it (`--set {e.name}=...`) or use a literal number")
            return float(number)
        return _lookup(e, scope.env)  # the unknown-value error, with its suggestions
    if isinstance(e, (ir.Int, ir.Float)):
        return float(e.value)
    if isinstance(e, ir.Applied):
        return _layer_statement(ir.LayerStmt((), e.call, e.applied_to, e.span, e.more, e.keywords), scope, ctx, None)
    if isinstance(e, ir.Neg):
        operand = _expression(e.operand, scope, ctx)
        if not isinstance(operand, Tensor):
            return -operand
        return _operation("negative", [operand], ir.Call("negative", (), (), e.span, e.span), e, scope, ctx, stmt)
    if isinstance(e, ir.BinOp):
        left, right = _expression(e.left, scope, ctx), _expression(e.right, scope, ctx)
        if not isinstance(left, Tensor) and not isinstance(right, Tensor):
            return _arithmetic(e, left, right)
        if e.op not in OPERATORS:
            raise ShapeproofError(f"'{e.op}' is not an operation on tensors", e.span,
                                  "tensors take + - * / (true division)")
        kind = OPERATORS[e.op]
        return _operation(kind, [left, right], ir.Call(kind, (), (), e.span, e.span), e, scope, ctx, stmt)
    if isinstance(e, ir.Call):
        if not is_operation(e.name):
            if e.name in REGISTRY or e.name in ctx.blocks:
                raise ShapeproofError(f"{e.name} is a layer: apply it to a value inside an expression",
                                      e.span, f"e.g. `{e.name}(...)(x)`")
            what = "layer" if e.name[:1].isupper() else "function"  # Keras: layers are classes, operations functions
            raise ShapeproofError(f"unknown {what} {e.name!r}", e.name_span,
                                  did_you_mean(e.name, [*REGISTRY, *ctx.blocks]) or
                                  "`shapeproof layers` lists the layers and operations a spec can use")
        arity = REGISTRY[e.name].operand_count
        most = arity if arity == "list" else arity + len(REGISTRY[e.name].positional)
        if arity != "list" and len(e.args) > most:
            raise ShapeproofError(f"{e.name} takes {arity} operand{'s' * (arity > 1)}"
                                  + (f" and {most - arity} more argument(s)" if most > arity else "")
                                  + f", got {len(e.args)}", e.args[most].span,
                                  f"its options are keywords: {', '.join(REGISTRY[e.name].positional)}"
                                  if most > arity else f"e.g. {e.name}({', '.join('xyz'[:arity])})")
        if arity == "list":
            if not e.args or not isinstance(e.args[0], ir.List):
                raise ShapeproofError(f"{e.name} takes a list of tensors first", e.span,
                                      f"e.g. {e.name}([a, b], axis=-1)")
            operands = [_expression(v, scope, ctx) for v in e.args[0].items]
            options = e.args[1:]
        else:
            if len(e.args) < arity:
                raise ShapeproofError(f"{e.name} takes {arity} operand{'s' * (arity > 1)}, got {len(e.args)}",
                                      e.span, f"e.g. {e.name}({', '.join('xyz'[:arity])})")
            operands = [_expression(v, scope, ctx) for v in e.args[:arity]]
            options = e.args[arity:]
        call = ir.Call(e.name, tuple(options), e.keywords, e.span, e.name_span)
        return _operation(e.name, operands, call, e, scope, ctx, stmt)
    raise ShapeproofError("not a tensor expression", e.span,
                          "tensor arithmetic combines values and numbers with + - * / and functions like relu(x)")


def _arithmetic(e: ir.BinOp, left: float, right: float) -> float:
    """Numbers combined in a tensor expression (`x * (1.0 / 6.0)`), as Python computes them."""
    if e.op in ("/", "//") and right == 0:
        raise ShapeproofError("division by zero", e.right.span)
    return {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
            "/": lambda: left / right, "//": lambda: float(left // right)}[e.op]()


def _operation(kind: str, operands: list, call: ir.Call, e, scope: _Scope, ctx: _Context, stmt):
    """One operation node on its operands (tensors, or numbers at most all but one)."""
    tensors = [_single(o, e.span) for o in operands if not isinstance(o, float)]
    if not tensors:
        raise ShapeproofError(f"{kind} needs at least one tensor operand", e.span,
                              "arithmetic of numbers alone belongs in a layer's arguments")
    layer = build_layer(call, scope.values, ctx.names)
    layer.bind(tuple(None if isinstance(o, Tensor) else o for o in operands))
    given = tensors if layer.inputs == "many" else tensors[0]
    text = ir.show(e)
    if stmt is not None and stmt.targets:
        text = f"{', '.join(t.name for t in stmt.targets)} = {text}"
    node, produced = _apply(layer, given, ir.LayerStmt((), call, None, e.span), ctx.model, text)
    node.block, node.values = scope.block, scope.values
    ctx.nodes.append(node)
    return produced[0] if len(produced) == 1 else tuple(produced)


MAX_BLOCK_DEPTH = 16


def _expand(block: ir.Block, stmt: ir.LayerStmt, given, scope: _Scope, ctx: _Context) -> list:
    """A block's statements at one call site: its first parameters take the given values, the others
    the call's arguments (or their defaults). Layers are named model-wide, as in a flat Keras model;
    an error inside names the call site."""
    call = stmt.call
    tensors = given if isinstance(given, list) else [_single(given, stmt.span)]
    if len(tensors) > len(block.params):
        raise ShapeproofError(f"block {block.name} takes {len(block.params)} parameters, and is applied to "
                              f"{len(tensors)} values", call.span)
    if scope.depth >= MAX_BLOCK_DEPTH:
        raise ShapeproofError(f"blocks nested more than {MAX_BLOCK_DEPTH} deep (does {block.name} call itself?)",
                              call.span)
    inputs, numbers = block.params[:len(tensors)], block.params[len(tensors):]
    if len(call.args) > len(numbers):
        raise ShapeproofError(f"block {block.name} takes {len(numbers)} argument(s) besides its input(s), got "
                              f"{len(call.args)}", call.span, f"its arguments are {', '.join(p.name for p in numbers)}")
    values = dict(scope.values)
    given_values = {p.name: evaluate(a, scope.values) for p, a in zip(numbers, call.args)}
    for kw in call.keywords:
        if kw.name not in {p.name for p in numbers}:
            raise ShapeproofError(f"block {block.name} has no argument {kw.name!r}", kw.span,
                                  did_you_mean(kw.name, [p.name for p in numbers]) or
                                  f"its arguments are {', '.join(p.name for p in numbers)}")
        if kw.name in given_values:
            raise ShapeproofError(f"argument {kw.name!r} given twice", kw.span)
        given_values[kw.name] = evaluate(kw.value, scope.values)
    for p in numbers:
        if p.name in given_values:
            values[p.name] = given_values[p.name]
        elif p.default is not None:
            values[p.name] = evaluate(p.default, values)
        else:
            raise ShapeproofError(f"block {block.name} needs its argument {p.name!r}", call.span,
                                  f"e.g. {block.name}({', '.join(p.name + '=...' for p in numbers)})")
    return _call_body(block, _Scope(values, {p.name: t for p, t in zip(inputs, tensors)}), scope, ctx,
                      f"(in block {block.name}, called at line {call.span.line})", ("(in block ",),
                      previous=tensors[0] if len(tensors) == 1 else None)


def _call_body(callee, inner: _Scope, scope: _Scope, ctx: _Context, where: str, marks: tuple, previous=None) -> list:
    """A block's or a called model's body at one call site, run in `inner` (its names; the row label and
    depth are set here): its output values. Its layers are one report row, the outermost call's (nested
    calls share it); an error inside gets `where` unless it carries one of `marks` already."""
    inner.block = scope.block or ctx.names.claim(to_snake_case(callee.name))
    inner.depth = scope.depth + 1
    try:
        last, outputs = _run(callee.body, inner, ctx, previous=previous)
    except ShapeproofError as e:
        if not any(mark in e.message for mark in marks):
            e.message += f" {where}"
        raise
    produced = outputs or [_single(last, callee.span)]
    if scope.block is None:
        ctx.block_calls[inner.block] = (callee.name, [(t.producer, t.index) for t in produced])
    return produced


def _call_model(called: ir.Model, stmt: ir.LayerStmt, given, scope: _Scope, ctx: _Context) -> list:
    """Another model of the file used as a layer (Keras's nested model): its `input` statements take the
    given values, and its sizes are bound from their shapes (`Encoder()(x)`), from the call's keywords
    (`Encoder(n=64)(x)`) or from their defaults. It sees none of the caller's names; its layers are
    named model-wide and shown as one report row, as a block's."""
    call = stmt.call
    if called.name == ctx.model.name:
        raise ShapeproofError(f"model {called.name} uses itself as a layer", call.span)
    if scope.depth >= MAX_BLOCK_DEPTH:
        raise ShapeproofError(f"models nested more than {MAX_BLOCK_DEPTH} deep (do two models use each other?)",
                              call.span)
    tensors = given if isinstance(given, list) else [_single(given, stmt.span)]
    inputs = [s for s in called.body if isinstance(s, ir.InputStmt)]
    if len(tensors) != len(inputs):
        raise ShapeproofError(f"model {called.name} has {len(inputs)} input(s), and is applied to "
                              f"{len(tensors)} value(s)", call.span)
    names = [p.name for p in called.params]
    if call.args:
        raise ShapeproofError(f"model {called.name} takes its sizes as keywords", call.args[0].span,
                              f"e.g. {called.name}({names[-1] if names else 'n'}=...)(x); sizes read from the "
                              "input's shape need not be given")
    values = {}
    for kw in call.keywords:
        if kw.name not in names:
            raise ShapeproofError(f"model {called.name} has no parameter {kw.name!r}", kw.span,
                                  did_you_mean(kw.name, names) or f"its parameters are {', '.join(names) or 'none'}")
        values[kw.name] = sympy.sympify(evaluate(kw.value, scope.values))
    for input_stmt, tensor in zip(inputs, tensors):  # a size named by an input axis is that axis
        items = input_stmt.shape.items if isinstance(input_stmt.shape, ir.Tuple) else (input_stmt.shape,)
        if len(items) != len(tensor.shape):
            raise ShapeproofError(f"model {called.name}'s input (line {input_stmt.span.line}) has {len(items)} axes, "
                                  f"and it is applied to {format_shape(tensor.shape)}", call.span)
        for item, dim in zip(items, tensor.shape):
            if isinstance(item, ir.Name) and item.name in names and item.name not in values:
                values[item.name] = dim
    for p in called.params:
        if p.name not in values:
            if p.default is None:
                raise ShapeproofError(f"model {called.name} needs its size {p.name!r}: no input axis is {p.name}",
                                      call.span, f"give it: {called.name}({p.name}=...)")
            values[p.name] = sympy.sympify(evaluate(p.default, values))
    return _call_body(called, _Scope(values, {}, feeds=list(tensors)), scope, ctx,
                      f"(in model {called.name}, used at line {call.span.line})", ("(in model ", "(in block "))


def _feed(stmt: ir.InputStmt, scope: _Scope) -> Tensor:
    """A called model's `input` statement: the next given value, which must have its shape and dtype."""
    tensor = scope.feeds.pop(0)
    shape, dtype = _shape_of(stmt, scope.values), _dtype_of(stmt)
    if len(shape) != len(tensor.shape) or any(sympy.simplify(a - b) != 0 for a, b in zip(shape, tensor.shape)):
        raise ShapeproofError(f"this input takes {format_shape(shape)}, and the model is applied to "
                              f"{format_shape(tensor.shape)}", stmt.shape.span,
                              "an input axis written as one of the model's sizes takes any length, e.g. "
                              "`model M(batch, T):` with `input (batch, T, 16)`")
    if dtype != tensor.dtype:
        raise ShapeproofError(f"this input takes {dtype}, and the model is applied to {tensor.dtype}", stmt.span)
    if stmt.target:
        scope.env[stmt.target] = tensor
    return tensor


def _shape_of(stmt: ir.InputStmt, values: dict) -> tuple:
    shape = evaluate(stmt.shape, values)
    shape = shape if isinstance(shape, tuple) else (shape,)
    items = stmt.shape.items if isinstance(stmt.shape, ir.Tuple) else (stmt.shape,)
    for dim, node in zip(shape, items):
        if not is_integer(dim):
            raise ShapeproofError("an input shape holds integer dimensions", node.span,
                                  "write the shape as `(batch, 28, 28, 1)`, batch axis first")
        if dim.is_number and dim < 1:
            raise ShapeproofError(f"input dimension must be at least 1, got {dim}", node.span)
    if len(shape) < 2:
        raise ShapeproofError("an input shape needs the batch axis and at least one more", stmt.shape.span,
                              "e.g. `input (batch, 16)`")
    return tuple(sympy.sympify(d) for d in shape)


def _dtype_of(stmt: ir.InputStmt) -> str:
    dtype = stmt.dtype or "float32"
    if dtype not in DTYPE_BYTES:
        raise ShapeproofError(f"unknown dtype {dtype!r}", stmt.dtype_span,
                              did_you_mean(dtype, DTYPE_BYTES) or f"one of {', '.join(DTYPE_BYTES)}")
    return dtype


def _lookup(value, env: dict):
    if isinstance(value, ir.List):
        return [_single(_lookup(v, env), v.span) for v in value.items]
    if isinstance(value, ir.Name):
        if value.name not in env:
            raise ShapeproofError(f"unknown value {value.name!r}", value.span,
                                  did_you_mean(value.name, env) or "name a value with `x = input (...)` or `h = Layer(...)(x)`")
        return env[value.name]
    raise ShapeproofError("a layer is applied to a value name or a list of names", value.span,
                          "e.g. `h = Dense(8)(x)` or `y = Add()([x, h])`")


def _single(value, span: Span) -> Tensor:
    if isinstance(value, tuple):  # several outputs of one layer, not destructured
        raise ShapeproofError(f"this value holds {len(value)} outputs", span,
                              "name each output: `y, h, c = LSTM(8, return_state=True)(x)`")
    return value


def _apply(layer: Layer, given, stmt: ir.LayerStmt, model: ir.Model, text: str | None = None
           ) -> tuple[Node, list[Tensor]]:
    many = isinstance(given, list)
    if layer.inputs == "many" and not many:
        raise ShapeproofError(f"{layer.kind} merges several values and takes a list", stmt.call.span,
                              f"write `y = {layer.kind}()([a, b])`")
    if layer.inputs != "many" and many:
        raise ShapeproofError(f"{layer.kind} takes one value, not a list", (stmt.applied_to or stmt.call).span)
    if not many:
        given = _single(given, stmt.span)
    x = [t.shape for t in given] if many else given.shape
    try:
        layer.check_input(x)
        out = layer.output_shape(x)
        outs = out if isinstance(out, list) else [out]
        constraints = _check(layer, x, outs)
        weights = layer.weights(x)
        macs = sympy.sympify(layer.macs(x))
        rf_in = layer.merge_receptive_fields(x, [t.rf for t in given]) if many else given.rf
        rf = layer.receptive_field(x, rf_in)
    except ShapeproofError as e:
        raise e.located(stmt.call.span)
    sizes = [w.size for w in weights]
    trainable = sympy.Add(*(s for s, w in zip(sizes, weights) if w.trainable and layer.trainable))
    frozen = sympy.Add(*(s for s, w in zip(sizes, weights) if not (w.trainable and layer.trainable)))
    dtype = "float32" if weights or many else given.dtype
    tensors = given if many else [given]
    node = Node(layer.name, layer, [t.producer for t in tensors], [(t.producer, t.index) for t in tensors], x, outs, dtype,
                weights, sympy.sympify(trainable), sympy.sympify(frozen), macs, rf.sizes(), constraints,
                stmt.call.span, text or _statement_text(stmt))
    return node, [Tensor(s, dtype, layer.name, rf, i) for i, s in enumerate(outs)]


def _check(layer: Layer, x, outs: list[tuple]) -> list[Constraint]:
    """The layer's own conditions (a provably false one is an error at the argument it names), then
    a check that no concrete output axis is zero or negative. Symbolic lengths are the layer's to
    constrain: it knows why."""
    kept = []
    for c in _undecided(layer, x):
        holds = normalize(c.condition)
        if holds is sympy.false:
            raise layer.error(c.reason, c.arg, c.hint or "make the input larger or the kernel, stride or crop smaller")
        if holds is not sympy.true:
            kept.append(Constraint(holds, c.reason, c.arg, c.hint))
    for shape in outs:
        for axis, dim in enumerate(shape[1:], start=1):
            if dim.is_number and dim < 1:
                raise layer.error(f"{layer.kind} makes axis {axis} of its output {dim} long {format_shape(shape)}",
                                  hint="the input is too small for this layer's kernel, pooling or cropping")
    return kept


def _undecided(layer: Layer, x) -> list[Constraint]:
    """The layer's constraints, without those that hold for every input it can be given.

    An input axis is at least 1 long, whatever formula it is (`⌊(T - 3)/2⌋ + 1`). Asking the layer
    again with each symbolic axis replaced by a plain positive symbol drops conditions such as
    `2·⌊(T - 3)/2⌋ + 4 >= 3` that SymPy cannot decide through the floor but that always hold.
    """
    constraints = layer.constraints(x)
    if isinstance(x, list) or all(d.is_number for d in x) or not constraints:
        return constraints
    generic = tuple(d if d.is_number or d.is_Symbol else sympy.Dummy(integer=True, positive=True) for d in x)
    if generic == tuple(x):
        return constraints
    try:
        plain = layer.constraints(generic)
    except ShapeproofError:
        return constraints
    if len(plain) != len(constraints):
        return constraints
    return [c for c, p in zip(constraints, plain) if normalize(p.condition) is not sympy.true]


def _bind_targets(stmt: ir.LayerStmt, kind: str, produced: list[Tensor], env: dict):
    if len(stmt.targets) > 1:
        if len(stmt.targets) != len(produced):
            raise ShapeproofError(f"{kind} has {len(produced)} output{'s' * (len(produced) > 1)}, "
                                  f"but {len(stmt.targets)} names are given", stmt.targets[0].span)
        for target, tensor in zip(stmt.targets, produced):
            env[target.name] = tensor
        return produced[0]
    value = produced[0] if len(produced) == 1 else tuple(produced)
    if stmt.targets:
        env[stmt.targets[0].name] = value
    return value


def _statement_text(stmt) -> str:
    call = stmt.call.text
    target = ", ".join(t.name for t in stmt.targets)
    applied = "" if stmt.applied_to is None else f"({ir.call_arguments(stmt.applied_to, stmt.more, stmt.keywords)})"
    return f"{target} = {call}{applied}" if target else f"{call}{applied}"


def _dedupe(constraints: list[Constraint]) -> list[Constraint]:
    """The model's constraints: duplicates and bounds implied by stronger ones dropped."""
    reason = {c.condition: c.reason for c in constraints}
    return [Constraint(c, reason[c]) for c in strongest([c.condition for c in constraints])]


def _peak_activation_bytes(inputs: list[Input], nodes: list[Node], outputs, bounds: dict, inside) -> sympy.Expr:
    """The largest sum of live activations while one layer runs: its inputs, its outputs, the
    tensors it holds inside (`inside(layer, input shapes)`: attention's scores) and every earlier
    value still needed later (model inputs included, weights excluded)."""
    # Every axis of a valid model is at least 1 long, so each axis formula with a floor in it is
    # stood in for by a positive symbol, which the polynomial comparison of max_of can handle.
    standins: dict = {}

    def nbytes(shapes, dtype):
        return sympy.Add(*(sympy.Mul(*(_standin(d, standins) for d in s)) for s in shapes)) * DTYPE_BYTES[dtype]

    size = {i.name: nbytes([i.shape], i.dtype) for i in inputs}
    last_use = {name: -1 for name in size}
    for step, node in enumerate(nodes):
        last_use[node.name] = step
        for name in node.inputs:
            last_use[name] = step
    for name, _ in outputs:
        last_use[name] = len(nodes)
    live = sympy.Add(*size.values())  # kept as a running sum: rebuilding it per layer is quadratic
    peaks = [live]
    freed_at: dict[int, list] = {}
    for name, step in last_use.items():
        freed_at.setdefault(step, []).append(name)
    for step, node in enumerate(nodes):
        size[node.name] = nbytes(node.output_shapes, node.dtype)
        live += size[node.name]
        peaks.append(live + nbytes(inside(node.layer, node.input_shapes), node.dtype))
        live -= sympy.Add(*(size[n] for n in freed_at.get(step, ())))
    return max_of(peaks, bounds).xreplace({v: k for k, v in standins.items()})


def _standin(dim, standins: dict):
    if dim.is_polynomial():
        return dim
    if dim not in standins:
        standins[dim] = sympy.Dummy(integer=True, positive=True)
    return standins[dim]
