"""Evaluate a file's `assert` lines: counts (`params`, `trainable`, `macs`, `memory` of a model) and
shapes, compared with each other or with numbers, formulas in the model's sizes and literal shapes,
for every value of the free sizes under the model's constraints (analyzer/inequalities.py: a proof,
or the smallest counterexample found). Model equivalence (`assert A == B`, `A != B`, `A <= B`) is decided by the prover
that the caller passes in (analyzer/equivalence's `check_assertions` does: analysis never imports
the prover), or left undecided.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy

from . import ir
from .errors import ShapeproofError
from .program import Program
from .formatting import pretty
from .inequalities import OPS
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


MEASURES = {  # name -> its value for an analysed model
    "params": lambda m: m.total_params,
    "trainable": lambda m: m.trainable_params,
    "macs": lambda m: m.macs,
    "memory": lambda m: m.peak_activation_bytes,  # peak activation bytes
    "shape": lambda m: m.output_shapes,
}


def _evaluate(a: ir.Assertion, program: Program, judge) -> Verdict:
    left, right = a.left, a.right
    if isinstance(left, ir.Name) and isinstance(right, ir.Name):
        if a.op not in ("==", "!=", "<="):
            raise ShapeproofError(f"models compare with ==, != or <= (an inclusion), not {a.op}", a.span)
        a_model, b_model = _model(left, program), _model(right, program)
        if judge is None:
            return Verdict(a.span.line, a.text, UNDECIDED, "not decided by `report`: run `shapeproof check`")
        holds, reason = judge(a_model, b_model, a.op)
        return Verdict(a.span.line, a.text, holds, reason)
    measures = [_measure(v, program) for v in (left, right)]
    if measures == [None, None]:
        raise ShapeproofError("an assertion compares a measure of a model (params, trainable, macs, memory, shape) "
                              "or two model names", left.span,
                              "e.g. `assert params(A) <= 300000`, `assert shape(A) == (batch, T - 2, 16)` or "
                              "`assert A == B`")
    model = next(m for m in measures if m is not None)[0]
    lhs, rhs = (m[1] if m is not None else _literal(v, model) for m, v in zip(measures, (left, right)))
    shapes = [isinstance(x, list) for x in (lhs, rhs)]
    if shapes[0] != shapes[1]:
        raise ShapeproofError("a shape compares with a shape: shape(A) == shape(B) or shape(A) == (batch, 16)",
                              a.span)
    if shapes[0]:
        if a.op not in ("==", "!="):
            raise ShapeproofError("shapes compare with == or !=", a.span)
        return _compare_shapes(a, lhs, rhs)
    return _compare_counts(a, sympy.sympify(lhs), sympy.sympify(rhs), _constraints(measures))


def _measure(value, program: Program):
    """(model, value) for `params(M)` and the like; None for anything else (a literal)."""
    if isinstance(value, ir.Call) and value.name in MEASURES:
        if len(value.args) != 1 or value.keywords or not isinstance(value.args[0], ir.Name):
            raise ShapeproofError(f"{value.name}(...) takes one model name", value.span,
                                  f"e.g. {value.name}(MyModel)")
        model = _model(value.args[0], program)
        return model, MEASURES[value.name](model)
    if isinstance(value, ir.Call):
        raise ShapeproofError(f"unknown measure {value.name!r}", value.span,
                              did_you_mean(value.name, MEASURES) or f"measures: {', '.join(MEASURES)}")
    return None


def _literal(value, model):
    """A number, formula or shape written in the assertion, in the sizes of the model it is compared with."""
    from .values import evaluate

    result = evaluate(value, model.values)
    if isinstance(result, tuple):
        items = list(result)
        if items and all(isinstance(i, tuple) for i in items):
            return [tuple(sympy.sympify(d) for d in i) for i in items]  # one shape per output
        return [tuple(sympy.sympify(d) for d in items)]
    if not isinstance(result, sympy.Basic) or not (result.is_number or result.free_symbols):
        raise ShapeproofError("expected a number, a formula in the model's sizes or a shape", value.span)
    return result


def _constraints(measures) -> list:
    found = []
    for m in measures:
        if m is not None:
            found += [c for c in m[0].constraints if c not in found]
    return found


def _model(name: ir.Name, program: Program):
    if name.name not in program.models:
        raise ShapeproofError(f"unknown model {name.name!r}", name.span,
                              did_you_mean(name.name, program.models) or
                              f"models in this file: {', '.join(program.models)}")
    return program.models[name.name]


def _compare_counts(a: ir.Assertion, x, y, constraints: list) -> Verdict:
    from .inequalities import counterexample, drop_positive_factors, least_sizes, prove

    line, op = a.span.line, a.op
    shown = f"{pretty(x)} {op} {pretty(y)}"
    free = sorted((x - y).free_symbols, key=str)
    if not free:
        holds = bool(OPS[op](x, y))
        if x == y:  # nothing left to compare: say what both are
            return Verdict(line, a.text, holds, f"both are {pretty(x)}" + (" for every value" if x.free_symbols else ""))
        return Verdict(line, a.text, holds, f"{shown} {'holds' if holds else 'is false'}")
    if op in ("==", "!="):
        return _equality(a, sympy.simplify(x - y), pretty(x), pretty(y))
    difference = drop_positive_factors(x - y)
    bounds = least_sizes(sorted(difference.free_symbols, key=str), constraints)
    if not bounds:  # the sign does not depend on the sizes (batch * 18816 < batch * 10**6)
        holds = bool(OPS[op](difference, 0))
        return Verdict(line, a.text, holds, f"{shown} {'for every value' if holds else 'for no value'}")
    if prove(difference, op, bounds):
        domain = ", ".join(f"{s} >= {b}" for s, b in bounds.items())
        return Verdict(line, a.text, HOLDS, f"{shown} for every {domain} (bounded term by term)")
    found = counterexample(difference, op, bounds, constraints)
    if found is None:
        return Verdict(line, a.text, UNDECIDED, f"{shown}: no counterexample up to {', '.join(map(str, bounds))} = "
                       f"2^40 (one size) or 2^16 (several), and no proof")
    failing, passing = found
    rest = {s: 1 for s in free if s not in failing}  # sizes that only scale both sides: 1
    at = ", ".join(f"{s} = {v:,}" for s, v in failing.items())
    values = f"{pretty(x.subs({**failing, **rest}))} {op} {pretty(y.subs({**failing, **rest}))} is false"
    below = f" (holds for {', '.join(f'{s} = {v:,}' for s, v in passing.items())})" if passing else ""
    return Verdict(line, a.text, FAILS, f"fails for {at}{' and ' + ', '.join(f'{s} = 1' for s in rest) if rest else ''}"
                   f": {values}{below}")


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
