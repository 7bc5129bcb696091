"""Generated CPU kernels vs Keras predict: every model of the tests/test_keras_*.py modules, with
Keras's own get_weights() dropped in, max error relative to the output's magnitude <= 1e-4.

Two bugs of Keras 3.15's torch backend are patched for the comparison, exactly as the reference
tests do: average pooling with uneven "same" padding (keras-team/keras#23233) and
LayerNormalization over non-last axes (its F.layer_norm shortcut normalises the wrong axes).
"""
import importlib
from pathlib import Path

import pytest

from shapeproof import analyzer
from keras_harness import codegen_crosscheck
from test_reference_conv import keras_pooling_fixed  # noqa: F401  (fixture)
from test_reference_core import TORCH_LAYER_NORM_BUG, generic_layer_norm  # noqa: F401  (fixture)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
MODELS = {}  # not CASES: tests/test_layers.py reads every CASES as sources
for path in sorted(Path(__file__).parent.glob("test_keras_*.py")):
    if path.stem not in ("test_keras_codegen", "test_keras_examples", "test_keras_import"):
        for name, source in getattr(importlib.import_module(path.stem), "CASES", {}).items():
            MODELS[f"{path.stem[11:]}-{name}"] = (name, source)


# Costly cases whose layers other cases here check too (bidirectional wrappers, ConvLSTM3D): `make test-all`.
FULL = {"recurrent-bidirectional_return_state", "recurrent-bidirectional_backward_layer_and_frozen",
        "recurrent-conv_lstm3d_and_bidirectional_conv_lstm"}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.full) if c in FULL else c for c in MODELS])
def test_generated_kernels_match_keras(case, keras_pooling_fixed, request):  # noqa: F811
    name, source = MODELS[case]
    if "mask_zero=True" in source:
        pytest.skip("Keras's masks are not modelled by generated kernels (a clear error says so)")
    if name in TORCH_LAYER_NORM_BUG:
        request.getfixturevalue("generic_layer_norm")
    # Free sizes other than the batch (a symbolic T) get a small value, as Keras needs concrete ones.
    free = {str(s) for m in analyzer.loads(source).models.values() for s in m.free_symbols} - {"batch"}
    codegen_crosscheck(source, set={name: 5 for name in free} or None)
