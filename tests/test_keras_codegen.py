"""Generated CPU kernels vs Keras predict: every model of the tests/test_keras_*.py modules, with
Keras's own get_weights() dropped in, max error relative to the output's magnitude <= 1e-4."""
import importlib
from pathlib import Path

import pytest

from keras_harness import codegen_crosscheck

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
CASES = {}
for path in sorted(Path(__file__).parent.glob("test_keras_*.py")):
    if path.stem != "test_keras_codegen" and path.stem != "test_keras_examples":
        for name, source in getattr(importlib.import_module(path.stem), "CASES", {}).items():
            CASES[f"{path.stem[11:]}-{name}"] = source


@pytest.mark.parametrize("name", CASES)
def test_generated_kernels_match_keras(name):
    if "mask_zero=True" in CASES[name]:
        pytest.skip("Keras's masks are not modelled by generated kernels (a clear error says so)")
    codegen_crosscheck(CASES[name])
