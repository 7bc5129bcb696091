"""Candidate maps from model A's tensors to model B's: weights, inputs, outputs and recurrent states.

Note: a map writes one tensor of B in terms of A's, element by element (`B.dense.kernel[i1, i2] :=
A.conv1d.kernel[0, i1, i2]`). The candidates for a pair of tensors are the reindexings that are
bijections: the identity, a row-major reshape (which covers dropping or adding axes of size 1:
`(1, C, n)` <-> `(C, n)`, and merging axes: `(T, C, n)` <-> `(T·C, n)`), and transposes. Weights are
paired layer by layer in Keras's order (shapes must hold the same number of elements), and every
combination of the pairs' candidates is tried, a few dozen at most. For inclusion (A <= B: B with
tied or zeroed weights computes what A computes) a pair may also embed a smaller convolution kernel
in a larger one, zero outside (`zero-padded`), or a dilated kernel's taps at multiples of the
dilation in a kernel as wide as its span, zeros between (`dilated`); and B may have more weights than
A: A's are paired in order with some of B's (an order-preserving injection), and every weight of B
left over is zero (`zero`: B's bias when A has none).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy

from ..indexing import Sum, reshape_groups, reshape_index, same_size

MAX_COMBINATIONS = 64


@dataclass(frozen=True)
class TensorMap:
    """target[symbols] := value: one tensor of B as a function of A's (kind says how)."""

    target: sympy.Basic  # IndexedBase (weights, inputs) or an undefined function (states)
    symbols: tuple
    value: sympy.Basic
    kind: str

    def at(self, indices) -> sympy.Basic:
        return self.value.xreplace(dict(zip(self.symbols, indices)))

    def lhs(self):
        if isinstance(self.target, sympy.IndexedBase):
            return self.target[self.symbols] if self.symbols else self.target
        return self.target(*self.symbols)


def map_symbols(shape, prefix="j") -> tuple:
    """A map's own index symbols j1, j2, ... (non-negative: never equal to a formula's index symbols)."""
    return tuple(sympy.Symbol(f"{prefix}{k}", integer=True, nonnegative=True) for k in range(1, len(shape) + 1))


def reindexings(target, target_shape, source, source_shape, read=None, extra=()) -> list[TensorMap]:
    """The bijective reindexings of `source` (sizes source_shape) as `target` (sizes target_shape):
    identity, reshape or unit axes, transposes. `read(source, indices)` builds the source element
    (default: source[indices]); `extra` are trailing symbols passed through (a state's step)."""
    read = read or (lambda base, idx: base[idx] if idx else base)
    j = map_symbols(target_shape)
    options = []
    if len(target_shape) == len(source_shape) and all(same_size(a, b) for a, b in zip(target_shape, source_shape)):
        options.append(TensorMap(target, j + extra, read(source, j + extra), "identity"))
        return options
    index = reshape_index(source_shape, target_shape, j)
    if index is not None:
        groups = reshape_groups(source_shape, target_shape)
        kind = "unit axes" if all(len(a) == 1 and len(b) == 1 for a, b in groups) else "reshape"
        options.append(TensorMap(target, j + extra, read(source, tuple(index) + extra), kind))
    for perm in transposes(target_shape, source_shape):
        index = [sympy.Integer(0)] * len(source_shape)
        for t_axis, s_axis in perm:
            index[s_axis] = j[t_axis]
        options.append(TensorMap(target, j + extra, read(source, tuple(index) + extra), "transpose"))
    return options


def transposes(target_shape, source_shape) -> list:
    """Axis pairings [(target axis, source axis)] of the non-unit axes that permute them (identity excluded)."""
    t_axes = [k for k, d in enumerate(target_shape) if not same_size(d, 1)]
    s_axes = [k for k, d in enumerate(source_shape) if not same_size(d, 1)]
    if len(t_axes) != len(s_axes) or len(t_axes) > 4:
        return []
    found = []
    for perm in itertools.permutations(s_axes):
        if list(perm) == s_axes:
            continue
        if all(same_size(target_shape[t], source_shape[s]) for t, s in zip(t_axes, perm)):
            found.append(list(zip(t_axes, perm)))
    return found


