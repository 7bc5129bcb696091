"""Decide `lhs OP rhs` over the positive integers, under a model's constraints: a proof, the smallest
counterexample this search finds, or neither.

A proof shifts every free size to its least value (`T = T' + 5` under `T >= 5`, else `T = T' + 1`)
and reads the signs of the polynomial's coefficients: all of one sign settle the comparison for every
value. Otherwise a counterexample is searched, with the expression compiled by `lambdify`: every
value from the least size up 64 steps, then powers of two up to 2**40 (one free size; then the first
failure is narrowed down to a value whose predecessor passes), or a grid of small values and powers
of two (several free sizes, the failing assignment with the smallest sum reported).
"""
from __future__ import annotations

import itertools
import operator

import sympy

from .symbolic import lower_bounds

OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
       ">=": operator.ge}
EXHAUSTIVE = 64
LARGEST = 2 ** 40


def least_sizes(symbols: list, constraints: list) -> dict:
    """{symbol: the least value its constraints allow}: `T >= 5` gives 5 (default 1: sizes are positive)."""
    simple = lower_bounds([c.condition for c in constraints])  # `T >= 5` (the analyzer normalises to it)
    bounds = {s: max(1, int(sympy.ceiling(simple.get(s, 1)))) for s in symbols}
    for s in bounds:  # a constraint on one size only (`floor((T - 5)/2) + 1 >= 3`): its least value
        own = [f for f in (_compiled(c.condition) for c in constraints if c.condition.free_symbols == {s}) if f]
        if own:
            bounds[s] = next((v for v in range(bounds[s], bounds[s] + 10000) if all(bool(f(v)) for f in own)),
                             bounds[s])
    return bounds


def prove(difference, op: str, bounds: dict) -> bool:
    """Whether `difference OP 0` holds for every integer value at or above the bounds (a polynomial
    whose shifted coefficients all have the sign OP needs; False means "not shown", not "false")."""
    if op not in ("<", "<=", ">", ">="):
        return False
    difference = relax_rounding(difference, lower=op in (">", ">="))
    if difference is None or difference.has(sympy.floor, sympy.ceiling, sympy.Mod, sympy.Max, sympy.Min):
        return False
    shifted = {s: sympy.Symbol(f"{s.name}_shift", integer=True, nonnegative=True) + b for s, b in bounds.items()}
    expr = sympy.expand(difference.subs(shifted))
    try:
        coefficients = sympy.Poly(expr, *[sym for sym in expr.free_symbols]).coeffs() if expr.free_symbols \
            else [expr]
    except sympy.PolynomialError:
        return False
    constant = expr.subs({sym: 0 for sym in expr.free_symbols})
    if op in ("<=", "<"):
        ok = all(c <= 0 for c in coefficients)
        return ok and (constant < 0 if op == "<" else True)
    ok = all(c >= 0 for c in coefficients)
    return ok and (constant > 0 if op == ">" else True)


def relax_rounding(expr, lower: bool):
    """`expr` with each floor(e), ceiling(e), Max and Min replaced by a bound that keeps `expr` a lower
    bound (`lower`) or an upper bound of itself: floor(e) is in (e - 1, e], ceiling(e) in [e, e + 1),
    Max(a, ...) >= a, Min(a, ...) <= a. None when a term's coefficient has no known sign or the
    direction needs the bound a Max or Min does not give."""
    expr = sympy.expand(expr)
    for term in sorted(expr.atoms(sympy.floor, sympy.ceiling, sympy.Max, sympy.Min), key=str):
        if term not in expr.atoms(type(term)):
            continue  # replaced with an outer term already
        coefficient = expr.coeff(term)
        if coefficient.is_positive:
            up = lower is False
        elif coefficient.is_negative:
            up = lower is True
        else:
            return None
        e = term.args[0]
        if isinstance(term, (sympy.floor, sympy.ceiling)):
            low, high = (e - 1, e) if isinstance(term, sympy.floor) else (e, e + 1)
        elif isinstance(term, sympy.Max):  # Max(a, ...) >= a: a lower bound only
            low, high = e, None
        else:  # Min(a, ...) <= a: an upper bound only
            low, high = None, e
        bound = high if up else low
        if bound is None:
            return None
        expr = sympy.expand(expr.subs(term, bound))
    return expr


