"""Numbers and formulas as the terminal shows them: 12,800 with separators, ⌈T/2⌉, 32·C + 32, and
validity conditions in words. One format for every command (report, check, layers).

Note: display only. `tidy` rewrites a formula into an equal, shorter one for reading (nested floors
merged, ceilings where they are what a size is); the analysis keeps its own exact expressions, and
JSON prints those. The rewrites hold for integer sizes, which every free symbol is:
  ⌊(⌊p/q⌋ + c)/n⌋ = ⌊(p + c·q)/(q·n)⌋   (integers c, q, n > 0)
  ⌊e⌋ + k = ⌊e + k⌋,  c·⌊e⌋ + c·k = c·⌊e + k⌋   (integer k)
  ⌊(x + n - 1)/n⌋ = ⌈x/n⌉   (integer x)
"""
from __future__ import annotations

import functools

import sympy
from sympy.printing.str import StrPrinter


class _Pretty(StrPrinter):
    """SymPy's str form, with 12,800 separators (not inside shapes) and ⌊(T - 5)/2⌋ for floor."""

    def __init__(self, separators: bool = True):
        super().__init__()
        self.separators = separators

    def _print_Integer(self, expr):
        return f"{int(expr):,}" if self.separators else str(int(expr))

    def _print_floor(self, expr):
        return "⌊" + self._print(sympy.factor_terms(sympy.together(expr.args[0]))) + "⌋"

    def _print_ceiling(self, expr):
        return "⌈" + self._print(sympy.factor_terms(sympy.together(expr.args[0]))) + "⌉"

    def _print_Infinity(self, expr):
        return "all"


def pretty(expr, separators: bool = True) -> str:
    """A dimension, count or formula for the terminal (tidied; `separators=False` inside shapes, where
    `1,000` would read as two axes)."""
    if isinstance(expr, str):
        return expr
    expr = sympy.sympify(expr)
    return _printed(expr, separators) if isinstance(expr, sympy.Basic) else _print(expr, separators)


@functools.lru_cache(maxsize=4096)
def _printed(expr, separators: bool) -> str:
    # A report shows the same sizes and counts over and over (every shape's batch axis): printed once.
    return _print(expr, separators)


def _print(expr, separators: bool) -> str:
    text = _Pretty(separators).doprint(tidy(expr))
    return text.replace("**", "^").replace("*", "·")


def tidy(expr):
    """An equal, more readable form of an integer-size formula (see the module note)."""
    if not isinstance(expr, sympy.Basic) or expr.is_Atom or not expr.has(sympy.floor):
        return expr
    if isinstance(expr, sympy.core.relational.Relational):
        return expr.func(tidy(expr.lhs), tidy(expr.rhs))
    args = [tidy(a) for a in expr.args]
    expr = expr.func(*args)
    if isinstance(expr, sympy.floor):
        return _ceiling_form(_merge_floor(expr))
    if isinstance(expr, sympy.Add):
        return _absorb_constant(expr)
    return expr


def _merge_floor(expr):
    """⌊(⌊p/q⌋ + c)/n⌋ -> ⌊(p + c·q)/(q·n)⌋ when the inner floor has coefficient 1 over n."""
    num, n = sympy.fraction(sympy.together(expr.args[0]))
    if not n.is_Integer or n <= 0:
        return expr
    inner = [t for t in sympy.Add.make_args(sympy.expand(num)) if isinstance(t, sympy.floor)]
    if len(inner) != 1:
        return expr
    rest = sympy.expand(num) - inner[0]
    if not _integral(rest):
        return expr
    p, q = sympy.fraction(sympy.together(inner[0].args[0]))
    if not q.is_Integer or q <= 0:
        return expr
    return sympy.floor((p + rest * q) / (q * n))


def _absorb_constant(expr):
    """c·⌊e⌋ + c·k (+ other terms) -> c·⌊e + k⌋: the +1 of a "same"/"valid" output length goes inside."""
    terms = list(sympy.Add.make_args(expr))
    constants = [t for t in terms if t.is_Integer]
    floors = [t for t in terms if isinstance(sympy.Mul(*[f for f in sympy.Mul.make_args(t) if not f.is_Integer]),
                                             sympy.floor)]
    if len(constants) != 1 or len(floors) != 1:
        return expr
    k = constants[0]
    c, f = floors[0].as_coeff_Mul()
    if not c.is_Integer or c <= 0 or k % c != 0:
        return expr
    others = [t for t in terms if t is not constants[0] and t is not floors[0]]
    merged = c * _ceiling_form(_merge_floor(sympy.floor(f.args[0] + k // c)))
    return sympy.Add(merged, *others)


def _ceiling_form(expr):
    """⌊(x + n - 1)/n⌋ -> ⌈x/n⌉ for an integer-valued x."""
    if not isinstance(expr, sympy.floor):
        return expr
    num, n = sympy.fraction(sympy.together(expr.args[0]))
    if not n.is_Integer or n <= 1:
        return expr
    x = sympy.expand(num - (n - 1))
    return sympy.ceiling(x / n) if _integral(x) else expr


def _integral(expr) -> bool:
    """An integer for integer sizes: integer coefficients over symbols and floors."""
    expr = sympy.expand(expr)
    if expr.is_Integer:
        return True
    for term in sympy.Add.make_args(expr):
        coeff, rest = term.as_coeff_Mul()
        if not coeff.is_Integer:
            return False
        if not all(f.is_Symbol or isinstance(f, (sympy.floor, sympy.ceiling)) or
                   (f.is_Pow and f.base.is_Symbol and f.exp.is_Integer and f.exp > 0)
                   for f in sympy.Mul.make_args(rest)):
            return False
    return True


def condition_text(condition) -> str:
    """A validity condition in words (`H divisible by 4`) or its tidied formula (bounds on one size
    alone are phrased by the report: `H ≥ 9`)."""
    condition = tidy(condition)
    if isinstance(condition, sympy.Equality):
        for side, other in ((condition.lhs, condition.rhs), (condition.rhs, condition.lhs)):
            c, f = side.as_coeff_Mul()
            if c.is_Integer and c > 1 and isinstance(f, sympy.floor) and sympy.expand(f.args[0] * c - other) == 0:
                return f"{pretty(other)} divisible by {c}"
    return pretty(condition).replace(">=", "≥").replace("<=", "≤")
