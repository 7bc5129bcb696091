"""One comparison, set up: model X's formulas against model Y's under candidate maps from X's tensors.

Note: the source model's weights are free; the target model's weights, inputs and recurrent states
are written in the source's through maps (analyzer/equivalence/maps.py). `check(weight_maps)`
normalises the target's formulas under the maps and compares them, output by output and cell by
cell, with the source's (normalised once): equal canonical forms are a proof that
`X(x; w) = Y(x; φ(w))` for every x and w. Recurrences are paired in model order; their states
are mapped by the same reindexings as weights; one cell step is compared (the induction step) and
both start from zero states (the base case).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from ..indexing import reshape_index, same_size
from ..symbolic import lower_bounds
from .canonical import canonical
from .elements import Composition, Names, output_indices
from .maps import TensorMap, reindexings, substitute
from .ranges import Ranges, Sizes
from .rewrite import Normalizer


class Unsupported(Exception):
    """Why a comparison cannot be set up (no element formula, recurrences that do not pair)."""


@dataclass
class Compared:
    """One compared formula: a model output, or one state of a recurrence cell."""

    label: str
    index: tuple  # free index symbols
    ranges: dict  # their ranges
    source: sympy.Basic  # the source model's formula, as composed
    target: sympy.Basic  # the target's, as composed (before the maps)
    source_normal: sympy.Basic = None
    source_canonical: sympy.Basic = None
    target_normal: sympy.Basic = None
    target_canonical: sympy.Basic = None

    @property
    def equal(self) -> bool:
        return self.target_canonical is not None and self.source_canonical == self.target_canonical


@dataclass
class Outcome:
    proved: bool
    weight_maps: list
    compared: list  # [Compared] with the target's normal forms under these maps
    steps: list  # [(side, Step)]
    first_difference: str | None = None


@dataclass
class RecurrencePair:
    source: object  # Recurrence
    target: object
    state_maps: list  # [TensorMap]: target state (idx..., step) := source state (ψ(idx)..., step)


@dataclass
class Setup:
    source_model: object
    target_model: object
    source_side: str = "A"
    target_side: str = "B"
    names: Names = field(default_factory=Names)

    def __post_init__(self):
        src_model, dst_model = self.source_model, self.target_model
        constraints = [c.condition for m in (src_model, dst_model) for c in m.constraints]
        self.sizes = Sizes(lower_bounds(constraints))
        single = len(src_model.inputs) == 1
        src_inputs = {spec.name: sympy.IndexedBase("x" if single else f"x_{spec.name}") for spec in src_model.inputs}
        dst_inputs, self.input_maps = {}, []
        for spec_a, spec_b in zip(src_model.inputs, dst_model.inputs):
            base_a = src_inputs[spec_a.name]
            if len(spec_a.shape) == len(spec_b.shape) and all(same_size(p, q) for p, q in zip(spec_a.shape, spec_b.shape)):
                dst_inputs[spec_b.name] = base_a
                continue
            base_b = sympy.IndexedBase(f"{self.target_side}.{base_a.name}")
            dst_inputs[spec_b.name] = base_b
            options = [m for m in reindexings(base_b, spec_b.shape, base_a, spec_a.shape) if m.kind != "transpose"]
            if not options:
                raise Unsupported(f"input {spec_b.name} of {dst_model.name} is not a reshape of {spec_a.name}")
            self.input_maps.append(options[0])
        self.source = Composition(src_model, self.source_side, self.names, src_inputs)
        self.target = Composition(dst_model, self.target_side, self.names, dst_inputs)
        self.compared: list[Compared] = []
        self.output_maps: list[str] = []
        for k, shape in enumerate(src_model.output_shapes):
            idx = output_indices(self.names, shape)
            dst_shape = dst_model.output_shapes[k]
            same = len(shape) == len(dst_shape) and all(same_size(p, q) for p, q in zip(shape, dst_shape))
            dst_idx = idx if same else reshape_index(dst_shape, shape, idx)
            self.output_maps.append("same" if same else "reshape")
            ranges = {i: (sympy.Integer(0), d - 1) for i, d in zip(idx, shape)}
            self.compared.append(Compared(f"output {k}" if len(src_model.output_shapes) > 1 else "output", idx, ranges,
                                          self.source.output(k, idx), self.target.output(k, tuple(dst_idx))))
        self.pairs = self._pair_recurrences()
        self._source_steps = None

    # --- recurrences -----------------------------------------------------------------------------

    def _pair_recurrences(self) -> list[RecurrencePair]:
        discovered: set = set()
        while True:  # building a cell may reveal the recurrences upstream of it
            pending = [r for c in (self.source, self.target) for r in c.recurrences.values() if id(r) not in discovered]
            if not pending:
                break
            for r in pending:
                discovered.add(id(r))
                r.cell(output_indices(self.names, r.state_shape, "s"), self.names.fresh("t"))
        src = sorted(self.source.recurrences.values(), key=lambda r: (r.order, r.label))
        dst = sorted(self.target.recurrences.values(), key=lambda r: (r.order, r.label))
        if len(src) != len(dst):
            raise Unsupported(f"{self.source_model.name} has {len(src)} recurrence(s) and "
                              f"{self.target_model.name} {len(dst)}: they do not pair")
        pairs = []
        step = sympy.Symbol("tau", integer=True)
        for ra, rb in zip(src, dst):
            if not same_size(ra.steps, rb.steps):
                raise Unsupported(f"recurrences {ra.label} and {rb.label} run over {ra.steps} and {rb.steps} steps")
            if len(ra.states) != len(rb.states):
                raise Unsupported(f"recurrences {ra.label} and {rb.label} keep different numbers of states")
            maps = []
            for fa, fb in zip(ra.states, rb.states):
                options = reindexings(fb, rb.state_shape, fa, ra.state_shape, read=lambda f, i: f(*i), extra=(step,))
                options = [m for m in options if m.kind != "transpose"]
                if not options:
                    raise Unsupported(f"the states of {ra.label} {ra.state_shape} and {rb.label} {rb.state_shape} "
                                      "are not reshapes of each other")
                maps.append(options[0])
            pair = RecurrencePair(ra, rb, maps)
            pairs.append(pair)
            # The cell's own free indices (b, s1, ..., t): no layer names a bound index so.
            sidx = (sympy.Symbol("b", integer=True),
                    *(sympy.Symbol(f"s{k}", integer=True) for k in range(1, len(rb.state_shape))))
            t = sympy.Symbol("t", integer=True)
            mapped = maps[0].at((*sidx, t)).args[:-1]
            ranges = {i: (sympy.Integer(0), d - 1) for i, d in zip(sidx, rb.state_shape)}
            ranges[t] = (sympy.Integer(0), rb.steps - 1)
            for name, a_cell, b_cell in zip(("h", "c"), ra.cell(mapped, t), rb.cell(sidx, t)):
                self.compared.append(Compared(f"cell {rb.label}.{name} ~ {ra.label}.{name}", (*sidx, t), ranges, a_cell, b_cell))
        return pairs

    @property
    def state_maps(self) -> list[TensorMap]:
        return [m for p in self.pairs for m in p.state_maps]

    # --- checking a candidate ----------------------------------------------------------------------

    def normalise_source(self) -> list:
        """The source's normal forms (once): [(side, Step)]."""
        if self._source_steps is None:
            normalizer = Normalizer(self.names.fresh)
            for c in self.compared:
                c.source_normal = normalizer.norm(c.source, Ranges(self.sizes, c.ranges))
                c.source_canonical = canonical(c.source_normal)
                if c.source_canonical != c.source_normal:
                    normalizer.log("rename-bound", c.source_normal, c.source_canonical)
            self._source_steps = [(self.source_side, s) for s in normalizer.steps]
        return self._source_steps

    def check(self, weight_maps: list[TensorMap]) -> Outcome:
        source_steps = self.normalise_source()
        maps = {m.target: m for m in [*weight_maps, *self.input_maps, *self.state_maps]}
        normalizer = Normalizer(self.names.fresh)
        compared = []
        for c in self.compared:
            mapped = substitute(c.target, maps)
            if mapped != c.target:
                normalizer.log("apply-maps", c.target, mapped)
            normal = normalizer.norm(mapped, Ranges(self.sizes, c.ranges))
            canon = canonical(normal)
            if canon != normal:
                normalizer.log("rename-bound", normal, canon)
            done = Compared(c.label, c.index, c.ranges, c.source, c.target, c.source_normal, c.source_canonical,
                            normal, canon)
            compared.append(done)
            if not done.equal:
                return Outcome(False, weight_maps, compared, [], f"{c.label}: {canon} vs {c.source_canonical}")
        steps = source_steps + [(self.target_side, s) for s in normalizer.steps]
        return Outcome(True, weight_maps, compared, steps)
