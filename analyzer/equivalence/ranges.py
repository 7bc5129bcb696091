"""Deciding inequalities between index expressions, for every value of the size symbols.

Note: sizes are positive integers (with lower bounds from the models' constraints, `T >= 3`);
indices range over `[lo, hi]` intervals whose ends are size formulas. A bound of an index
expression is found by interval arithmetic on its expanded terms (a floor or mod is bounded
through its argument), and a size formula is shown >= 0 by shifting every symbol to its lower
bound plus a non-negative variable and reading the coefficients: all >= 0 proves it. Everything
here is sufficient, not complete: "cannot tell" makes a rule not fire, never a wrong rewrite.
"""
from __future__ import annotations

from functools import lru_cache

import sympy


class Sizes:
    """What is known of the size symbols: positive integers, some with a larger lower bound."""

    def __init__(self, lower: dict | None = None):
        self.lower = {s: int(b) for s, b in (lower or {}).items() if int(b) > 1}

    @lru_cache(maxsize=4096)  # noqa: B019 (one Sizes per proof)
    def nonnegative(self, expr) -> bool:
        """expr >= 0 for every value (expr a rational function of the sizes)."""
        expr = sympy.sympify(expr)
        if expr.is_number:
            return bool(expr >= 0)
        numer, denom = sympy.fraction(sympy.cancel(sympy.together(expr)))
        if self._positive_poly(denom):
            return self._poly_nonnegative(numer)
        if self._positive_poly(-denom):
            return self._poly_nonnegative(-numer)
        return False

    def positive(self, expr) -> bool:
        """expr > 0 for every value, where expr·(its denominator) is integer-valued."""
        expr = sympy.sympify(expr)
        if expr.is_number:
            return bool(expr > 0)
        numer, denom = sympy.fraction(sympy.cancel(sympy.together(expr)))
        if self._positive_poly(denom):
            return self._integer_poly(numer) and self._poly_nonnegative(numer - 1)
        if self._positive_poly(-denom):
            return self._integer_poly(numer) and self._poly_nonnegative(-numer - 1)
        return False

    def _positive_poly(self, p) -> bool:
        return self._integer_poly(p) and self._poly_nonnegative(p - 1) or (p.is_number and bool(p > 0))

    @staticmethod
    def _integer_poly(p) -> bool:
        p = sympy.expand(p)
        return all(c.is_integer for c in (t.as_coeff_Mul()[0] for t in sympy.Add.make_args(p)))

    def _poly_nonnegative(self, p) -> bool:
        p = sympy.expand(p)
        if p.is_number:
            return bool(p >= 0)
        shift = {}
        for atom in p.free_symbols:
            if not (atom.is_integer and atom.is_positive):
                return False
            shift[atom] = atom + (self.lower.get(atom, 1))  # atom now stands for the excess, >= 0
        others = [a for a in p.atoms(sympy.Function)]
        if others:
            return False
        shifted = sympy.expand(p.xreplace(shift))
        return all(t.as_coeff_Mul()[0] >= 0 for t in sympy.Add.make_args(shifted))


class Ranges:
    """Index symbols with their inclusive ranges, over a Sizes."""

    def __init__(self, sizes: Sizes, ranges: dict | None = None):
        self.sizes = sizes
        self.ranges = dict(ranges or {})

    def extend(self, limits) -> Ranges:
        more = dict(self.ranges)
        for v, lo, hi in limits:
            more[v] = (lo, hi)
        return Ranges(self.sizes, more)

    def indexed(self, expr) -> bool:
        return any(s in self.ranges for s in expr.free_symbols)

    # --- interval bounds ---------------------------------------------------------------------

    def hi(self, expr):
        return self._bound(sympy.expand(expr), True, 0)

    def lo(self, expr):
        return self._bound(sympy.expand(expr), False, 0)

    def _bound(self, expr, upper: bool, depth: int):
        if depth > 12:
            return None
        if not self.indexed(expr):
            return expr
        total = sympy.Integer(0)
        for term in sympy.Add.make_args(expr):
            coeff, rest = term.as_independent(*self.ranges, as_Add=False)
            if rest == 1:
                total += coeff
                continue
            if self.sizes.nonnegative(coeff):
                b = self._atom_bound(rest, upper, depth)
            elif self.sizes.nonnegative(-coeff):
                b = self._atom_bound(rest, not upper, depth)
            else:
                return None
            if b is None:
                return None
            total += coeff * b
        return total

    def _atom_bound(self, atom, upper: bool, depth: int):
        if atom in self.ranges:
            lo, hi = self.ranges[atom]
            return self._bound(sympy.expand(hi if upper else lo), upper, depth + 1)
        if isinstance(atom, sympy.floor):
            numer, denom = atom.args[0].as_numer_denom()
            if self.indexed(denom) or not self.sizes.positive(denom):
                return None
            b = self._bound(sympy.expand(numer), upper, depth + 1)
            if b is None:
                return None
            return b / denom if upper else (b - denom + 1) / denom
        if isinstance(atom, sympy.Mod):
            m = atom.args[1]
            if self.indexed(m) or not self.sizes.positive(m):
                return None
            return m - 1 if upper else sympy.Integer(0)
        return None

    # --- decisions on integer-valued expressions -----------------------------------------------

    def at_most(self, a, b) -> bool:
        """a <= b for every index and size value (a, b integer-valued)."""
        bound = self.hi(sympy.expand(a - b))
        return bound is not None and self.sizes.positive(1 - bound)

    def at_least(self, a, b) -> bool:
        return self.at_most(b, a)

    def within(self, e, lo, hi) -> bool:
        return self.at_least(e, lo) and self.at_most(e, hi)
