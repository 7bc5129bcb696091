"""Small exact helpers over SymPy that stay fast on long stacks.

SymPy's own `Max` and relational evaluation consult the assumption system for every pair of
arguments, which costs seconds on a 1,000-layer model. These helpers decide the easy cases by
expanding a difference and reading its coefficients (sound: every symbol is a positive integer),
and leave the rest to SymPy or keep it symbolic.
"""
from __future__ import annotations

import math

import sympy
from sympy.polys.domains import QQ
from sympy.polys.rings import PolyRing


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
    terms = [sympy.sympify(t) for t in terms]
    symbols = sorted(set().union(*(t.free_symbols for t in terms)), key=str)
    if not all(s.is_positive for s in symbols) or not all(t.is_polynomial(*symbols) for t in terms):
        return sympy.Max(*terms)  # not from graph.py: its sizes are positive and floors stood in for
    # As sparse polynomials, a comparison is a subtraction and a look at the signs of the
    # coefficients: microseconds, where SymPy's expand and assumptions take a millisecond.
    ring = PolyRing(symbols, QQ)
    shift = [(x, x + (lower_bounds[s] - 1)) for s, x in zip(symbols, ring.gens)
             if (lower_bounds or {}).get(s, 1) > 1]
    polys = {}
    for t in terms:
        p = ring.from_expr(t)
        polys[t] = p, p.compose(shift) if shift else p

    def at_most(a, b):  # b - a >= 0 for every value at or above the bounds: no negative coefficient
        return all(c >= 0 for c in (polys[b][1] - polys[a][1]).values())

    kept: list = []
    for t in terms:
        if any(at_most(t, k) for k in kept):
            continue
        kept = [k for k in kept if not at_most(k, t)] + [t]
    if len(kept) > 4:
        return sympy.Max(*kept, evaluate=False)
    return _evaluated_max(kept, lambda a, b: _crossing(polys[a][0] - polys[b][0]))


def _evaluated_max(args: list, crossing) -> sympy.Expr:
    """sympy.Max(*args), built faster: SymPy's own loop (Max._find_localzeros, as in SymPy 1.14) that
    drops an argument another one dominates, asking SymPy (Max._is_connected: its assumption system,
    milliseconds a pair) only about the pairs that are not `crossing`, i.e. not seen larger each way
    at two sample points. Such a pair is one SymPy cannot order either, so the result is the same
    (tests/test_symbolic.py checks it against sympy.Max)."""
    zeros: set = set()
    for v in sympy.ordered(frozenset(args)):
        new = True
        for z in list(zeros):
            connected = not crossing(v, z) and sympy.Max._is_connected(v, z)
            if connected:
                new = False
                if connected is True or connected == sympy.Max:
                    zeros.remove(z)
                    zeros.add(v)
        if new:
            zeros.add(v)
    return sympy.Max(*zeros, evaluate=False)


def _crossing(difference) -> bool:
    """Whether a polynomial in positive sizes takes both signs: tried at all sizes 1, each size alone
    at 2**20, all at 2**20."""
    n = difference.ring.ngens
    points = [[1] * n, *([1] * i + [2 ** 20] + [1] * (n - i - 1) for i in range(n)), [2 ** 20] * n]
    signs = set()
    for point in points:
        value = sum(c * math.prod(v ** e for v, e in zip(point, m)) for m, c in difference.items())
        signs.add((value > 0) - (value < 0))
        if {1, -1} <= signs:
            return True
    return False


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
