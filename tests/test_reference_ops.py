"""NumPy reference of tensor arithmetic vs Keras predict, every intermediate value (the cases of
tests/test_keras_ops.py: element-wise operations with numbers and broadcasting, reductions, reshape,
transpose, concatenate, matmul)."""
import pytest

from keras_harness import numeric_crosscheck
from test_keras_ops import CASES


@pytest.mark.parametrize("name", CASES)
def test_reference_equals_keras(name):
    numeric_crosscheck(CASES[name], set={"batch": 3})
