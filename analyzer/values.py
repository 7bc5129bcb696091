"""Evaluate IR values against a model's symbols: integer arithmetic becomes SymPy, the rest Python.

`//` is exact floor division (SymPy `floor`), so `(T - 1) // 2 + 1` stays a formula until T is known.
"""
from __future__ import annotations

import difflib

import sympy

from . import ir
from .errors import ShapeproofError


def symbol(name: str) -> sympy.Symbol:
    """A dimension symbol: a positive integer."""
    return sympy.Symbol(name, integer=True, positive=True)


def did_you_mean(word: str, choices, kind: str = "") -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        lower = {c.lower(): c for c in choices}
        if word.lower() in lower:
            close = [lower[word.lower()]]
    return f"did you mean {kind}{close[0]!r}?" if close else None


def evaluate(value, symbols: dict):
    """The Python/SymPy value of an IR value: ints and arithmetic as SymPy integers or expressions,
    strings, floats, booleans, None, tuples and lists of those, and calls left as ir.Call."""
    if isinstance(value, ir.Int):
        return sympy.Integer(value.value)
    if isinstance(value, (ir.Float, ir.Str, ir.Const)):
        return value.value
    if isinstance(value, ir.Name):
        if value.name in symbols:
            return symbols[value.name]
        hint = did_you_mean(value.name, symbols)
        if hint is None and value.name.islower():
            hint = f'a string needs quotes: "{value.name}"'
        raise ShapeproofError(f"unknown name {value.name!r}", value.span, hint)
    if isinstance(value, ir.Neg):
        operand = evaluate(value.operand, symbols)
        if isinstance(operand, float):
            return -operand  # a negative number argument: Rescaling(offset=-1.0)
        return -_integer(value.operand, symbols)
    if isinstance(value, ir.BinOp):
        if value.op == "/":
            raise ShapeproofError("sizes are integers: '/' divides tensors", value.span,
                                  "write `//` for floor division of sizes")
        left, right = _integer(value.left, symbols), _integer(value.right, symbols)
        if value.op == "+":
            return left + right
        if value.op == "-":
            return left - right
        if value.op == "*":
            return left * right
        if right == 0:
            raise ShapeproofError("division by zero", value.right.span)
        return sympy.floor(left / right)
    if isinstance(value, ir.Tuple):
        return tuple(evaluate(i, symbols) for i in value.items)
    if isinstance(value, ir.List):
        return [evaluate(i, symbols) for i in value.items]
    if isinstance(value, ir.Call):
        return value
    if isinstance(value, ir.Applied):
        raise ShapeproofError("a layer applied to a value is not an argument", value.span,
                              "name the value first (`h = Dense(4)(x)`), then use it")
    raise AssertionError(f"not a value: {value!r}")


def _integer(value, symbols):
    result = evaluate(value, symbols)
    if not is_integer(result):
        raise ShapeproofError("arithmetic needs integers", value.span,
                              "dimensions are integer expressions: literals, names, + - * //")
    return result


def is_integer(v) -> bool:
    """An integer or an integer-valued SymPy expression (bools are not integers here)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, sympy.Expr) and v.is_integer is True
