"""NumPy reference of MultiHeadAttention vs Keras predict, every intermediate value (the cases of
tests/test_keras_attention.py: self- and cross-attention, causal and explicit masks, scores)."""
import pytest

from keras_harness import numeric_crosscheck
from test_keras_attention import CASES


@pytest.mark.parametrize("name", CASES)
def test_reference_equals_keras(name):
    numeric_crosscheck(CASES[name], set={"batch": 3})
