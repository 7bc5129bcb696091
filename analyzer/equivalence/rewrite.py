"""Normalise element formulas with named rewrite rules, each an identity for every size.

Note: the normal form. Sums split over `+` and absorb every factor multiplied with them, so a term
is one (multi-)sum of a product; nested sums merge; a sum over one value disappears; every sum runs
from 0; a sum over P·Q whose index is only read as ⌊m/Q⌋ and m mod Q becomes two sums (the
reshape bijection); floor and mod of index expressions are evaluated where the index ranges allow
(`⌊(C·k + c)/C⌋ = k` when 0 <= c < C); padding conditions that the ranges decide are dropped, and a
sum over a variable pinned by a condition (`Eq(p, e)`) or clipped by one (`k >= 1`) is collapsed or
narrowed. A max (max pooling) is one flat Max of sorted arguments, built unevaluated; max pooling's
padding reads -∞, which drops, as does a padded read that another argument reads under a weaker
condition. Bound indices are renamed canonically last (canonical.py). Nothing here calls SymPy's
`simplify`: each rule is a targeted rewrite, and a rule that cannot decide its side condition does
not fire (which can only turn a proof into "unknown").

Each application is logged as a Step (rule name, before, after) for the proof's printout.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..indexing import Sum
from .ranges import Ranges

MAX_STEPS = 400  # steps kept per normalisation (the printout shows the first ones)

RULES = {
    "apply-maps": "B's weights, inputs and states are written as A's through the maps (φ, reshapes)",
    "sum-single": "a sum over one value is its term at that value",
    "sum-linear": "a sum of a sum of terms is the sum of their sums",
    "sum-absorb": "a factor multiplying a sum moves inside it (x·Σf = Σ x·f; Σf·Σg = ΣΣ f·g)",
    "sum-merge": "nested sums with independent ranges are one sum over several indices",
    "sum-shift": "a sum from a to b is a sum from 0 to b - a of the shifted term",
    "sum-split": "reshape bijection: Σ_{m<P·Q} f(⌊m/Q⌋, m mod Q) = Σ_{p<P} Σ_{q<Q} f(p, q)",
    "sum-delta": "a sum over k of [k = e]·f(k) is f(e) when e lies in the range",
    "sum-restrict": "a sum over k of [a <= k <= b]·f(k) runs over [a, b] only",
    "sum-constant": "a sum of a term independent of its index is the term times the range length",
    "floor-range": "⌊(Q·a + r)/Q⌋ = a + ⌊r/Q⌋, and ⌊r/Q⌋ = 0 when 0 <= r < Q",
    "floor-nested": "⌊(D·a + r)/(D·E)⌋ = ⌊a/E⌋ when 0 <= r < D",
    "mod-range": "(Q·a + r) mod Q = r mod Q, and r mod Q = r when 0 <= r < Q",
    "mod-nested": "(D·a + r) mod (D·E) = D·(a mod E) + r when 0 <= r < D",
    "condition-range": "a condition that holds (or fails) for every index in range is dropped (or its branch)",
    "piecewise-absorb": "x·[c]·f = [c]·(x·f): a factor moves inside a zero-padded branch",
    "piecewise-merge": "[c]·([d]·f) = [c and d]·f",
    "distribute": "products distribute over sums of terms",
    "max-flatten": "nested maxima (minima) are one over all their arguments, sorted, repeats dropped",
    "max-padding": "max ignores -∞ (max pooling's padding): -∞ drops, max(a, [c]·max(b, d) else -∞) = "
                   "max(a, [c]·b else -∞, [c]·d else -∞)",
    "rename-bound": "bound indices are renamed canonically (α-equivalence)",
}


@dataclass(frozen=True)
class Step:
    rule: str
    before: sympy.Basic
    after: sympy.Basic


class Normalizer:
    """Applies the rules bottom-up under index ranges; `steps` logs what fired."""

    def __init__(self, fresh):
        self.fresh = fresh  # base name -> new index Symbol
        self.steps: list[Step] = []
        self.counts: dict[str, int] = {}

    def log(self, rule: str, before, after):
        self.counts[rule] = self.counts.get(rule, 0) + 1
        if len(self.steps) < MAX_STEPS:
            self.steps.append(Step(rule, before, after))

    # --- the walk ----------------------------------------------------------------------------

    def norm(self, e, R: Ranges):
        if not isinstance(e, sympy.Basic) or not e.args or isinstance(e, (sympy.Symbol, sympy.IndexedBase)):
            return e
        if isinstance(e, sympy.Indexed):
            return e.func(e.base, *(self.index(i, R) for i in e.indices))
        if isinstance(e, sympy.Sum):
            return self.sum(e, R)
        if isinstance(e, sympy.floor):
            return self.floor(self.index(e.args[0], R), R)
        if isinstance(e, sympy.Mod):
            return self.mod(self.index(e.args[0], R), self.norm(e.args[1], R), R)
        if isinstance(e, sympy.Piecewise):
            return self.piecewise(e, R)
        if isinstance(e, (sympy.Max, sympy.Min)):
            return self.extremum(e, R)
        if isinstance(e, (sympy.logic.boolalg.Boolean)) and not isinstance(e, sympy.Symbol):
            return self.condition(e, R)
        if isinstance(e, sympy.Add):
            return sympy.Add(*(self.norm(a, R) for a in e.args))
        if isinstance(e, sympy.Mul):
            return self.mul([self.norm(a, R) for a in e.args], R)
        return e.func(*(self.norm(a, R) for a in e.args))

    def index(self, e, R: Ranges):
        """An index expression: its floors and mods evaluated, then expanded (C·k + c form)."""
        if not isinstance(e, sympy.Basic) or not e.args:
            return e
        if e.has(sympy.Sum, sympy.Piecewise, sympy.Indexed):  # an index read from the input (Embedding)
            return self.norm(e, R)
        if isinstance(e, sympy.floor):
            return self.floor(self.index(e.args[0], R), R)
        if isinstance(e, sympy.Mod):
            return self.mod(self.index(e.args[0], R), self.index(e.args[1], R), R)
        return sympy.expand(e.func(*(self.index(a, R) for a in e.args)))

    # --- products ----------------------------------------------------------------------------

    def mul(self, factors: list, R: Ranges):
        product = sympy.Mul(*factors)
        if not isinstance(product, sympy.Mul):
            return product if not isinstance(product, (sympy.Add, sympy.Sum)) else self.norm(product, R)
        factors = list(product.args)
        for k, f in enumerate(factors):
            if isinstance(f, sympy.Add):
                rest = factors[:k] + factors[k + 1:]
                result = sympy.Add(*(self.mul(rest + [term], R) for term in f.args))
                self.log("distribute", product, result)
                return result
        sums = [f for f in factors if isinstance(f, sympy.Sum)]
        if sums:
            others = [f for f in factors if not isinstance(f, sympy.Sum)]
            limits, bodies = [], []
            taken: set = set()
            for s in sums:
                body, lims = s.function, list(s.limits)
                clash = {v for v, _, _ in lims if v in taken}
                if clash:  # the same bound name in two factors: rename one side
                    renamed = {v: self.fresh(v.name) for v in clash}
                    body = body.xreplace(renamed)
                    lims = [(renamed.get(v, v), lo, hi) for v, lo, hi in lims]
                taken |= {v for v, _, _ in lims}
                limits += lims
                bodies.append(body)
            merged = Sum(sympy.Mul(*others, *bodies), *limits)
            self.log("sum-absorb", product, merged)
            return self.sum(merged, R)
        pieces = [f for f in factors if isinstance(f, sympy.Piecewise) and _zero_default(f)]
        if pieces and len(factors) > 1:
            p = pieces[0]
            others = [f for f in factors if f is not p]
            k = sympy.Mul(*others)
            result = sympy.Piecewise(*((self.mul([k, expr], R), self.condition(cond, R)) for expr, cond in p.args[:-1]),
                                     (0, True))
            self.log("piecewise-absorb", product, result)
            return result
        return product

    # --- sums --------------------------------------------------------------------------------

    def sum(self, e: sympy.Sum, R: Ranges, normal_body: bool = False):
        body = e.function
        limits = [(v, self.index(lo, R), self.index(hi, R)) for v, lo, hi in e.limits]
        for k, (v, lo, hi) in enumerate(limits):
            if lo != 0:
                continue
            divisor = self.split_divisor(body, v, hi, R)
            if divisor is not None:
                p, q = self.fresh("p"), self.fresh("q")
                new_body = body.xreplace({v: p * divisor + q})
                new_limits = limits[:k] + [(q, 0, divisor - 1), (p, 0, sympy.cancel((hi + 1) / divisor) - 1)] + limits[k + 1:]
                after = Sum(new_body, *new_limits)
                self.log("sum-split", Sum(body, *limits), after)
                return self.sum(after, R)
        kept = []
        for v, lo, hi in limits:
            if sympy.expand(hi - lo) == 0:
                before = Sum(body, (v, lo, hi))
                body = body.xreplace({v: lo})
                self.log("sum-single", before, body)
                normal_body = False
            elif lo != 0:
                before = Sum(body, (v, lo, hi))
                body = body.xreplace({v: v + lo})
                kept.append((v, sympy.Integer(0), sympy.expand(hi - lo)))
                self.log("sum-shift", before, Sum(body, kept[-1]))
                normal_body = False
            else:
                kept.append((v, lo, hi))
        if not kept:
            return self.norm(body, R)
        inner = R.extend(kept)
        if not normal_body:
            body = self.norm(body, inner)
        if isinstance(body, sympy.Add):
            terms = [Sum(t, *kept) for t in body.args]
            result = sympy.Add(*(self.sum(t, R, normal_body=True) for t in terms))
            self.log("sum-linear", Sum(body, *kept), sympy.Add(*terms))
            return result
        if isinstance(body, sympy.Sum):
            merged = Sum(body.function, *body.limits, *kept)
            self.log("sum-merge", Sum(body, *kept), merged)
            body, kept = body.function, list(body.limits) + kept
            inner = R.extend(kept)
        narrowed = self.collapse(body, kept, R, inner)
        if narrowed is not None:
            return narrowed
        free = body.free_symbols
        unused = [(v, lo, hi) for v, lo, hi in kept if v not in free and not any(v in l2.free_symbols or v in h2.free_symbols for _, l2, h2 in kept)]
        if unused:
            result_limits = [l for l in kept if l not in unused]
            count = sympy.Mul(*(hi - lo + 1 for _, lo, hi in unused))
            result = count * (Sum(body, *result_limits) if result_limits else body)
            self.log("sum-constant", Sum(body, *kept), result)
            return self.norm(result, R)
        if body == 0:
            return sympy.Integer(0)
        return Sum(body, *kept)

    def split_divisor(self, body, v, hi, R: Ranges):
        """Q when the index v of a sum over [0, hi] is read through ⌊·/Q⌋ or mod Q, with Q dividing hi + 1."""
        candidates = []
        for atom in body.atoms(sympy.floor, sympy.Mod):
            if isinstance(atom, sympy.Mod):
                arg, q = atom.args
            else:
                arg, q = atom.args[0].as_numer_denom()
                if q == 1:
                    continue
            if v not in arg.free_symbols or R.indexed(q) or q.has(v):
                continue
            coeff = sympy.expand(arg).coeff(v)
            if coeff != 1:
                continue
            candidates.append(q)
        valid = []
        for q in set(candidates):
            ratio = sympy.cancel((hi + 1) / q)
            if q != 1 and sympy.fraction(ratio)[1] == 1 and ratio != 1 and (not ratio.is_number or ratio.is_integer):
                valid.append(q)
        # The finest divisor first: Q with no other candidate properly dividing it.
        for q in sorted(valid, key=sympy.default_sort_key):
            if not any(c != q and sympy.fraction(sympy.cancel(q / c))[1] == 1 for c in valid):
                return q
        return None

    def collapse(self, body, limits, R: Ranges, inner: Ranges):
        """sum-delta and sum-restrict on a zero-padded body; None when neither applies."""
        if not (isinstance(body, sympy.Piecewise) and _zero_default(body) and len(body.args) == 2):
            return None
        value, condition = body.args[0]
        conjuncts = list(sympy.And.make_args(condition))
        others_of = lambda k: [c for j, c in enumerate(conjuncts) if j != k]
        for k, c in enumerate(conjuncts):
            if not isinstance(c, sympy.Eq):
                continue
            d = sympy.expand(c.lhs - c.rhs)
            for n, (v, lo, hi) in enumerate(limits):
                coeff = d.coeff(v)
                if coeff not in (1, -1) or any(v in l2.free_symbols or v in h2.free_symbols for _, l2, h2 in limits):
                    continue
                e = sympy.expand(-(d - coeff * v) / coeff)
                if v in e.free_symbols:
                    continue
                rest = limits[:n] + limits[n + 1:]
                outer = R.extend(rest)
                conds = others_of(k)
                if not outer.within(e, lo, hi):
                    conds += [sympy.Ge(e - lo, 0), sympy.Ge(hi - e, 0)]
                new_body = sympy.Piecewise((value, sympy.And(*conds)), (0, True)).xreplace({v: e})
                result = Sum(new_body, *rest) if rest else new_body
                self.log("sum-delta", Sum(body, *limits), result)
                return self.norm(result, R)
        for n, (v, lo, hi) in enumerate(limits):
            if any(v in l2.free_symbols or v in h2.free_symbols for _, l2, h2 in limits):
                continue
            outer = R.extend(limits[:n] + limits[n + 1:])
            new_lo, new_hi, used = lo, hi, []
            for k, c in enumerate(conjuncts):
                bound = _linear_bound(c, v)
                if bound is None:
                    continue
                side, b = bound
                if any(w in b.free_symbols for w, _, _ in limits):
                    continue  # a bound that reads another index of this sum
                if side == "lo" and outer.at_least(b, new_lo) and outer.at_most(b, new_hi + 1):
                    new_lo, used = b, used + [k]
                elif side == "hi" and outer.at_most(b, new_hi) and outer.at_least(b, new_lo - 1):
                    new_hi, used = b, used + [k]
            if used:
                conds = [c for k, c in enumerate(conjuncts) if k not in used]
                new_body = sympy.Piecewise((value, sympy.And(*conds)), (0, True)) if conds else value
                new_limits = limits[:n] + [(v, new_lo, new_hi)] + limits[n + 1:]
                result = Sum(new_body, *new_limits)
                self.log("sum-restrict", Sum(body, *limits), result)
                return self.sum(result, R)
        return None

    # --- maxima and minima -------------------------------------------------------------------

    def extremum(self, e, R: Ranges):
        """Max (Min) with its arguments normalised, nested ones flattened into it, -∞ (+∞) dropped and a
        padded argument's max distributed over its branch; built unevaluated (sorted, no repeats)."""
        kind = type(e)
        identity = -sympy.oo if kind is sympy.Max else sympy.oo
        args, rules = [], set()
        pending = [self.norm(a, R) for a in e.args]
        while pending:
            a = pending.pop(0)
            if isinstance(a, kind):
                pending[:0], rule = a.args, "max-flatten"
            elif a == identity:
                rule = "max-padding"
            elif (inner := _padded_arguments(a, kind, identity)) is not None:
                pending[:0], rule = inner, "max-padding"
            else:
                args.append(a)
                continue
            rules.add(rule)
        args = list(dict.fromkeys(args))  # a repeat (overlapping windows) is max-flatten's
        kept = _without_covered(args, identity)
        if len(kept) < len(args):
            args, rules = kept, rules | {"max-padding"}
        result = kind(*args, evaluate=False) if args else identity
        for rule in sorted(rules):
            self.log(rule, e, result)
        return result

    # --- floor, mod, conditions --------------------------------------------------------------

    def floor(self, arg, R: Ranges):
        numer, denom = arg.as_numer_denom()
        if denom == 1 or R.indexed(denom) or not R.sizes.positive(denom):
            return sympy.floor(arg)
        before = sympy.floor(arg)
        whole, rest = _divide(sympy.expand(numer), denom)
        if rest == 0:
            self.log("floor-range", before, whole)
            return whole
        if R.within(rest, 0, denom - 1):
            self.log("floor-range", before, whole)
            return whole
        for d in _divisors(rest, denom):
            a, r = _divide(rest, d)
            if a != 0 and R.within(r, 0, d - 1):
                inner = self.floor(a / sympy.cancel(denom / d), R)
                result = whole + inner
                self.log("floor-nested", before, result)
                return result
        result = whole + sympy.floor(rest / denom)
        if whole != 0:
            self.log("floor-range", before, result)
        return result

    def mod(self, arg, m, R: Ranges):
        if m == 1:
            return sympy.Integer(0)
        if R.indexed(m) or not R.sizes.positive(m):
            return sympy.Mod(arg, m)
        before = sympy.Mod(arg, m)
        _, rest = _divide(sympy.expand(arg), m)
        if R.within(rest, 0, m - 1):
            self.log("mod-range", before, rest)
            return rest
        for d in _divisors(rest, m):
            a, r = _divide(rest, d)
            if a != 0 and R.within(r, 0, d - 1):
                result = d * self.mod(a, sympy.cancel(m / d), R) + r
                self.log("mod-nested", before, result)
                return result
        return sympy.Mod(rest, m)

    def piecewise(self, e, R: Ranges):
        pieces = []
        for expr, cond in e.args:
            decided = self.condition(cond, R)
            if decided is sympy.false:
                self.log("condition-range", cond, decided)
                continue
            if decided is sympy.true and cond is not sympy.true:
                self.log("condition-range", cond, decided)
            pieces.append((self.norm(expr, R), decided))
            if decided is sympy.true:
                break
        if not pieces:
            return sympy.Integer(0)
        if pieces[0][1] is sympy.true:
            return pieces[0][0]
        if len(pieces) == 2 and pieces[1] == (0, sympy.true) and isinstance(pieces[0][0], sympy.Piecewise) \
                and len(pieces[0][0].args) == 2 and _zero_default(pieces[0][0]):
            (value, inner), outer = pieces[0][0].args[0], pieces[0][1]
            result = sympy.Piecewise((value, self.condition(sympy.And(outer, inner), R)), (0, True))
            self.log("piecewise-merge", sympy.Piecewise(*pieces), result)
            return result
        if all(expr == 0 for expr, _ in pieces):
            return sympy.Integer(0)
        return sympy.Piecewise(*pieces)

    def condition(self, c, R: Ranges):
        """A condition in normal form (`d >= 0`, `Eq(d, 0)` over integers), decided where possible."""
        if c in (sympy.true, sympy.false):
            return c
        if isinstance(c, sympy.And):
            return sympy.And(*(self.condition(a, R) for a in c.args))
        if isinstance(c, sympy.Or):
            return sympy.Or(*(self.condition(a, R) for a in c.args))
        if isinstance(c, sympy.Not):
            return sympy.Not(self.condition(c.args[0], R))
        if isinstance(c, sympy.Rel):
            lhs, rhs = self.index(c.lhs, R), self.index(c.rhs, R)
            d = sympy.expand(lhs - rhs)
            if isinstance(c, (sympy.Ge, sympy.Gt, sympy.Le, sympy.Lt)):
                if isinstance(c, (sympy.Le, sympy.Lt)):
                    d = -d
                if isinstance(c, (sympy.Gt, sympy.Lt)):
                    d = d - 1  # integers: a > b is a - b - 1 >= 0
                if R.at_least(d, 0):
                    return sympy.true
                if R.at_most(d, -1):
                    return sympy.false
                return sympy.Ge(d, 0)
            if isinstance(c, sympy.Eq):
                if d == 0:
                    return sympy.true
                if R.at_least(d, 1) or R.at_most(d, -1):
                    return sympy.false
                return sympy.Eq(-d if d.could_extract_minus_sign() else d, 0)
            if isinstance(c, sympy.Ne):
                return sympy.Not(self.condition(sympy.Eq(c.lhs, c.rhs), R))
        return c


