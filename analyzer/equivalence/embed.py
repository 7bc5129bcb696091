"""Inclusion maps solved from the formulas: a layer that is affine in its weights and in its input
(Dense, on a flattened input or on the last axis, a convolution, EinsumDense) reproduces an affine
function of that input when its weights are that function's coefficients.

Note: for `X <= Y`, let L be Y's first weighted layer, reading the model input (through weightless
layers: Flatten, Reshape), and z(e) the tensor of X at some cut (the input or a layer's output) with
L's output shape, affine in the input (under L's activation). Each weight W of L is solved for by
its response: L's formula at output e with W := the unit tensor at j and L's other weights 0 is
`[e = e(j)]·u[q(j)]` (a kernel: W[j] multiplies input element q(j) of output e(j)) or `[e = e(j)]`
(a bias), the output index pinned by j up to indices left free (the batch, the position). Then
W[j] := the coefficient of the input element q(j) in z(e(j)) (z normalised, its terms that read the
input kept, each input element replaced by [its index = q(j)], normalised again), or z(e(j)) at
input 0 (the other terms) for a bias; a solution that still depends on the free indices is none.
A layer not affine in its weights (LoRA's a·b) or its input is left out, and so is a response with
a condition that pins no output index (padding="same": the taps read the padding near the borders).
The weights after the cut are paired as for an equivalence (maps.pairings). Each result is a
candidate like any other, proved or not by
`Setup.check`: `Conv1D(n, 1) + Flatten() <= Flatten() + Dense(T·n)` (block-diagonal kernel),
`Dense(8) + Dense(4) <= Dense(4)` (kernel k1·k2, bias b1·k2 + b2), `Dense(4) + Rescaling(2.0) <=
Dense(4)` (both doubled), `Conv1D + BatchNormalization() <= Conv1D` (the normalisation folded in).
"""
from __future__ import annotations

import itertools

import sympy
from sympy.core.function import AppliedUndef

from ..indexing import same_size
from .elements import Operand, output_indices
from .maps import MAX_COMBINATIONS, TensorMap, map_symbols, pairings, substitute
from .ranges import Ranges
from .rewrite import Normalizer


def affine_embeddings(setup) -> list[list[TensorMap]]:
    """Candidate weight maps for the target model, one per cut in the source model."""
    dst, src = setup.target, setup.source
    weighted = [n for n in dst.model.nodes if n.weights]
    if not weighted or src.recurrences:
        return []
    node = weighted[0]
    if node.layer.inputs == "many":
        return []
    layer = _affine_layer(setup, node)
    if layer is None:
        return []
    rest_dst = [w for w in dst.weight_list() if w[0].name != node.name]
    cuts = [((spec.name, 0), spec.shape, 0) for spec in src.model.inputs]
    cuts += [((n.name, 0), n.output_shapes[0], k + 1) for k, n in enumerate(src.model.nodes)]
    candidates = []
    for ref, shape, after in cuts:
        if len(candidates) >= MAX_COMBINATIONS:
            break
        if len(shape) != len(layer.index) or not all(same_size(p, q) for p, q in zip(shape, node.output_shapes[0])):
            continue
        maps = layer.solve(src.value(ref)(*layer.index))
        if maps is None:
            continue
        later = {n.name for n in src.model.nodes[after:]}
        rest_src = [w for w in src.weight_list() if w[0].name in later]
        for rest in itertools.islice(pairings(rest_src, rest_dst), MAX_COMBINATIONS):
            candidates.append(maps + rest)
    return candidates[:MAX_COMBINATIONS]


class _AffineLayer:
    """The target's layer L: its output index, activation, and each weight's response (see the Note)."""

    def __init__(self, setup, node, index, activation, responses):
        self.setup, self.node, self.index, self.activation = setup, node, index, activation
        self.responses = responses  # [(IndexedBase, shape, j, pinned {index symbol: value}, read or None, factor)]
        self.inputs = set(setup.source.inputs.values())

    def solve(self, z) -> list[TensorMap] | None:
        """L's weights as the coefficients of `z` (the source's tensor at L's output index e)."""
        if self.activation is not None:
            if not (isinstance(z, AppliedUndef) and z.func == self.activation and len(z.args) == 1):
                return None
            z = z.args[0]
        if _degree(z, self.inputs) is None:
            return None  # the input passes through a non-linearity: not affine
        maps = []
        for base, shape, j, pinned, read, factor in self.responses:
            if factor == 0:
                maps.append(TensorMap(base, j, sympy.Integer(0), "zero (never read)"))
                continue
            R = _ranges(self.setup, (self.index, self.node.output_shapes[0]), (j, shape))
            linear, constant = self._split(z.xreplace(pinned), R)
            if read is None:
                value = self._free(constant)
            else:
                value = self._free(Normalizer(self.setup.names.fresh).norm(
                    _replace(linear, read.base, lambda e, read=read: _unit(e, read.indices)), R))
            if value is None:
                return None
            name = base.name.rsplit(".", 1)[-1]
            kind = _describe(value, j, name) if read is not None else f"{name}: the other model at input 0"
            maps.append(TensorMap(base, j, value / factor, kind))
        return maps

    def _split(self, z, R: Ranges) -> tuple:
        """z normalised, as (its terms that read the input, the others): its linear part and its
        value at input 0 (split, not subtracted: equal sums under other bound names would not cancel)."""
        terms = sympy.Add.make_args(Normalizer(self.setup.names.fresh).norm(z, R))
        reads = [t for t in terms if any(t.has(base) for base in self.inputs)]
        return sympy.Add(*reads), sympy.Add(*(t for t in terms if t not in reads))

    def _free(self, value):
        """`value`, or None when it depends on an output index left free (the batch, the position)."""
        return None if value.free_symbols & set(self.index) else value


