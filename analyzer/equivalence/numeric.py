"""Numeric refutation: a sound counterexample where the formulas cannot separate two models.

Note: why it is sound. At concrete small sizes, A gets random weights and runs on random inputs; the
question is whether some weights of B reproduce A's outputs on those inputs. Two cases are settled
exactly, anything else is left alone: B has no weights (its outputs are fixed: any difference
refutes), or B's outputs are affine in its weights (checked along random directions, to rounding);
then the best weights of B are a least-squares fit, and a residual far above rounding shows that no
weights of B fit, so A's function is not one of B's. That refutes `A <= B`, and with it `A == B`.
The layers need no element formula: the NumPy reference runs them (global max pooling, transposed
convolutions). Inputs are shared, so the models must take inputs of the same shapes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeproofError
from .witness import concrete, random_input, random_weights, run_concrete, size_sets

MAX_FIT_WEIGHTS = 3000  # B's weight elements beyond which no fit is tried (one forward pass each)
RESIDUAL = 1e-6  # relative residual above which no weights fit (rounding is about 1e-15)


@dataclass
class NumericRefutation:
    sizes: dict
    seed: int
    inputs: int  # random input draws compared
    how: str  # "no weights" (B has none) or "least squares"
    source_weights: bool  # whether A has weights (drawn at random)
    gap: float  # max |A - B| (no weights) or the fit's residual norm
    relative: float  # gap / |A|

    def text(self, a: str, b: str) -> str:
        at = ", ".join(f"{k} = {v}" for k, v in self.sizes.items()) or "the given sizes"
        drawn = f" with random weights (seed {self.seed})" if self.source_weights else ""
        if self.how == "no weights":
            return (f"at {at}, {a}{drawn} differs from {b}, which has no weights, "
                    f"on {self.inputs} random inputs: max |{a} - {b}| = {self.gap:.3g}")
        return (f"at {at}, no weights of {b} reproduce {a}{drawn} on {self.inputs} "
                f"random inputs: {b} is affine in its weights and its least-squares best fit leaves a residual of "
                f"{self.gap:.3g} ({self.relative:.2g} of |{a}|)")


def refute_inclusion(src, dst, symbols: list, seed: int) -> NumericRefutation | None:
    """A counterexample to `src <= dst` (src's functions among dst's), or None."""
    for sizes in size_sets([src, dst], symbols):
        try:
            a, b = concrete(src, sizes), concrete(dst, sizes)
        except ShapeproofError:
            continue
        if [tuple(i.shape) for i in a.inputs] != [tuple(i.shape) for i in b.inputs]:
            return None
        found = _refute_at(a, b, sizes, seed)
        if found is not None:
            return found
    return None


def _refute_at(a, b, sizes: dict, seed: int) -> NumericRefutation | None:
    rng = np.random.default_rng(seed)
    shapes = [tuple(int(d) for d in w.shape) for n in b.nodes for w in n.weights]
    count = sum(int(np.prod(s)) for s in shapes)
    if count > MAX_FIT_WEIGHTS:
        return None
    names = [w.name for n in a.nodes for w in n.weights]
    a_weights = [np.abs(w) + 0.5 if "variance" in name else w for w, name in zip(random_weights(a, rng), names)]
    per_draw = sum(int(np.prod([int(d) for d in s])) for s in a.output_shapes)
    draws = min(50, max(2, (3 * count + 10) // max(per_draw, 1) + 1))
    inputs = [[random_input(spec, rng) for spec in a.inputs] for _ in range(draws)]

    def outputs(model, weights) -> np.ndarray:
        ys = []
        for xs in inputs:
            y = run_concrete(model, weights, *xs)
            ys += [np.ravel(v) for v in (y if isinstance(y, tuple) else (y,))]
        return np.concatenate(ys)

    target = outputs(a, a_weights)
    if not np.all(np.isfinite(target)):
        return None
    scale = float(np.max(np.abs(target))) or 1.0
    if count == 0:
        gap = float(np.max(np.abs(target - outputs(b, []))))
        return NumericRefutation(sizes, seed, draws, "no weights", bool(a_weights), gap, gap / scale) \
            if gap > RESIDUAL * scale else None

    def unflatten(vector) -> list:
        arrays, start = [], 0
        for s in shapes:
            size = int(np.prod(s))
            arrays.append(vector[start:start + size].reshape(s))
            start += size
        return arrays

    def f(vector) -> np.ndarray:
        return outputs(b, unflatten(vector))

    zero = f(np.zeros(count))
    u, v = rng.normal(size=count), rng.normal(size=count)
    fu, fv = f(u), f(v)
    affine_scale = max(1.0, float(np.max(np.abs(fu))), float(np.max(np.abs(fv))))
    # Written as `not <=` so that NaN (BatchNormalization at a negative variance) counts as not affine.
    if not (np.max(np.abs(f(u + v) - fu - fv + zero)) <= 1e-9 * affine_scale and
            np.max(np.abs(f(2 * u) - 2 * fu + zero)) <= 1e-9 * affine_scale):
        return None  # not affine in its weights: no exact fit to try
    columns = np.stack([f(np.eye(count)[j]) - zero for j in range(count)], axis=1)
    fit, *_ = np.linalg.lstsq(columns, target - zero, rcond=None)
    residual = float(np.linalg.norm(columns @ fit - (target - zero)))
    norm = float(np.linalg.norm(target)) or 1.0
    if residual > RESIDUAL * norm:
        return NumericRefutation(sizes, seed, draws, "least squares", bool(a_weights), residual, residual / norm)
    return None