def zero_padded(target, target_shape, source, source_shape) -> list[TensorMap]:
    """A smaller convolution kernel (*k, C, F) inside a larger one (*K, C, F), zero elsewhere: one map
    per placement (centred first, then at either end)."""
    if len(target_shape) != len(source_shape) or len(target_shape) < 3:
        return []
    if not all(same_size(a, b) for a, b in zip(target_shape[-2:], source_shape[-2:])):
        return []
    small, large = sympy.sympify(tuple(source_shape[:-2])), sympy.sympify(tuple(target_shape[:-2]))  # ints too
    if not all(a.is_number and b.is_number and a <= b for a, b in zip(small, large)) or list(small) == list(large):
        return []
    j = map_symbols(target_shape)
    placements = []
    for a, b in zip(small, large):
        spare = int(b - a)
        placements.append(sorted({spare // 2, 0, spare}, key=lambda o: (o != spare // 2, o)))
    options = []
    for offsets in itertools.product(*placements):
        index = tuple(jj - o for jj, o in zip(j, offsets)) + j[-2:]
        condition = sympy.And(*(sympy.And(jj >= o, jj <= o + int(a) - 1) for jj, o, a in zip(j, offsets, small)))
        value = sympy.Piecewise((source[index], condition), (0, True))
        options.append(TensorMap(target, j, value, "zero-padded (outer taps zero)"))
    return options


def dilated(target, target_shape, source, source_shape, ratios) -> list[TensorMap]:
    """A dilated convolution kernel (*k, C, F) inside a kernel (*K, C, F) of dilation `ratios` times
    smaller: tap t at offset + r·t, zero between and outside; one map per placement (centred first,
    then at either end), where the span (k - 1)·r + 1 fits in K."""
    if len(target_shape) != len(source_shape) or len(ratios) != len(target_shape) - 2 or all(r == 1 for r in ratios):
        return []
    if not all(same_size(a, b) for a, b in zip(target_shape[-2:], source_shape[-2:])):
        return []
    small, large = sympy.sympify(tuple(source_shape[:-2])), sympy.sympify(tuple(target_shape[:-2]))
    if not all(a.is_number and b.is_number for a, b in zip(small, large)):
        return []
    spans = [(int(a) - 1) * r + 1 for a, r in zip(small, ratios)]
    if any(span > int(b) for span, b in zip(spans, large)):
        return []
    j = map_symbols(target_shape)
    taps = map_symbols(small, "t")
    placements = [sorted({(int(b) - span) // 2, 0, int(b) - span}, key=lambda o: (o != (int(b) - span) // 2, o))
                  for span, b in zip(spans, large)]
    options = []
    for offsets in itertools.product(*placements):
        # Σ_t [j = offset + r·t]·source[t]: the sum-delta rule reads it back as the dilated sum.
        at = sympy.And(*(sympy.Eq(jj, o + r * t) for jj, o, r, t in zip(j, offsets, ratios, taps)))
        value = Sum(sympy.Piecewise((source[taps + j[-2:]], at), (0, True)), *((t, 0, a - 1) for t, a in zip(taps, small)))
        options.append(TensorMap(target, j, value, "dilated (taps at multiples of the dilation, zeros between)"))
    return options


def dilation_ratios(a_node, wa, b_node, wb) -> tuple | None:
    """Per spatial axis, A's dilation over B's, when both weights are their layers' convolution
    kernels (taps first) and B's dilation divides A's; None otherwise."""
    rates = []
    for node, w in ((a_node, wa), (b_node, wb)):
        size, rate = getattr(node.layer, "kernel_size", None), getattr(node.layer, "dilation_rate", None)
        if size is None or rate is None or w.name not in ("kernel", "depthwise_kernel") or len(w.shape) != len(size) + 2:
            return None
        if not all(same_size(d, k) for d, k in zip(w.shape, size)) or not all(sympy.sympify(r).is_number for r in rate):
            return None
        rates.append([int(r) for r in rate])
    if any(ra % rb for ra, rb in zip(*rates)):
        return None
    return tuple(ra // rb for ra, rb in zip(*rates))


def pair_options(a_weight, b_weight, inclusion: bool = False) -> list[TensorMap]:
    """The candidate maps of B's weight from A's: reindexings, and for inclusion a dilated or
    zero-padded kernel. Each weight is (node, Weight, IndexedBase)."""
    (node_a, wa, base_a), (node_b, wb, base_b) = a_weight, b_weight
    options = []
    if same_size(wa.size, wb.size):
        options += reindexings(base_b, wb.shape, base_a, wa.shape)
    if inclusion:
        ratios = dilation_ratios(node_a, wa, node_b, wb)
        if ratios is not None:
            options += dilated(base_b, wb.shape, base_a, wa.shape, ratios)
        options += zero_padded(base_b, wb.shape, base_a, wa.shape)
    return options


def zero(b_weight) -> TensorMap:
    """B's weight := 0 (no weight of A pairs with it)."""
    _, w, base = b_weight
    j = map_symbols(w.shape)
    return TensorMap(base, j, sympy.Integer(0), "zero (no counterpart in the other model)")


def pairings(a_weights: list, b_weights: list, inclusion: bool = False):
    """Candidate weight maps, each a list of TensorMaps (one per weight of B): B's weights paired in
    order with A's. a_weights/b_weights: [(node, Weight, IndexedBase)]. For inclusion, B may have
    more weights than A: A's pair in order with some of B's, the others zero."""
    if len(a_weights) == len(b_weights):
        per_pair = []
        for wa, wb in zip(a_weights, b_weights):
            options = pair_options(wa, wb, inclusion)
            if not options:
                return
            per_pair.append(options)
        for combination in itertools.islice(itertools.product(*per_pair), MAX_COMBINATIONS):
            yield list(combination)
        return
    if not inclusion or len(a_weights) > len(b_weights):
        return
    yield from itertools.islice(_injections(a_weights, b_weights, {}), MAX_COMBINATIONS)


def _injections(a_weights: list, b_weights: list, cache: dict, budget: list | None = None):
    """Maps for B's weights with A's paired in order to some of them (B's first weight to A's first,
    or B's first zero), the rest zero. `budget` bounds the pairs examined (a few hundred)."""
    budget = budget if budget is not None else [16 * MAX_COMBINATIONS]
    if not a_weights:
        yield [zero(w) for w in b_weights]
        return
    if len(b_weights) < len(a_weights) or budget[0] <= 0:
        return
    budget[0] -= 1
    key = (a_weights[0][2], b_weights[0][2])
    if key not in cache:
        cache[key] = pair_options(a_weights[0], b_weights[0], inclusion=True)
    for option in cache[key]:
        for rest in _injections(a_weights[1:], b_weights[1:], cache, budget):
            yield [option, *rest]
    if len(b_weights) > len(a_weights):
        for rest in _injections(a_weights, b_weights[1:], cache, budget):
            yield [zero(b_weights[0]), *rest]


def substitute(expr, maps: dict):
    """`expr` with every element of a mapped tensor (an IndexedBase, or an undefined function for
    states) replaced by its value under the map."""
    if not isinstance(expr, sympy.Basic) or not expr.args:
        return expr
    if isinstance(expr, sympy.Indexed) and expr.base in maps:
        return maps[expr.base].at(tuple(substitute(i, maps) for i in expr.indices))
    if isinstance(expr, sympy.Function) and expr.func in maps:
        return maps[expr.func].at(tuple(substitute(a, maps) for a in expr.args))
    args = tuple(substitute(a, maps) for a in expr.args)
    return expr.func(*args) if args != expr.args else expr
