"""The numeric witness: both models run with mapped random weights on random inputs, in float64.

Note: the witness cross-checks a proof (it never replaces one): at a few small sizes, A gets random
weights, B gets φ of them (the weight map evaluated element by element), both run the NumPy
reference forward pass (analyzer/reference.py) on the same random input (reshaped for B where the
proof maps inputs by a reshape), and the largest |A - B| is reported with the seed. A proof whose
witness disagrees is a bug in some layer's element formula, and is reported as unknown.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy

from .. import reference
from ..errors import ShapeproofError
from ..indexing import Sum
from ..reference import split_weights

SEED = 0
MAX_WEIGHTS = 2_000_000  # elements of weights per model; beyond, the witness is skipped
TOLERANCE = 1e-9


@dataclass
class Run:
    sizes: dict
    max_abs_diff: float
    scale: float  # max |A(x)|

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= TOLERANCE * max(1.0, self.scale)


@dataclass
class Witness:
    seed: int
    runs: list = field(default_factory=list)
    skipped: str | None = None  # why no run was possible

    @property
    def passed(self) -> bool:
        return self.skipped is None and bool(self.runs) and all(r.passed for r in self.runs)


_CONCRETE: dict = {}


def concrete(model, sizes: dict):
    """analyzer.reference.concrete, remembered: the witness and the dependency check ask for the same
    sizes several times (the model is kept in the entry, so its id is not reused)."""
    key = (id(model), tuple(sorted(sizes.items())))
    if key not in _CONCRETE:
        try:
            _CONCRETE[key] = (model, reference.concrete(model, sizes), None)
        except ShapeproofError as e:
            _CONCRETE[key] = (model, None, e)
    _, result, error = _CONCRETE[key]
    if error is not None:
        raise error
    return result


def run_concrete(model, weights: list, *inputs):
    """analyzer.reference.forward in float64 for a model whose sizes are all concrete already (it
    skips forward's re-analysis, which the witness and the dependency check would repeat per call)."""
    per_layer = split_weights(model, [np.asarray(w, dtype=np.float64) for w in weights])
    values = {}
    for spec, x in zip(model.inputs, inputs):
        values[(spec.name, 0)] = x if spec.dtype.startswith(("int", "uint", "bool")) else np.asarray(x, np.float64)
    for node in model.nodes:
        given = [values[ref] for ref in node.input_refs]
        out = node.layer.reference(given if node.layer.inputs == "many" else given[0], per_layer[node.name])
        for i, y in enumerate(out if isinstance(out, list) else [out]):
            values[(node.name, i)] = y
    result = [values[ref] for ref in model.output_refs]
    return result[0] if len(result) == 1 else tuple(result)


def size_sets(models, symbols: list, count: int = 3, start: int = 2) -> list[dict]:
    """Up to `count` assignments of small integers to `symbols` under which every model is valid
    (all 2, all 3, then distinct values), each raised until the models' constraints hold."""
    names = [str(s) for s in symbols]
    if not names:
        return [{}]
    tries = [{n: start for n in names}, {n: start + 1 for n in names},
             {n: start + k % 4 for k, n in enumerate(names)}]
    found: list[dict] = []
    for sizes in tries:
        for bump in range(8):
            candidate = {n: v + bump for n, v in sizes.items()}
            try:
                for m in models:
                    concrete(m, candidate)
            except ShapeproofError:
                continue
            if candidate not in found:
                found.append(candidate)
            break
        if len(found) >= count:
            break
    return found


def substituted_shape(shape, sizes: dict) -> tuple:
    env = {sympy.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
    return tuple(int(sympy.sympify(d).xreplace(env)) for d in shape)


def random_weights(model, rng) -> list:
    return [rng.normal(0.0, 0.5, size=tuple(int(d) for d in w.shape)) for node in model.nodes for w in node.weights]


def valid_weights(model, rng) -> list:
    """random_weights with every variance positive (BatchNormalization's moving_variance sits under a
    square root: a negative one would make both models NaN and the witness fail for no fault)."""
    names = [w.name for node in model.nodes for w in node.weights]
    return [np.abs(w) + 0.5 if "variance" in name else w for w, name in zip(random_weights(model, rng), names)]


def random_input(spec, rng):
    shape = tuple(int(d) for d in spec.shape)
    if spec.dtype.startswith(("int", "uint", "bool")):
        return rng.integers(0, 2, size=shape)
    return rng.normal(0.0, 1.0, size=shape)


def mapped_weights(b_model, b_bases: list, maps: dict, a_arrays: dict, sizes: dict) -> list:
    """B's weights in get_weights() order, each evaluated from its map over A's arrays."""
    env_sizes = {sympy.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
    result = []
    for (node, w, base) in b_bases:
        shape = tuple(int(sympy.sympify(d).xreplace(env_sizes)) for d in w.shape)
        tmap = maps[base]
        grids = np.indices(shape) if shape else []
        env = dict(zip(tmap.symbols, grids))
        value = tmap.value.xreplace(env_sizes)
        array = np.broadcast_to(np.asarray(evaluate(value, env, a_arrays), dtype=np.float64), shape)
        result.append(np.array(array))
    return result


def evaluate(e, env: dict, arrays: dict):
    """A map's value over integer index grids: indices, floor, mod, Piecewise, sums and A's arrays."""
    if isinstance(e, (int, float)):
        return e
    if e is sympy.true or e is True:
        return True
    if e is sympy.false or e is False:
        return False
    if e.is_Integer:
        return int(e)
    if e.is_Number:
        return float(e)
    if e.is_Symbol:
        return env[e]
    if isinstance(e, sympy.Indexed):
        array = arrays[e.base]
        idx = tuple(np.clip(np.asarray(evaluate(i, env, arrays)).astype(np.int64), 0, n - 1)
                    for i, n in zip(e.indices, array.shape))
        return array[idx]
    if isinstance(e, sympy.Add):
        return sum(evaluate(a, env, arrays) for a in e.args)
    if isinstance(e, sympy.Mul):
        result = 1
        for a in e.args:
            result = result * evaluate(a, env, arrays)
        return result
    if isinstance(e, sympy.Pow):
        return evaluate(e.base, env, arrays) ** evaluate(e.exp, env, arrays)
    if isinstance(e, sympy.floor):
        numer, denom = e.args[0].as_numer_denom()
        return np.floor_divide(evaluate(numer, env, arrays), evaluate(denom, env, arrays))
    if isinstance(e, sympy.Mod):
        return np.mod(evaluate(e.args[0], env, arrays), evaluate(e.args[1], env, arrays))
    if isinstance(e, sympy.Piecewise):
        conds = [np.asarray(evaluate(c, env, arrays), dtype=bool) for _, c in e.args]
        values = [evaluate(v, env, arrays) for v, _ in e.args]
        return np.select(conds, values, default=0.0)
    if isinstance(e, sympy.Rel):
        lhs, rhs = evaluate(e.lhs, env, arrays), evaluate(e.rhs, env, arrays)
        return {"==": np.equal, "!=": np.not_equal, ">=": np.greater_equal, "<=": np.less_equal,
                ">": np.greater, "<": np.less}[e.rel_op](lhs, rhs)
    if isinstance(e, sympy.And):
        return np.logical_and.reduce([np.asarray(evaluate(a, env, arrays), dtype=bool) for a in e.args])
    if isinstance(e, sympy.Or):
        return np.logical_or.reduce([np.asarray(evaluate(a, env, arrays), dtype=bool) for a in e.args])
    if isinstance(e, sympy.Not):
        return np.logical_not(evaluate(e.args[0], env, arrays))
    if isinstance(e, sympy.Sum):
        body, limits = e.function, list(e.limits)
        v, lo, hi = limits[-1]
        inner = Sum(body, *limits[:-1]) if len(limits) > 1 else body
        total = 0
        for value in range(int(evaluate(lo, env, arrays)), int(evaluate(hi, env, arrays)) + 1):
            total = total + evaluate(inner, {**env, v: value}, arrays)
        return total
    raise ValueError(f"cannot evaluate {e} numerically")


def run(a_model, b_model, a_comp, b_comp, maps: dict, symbols: list, seed: int = SEED, count: int = 3) -> Witness:
    """Evaluate A(x; w) and B(x; φ(w)) at up to `count` small sizes; `maps` holds B's weight maps by
    IndexedBase. Inputs whose shapes differ are the same values reshaped (row-major)."""
    witness = Witness(seed)
    rng = np.random.default_rng(seed)
    sets = size_sets([a_model, b_model], symbols, count)
    if not sets:
        witness.skipped = "no small sizes satisfy both models' constraints"
        return witness
    for sizes in sets:
        a, b = concrete(a_model, sizes), concrete(b_model, sizes)
        total = max(sum(int(w.size) for n in m.nodes for w in n.weights) for m in (a, b))
        if total > MAX_WEIGHTS:
            witness.skipped = (f"{total:,} weights at these sizes: too many to run; "
                               "give the sizes symbols with --set to check a small case")
            return witness
        a_weights = valid_weights(a, rng)
        a_arrays = {base: arr for (_, _, base), arr in zip(a_comp.weight_list(), a_weights)}
        b_weights = mapped_weights(b, b_comp.weight_list(), maps, a_arrays, sizes)
        xs = [random_input(spec, rng) for spec in a.inputs]
        xb = [x.reshape(tuple(int(d) for d in spec.shape)) for x, spec in zip(xs, b.inputs)]
        ya, yb = run_concrete(a, a_weights, *xs), run_concrete(b, b_weights, *xb)
        ya = ya if isinstance(ya, tuple) else (ya,)
        yb = yb if isinstance(yb, tuple) else (yb,)
        diff = max(float(np.max(np.abs(np.ravel(p) - np.ravel(q)), initial=0.0)) for p, q in zip(ya, yb))
        scale = max(float(np.max(np.abs(p), initial=0.0)) for p in ya)
        witness.runs.append(Run(sizes, diff, scale))
    return witness
