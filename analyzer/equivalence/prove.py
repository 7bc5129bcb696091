"""The decision procedure: do models A and B compute the same functions (A == B), or does B compute
every function A computes (A <= B)? Proved, refuted or unknown, with the evidence for the printout.

Note: the order of business. (1) Shapes: inputs and outputs must hold the same elements (a
row-major reshape between them is allowed and stated); otherwise refuted, saying for which values.
(2) Compose both models' element formulas. A layer without one makes the verdict unknown, naming it.
(3) Try the candidate weight maps (bijective reindexings, maps.py); the first under which every
normal form agrees is a proof, cross-checked by the numeric witness (a disagreeing witness turns it
into unknown: it would mean a layer's formula and its NumPy reference differ). (4) Otherwise look
for a counterexample (refute.py: an output that one model, with random weights, makes depend on an
input element the other's formula never reads); with one, refuted, and the inclusion that may still
hold the other way is tried (B's weights tied, zeroed or solved for: maps.pairings, then
embed.affine_embeddings). (5) Otherwise a numeric refutation of an inclusion (numeric.py), the other
inclusion then tried as in (4). (6) Otherwise unknown, both inclusions tried and shown. A parameter
count is never evidence either way.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import sympy

from ..indexing import NoElement
from ..symbolic import strongest
from . import witness as witnesses
from .embed import affine_embeddings
from .maps import pairings
from .refute import compare_shapes, separate
from .setup import Setup, Unsupported

VERDICTS = ("proved", "refuted", "unknown")


@dataclass
class Inclusion:
    """`X <= Y`: every function X computes, Y computes too (Y's weights tied or zeroed from X's)."""

    direction: str  # "A <= B"
    verdict: str = "unknown"
    weight_map: list = field(default_factory=list)
    witness: object = None
    reason: str = ""
    steps: list = field(default_factory=list)
    compared: list = field(default_factory=list)


@dataclass
class Result:
    a: str
    b: str
    relation: str  # the question asked: "==", "!=" or "<="
    verdict: str = "unknown"  # of A == B (of A <= B when relation is "<=")
    level: str | None = None  # a refutation's level: "shapes" or "counterexample"
    reason: str = ""
    symbols: list = field(default_factory=list)
    assumptions: list = field(default_factory=list)
    statement: str = ""
    compared: list = field(default_factory=list)  # [setup.Compared]: outputs and recurrence cells
    input_maps: list = field(default_factory=list)
    output_maps: list = field(default_factory=list)
    weight_map: list = field(default_factory=list)
    state_maps: list = field(default_factory=list)
    recurrences: list = field(default_factory=list)  # [(A's label, B's label)]
    steps: list = field(default_factory=list)  # [(side, rewrite.Step)]
    witness: object = None
    shape_differences: list = field(default_factory=list)
    separations: list = field(default_factory=list)
    inclusions: list = field(default_factory=list)
    candidates: int = 0
    seconds: float = 0.0

    @property
    def holds(self) -> bool | None:
        """The assertion `A <relation> B`: True, False, or None (undecided)."""
        if self.verdict == "unknown":
            return None
        if self.relation == "!=":
            return self.verdict == "refuted"
        return self.verdict == "proved"


def decide(a_model, b_model, relation: str = "==", seed: int = witnesses.SEED) -> Result:
    """Decide `A == B` (also answers `!=`) or `A <= B` for every value of the free symbols."""
    start = time.perf_counter()
    result = Result(a_model.name, b_model.name, relation)
    result.symbols = symbol_order(a_model, b_model)
    result.assumptions = [str(c) for c in strongest([c.condition for m in (a_model, b_model) for c in m.constraints])]
    try:
        try:
            _decide(result, a_model, b_model, relation, seed)
        except (NoElement, NotImplementedError) as e:
            result.verdict, result.level, result.reason = "unknown", None, str(e)
        if result.verdict == "unknown":
            _refute_numerically(result, a_model, b_model, relation, seed)
    except Exception as e:  # noqa: BLE001  a prover bug must not become a verdict (nor stop `check`)
        result.verdict, result.level = "unknown", None
        result.reason = f"the prover failed ({type(e).__name__}: {e}); please report it"
    finally:
        result.seconds = time.perf_counter() - start
    return result


def _decide(result: Result, a_model, b_model, relation: str, seed: int):
    _, inputs = compare_shapes([i.shape for i in a_model.inputs], [i.shape for i in b_model.inputs], "input")
    _, outputs = compare_shapes(a_model.output_shapes, b_model.output_shapes, "output")
    if inputs or outputs:
        result.verdict, result.level = "refuted", "shapes"
        result.shape_differences = inputs + outputs
        d = result.shape_differences[0]
        result.reason = (f"the {d.where} shapes differ {d.when}: {_shape(d.a)} in {a_model.name}, "
                         f"{_shape(d.b)} in {b_model.name}")
        result.statement = _statement(result, "==" if relation == "!=" else relation, [], [])
        return
    try:
        setup = Setup(a_model, b_model)
    except (NoElement, Unsupported, NotImplementedError) as e:
        result.reason = str(e)
        result.statement = _statement(result, relation, [], [])
        return
    result.input_maps, result.output_maps = setup.input_maps, setup.output_maps
    result.state_maps = setup.state_maps
    result.recurrences = [(p.source.label, p.target.label) for p in setup.pairs]
    result.compared = setup.compared
    names = {"A": a_model.name, "B": b_model.name}
    if relation == "<=":
        inclusion = _inclusion(setup, "A <= B", seed)
        if inclusion.verdict == "unknown":
            result.separations, why = separate(a_model, b_model, result.symbols, seed)
            inclusion = _refuted_by(inclusion, result.separations, "A", "B", names) or inclusion
        result.inclusions = [inclusion]
        result.verdict = inclusion.verdict
        result.level = "counterexample" if inclusion.verdict == "refuted" else None
        result.reason = inclusion.reason
        result.weight_map, result.witness = inclusion.weight_map, inclusion.witness
        if inclusion.verdict == "proved":
            result.steps, result.compared = inclusion.steps, inclusion.compared
        result.statement = _statement(result, "<=", setup.input_maps, setup.output_maps)
        return
    tried, disagreement = 0, None
    for candidate in pairings(setup.source.weight_list(), setup.target.weight_list()):
        tried += 1
        outcome = setup.check(candidate)
        if not outcome.proved:
            disagreement = disagreement or outcome.first_difference
            continue
        result.candidates = tried
        result.weight_map, result.compared, result.steps = candidate, outcome.compared, outcome.steps
        result.witness = witnesses.run(a_model, b_model, setup.source, setup.target,
                                       {m.target: m for m in candidate}, result.symbols, seed)
        result.statement = _statement(result, "==", setup.input_maps, setup.output_maps)
        if result.witness.runs and not result.witness.passed:
            worst = max(r.max_abs_diff for r in result.witness.runs)
            result.reason = (f"the normal forms agree, but the numeric witness does not (max |A - B| = "
                             f"{worst:.3g}): some layer's element formula disagrees with its NumPy reference")
            return
        result.verdict = "proved"
        result.reason = _proved_reason(result)
        return
    result.candidates = tried
    result.statement = _statement(result, "==", setup.input_maps, setup.output_maps)
    result.separations, why = separate(a_model, b_model, result.symbols, seed)
    if result.separations:
        result.verdict, result.level = "refuted", "counterexample"
        s = result.separations[0]
        result.reason = _separation_text(s, a_model, b_model)
        for direction, (src, dst) in (("A <= B", ("A", "B")), ("B <= A", ("B", "A"))):
            refuted = _refuted_by(Inclusion(direction), result.separations, src, dst, names)
            if refuted:
                result.inclusions.append(refuted)
                continue
            try:
                sub = setup if src == "A" else Setup(b_model, a_model, "B", "A")
            except (NoElement, Unsupported, NotImplementedError) as e:
                result.inclusions.append(Inclusion(direction, reason=str(e)))
                continue
            result.inclusions.append(_inclusion(sub, direction, seed))
        return
    if tried == 0:
        result.reason = ("no candidate weight map (the models' weights do not pair layer by layer "
                         "with the same number of elements)")
    else:
        result.reason = f"none of the {tried} candidate weight map(s) made the normal forms agree"
    if why:
        result.reason += f", and no counterexample was looked for ({why})"
    else:
        result.reason += ", and no counterexample was found at small sizes"


def _refute_numerically(result: Result, a_model, b_model, relation: str, seed: int):
    """Where neither a proof nor a dependency counterexample was found: the numeric refutation
    (analyzer/equivalence/numeric.py), for A <= B, or for either inclusion when asked A == B."""
    from .numeric import refute_inclusion

    pairs = [(a_model, b_model)] if relation == "<=" else [(a_model, b_model), (b_model, a_model)]
    for src, dst in pairs:
        found = refute_inclusion(src, dst, result.symbols, seed)
        if found is not None:
            why = result.reason
            result.verdict, result.level = "refuted", "numeric"
            result.reason = found.text(src.name, dst.name) + (f" (the formulas: {why})" if why else "")
            if relation != "<=":  # one inclusion refuted: the other may still hold
                refuted = Inclusion("A <= B" if src is a_model else "B <= A", "refuted",
                                    reason=found.text(src.name, dst.name))
                other = "B <= A" if refuted.direction == "A <= B" else "A <= B"
                result.inclusions = sorted([refuted, _try_inclusion(other, a_model, b_model, seed)],
                                           key=lambda i: i.direction)
            return
    if relation != "<=":  # undecided: either inclusion may still be proved
        result.inclusions = [_try_inclusion(d, a_model, b_model, seed) for d in ("A <= B", "B <= A")]


def _try_inclusion(direction: str, a_model, b_model, seed: int) -> Inclusion:
    """`_inclusion` for "A <= B" or "B <= A", set up anew."""
    models = (a_model, b_model, "A", "B") if direction == "A <= B" else (b_model, a_model, "B", "A")
    try:
        return _inclusion(Setup(*models), direction, seed)
    except (NoElement, Unsupported, NotImplementedError) as e:
        return Inclusion(direction, reason=str(e))


def symbol_order(*models) -> list:
    """The free symbols, in order of first appearance in the models' input shapes, then by name."""
    free = {s for m in models for s in m.free_symbols}
    ordered = []
    for m in models:
        for spec in m.inputs:
            for d in spec.shape:
                for s in sorted(d.free_symbols, key=str):
                    if s in free and s not in ordered:
                        ordered.append(s)
    return ordered + sorted(free - set(ordered), key=str)