def _affine_layer(setup, node) -> _AffineLayer | None:
    """The target's layer `node` with each weight's response, or None when it is not affine in its
    weights and its input, or a response is not one input element (or a constant) at pinned outputs."""
    dst = setup.target
    u = sympy.IndexedBase("u")  # the layer's input, read back through the composition below
    index = output_indices(setup.names, node.output_shapes[0], "e")
    y = node.layer.element(Operand(node.input_shapes, lambda *i: u[i], dst, node.name), dst.weights[node.name], index)
    activation = None
    if isinstance(y, AppliedUndef) and len(y.args) == 1:
        activation, y = y.func, y.args[0]
    bases = dst.weights[node.name]
    if _degree(y, set(bases)) is None or _degree(y, {u}) is None:
        return None
    responses = []
    inputs = {t.target: t for t in setup.input_maps}
    for base, w in zip(bases, node.weights):
        j = map_symbols(w.shape)
        unit = _replace(y, set(bases), lambda e, base=base, j=j: _unit(e, j) if e.base == base else 0)
        response = Normalizer(setup.names.fresh).norm(unit, _ranges(setup, (index, node.output_shapes[0]), (j, w.shape)))
        found = _pin(response, index)
        if found is None:
            return None
        pinned, value = found
        factor, read = value, None
        if value.has(u):
            factor, read = value.as_independent(u, as_Add=False)
            if not (isinstance(read, sympy.Indexed) and read.base == u) or factor.free_symbols & set(index):
                return None
            read = substitute(dst.value(node.input_refs[0])(*read.indices), inputs)
            if not (isinstance(read, sympy.Indexed) and read.base in set(setup.source.inputs.values())):
                return None
        elif factor.free_symbols & set(index):
            return None
        responses.append((base, w.shape, j, pinned, read, factor))
    return _AffineLayer(setup, node, index, activation, responses)


def _pin(response, index) -> tuple | None:
    """({output index: its value in j}, value) for a response `[e_k = f(j) ∧ ...]·value`; every
    condition must pin one output index (coefficient ±1); None otherwise."""
    if isinstance(response, sympy.Piecewise):
        if len(response.args) != 2 or response.args[1].expr != 0 or response.args[1].cond is not sympy.true:
            return None
        value, condition = response.args[0]
    else:
        value, condition = response, sympy.true
    pinned = {}
    for c in sympy.And.make_args(condition):
        if c is sympy.true:
            continue
        if not isinstance(c, sympy.Eq):
            return None
        d = sympy.expand(c.lhs - c.rhs).xreplace(pinned)
        free = [i for i in index if i in d.free_symbols and i not in pinned]
        if len(free) != 1 or d.coeff(free[0]) not in (1, -1):
            return None
        s = free[0]
        coeff = d.coeff(s)
        pinned[s] = sympy.expand(-(d - coeff * s) / coeff)
    return pinned, value.xreplace(pinned)


def _ranges(setup, *indexed) -> Ranges:
    """Ranges of index symbols over the sizes of their tensors: indexed = (symbols, shape), ..."""
    return Ranges(setup.sizes, {i: (0, d - 1) for symbols, shape in indexed for i, d in zip(symbols, shape)})


def _unit(element, at):
    """[element's indices = at]: the unit tensor at `at`, read at `element`."""
    return sympy.Piecewise((1, sympy.And(*(sympy.Eq(a, b) for a, b in zip(element.indices, at)))), (0, True))


def _replace(e, bases, value):
    """`e` with every element of the IndexedBase(s) `bases` replaced by value(element)."""
    bases = bases if isinstance(bases, set) else {bases}
    return e.replace(lambda x: isinstance(x, sympy.Indexed) and x.base in bases, value)


def _degree(e, bases) -> int | None:
    """The degree of `e` in the elements of `bases`: 0 or 1, None when higher or not polynomial
    (an element inside a function, a power or an index)."""
    if isinstance(e, sympy.Indexed):
        if any(_degree(i, bases) != 0 for i in e.indices):
            return None
        return 1 if e.base in bases else 0
    if not isinstance(e, sympy.Basic) or not e.args or isinstance(e, sympy.IndexedBase):
        return 0
    if isinstance(e, sympy.Sum):
        if any(_degree(a, bases) != 0 for _, lo, hi in e.limits for a in (lo, hi)):
            return None
        return _degree(e.function, bases)
    if isinstance(e, sympy.Piecewise):
        if any(_degree(c, bases) != 0 for _, c in e.args):
            return None
        degrees = [_degree(v, bases) for v, _ in e.args]
        return None if None in degrees else max(degrees)
    degrees = [_degree(a, bases) for a in e.args]
    if None in degrees:
        return None
    if isinstance(e, sympy.Add):
        return max(degrees)
    if isinstance(e, sympy.Mul):
        return sum(degrees) if sum(degrees) <= 1 else None
    return 0 if not any(degrees) else None


def _describe(coefficient, j, name: str) -> str:
    """How a solved kernel looks: block-diagonal when it is zero off blocks ⌊m/a⌋ = ⌊o/b⌋."""
    if len(j) == 2 and isinstance(coefficient, sympy.Piecewise) and len(coefficient.args) == 2:
        condition = coefficient.args[0].cond
        if isinstance(condition, sympy.Eq):
            floors = condition.lhs.atoms(sympy.floor) | condition.rhs.atoms(sympy.floor)
            if set(j) <= {s for f in floors for s in f.free_symbols}:
                return f"block-diagonal {name}: the coefficients of the other model's affine map"
    return f"{name}: the coefficients of the other model's affine map"
