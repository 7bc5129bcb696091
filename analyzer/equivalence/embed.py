"""Inclusion maps derived from the formulas: a Dense layer that reads the whole flattened input can
reproduce any affine function of it, its kernel being that function's coefficients.

Note: for `X <= Y` where Y's first weighted layer is a Dense reading the (reshaped) model input, and
X has a layer whose output has the Dense's output shape and is affine in the input (under the Dense's
activation): Y.kernel[m, o] := the coefficient of the input element that the Dense reads at position m
in X's tensor at o, and Y.bias[o] := X's tensor at o for input 0. The coefficient is computed exactly
(each input element replaced by [its index = that position], normalised). The weights after that cut
are paired as for an equivalence (maps.pairings). Each result is a candidate like any other, proved
or not by `Setup.check`: `Conv1D(n, 1) + Flatten() <= Flatten() + Dense(T·n)` (block-diagonal), and
with a Dense after both, `Conv1D(n, 1) + Flatten() + Dense(u) <= Flatten() + Dense(T·n) + Dense(u)`.
"""
from __future__ import annotations

import itertools

import sympy

from ..indexing import same_size
from .maps import MAX_COMBINATIONS, TensorMap, map_symbols, pairings, substitute
from .ranges import Ranges
from .rewrite import Normalizer


def dense_embeddings(setup) -> list[list[TensorMap]]:
    """Candidate weight maps for the target model, one per cut in the source model."""
    dst, src = setup.target, setup.source
    weighted = [n for n in dst.model.nodes if n.weights]
    if not weighted or src.recurrences:
        return []
    node = weighted[0]
    layer = node.layer
    if layer.kind != "Dense" or layer.lora_rank is not None or len(node.input_shapes) != 2:
        return []
    m, o = map_symbols((0, 0))
    batch = setup.names.fresh("b")
    read = substitute(dst.value(node.input_refs[0])(batch, m), {t.target: t for t in setup.input_maps})
    if not (isinstance(read, sympy.Indexed) and read.base in set(src.inputs.values())):
        return []
    rest_dst = [w for w in dst.weight_list() if w[0].name != node.name]
    candidates = []
    for k, cut in enumerate(src.model.nodes):
        shape = cut.output_shapes[0]
        if len(shape) != 2 or not all(same_size(p, q) for p, q in zip(shape, node.output_shapes[0])):
            continue
        maps = _coefficients(setup, src.value((cut.name, 0))(batch, o), read, layer, node, (m, o, batch))
        if maps is None:
            continue
        after = {n.name for n in src.model.nodes[k + 1:]}
        rest_src = [w for w in src.weight_list() if w[0].name in after]
        for rest in itertools.islice(pairings(rest_src, rest_dst), MAX_COMBINATIONS):
            candidates.append(maps + rest)
    return candidates


def _coefficients(setup, z, read, layer, node, symbols) -> list[TensorMap] | None:
    """The Dense's kernel and bias as the coefficients and the constant of `z`, affine in the input."""
    m, o, batch = symbols
    if layer.activation not in (None, "linear"):
        if type(z).__name__ != layer.activation or len(z.args) != 1:
            return None
        z = z.args[0]
    if any(f.has(read.base) for f in z.atoms(sympy.Function)):
        return None  # the input passes through a non-linearity: not affine
    at_zero = z.replace(lambda e: isinstance(e, sympy.Indexed) and e.base == read.base, lambda e: sympy.Integer(0))
    delta = z.replace(lambda e: isinstance(e, sympy.Indexed) and e.base == read.base,
                      lambda e: sympy.Piecewise((1, sympy.And(*(sympy.Eq(i, j) for i, j in zip(e.indices, read.indices)))),
                                                (0, True)))
    ranges = {m: (0, node.input_shapes[-1] - 1), o: (0, layer.units - 1), batch: (0, node.input_shapes[0] - 1)}
    normalizer = Normalizer(setup.names.fresh)
    R = Ranges(setup.sizes, ranges)
    coefficient = normalizer.norm(delta - at_zero, R)
    constant = normalizer.norm(at_zero, R)
    if batch in coefficient.free_symbols or batch in constant.free_symbols:
        return None
    kernel, *bias = setup.target.weights[node.name]
    maps = [TensorMap(kernel, (m, o), coefficient, _describe(coefficient, m, o))]
    if bias:
        maps.append(TensorMap(bias[0], (o,), constant, "bias: the other model at input 0"))
    elif constant != 0:
        return None
    return maps


def _describe(coefficient, m, o) -> str:
    """How a derived kernel looks: block-diagonal when it is zero off blocks ⌊m/a⌋ = ⌊o/b⌋."""
    if isinstance(coefficient, sympy.Piecewise) and len(coefficient.args) == 2:
        condition = coefficient.args[0].cond
        if isinstance(condition, sympy.Eq):
            floors = condition.lhs.atoms(sympy.floor) | condition.rhs.atoms(sympy.floor)
            if {m, o} <= {s for f in floors for s in f.free_symbols}:
                return "block-diagonal kernel: the coefficients of the other model's affine map"
    return "kernel: the coefficients of the other model's affine map"