def _inclusion(setup: Setup, direction: str, seed: int) -> Inclusion:
    """Try to prove `source <= target`: the target's weights tied or zeroed from the source's."""
    inclusion = Inclusion(direction)
    tried = 0
    for candidate in _inclusion_candidates(setup):
        tried += 1
        outcome = setup.check(candidate)
        if not outcome.proved:
            continue
        w = witnesses.run(setup.source_model, setup.target_model, setup.source, setup.target,
                          {m.target: m for m in candidate},
                          symbol_order(setup.source_model, setup.target_model), seed)
        inclusion.weight_map, inclusion.witness = candidate, w
        inclusion.steps, inclusion.compared = outcome.steps, outcome.compared
        if w.runs and not w.passed:
            inclusion.reason = "the normal forms agree but the numeric witness does not"
            return inclusion
        inclusion.verdict = "proved"
        kinds = sorted({m.kind for m in candidate if m.kind not in ("identity",)})
        src, dst = setup.source_model.name, setup.target_model.name
        inclusion.reason = (f"{src} is a special case of {dst}: {dst} with its weights set from {src}'s "
                            f"({'; '.join(kinds) or 'copied'}) computes the same function")
        return inclusion
    inclusion.reason = f"none of the {tried} candidate maps proves {direction}"
    return inclusion


