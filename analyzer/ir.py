"""The syntax IR of a .nn file: frozen dataclasses with source spans, built by analyzer/parse.py.

Values are kept as written (names unresolved, arithmetic unevaluated) so that later stages can
point at the exact argument that is wrong; analyzer/values.py evaluates them against a model's symbols.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import Span


@dataclass(frozen=True)
class Int:
    value: int
    span: Span


@dataclass(frozen=True)
class Float:
    value: float
    span: Span


@dataclass(frozen=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True)
class Const:
    """True, False or None."""

    value: object
    span: Span


@dataclass(frozen=True)
class Name:
    name: str
    span: Span


@dataclass(frozen=True)
class BinOp:
    """Arithmetic: op is one of + - * // /. On sizes, integer arithmetic (`/` is refused there); on
    tensors, an element-wise operation (analyzer/layers/ops.py)."""

    op: str
    left: object
    right: object
    span: Span


@dataclass(frozen=True)
class Neg:
    operand: object
    span: Span


@dataclass(frozen=True)
class Tuple:
    items: tuple
    span: Span


@dataclass(frozen=True)
class List:
    items: tuple
    span: Span


@dataclass(frozen=True)
class Keyword:
    name: str
    value: object
    span: Span


@dataclass(frozen=True)
class Call:
    """`Name(args, key=value)`: a layer (or `params(A)` in an assertion)."""

    name: str
    args: tuple
    keywords: tuple  # of Keyword
    span: Span
    name_span: Span

    @property
    def text(self) -> str:
        """The call as written, normalised (used in messages and JSON)."""
        parts = [show(a) for a in self.args] + [f"{k.name}={show(k.value)}" for k in self.keywords]
        return f"{self.name}({', '.join(parts)})"


@dataclass(frozen=True)
class Applied:
    """`Layer(...)(value)`: a layer applied to a value, inside an expression or as a statement.
    Keras's call arguments beyond the first value: `MultiHeadAttention(4, 16)(q, v, key=k,
    use_causal_mask=True)` has applied_to q, more (v,) and keywords (key=k, use_causal_mask=True)."""

    call: Call
    applied_to: object  # a value: a name, a list of values, or an expression
    span: Span
    more: tuple = ()  # further positional call arguments (values)
    keywords: tuple = ()  # of Keyword: keyword call arguments (tensors or options)


@dataclass(frozen=True)
class InputStmt:
    target: str | None
    shape: object
    dtype: str | None
    span: Span
    dtype_span: Span | None


@dataclass(frozen=True)
class LayerStmt:
    targets: tuple  # of Name: `h = ...`, or `y, h, c = LSTM(..., return_state=True)(x)`; empty when unnamed
    call: Call
    applied_to: object | None  # a Name or a List of Names; None applies to the previous value
    span: Span
    more: tuple = ()  # further positional call arguments, as on Applied
    keywords: tuple = ()  # of Keyword: keyword call arguments, as on Applied


@dataclass(frozen=True)
class ExprStmt:
    """`y = x + h`, `s = relu(x) * 0.5`: tensor arithmetic, each operation a node (analyzer/layers/ops.py)."""

    targets: tuple  # of Name; empty when unnamed
    value: object
    span: Span


@dataclass(frozen=True)
class OutputStmt:
    names: tuple  # of Name; empty with `layer`
    span: Span
    layer: "LayerStmt | ExprStmt | None" = None  # `output Activation("relu")(y)` or `output x + h`


@dataclass(frozen=True)
class RepeatStmt:
    """`repeat 3: Bottleneck(64)`: the call applied `count` times, each to the value before."""

    count: int
    call: "Call"
    span: Span


@dataclass(frozen=True)
class Param:
    name: str
    default: object | None
    span: Span


@dataclass(frozen=True)
class Model:
    name: str
    params: tuple  # of Param
    body: tuple  # of statements
    span: Span
    name_span: Span
    blocks: tuple = ()  # of Block and Model: the file's blocks and models, which its body may call


@dataclass(frozen=True)
class Assertion:
    op: str  # "==", "!=", "<", "<=", ">" or ">="
    left: object
    right: object
    text: str
    span: Span


@dataclass(frozen=True)
class Block:
    """`block NAME(x, filters, stride=1):` a parametrised group of statements used like a layer: its
    first parameters take the values it is applied to, the others numbers (defaults allowed)."""

    name: str
    params: tuple  # of Param
    body: tuple  # of statements
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Program:
    file: str
    source: str
    models: tuple  # of Model
    assertions: tuple  # of Assertion
    blocks: tuple = ()  # of Block


PRECEDENCE = {"+": 1, "-": 1, "*": 2, "//": 2, "/": 2}


def show(value, outer: int = 0) -> str:
    """A value as .nn source text (`outer`: the precedence of the operator around it, for brackets)."""
    if isinstance(value, (Int, Float)):
        return repr(value.value)
    if isinstance(value, Str):
        return f"'{value.value}'" if '"' in value.value else f'"{value.value}"'
    if isinstance(value, Const):
        return repr(value.value)
    if isinstance(value, Name):
        return value.name
    if isinstance(value, BinOp):
        level = PRECEDENCE[value.op]
        text = f"{show(value.left, level)} {value.op} {show(value.right, level + 1)}"
        return f"({text})" if level < outer else text
    if isinstance(value, Neg):
        return f"-{show(value.operand, 3)}"
    if isinstance(value, Applied):
        return f"{value.call.text}({call_arguments(value.applied_to, value.more, value.keywords)})"
    if isinstance(value, Tuple):
        inner = ", ".join(show(i) for i in value.items)
        return f"({inner},)" if len(value.items) == 1 else f"({inner})"
    if isinstance(value, List):
        return "[" + ", ".join(show(i) for i in value.items) + "]"
    if isinstance(value, Call):
        return value.text
    raise AssertionError(f"not a value: {value!r}")


def call_arguments(applied_to, more: tuple = (), keywords: tuple = ()) -> str:
    """A layer call's arguments as .nn text: `q, v, use_causal_mask=True`."""
    return ", ".join([show(applied_to), *(show(v) for v in more), *(f"{k.name}={show(k.value)}" for k in keywords)])
