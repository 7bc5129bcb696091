"""NumPy reference of EinsumDense vs Keras predict, every intermediate value (the cases of
tests/test_keras_einsum.py, output_shape's None included: predict has the input's size there)."""
import pytest

from keras_harness import numeric_crosscheck
from test_keras_einsum import CASES, SET


@pytest.mark.parametrize("name", CASES)
def test_reference_equals_keras(name):
    numeric_crosscheck(CASES[name], set={"batch": 3, **SET})