def _inclusion_candidates(setup: Setup):
    """The weight maps tried for `source <= target`: paired weights (reindexed, dilated, zero-padded or
    zero), then the first weighted layer of the target solved for (embed.py), only if none of those holds."""
    yield from pairings(setup.source.weight_list(), setup.target.weight_list(), inclusion=True)
    try:
        solved = affine_embeddings(setup)
    except (NoElement, NotImplementedError):
        return
    yield from solved


def _refuted_by(inclusion: Inclusion, separations: list, src: str, dst: str, names: dict | None = None) -> Inclusion | None:
    """`src <= dst` is refuted by a separation where src depends on what dst never reads."""
    names = names or {}
    for s in separations:
        if s.dependent == src and s.blind == dst:
            inclusion.verdict = "refuted"
            inclusion.reason = (f"{names.get(src, src)}'s output {s.output} depends on input {s.position}, which "
                                f"{names.get(dst, dst)}'s output {s.output} never reads, whatever its weights "
                                f"(at {', '.join(f'{k}={v}' for k, v in s.sizes.items())})")
            return inclusion
    return None


def _shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _proved_reason(result: Result) -> str:
    rules = sorted({s.rule for _, s in result.steps})
    text = f"the normal forms agree under the weight map ({len(result.steps)} rewrite steps: {', '.join(rules) or 'none needed'})"
    if result.recurrences:
        text += "; recurrences by induction over the time steps"
    w = result.witness
    if w is not None and w.skipped:
        text += f"; numeric witness skipped ({w.skipped})"
    elif w is not None and w.runs:
        text += f"; witness max |A - B| = {max(r.max_abs_diff for r in w.runs):.1e} at {len(w.runs)} size(s), seed {w.seed}"
    return text


