"""params/shape assertions hold when they hold for every value of the free symbols."""
import pytest

from shapeproof import analyzer
from shapeproof.analyzer.equivalence import check_assertions

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