def drop_positive_factors(expr):
    """`expr` without the factors that are positive sizes (`batch * (T - 5)` -> `T - 5`): they do not
    change its sign, and a search over fewer sizes finds a boundary."""
    coefficient, factors = sympy.factor_terms(expr).as_coeff_mul()
    kept = [f for f in factors if not (f.is_Symbol and f.is_positive) and not (f.is_Pow and f.base.is_Symbol
                                                                               and f.base.is_positive)]
    return sympy.Mul(sympy.sign(coefficient), *kept) if coefficient != 0 else sympy.Integer(0)


def counterexample(difference, op: str, bounds: dict, constraints: list) -> tuple[dict, dict | None] | None:
    """An assignment where `difference OP 0` fails ({symbol: value}), and for one free size the
    nearest value below it in the model's domain where it holds; None when the search finds none."""
    symbols = sorted(bounds, key=str)
    test = OPS[op]
    f = sympy.lambdify(symbols, difference, "math")
    checks = [(sympy.lambdify(sorted(c.condition.free_symbols, key=str), c.condition, "math"),
               [symbols.index(x) if x in symbols else None for x in sorted(c.condition.free_symbols, key=str)])
              for c in constraints if c.condition.free_symbols <= set(symbols)]

    def outcome(values):
        """True: fails there; False: holds there; None: outside the model's domain."""
        try:
            if not all(bool(check(*(values[i] for i in where))) for check, where in checks):
                return None
            return not test(f(*values), 0)
        except (ZeroDivisionError, ValueError, OverflowError):
            return None

    if len(symbols) == 1:
        name, low = symbols[0], bounds[symbols[0]]
        passing = None
        for v in range(low, low + EXHAUSTIVE):
            result = outcome((v,))
            if result:
                return {name: v}, ({name: passing} if passing is not None else None)
            if result is False:
                passing = v
        v = low + EXHAUSTIVE
        while v <= LARGEST:
            result = outcome((v,))
            if result:
                while passing is not None and v - passing > 1:  # a boundary: `passing` holds, v fails
                    middle = (passing + v) // 2
                    middle_result = outcome((middle,))
                    if middle_result:
                        v = middle
                    elif middle_result is False:
                        passing = middle
                    else:
                        break
                return {name: v}, ({name: passing} if passing is not None else None)
            if result is False:
                passing = v
            v *= 2
        return None
    per_symbol = max(3, int(20000 ** (1 / len(symbols))))  # at most ~20,000 assignments in all
    grids = [sorted({*range(bounds[s], bounds[s] + 8), *(bounds[s] * 2 ** k for k in range(3, 17))})[:per_symbol]
             for s in symbols]
    for values in sorted(itertools.product(*grids), key=sum):
        if outcome(values):
            return dict(zip(symbols, values)), None
    return None


def least_values(condition, span: int = 256) -> dict:
    """{size: v} when `condition` has one free size and holds exactly from v on (checked over the
    first `span` values past v); {} otherwise (or when it is not a relation of integer sizes)."""
    check = _compiled(condition)
    if check is None:
        return {}
    end = 10000 + span
    first = next((v for v in range(1, end) if check(v)), None)
    if first is None or not all(check(v) for v in range(first, min(first + span, end))):
        return {}
    return {next(iter(condition.free_symbols)): first}


def _compiled(condition):
    """A condition on one free size as a Python function of it (printed by analyzer/exprs.py: names of
    sizes, integers and operators only), or None."""
    from .exprs import condition as source

    free = sorted(condition.free_symbols, key=str)
    if len(free) != 1:
        return None
    try:
        return eval(compile(f"lambda {free[0].name}: {source(condition)}", "<condition>", "eval"))  # noqa: S307
    except (ValueError, SyntaxError):
        return None
