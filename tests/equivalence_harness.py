"""Evaluate a model's composed element formulas numerically, to hold each layer's `element()` to its
NumPy `reference()` (tests/test_equivalence.py): every output element, recurrences unrolled."""
from __future__ import annotations

import math

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from shapeproof.analyzer.activations import FUNCTIONS
from shapeproof.analyzer.equivalence.elements import Composition, Names, output_indices


def formula_outputs(model, weights: list, x: np.ndarray, output: int = 0) -> np.ndarray:
    """Output `output` of a concrete single-input `model`, computed from its element formula."""
    names = Names()
    base = sympy.IndexedBase("x")
    comp = Composition(model, "A", names, {model.inputs[0].name: base})
    arrays = {b: np.asarray(w, dtype=np.float64) for (_, _, b), w in zip(comp.weight_list(), weights)}
    arrays[base] = np.asarray(x)
    shape = tuple(int(d) for d in model.output_shapes[output])
    idx = output_indices(names, shape)
    expr = comp.output(output, idx)
    evaluator = Evaluator(comp, arrays, names)
    out = np.zeros(shape)
    for position in np.ndindex(*shape):
        out[position] = evaluator.value(expr, dict(zip(idx, position)))
    return out


class Evaluator:
    def __init__(self, comp, arrays, names):
        self.comp, self.arrays, self.names = comp, arrays, names
        self.memo: dict = {}
        self.cells: dict = {}

    def value(self, e, env):
        if isinstance(e, (int, float)):
            return e
        if e is sympy.true:
            return True
        if e is sympy.false:
            return False
        if e.is_Integer:
            return int(e)
        if e.is_Number:
            return float(e)
        if e.is_Symbol:
            return env[e]
        if isinstance(e, sympy.Indexed):
            idx = tuple(int(self.value(i, env)) for i in e.indices)
            array = self.arrays[e.base]
            assert all(0 <= i < n for i, n in zip(idx, array.shape)), f"{e} reads out of range at {idx}"
            return float(array[idx])
        if isinstance(e, sympy.Add):
            return sum(self.value(a, env) for a in e.args)
        if isinstance(e, sympy.Mul):
            result = 1.0
            for a in e.args:
                result *= self.value(a, env)
            return result
        if isinstance(e, sympy.Pow):
            return self.value(e.base, env) ** self.value(e.exp, env)
        if isinstance(e, sympy.floor):
            numer, denom = e.args[0].as_numer_denom()
            return int(self.value(numer, env)) // int(self.value(denom, env))
        if isinstance(e, sympy.Mod):
            return int(self.value(e.args[0], env)) % int(self.value(e.args[1], env))
        if isinstance(e, sympy.Piecewise):
            for expr, cond in e.args:
                if self.value(cond, env):
                    return self.value(expr, env)
            raise AssertionError(f"no branch of {e} holds")
        if isinstance(e, sympy.Rel):
            lhs, rhs = self.value(e.lhs, env), self.value(e.rhs, env)
            return {"==": lhs == rhs, "!=": lhs != rhs, ">=": lhs >= rhs, "<=": lhs <= rhs, ">": lhs > rhs,
                    "<": lhs < rhs}[e.rel_op]
        if isinstance(e, sympy.And):
            return all(self.value(a, env) for a in e.args)
        if isinstance(e, sympy.Or):
            return any(self.value(a, env) for a in e.args)
        if isinstance(e, sympy.Sum):
            v, lo, hi = e.limits[-1]
            inner = type(e)(e.function, *e.limits[:-1]) if len(e.limits) > 1 else e.function
            return sum(self.value(inner, {**env, v: k})
                       for k in range(int(self.value(lo, env)), int(self.value(hi, env)) + 1))
        if isinstance(e, sympy.exp):
            return math.exp(self.value(e.args[0], env))
        if isinstance(e, sympy.log):
            return math.log(self.value(e.args[0], env))
        if isinstance(e, sympy.Max):
            return max(self.value(a, env) for a in e.args)
        if isinstance(e, sympy.Min):
            return min(self.value(a, env) for a in e.args)
        if isinstance(e, AppliedUndef):
            name = type(e).__name__
            if name in FUNCTIONS:
                return float(FUNCTIONS[name](np.array([self.value(e.args[0], env)], dtype=np.float64))[0])
            return self.state(e.func, tuple(int(self.value(a, env)) for a in e.args))
        raise AssertionError(f"cannot evaluate {type(e).__name__}: {e}")

    def state(self, func, args):
        """A recurrence's state at (*index, step), unrolled from zero states."""
        *index, step = args
        if step < 0:
            return 0.0
        key = (func, args)
        if key not in self.memo:
            rec = next(r for r in self.comp.recurrences.values() if func in r.states)
            if rec.label not in self.cells:
                sidx = output_indices(self.names, rec.state_shape, "s")
                t = self.names.fresh("t")
                self.cells[rec.label] = (sidx, t, rec.cell(sidx, t))
            sidx, t, cells = self.cells[rec.label]
            k = rec.states.index(func)
            self.memo[key] = self.value(cells[k], {**dict(zip(sidx, index)), t: step})
        return self.memo[key]