def _zero_default(p: sympy.Piecewise) -> bool:
    last_expr, last_cond = p.args[-1]
    return last_expr == 0 and last_cond is sympy.true


def _padded_arguments(p, kind, identity):
    """For `[c]·kind(a, b, ...) else identity` (max pooling's -∞ padding around a max), the arguments
    `[c]·a else identity`, `[c]·b else identity`, ... (a max over none of them is the identity too),
    nested conditions joined; None for anything else."""
    if not (isinstance(p, sympy.Piecewise) and len(p.args) == 2):
        return None
    (value, condition), (default, otherwise) = p.args
    if default != identity or otherwise is not sympy.true or not isinstance(value, kind):
        return None
    guarded = []
    for a in value.args:
        a, inner = _guard(a, identity)
        joined = _without_implied(sympy.And(condition, inner))  # both normal already: decided one by one
        guarded.append(sympy.Piecewise((a, joined), (identity, True)))
    return guarded


def _guard(a, identity) -> tuple:
    """(value, condition) of `[condition]·value else identity`; (a, true) for anything else."""
    if isinstance(a, sympy.Piecewise) and len(a.args) == 2 and a.args[1].expr == identity and a.args[1].cond is sympy.true:
        return tuple(a.args[0])
    return a, sympy.true


def _slack(c, e):
    """e - d when condition `c` is `d >= 0` and that difference is a number (then c implies e >= 0 if it
    is >= 0); None otherwise."""
    if not isinstance(c, sympy.Ge):
        return None
    gap = sympy.expand(e - (c.lhs - c.rhs))
    return gap if gap.is_number else None


