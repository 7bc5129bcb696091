"""Functional equivalence of two models: proved, refuted or unknown, for every size at once.

    from shapeproof.analyzer.equivalence import decide
    result = decide(program.models["A"], program.models["B"])      # A == B ?
    result.verdict, result.reason, result.weight_map

Imported only when an equivalence is asked (`assert A == B`, `shapeproof equiv`): it loads NumPy
for the witness. Modules, in pipeline order: elements (compose the layers' element formulas),
ranges (index bounds), rewrite (the named rules), canonical (α-renaming), maps (candidate weight, input
and state maps), embed (maps derived for inclusions), setup (one comparison), refute (shapes,
counterexamples), witness (numbers), prove (the decision), report (Rich and JSON).
"""
from ..assertions import Verdict, evaluate_assertions
from .prove import Inclusion, Result, decide
from .report import summary


def judge(a, b, op: str = "==") -> tuple:
    """(holds, reason) of `assert a op b` for two models: True, False, or None when undecided."""
    result = decide(a, b, op)
    return result.holds, summary(result)


def check_assertions(program) -> list[Verdict]:
    """Every assertion of the program decided, model equivalences by the prover (`shapeproof check`)."""
    return evaluate_assertions(program, judge)


__all__ = ["Inclusion", "Result", "check_assertions", "decide", "judge"]
