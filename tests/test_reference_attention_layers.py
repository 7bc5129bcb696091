"""NumPy reference of Attention, AdditiveAttention and Dot vs Keras predict, every intermediate value
(the cases of tests/test_keras_attention_layers.py)."""
import pytest

from keras_harness import numeric_crosscheck
from test_keras_attention_layers import CASES


@pytest.mark.parametrize("name", CASES)
def test_reference_equals_keras(name):
    numeric_crosscheck(CASES[name], set={"batch": 3})