def _implies(c, d) -> bool:
    """Whether condition `c` implies `d`, conjunct by conjunct: each of d's is one of c's or follows from one."""
    mine = sympy.And.make_args(c)

    def follows(x) -> bool:
        if x is sympy.true or x in mine:
            return True
        return isinstance(x, sympy.Ge) and any((g := _slack(y, x.lhs - x.rhs)) is not None and g >= 0 for y in mine)

    return all(follows(x) for x in sympy.And.make_args(d))


def _without_implied(condition):
    """`condition` without the conjuncts that another of its conjuncts implies (`d + 1 >= 0` next to `d >= 0`)."""
    conjuncts = list(dict.fromkeys(sympy.And.make_args(condition)))

    def implied(k, x) -> bool:
        gaps = ((j, _slack(y, x.lhs - x.rhs)) for j, y in enumerate(conjuncts) if j != k and isinstance(x, sympy.Ge))
        return any(g is not None and (g > 0 or (g == 0 and j < k)) for j, g in gaps)

    return sympy.And(*(x for k, x in enumerate(conjuncts) if not implied(k, x)))


def _without_covered(args: list, identity) -> list:
    """A max's arguments less each `[c]·a else -∞` that another argument covers: it reads a too, under a
    condition that c implies (a itself: none), so where c holds it gives a already. Nested "same" pools
    read a position from several taps, each under its own padding condition. Of two arguments with
    equivalent conditions the first stays."""
    guards = [_guard(a, identity) for a in args]

    def covered(k) -> bool:
        value, condition = guards[k]
        return any(j != k and other == value and _implies(condition, weaker)
                   and (j < k or not _implies(weaker, condition)) for j, (other, weaker) in enumerate(guards))

    return [a for k, a in enumerate(args) if not covered(k)]


