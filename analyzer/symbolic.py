"""Small exact helpers over SymPy that stay fast on long stacks.

SymPy's own `Max` and relational evaluation consult the assumption system for every pair of
arguments, which costs seconds on a 1,000-layer model. These helpers decide the easy cases by
expanding a difference and reading its coefficients (sound: every symbol is a positive integer),
and leave the rest to SymPy or keep it symbolic.
"""
from __future__ import annotations

import sympy


def nonnegative(expr) -> bool | None:
    """True when `expr >= 0` for every positive value of its symbols, False when it is a negative
    number, None when this quick test cannot tell."""
    expr = sympy.expand(expr)
    if expr.is_number:
        return bool(expr >= 0)
    terms = sympy.Add.make_args(expr)
    if all(_positive_monomial(t) or (t.is_number and t >= 0) for t in terms):
        return True
    return None


def _positive_monomial(term) -> bool:
    coeff, rest = term.as_coeff_Mul()
    return coeff > 0 and all(f.is_positive for f in sympy.Mul.make_args(rest))


def max_of(terms: list, lower_bounds: dict | None = None) -> sympy.Expr:
    """The maximum of non-negative terms, with terms that another term dominates dropped first.

    `lower_bounds` ({H: 3}) are known bounds of symbols (the model's constraints): comparing with
    H shifted to H + 2 (still >= 1) proves `12·H·W ≤ 12·H·W + 64·(H - 2)·(W - 2)` where H >= 3.
    """
    shift = {s: s + (b - 1) for s, b in (lower_bounds or {}).items() if b > 1}

    def at_most(a, b):
        return nonnegative((b - a).xreplace(shift) if shift else b - a)

    kept: list = []
    for t in terms:
        t = sympy.sympify(t)
        if any(at_most(t, k) for k in kept):
            continue
        kept = [k for k in kept if not at_most(k, t)] + [t]
    return kept[0] if len(kept) == 1 else sympy.Max(*kept, evaluate=len(kept) <= 4)


def lower_bounds(conditions: list) -> dict:
    """{symbol: bound} from conditions of the form `symbol >= number`."""
    return {c.lhs: c.rhs for c in conditions
            if isinstance(c, sympy.GreaterThan) and c.lhs.is_Symbol and c.rhs.is_number}


def normalize(condition):
    """`a >= b` as `rest >= bound` with the constant moved right (`T - 4 >= 1` -> `T >= 5`);
    decided to sympy.true/false when the quick test can tell. Other relations pass through."""
    if not isinstance(condition, (sympy.GreaterThan, sympy.StrictGreaterThan)):
        return sympy.sympify(condition)
    strict = isinstance(condition, sympy.StrictGreaterThan)
    diff = sympy.expand(condition.lhs - condition.rhs) - (1 if strict else 0)  # integers: a > b <=> a - 1 >= b
    if nonnegative(diff):
        return sympy.true
    const, rest = diff.as_coeff_Add()
    if rest == 0:
        return sympy.false  # a negative number
    if nonnegative(rest + const) is None and nonnegative(rest) and const >= 0:
        return sympy.true
    return sympy.Ge(rest, -const)


def strongest(conditions: list) -> list:
    """Drop duplicates and bounds implied by a stronger bound on the same expression, in order."""
    best: dict = {}
    order: list = []
    for c in conditions:
        key = (c.lhs, type(c)) if isinstance(c, sympy.GreaterThan) else (c, None)
        if key not in best:
            order.append(key)
            best[key] = c
        elif isinstance(c, sympy.GreaterThan) and (c.rhs - best[key].rhs).is_positive:
            best[key] = c
    return [best[k] for k in order]
