"""analyzer/symbolic.py: exact shortcuts that must give what SymPy itself gives."""
import pytest
import sympy

from shapeproof.analyzer.symbolic import max_of
from shapeproof.analyzer.values import symbol

H, W, T, C, b, n = (symbol(s) for s in ("H", "W", "T", "C", "batch", "n"))


@pytest.mark.parametrize("terms", [
    [384 * H * W * b, 128 * H * W * b + 160 * b, 256 * H * W * b + 128 * b],  # SymPy keeps a dominated term
    [4 * C * T * b + 64 * T * b, 128 * T * b, 64 * T * b + 16 * b],
    [32 * T**2 * b + 3072 * T * b, 512 * T * b + 512 * b, 528 * b],
    [8 * b * n * (T - 2), 4 * C * T * b + 4 * b * n * (T - 2)],  # every pair crossing: nothing to ask SymPy
    [320 * T * b, 256 * T * b + 4 * T],
])
def test_max_of_is_sympys_max(terms):
    """No term dominates another by its coefficients, so max_of hands the pairs to SymPy's own loop."""
    assert max_of(terms) == sympy.Max(*terms)


def test_max_of_drops_terms_dominated_under_the_bounds():
    larger = 12 * H * W + 64 * (H - 2) * (W - 2)
    assert max_of([12 * H * W, larger], {H: 3, W: 3}) == larger
    assert max_of([sympy.Integer(3), sympy.Integer(7), sympy.Integer(5)]) == 7
