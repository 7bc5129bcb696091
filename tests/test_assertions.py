"""params/shape assertions hold when they hold for every value of the free symbols."""
import pytest

from shapeproof import analyzer
from shapeproof.analyzer.equivalence import check_assertions
from shapeproof.analyzer.errors import ShapeproofError

MODELS = """
model A(batch, n):
    input (batch, n, 1)
    Dense(8)
    Flatten()
model B(batch, n):
    input (batch, n, 1)
    Conv1D(8, 1)
    Flatten()
model C(batch, n):
    input (batch, n, 2)
    Dense(8)
    Flatten()
model D(batch, n):
    input (batch, 1000, 1)
    Dense(8)
    Flatten()
"""


def verdict(assertion: str):
    program = analyzer.loads(MODELS + assertion + "\n")
    return check_assertions(program)[0]


@pytest.mark.parametrize("assertion, holds", [
    ("assert params(A) == params(B)", True),
    ("assert params(A) != params(B)", False),
    ("assert params(A) != params(C)", True),      # 16 vs 24: never equal
    ("assert params(A) <= params(C)", True),
    ("assert params(C) <= params(A)", False),
    ("assert shape(A) == shape(B)", True),
    ("assert shape(A) == shape(C)", True),        # both (batch, 8·n)
    ("assert shape(A) == shape(D)", False),       # 8·n vs 8000: equal only when n = 1000
    ("assert shape(A) != shape(D)", False),       # ... so not different for every n either
    ("assert A == B", True),                      # functional equivalence: Dense(8) on (batch, n, 1) is Conv1D(8, 1)
    ("assert A != B", False),
    ("assert A <= B", True),
    ("assert A == C", False),                     # the input shapes differ: (batch, n, 1) vs (batch, n, 2)
])
def test_assertion_verdicts(assertion, holds):
    assert verdict(assertion).holds is holds


def test_equal_only_somewhere_names_the_value():
    assert "n = 1000" in verdict("assert shape(A) == shape(D)").reason


BUDGETS = """
model Seq(batch, T):
    x = input (batch, T, 4)
    y = Conv1D(16, 3)(x)
    z = Flatten()(y)
    w = Dense(2)(z)
    output w

model Fixed(batch, T=100):
    x = input (batch, T, 4)
    y = Conv1D(16, 3)(x)
    output y
"""


def budget(assertion: str):
    return check_assertions(analyzer.loads(BUDGETS + assertion + "\n"))[0]


@pytest.mark.parametrize("assertion, holds, reason", [
    # params(Seq) = 32·T + 146 for T >= 3: the first T over budget, and the last one within it
    ("assert params(Seq) <= 300000", False, "fails for T = 9,371: 300,018 <= 300,000 is false (holds for T = 9,370)"),
    ("assert params(Seq) < 300018", False, "fails for T = 9,371"),
    ("assert params(Seq) >= 242", True, "for every T >= 3"),           # 32·3 + 146 = 242: tight
    ("assert params(Seq) > 242", False, "fails for T = 3: 242 > 242 is false"),
    ("assert params(Seq) > 3 * T", True, "for every T >= 3"),
    ("assert trainable(Seq) == params(Seq)", True, "both are 32·T + 146 for every value"),
    ("assert macs(Fixed) < 1000000 * batch", True, "for every value"),  # batch only scales both sides
    ("assert macs(Fixed) >= 18817 * batch", False, "for no value"),     # 18,816·batch
    ("assert params(Fixed) == 208", True, "both are 208"),
    ("assert params(Fixed) != 208", False, "both are 208"),
    ("assert memory(Seq) > 0", True, "for every T >= 3, batch >= 1"),   # a Max, bounded below
    ("assert shape(Fixed) == (batch, T - 2, 16)", True, "(batch, 98, 16)"),
    ("assert shape(Seq) == (batch, 2)", True, "for every value"),
    ("assert shape(Fixed) != (batch, 98, 16)", False, ""),
    ("assert macs(Seq) <= 100000 * batch", False, "fails for T = "),  # the batch factor dropped, T searched
])
def test_budget_and_shape_assertions(assertion, holds, reason):
    verdict = budget(assertion)
    assert verdict.holds is holds, verdict.reason
    assert reason in verdict.reason


def test_budget_counterexample_is_a_real_boundary():
    """The reported failing T breaks the budget and the reported passing T keeps it."""
    program = analyzer.loads(BUDGETS)
    params = program.models["Seq"].total_params
    (T,) = params.free_symbols
    assert params.subs(T, 9371) > 300000 >= params.subs(T, 9370)


@pytest.mark.parametrize("assertion, message", [
    ("assert shape(Seq) <= (batch, 2)", "shapes compare with == or !="),
    ("assert shape(Seq) == 5", "a shape compares with a shape"),
    ("assert parms(Seq) <= 5", "did you mean 'params'"),
    ("assert Seq < Fixed", "models compare with ==, != or <="),
    ("assert 3 <= 5", "compares a measure of a model"),
    ("assert params(Seq) <= Q", "unknown name 'Q'"),
])
def test_malformed_budget_assertions_are_located(assertion, message):
    with pytest.raises(ShapeproofError) as e:
        budget(assertion)
    assert message in e.value.message + (e.value.hint or "")
