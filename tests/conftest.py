import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.path.dirname(__file__))


def pytest_configure(config):
    config.addinivalue_line("markers", "full: a costly case beyond the bounded subset `make test` runs "
                                       "(`make test-all`, SHAPEPROOF_TEST_ALL=1, runs it)")


def pytest_collection_modifyitems(config, items):
    """Cases marked `full` are skipped unless SHAPEPROOF_TEST_ALL=1 (make test-all)."""
    if os.environ.get("SHAPEPROOF_TEST_ALL") == "1":
        return
    skip = pytest.mark.skip(reason="a `full` case: run with `make test-all`")
    for item in items:
        if "full" in item.keywords:
            item.add_marker(skip)


def pytest_ignore_collect(collection_path, config):
    """tests/cuda runs in its own pytest process (`pytest tests/cuda`, as `make test` does): without a
    GPU it needs Numba's CUDA simulator, which must be switched on before Numba is first imported."""
    if collection_path.name == "cuda" and collection_path.parent == Path(__file__).parent:
        asked = [Path(a.split("::")[0]).resolve() for a in config.args]
        return not any(a == collection_path or collection_path in a.parents for a in asked)
    return None
