"""`--explain`: each layer's formulas, derived by running the layer on a generic input shape.

A layer's methods work on any SymPy dims, so calling them on `(b, L, C)` instead of the real
input gives the formula (`params = 1·C·128 + 128`), and substituting the real input gives the value.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy

from .errors import ShapeproofError
from .graph import Node
from .values import symbol

GENERIC_AXES = {2: "b C", 3: "b L C", 4: "b H W C", 5: "b D H W C", 6: "b T D H W C"}


@dataclass
class Explanation:
    generic_input: tuple | None  # e.g. (b, L, C); None when the layer takes several inputs
    generic_output: list | None  # output shapes on the generic input
    substitution: dict  # generic symbol -> real dimension
    weight_terms: list  # (weight name, generic shape, real shape)
    params_formula: sympy.Expr | None
    macs_formula: sympy.Expr | None


def explain(node: Node) -> Explanation:
    """Formulas of one node on a generic input, with the substitution that gives its real values."""
    x = node.input_shapes
    if isinstance(x, list) or len(x) not in GENERIC_AXES:
        return _real_only(node)
    generic = tuple(symbol(n) for n in GENERIC_AXES[len(x)].split())
    try:
        out = node.layer.output_shape(generic)
        weights = node.layer.weights(generic)
        macs = sympy.sympify(node.layer.macs(generic))
    except (ShapeproofError, TypeError, ValueError, AttributeError):
        return _real_only(node)  # the layer needs concrete sizes (e.g. Reshape with -1)
    outs = out if isinstance(out, list) else [out]
    terms = [(w.name, w.shape, r.shape) for w, r in zip(weights, node.weights)]
    params = sympy.Add(*(w.size for w in weights))
    return Explanation(generic, outs, dict(zip(generic, x)), terms, params, macs)


def _real_only(node: Node) -> Explanation:
    terms = [(w.name, w.shape, w.shape) for w in node.weights]
    return Explanation(None, None, {}, terms, None, None)
