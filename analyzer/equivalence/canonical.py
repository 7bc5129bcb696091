"""Canonical renaming of bound indices: two formulas equal up to the names of their summation
indices (α-equivalent) get the same canonical form, so the prover compares them with `==`.

Note: at each sum, its indices are renamed m0, m1, ... (continuing the count of the sums around it)
in a canonical order: sorted by their ranges, and, among indices with the same range, the order that
prints smallest (SymPy's `srepr`, itself canonical: Add and Mul sort their arguments). The limits are
then written in the order of the new names. No layer names a fresh index `m<digits>`, so renaming never
captures an index of an inner sum.
"""
from __future__ import annotations

import itertools

import sympy
from sympy.core.function import AppliedUndef

from ..indexing import Sum

CANONICAL = "m"  # bound indices are renamed m0, m1, ...


def _orders(limits) -> list:
    """The orders of a sum's indices worth trying: sorted by their ranges, only indices with the same
    range permuted among themselves (at most 120 orders)."""
    groups: dict = {}
    for v, lo, hi in limits:
        groups.setdefault(sympy.srepr((lo, hi)), []).append(v)
    ordered = [groups[k] for k in sorted(groups)]
    if sum(len(g) for g in ordered) > 5 and any(len(g) > 1 for g in ordered):
        return [[v for g in ordered for v in g]]
    return [[v for part in combo for v in part]
            for combo in itertools.product(*(itertools.permutations(g) for g in ordered))]


def canonical(e, counter: int = 0, prefix: str = CANONICAL):
    """`e` with every bound index renamed m0, m1, ... in a canonical order: indices sorted by their
    ranges, and among indices with equal ranges the order giving the smallest printed form."""
    if not isinstance(e, sympy.Basic) or not e.args:
        return e
    if isinstance(e, sympy.Sum):
        orders = _orders(e.limits)
        best, best_key = None, None
        for order in orders:
            names = {v: sympy.Symbol(f"{prefix}{counter + k}", integer=True) for k, v in enumerate(order)}
            limits = sorted(((names[v], canonical(lo.xreplace(names), counter, prefix),
                              canonical(hi.xreplace(names), counter, prefix)) for v, lo, hi in e.limits),
                            key=lambda l: int(l[0].name[len(prefix):]), reverse=True)
            body = canonical(e.function.xreplace(names), counter + len(order), prefix)
            candidate = Sum(body, *limits)
            key = sympy.srepr(candidate)
            if best_key is None or (len(key), key) < (len(best_key), best_key):
                best, best_key = candidate, key
        return best
    if isinstance(e, (sympy.Max, sympy.Min)):  # unevaluated: its arguments sorted anew after renaming
        return e.func(*(canonical(a, counter, prefix) for a in e.args), evaluate=False)
    if isinstance(e, (sympy.Indexed, AppliedUndef)) or e.args:
        return e.func(*(canonical(a, counter, prefix) for a in e.args))
    return e
