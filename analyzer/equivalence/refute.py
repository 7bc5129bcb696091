"""Refutations: shapes that differ, and function classes separated by a dependency invariant.

Note: the levels. (1) Shapes: the models take or give tensors of different sizes; said for which
symbol values. (2) A counterexample: at concrete small sizes, one model with random weights has an
output element that changes when one input element changes, while the other model's formula for
that output element does not read that input element at all, whatever its weights (its support,
read off the element formula with every sum expanded). Then no weight setting of the second model
matches the first on both inputs, so the first is not a special case of the second. The numbers
(sizes, seed, the output and input positions, the change) are reported. A different parameter count
alone is never a refutation. Recurrent formulas have no support here (it would mean unrolling),
so they are not refuted at this level.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy

from ..errors import ShapeproofError
from ..indexing import Sum, reshape_groups, same_size
from .elements import Composition, Names
from .witness import concrete, random_input, random_weights, run_concrete, size_sets

TOLERANCE = 1e-6


@dataclass
class ShapeDifference:
    where: str  # "input 0" / "output 0"
    a: tuple
    b: tuple
    when: str  # "for every value" or "except when T = 3"


def compare_shapes(a_shapes: list, b_shapes: list, what: str) -> tuple[list, list[ShapeDifference]]:
    """(per pair: "same" or "reshape", differences)."""
    kinds, differences = [], []
    if len(a_shapes) != len(b_shapes):
        differences.append(ShapeDifference(f"{what} count", (len(a_shapes),), (len(b_shapes),), "for every value"))
        return kinds, differences
    for k, (sa, sb) in enumerate(zip(a_shapes, b_shapes)):
        if len(sa) == len(sb) and all(same_size(x, y) for x, y in zip(sa, sb)):
            kinds.append("same")
        elif reshape_groups(sa, sb) is not None:
            kinds.append("reshape")  # the same elements in the same row-major order
        else:
            differences.append(ShapeDifference(f"{what} {k}", tuple(sa), tuple(sb), _when(sa, sb)))
    return kinds, differences


def _when(sa, sb) -> str:
    """For which symbol values two shapes (of different sizes) are equal."""
    if len(sa) != len(sb):
        flat = sympy.expand(sympy.Mul(*sa) - sympy.Mul(*sb))
        roots = _roots(flat)
        suffix = f"; as flat vectors their sizes agree only when {roots}" if roots else ""
        return f"for every value (rank {len(sa)} vs {len(sb)}{suffix})"
    diffs = [sympy.expand(x - y) for x, y in zip(sa, sb) if not same_size(x, y)]
    if any(d.is_number for d in diffs):
        return "for every value"
    for d in diffs:
        if d.free_symbols and all(s.is_positive for s in d.free_symbols) and _sign_fixed(d):
            return "for every value"
    roots = _roots(diffs[0]) if len(diffs) == 1 else None
    return f"for every value except {roots}" if roots else "for some values (not for every value)"


def _sign_fixed(d) -> bool:
    terms = sympy.Add.make_args(sympy.expand(d))
    signs = {t.as_coeff_Mul()[0] > 0 for t in terms}
    return len(signs) == 1


def _roots(d) -> str | None:
    """`symbol = value` where d vanishes, for a symbol d is linear in (the simplest such value)."""
    found = []
    _, factors = sympy.factor_list(d)
    # Sizes are positive: a factor that is a product of symbols never vanishes.
    d = sympy.Mul(*(f ** k for f, k in factors if not (f.is_Symbol or (f.is_Mul and all(a.is_Symbol for a in f.args)))))
    for s in sorted(d.free_symbols, key=str):
        a, b = sympy.expand(d).coeff(s, 1), sympy.expand(d).coeff(s, 0)
        if a == 0 or s in a.free_symbols or sympy.expand(a * s + b - d) != 0:
            continue
        value = sympy.factor(-b / a)
        if value.is_number and not (value.is_integer and value >= 1):
            continue
        found.append((sympy.fraction(sympy.together(value))[1] != 1, sympy.count_ops(value), f"{s} = {value}"))
    return min(found)[2] if found else None


# --- the dependency invariant ----------------------------------------------------------------


class NoSupport(Exception):
    """A formula whose support cannot be read off (a recurrence)."""


@dataclass
class Separation:
    """Output `output` of `dependent` changes with input `position`, which `blind` never reads."""

    dependent: str  # "A" or "B"
    blind: str
    sizes: dict
    seed: int
    output: tuple  # output element index (in the dependent model's output)
    position: tuple  # input element index (in the dependent model's input)
    change: float  # |Δ output| when that input element changes by 1
    dependent_reads: list = field(default_factory=list)  # input positions the dependent output reads (these weights)
    blind_reads: list = field(default_factory=list)  # input positions the blind formula can read (any weights)


def supports(model, names: Names) -> list:
    """For every element of output 0 (flat, row-major), the set of flat input positions its formula
    reads, for any weights. `model` is concrete."""
    bases = {spec.name: sympy.IndexedBase(f"in{k}") for k, spec in enumerate(model.inputs)}
    comp = Composition(model, "S", names, bases)
    shape = tuple(int(d) for d in model.output_shapes[0])
    in_shapes = {bases[s.name]: tuple(int(d) for d in s.shape) for s in model.inputs}
    result, memo = [], {}
    for flat in range(int(np.prod(shape))):
        idx = tuple(int(i) for i in np.unravel_index(flat, shape))
        expr = comp.output(0, tuple(sympy.Integer(i) for i in idx))
        if comp.recurrences:
            raise NoSupport
        reads: set = set()
        _collect(expr, {}, reads, in_shapes, memo)
        result.append(reads)
    return result


def _valid(a_model, b_model, sizes) -> bool:
    """Whether both models are valid at these sizes (batch set to 1 may break a constraint)."""
    try:
        concrete(a_model, sizes)
        concrete(b_model, sizes)
    except ShapeproofError:
        return False
    return True


def _collect(e, env: dict, reads: set, inputs: dict, memo: dict | None = None):
    """Add to `reads` the flat input positions `e` reads with its free indices bound by `env`.
    `memo` keeps each (subformula, values of its free indices)'s positions: attention's softmax
    denominators and projections do not depend on most enclosing sums' indices, and without it
    they would be walked again for every value of each (exponential in the nesting)."""
    if not isinstance(e, sympy.Basic) or not e.args:
        return
    memo = {} if memo is None else memo
    free = memo.get(e)
    if free is None:
        free = memo[e] = e.free_symbols  # SymPy computes it anew on every call
    bound = tuple(sorted(((k, v) for k, v in env.items() if k in free), key=lambda kv: kv[0].name))
    key = (e, bound)
    if key not in memo:
        found: set = set()
        _walk(e, dict(bound), found, inputs, memo)
        memo[key] = frozenset(found)
    reads |= memo[key]


def _walk(e, env: dict, reads: set, inputs: dict, memo: dict):
    if isinstance(e, sympy.Indexed):
        if e.base in inputs:
            idx = tuple(int(sympy.sympify(i).xreplace(env)) for i in e.indices)
            reads.add(int(np.ravel_multi_index(idx, inputs[e.base])))
        for i in e.indices:
            _collect(i, env, reads, inputs, memo)
        return
    if isinstance(e, sympy.Sum):
        v, lo, hi = e.limits[-1]
        inner = Sum(e.function, *e.limits[:-1]) if len(e.limits) > 1 else e.function
        for value in range(int(lo.xreplace(env)), int(hi.xreplace(env)) + 1):
            _collect(inner, {**env, v: sympy.Integer(value)}, reads, inputs, memo)
        return
    if isinstance(e, sympy.Piecewise):
        for expr, cond in e.args:
            decided = cond.xreplace(env) if cond is not sympy.true else cond
            if decided is sympy.true:
                _collect(expr, env, reads, inputs, memo)
                return
            if decided is not sympy.false:
                _collect(expr, env, reads, inputs, memo)  # undecided: count it (a superset is safe)
        return
    if isinstance(e, sympy.Function) and type(e).__name__.startswith("S."):
        raise NoSupport
    for a in e.args:
        _collect(a, env, reads, inputs, memo)


def dependencies(model, weights: list, x: np.ndarray) -> list:
    """For every element of output 0 (flat), {flat input position: |change|} when that input element
    changes by 1, with these weights (single-input models)."""
    y0 = np.ravel(_first(run_concrete(model, weights, x)))
    found: list[dict] = [{} for _ in range(y0.size)]
    for p in range(x.size):
        x1 = x.copy()
        x1.flat[p] += 1.0
        y1 = np.ravel(_first(run_concrete(model, weights, x1)))
        delta = np.abs(y1 - y0)
        for o in np.nonzero(delta > TOLERANCE * (1 + np.abs(y0)))[0]:
            found[o][p] = float(delta[o])
    return found


def _first(y):
    return y[0] if isinstance(y, tuple) else y


def separate(a_model, b_model, symbols: list, seed: int = 0) -> tuple[list[Separation], str | None]:
    """Separations in both directions at a few small sizes; (found, why none could be looked for)."""
    if len(a_model.inputs) != 1 or len(b_model.inputs) != 1 or any(s.dtype.startswith("int") for m in (a_model, b_model) for s in m.inputs):
        return [], "the dependency check handles single, floating-point inputs only"
    sets = _search_sizes(a_model, b_model, symbols)
    if not sets:
        return [], "no small sizes satisfy both models' constraints"
    found: list[Separation] = []
    for sizes in sets:
        a, b = concrete(a_model, sizes), concrete(b_model, sizes)
        if int(np.prod([int(d) for d in a.inputs[0].shape])) > 400:
            continue
        try:
            support = {"A": supports(a, Names()), "B": supports(b, Names())}
        except NoSupport:
            return [], "a recurrence's dependency pattern is not read off its formula (it would mean unrolling it)"
        except Exception as e:  # noqa: BLE001  (a layer without an element formula)
            return [], f"no element formula to read the dependency pattern from: {e}"
        rng = np.random.default_rng(seed)
        for name, model, other in (("A", a, "B"), ("B", b, "A")):
            weights = random_weights(model, rng)
            x = random_input(model.inputs[0], rng)
            out_shape = tuple(int(d) for d in model.output_shapes[0])
            in_shape = tuple(int(d) for d in model.inputs[0].shape)
            for o, changes in enumerate(dependencies(model, weights, x)):
                if o >= len(support[other]):
                    break
                outside = sorted(p for p in changes if p not in support[other][o])
                if outside:
                    p = outside[0]
                    found.append(Separation(name, other, sizes, seed, tuple(int(i) for i in np.unravel_index(o, out_shape)),
                                            tuple(int(i) for i in np.unravel_index(p, in_shape)), changes[p],
                                            [tuple(int(i) for i in np.unravel_index(q, in_shape)) for q in sorted(changes)],
                                            [tuple(int(i) for i in np.unravel_index(q, in_shape))
                                             for q in sorted(support[other][o])]))
                    break
        if found:
            return found, None
    return found, None


def _search_sizes(a_model, b_model, symbols) -> list[dict]:
    """Small sizes for the dependency check, batch 1 where the batch is a symbol, then larger ones
    (a kernel's outer taps need enough positions to show)."""
    batch = {str(m.inputs[0].shape[0]) for m in (a_model, b_model) if m.inputs[0].shape[0].is_Symbol}
    result = []
    for start in (3, 5, 7):
        for sizes in size_sets([a_model, b_model], symbols, count=1, start=start):
            sizes = {k: (1 if k in batch else v) for k, v in sizes.items()}
            if sizes not in result and _valid(a_model, b_model, sizes):
                result.append(sizes)
    return result


def _valid(a_model, b_model, sizes) -> bool:
    """Whether both models are valid at these sizes (batch set to 1 may break a constraint)."""
    try:
        concrete(a_model, sizes)
        concrete(b_model, sizes)
    except ShapeproofError:
        return False
    return True
