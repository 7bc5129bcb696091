"""Keras cross-check of every model in examples/, with the free sizes bound to small values
(the usual names to their usual sizes, any other to 4)."""
from pathlib import Path

import pytest

from shapeproof import analyzer
from keras_harness import crosscheck

SIZES = {"T": 5, "H": 16, "W": 12, "C": 3, "F": 4, "k": 3, "u": 6, "n_features": 20, "L": 24}
FILE_SIZES = {"budgets": {"T": 16}, "resnet50": {"H": 32, "W": 32}}  # big enough for their strides
EXAMPLES = sorted(Path("examples").glob("*.nn"))
MODELS = [(path, name) for path in EXAMPLES for name in analyzer.load(path).models]


@pytest.mark.parametrize("path, name", MODELS, ids=[f"{p.stem}-{n}" for p, n in MODELS])
def test_example_matches_keras(path, name):
    free = {str(s) for s in analyzer.load(path).models[name].free_symbols} - {"batch"}
    sizes = {**SIZES, **FILE_SIZES.get(path.stem, {})}
    crosscheck(path.read_text(), set={k: sizes.get(k, 4) for k in free} or None, model=name)