def _divide(n, m):
    """(whole, rest) with n = m·whole + rest, the terms of n that m divides (as polynomials) in whole."""
    whole, rest = sympy.Integer(0), sympy.Integer(0)
    for term in sympy.Add.make_args(n):
        q = sympy.cancel(term / m)
        if sympy.fraction(q)[1] == 1 and _integer_valued(q):
            whole += q
        else:
            rest += term
    return whole, rest


def _integer_valued(q) -> bool:
    coeff, _ = q.as_coeff_Mul()
    return coeff.is_integer is True


def _divisors(rest, m) -> list:
    """Proper divisors of m shared with some term of `rest` (the D of the nested floor/mod rules)."""
    found = []
    for term in sympy.Add.make_args(rest):
        g = sympy.gcd(term, m)
        if g != 1 and g != m and sympy.fraction(sympy.cancel(m / g))[1] == 1 and g not in found:
            if g.is_number and g < 0:
                g = -g
            found.append(g)
    return found


def _nonnegative_part(c):
    """d with `c` <=> d >= 0 over the integers, for an inequality (SymPy moves terms across freely)."""
    if isinstance(c, (sympy.Ge, sympy.Gt)):
        d = c.lhs - c.rhs
    elif isinstance(c, (sympy.Le, sympy.Lt)):
        d = c.rhs - c.lhs
    else:
        return None
    return sympy.expand(d - 1 if isinstance(c, (sympy.Gt, sympy.Lt)) else d)


def _linear_bound(c, v):
    """('lo', b) for a condition `v - b >= 0`, ('hi', b) for `b - v >= 0`; None otherwise."""
    d = _nonnegative_part(c)
    if d is None:
        return None
    coeff = d.coeff(v)
    rest = sympy.expand(d - coeff * v)
    if v in rest.free_symbols:
        return None
    if coeff == 1:
        return "lo", -rest
    if coeff == -1:
        return "hi", rest
    return None