def _separation_text(s, a_model, b_model) -> str:
    names = {"A": a_model.name, "B": b_model.name}
    models = {"A": a_model, "B": b_model}
    sizes = ", ".join(f"{k}={v}" for k, v in s.sizes.items())
    reads = s.blind_reads
    shown = ", ".join(map(str, reads[:6])) + (", ..." if len(reads) > 6 else "")
    text = (f"at {sizes} (seed {s.seed}), {names[s.dependent]}'s output {s.output} with random weights depends on "
            f"{len(s.dependent_reads)} input element{'s' * (len(s.dependent_reads) != 1)}, e.g. it changes by {s.change:.3g} when input {s.position} "
            f"changes by 1, but {names[s.blind]}'s output {s.output} reads only {len(reads)} ({shown}) whatever "
            f"its weights: no weight setting of {names[s.blind]} matches, so {names[s.dependent]} is not a special "
            f"case of {names[s.blind]}")
    fields = [_receptive_field(models[k]) for k in (s.dependent, s.blind)]
    if all(fields) and fields[0] != fields[1]:
        text += (f" (receptive field of an output along the input's axes: {names[s.dependent]} {fields[0]}, "
                 f"{names[s.blind]} {fields[1]})")
    return text


def _receptive_field(model) -> str | None:
    producer = model.output_refs[0][0]
    node = next((n for n in model.nodes if n.name == producer), None)
    if node is None or not node.receptive_field:
        return None
    return "(" + ", ".join("all" if r == sympy.oo else str(r) for r in node.receptive_field) + ")"


def _statement(result: Result, relation: str, input_maps: list, output_maps: list) -> str:
    symbols = ", ".join(str(s) for s in result.symbols)
    quantifier = f"for all {symbols} ≥ 1" if symbols else "for the given sizes"
    if result.assumptions:
        quantifier += f" with {', '.join(result.assumptions)}"
    x = "reshape(x)" if input_maps else "x"
    lhs = "reshape(A(x; w))" if any(k == "reshape" for k in output_maps) else "A(x; w)"
    body = f"{lhs} = B({x}; φ(w)) for every input x and every weight setting w of A"
    if relation == "<=":
        return f"{quantifier}: {body}, for some map φ of A's weights to B's (A <= B)"
    tail = ", φ a bijection between A's and B's weights (so conversely B's weights all come from A's)"
    if result.recurrences:
        tail += "; recurrences start from zero states and agree at every step by induction over t"
    return f"{quantifier}: {body}{tail}"
