"""NumPy reference vs Keras predict (max error relative to the output's magnitude <= 1e-5): the
activations and activation/normalization layers of tests/test_keras_activations.py."""
import pytest
import test_keras_activations
from keras_harness import numeric_crosscheck

CASES = dict(test_keras_activations.CASES)


@pytest.mark.parametrize("name", CASES)
def test_reference_matches_keras(name):
    numeric_crosscheck(CASES[name], tolerance=1e-5)
