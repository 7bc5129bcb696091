import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.path.dirname(__file__))


def pytest_ignore_collect(collection_path, config):
    """tests/cuda runs in its own pytest process (`pytest tests/cuda`, as `make test` does): without a
    GPU it needs Numba's CUDA simulator, which must be switched on before Numba is first imported."""
    if collection_path.name == "cuda" and collection_path.parent == Path(__file__).parent:
        asked = [Path(a.split("::")[0]).resolve() for a in config.args]
        return not any(a == collection_path or collection_path in a.parents for a in asked)
    return None
