"""Evaluate a file's `assert` lines: params and shape comparisons, symbolically for every value of
the free symbols. Model equivalence (`assert A == B`, `A != B`, `A <= B`) is decided by the prover
that the caller passes in (analyzer/equivalence's `check_assertions` does: analysis never imports
the prover), or left undecided.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy

from . import ir
from .errors import ShapeproofError
from .program import Program
from .values import did_you_mean

HOLDS, FAILS, UNDECIDED = True, False, None


@dataclass
class Verdict:
    line: int
    text: str
    holds: bool | None  # None: undecided
    reason: str


def evaluate_assertions(program: Program, judge=None) -> list[Verdict]:
    """One verdict per assertion, in file order (raises ShapeproofError for a malformed one).
    `judge(a, b, op) -> (holds, reason)` decides model equivalences; without it they are left
    undecided (the report's way to stay fast: `check` and `equiv` run the prover)."""
    verdicts = []
    for a in program.syntax.assertions:
        try:
            verdicts.append(_evaluate(a, program, judge))
        except ShapeproofError as e:
            e.file = program.file
            raise
    return verdicts


def _evaluate(a: ir.Assertion, program: Program, judge) -> Verdict:
    left, right = a.left, a.right
    if isinstance(left, ir.Name) and isinstance(right, ir.Name):
        a_model, b_model = _model(left, program), _model(right, program)
        if judge is None:
            return Verdict(a.span.line, a.text, UNDECIDED, "not decided by `report`: run `shapeproof check`")
        holds, reason = judge(a_model, b_model, a.op)
        return Verdict(a.span.line, a.text, holds, reason)
    kind = _kind(left)
    if kind != _kind(right):
        raise ShapeproofError(f"cannot compare {kind}(...) with {_kind(right)}(...)", right.span,
                              "compare like with like: params(A) == params(B) or shape(A) == shape(B)")
    a_model, b_model = _model(left.args[0], program), _model(right.args[0], program)
    if kind == "params":
        return _compare_counts(a, a_model.total_params, b_model.total_params)
    if a.op == "<=":
        raise ShapeproofError("shapes compare with == or !=", a.span)
    return _compare_shapes(a, a_model.output_shapes, b_model.output_shapes)


def _kind(value) -> str:
    if isinstance(value, ir.Call) and value.name in ("params", "shape") and len(value.args) == 1 \
            and not value.keywords and isinstance(value.args[0], ir.Name):
        return value.name
    span = value.span
    raise ShapeproofError("an assertion compares params(MODEL), shape(MODEL) or two model names", span,
                          "e.g. `assert params(A) == params(B)` or `assert A == B`")


def _model(name: ir.Name, program: Program):
    if name.name not in program.models:
        raise ShapeproofError(f"unknown model {name.name!r}", name.span,
                              did_you_mean(name.name, program.models) or
                              f"models in this file: {', '.join(program.models)}")
    return program.models[name.name]


def _compare_counts(a: ir.Assertion, x, y) -> Verdict:
    diff = sympy.simplify(x - y)
    if a.op == "<=":
        if diff.is_nonpositive:
            return Verdict(a.span.line, a.text, HOLDS, f"{x} <= {y} for every value")
        return Verdict(a.span.line, a.text, FAILS, f"{x} <= {y} does not hold for every value")
    return _equality(a, diff, f"{x}", f"{y}")


def _compare_shapes(a: ir.Assertion, xs, ys) -> Verdict:
    show = lambda shapes: ", ".join("(" + ", ".join(map(str, s)) + ")" for s in shapes)  # noqa: E731
    if len(xs) != len(ys) or any(len(s) != len(t) for s, t in zip(xs, ys)):
        holds = a.op == "!="
        return Verdict(a.span.line, a.text, holds, f"{show(xs)} and {show(ys)} differ in rank or count")
    diffs = [sympy.simplify(p - q) for s, t in zip(xs, ys) for p, q in zip(s, t)]
    nonzero = [d for d in diffs if d != 0]
    if not nonzero:
        return _equality(a, sympy.Integer(0), show(xs), show(ys))
    if any(d.is_zero is False for d in nonzero):
        return _equality(a, nonzero[0], show(xs), show(ys))
    # Each axis may agree for some values; the shapes are equal exactly where all axes agree.
    return _equality(a, sympy.Add(*(d**2 for d in nonzero)), show(xs), show(ys))


def _equality(a: ir.Assertion, diff, x: str, y: str) -> Verdict:
    line = a.span.line
    if diff == 0:
        return Verdict(line, a.text, a.op == "==", f"both are {x} for every value")
    roots = None if diff.is_zero is False else _positive_integer_roots(diff)
    if diff.is_zero is False or roots == []:
        return Verdict(line, a.text, a.op == "!=", f"{x} != {y} for every value")
    # Equal for some values only: `==` fails (not for every value), `!=` fails (equal somewhere).
    where = f" when {roots[0][0]} = {', '.join(str(r) for _, r in roots)}" if roots else " for some values"
    return Verdict(line, a.text, FAILS, f"{x} and {y} are equal only{where}")


def _positive_integer_roots(diff) -> list | None:
    """[(symbol, root), ...] where `diff` vanishes at positive integers of its one free symbol;
    None when that cannot be worked out (several symbols, or no closed form)."""
    free = sorted(diff.free_symbols, key=str)
    if len(free) != 1:
        return None
    try:
        roots = sympy.solve(sympy.Eq(diff, 0), free[0])
    except (NotImplementedError, TypeError, ValueError):
        return None
    if not isinstance(roots, list) or any(r.has(sympy.floor, sympy.ceiling) for r in roots):
        return None
    return [(free[0], r) for r in roots if r.is_integer and r.is_positive]
