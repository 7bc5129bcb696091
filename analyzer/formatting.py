"""Numbers and formulas as the terminal shows them: 12,800 with separators, ⌊(T - 5)/2⌋, 32·C + 32.
One format for every command (report, check, layers)."""
from __future__ import annotations

import sympy
from sympy.printing.str import StrPrinter


class _Pretty(StrPrinter):
    """SymPy's str form, with 12,800 separators and ⌊(T - 5)/2⌋ for floor."""

    def _print_Integer(self, expr):
        return f"{int(expr):,}"

    def _print_floor(self, expr):
        return "⌊" + self._print(sympy.factor_terms(sympy.together(expr.args[0]))) + "⌋"

    def _print_ceiling(self, expr):
        return "⌈" + self._print(sympy.factor_terms(sympy.together(expr.args[0]))) + "⌉"

    def _print_Infinity(self, expr):
        return "all"


def pretty(expr) -> str:
    """A dimension, count or formula for the terminal."""
    if isinstance(expr, str):
        return expr
    text = _Pretty().doprint(sympy.sympify(expr))
    return text.replace("**", "^").replace("*", "·")
