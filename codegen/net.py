"""A built network: the generated module, imported from the cache, with weights and a call.

Note: caching. The source is written to `<cache>/shapeproof_<hash>.py` (the hash of the text) and
imported under that name, registered in `sys.modules` before it runs, so Numba's `cache=True`
finds its file and reuses compiled kernels from an earlier process. `SHAPEPROOF_CACHE` sets the
folder (default: ~/.cache/shapeproof).
"""
from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np


def keep_freed_memory():
    """Let glibc keep large freed blocks for reuse instead of unmapping them.

    A forward pass allocates every activation; by default glibc hands blocks over 32 MB back to
    the system on free and the next call's pages are zero-filled again, which at batch 64 on the
    seed model cost more (48 ms) than all its kernels (17 ms). Raising the mmap and trim
    thresholds keeps them. Linux glibc only; elsewhere nothing changes.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 31)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


keep_freed_memory()


def cache_dir() -> Path:
    folder = Path(os.environ.get("SHAPEPROOF_CACHE") or Path.home() / ".cache" / "shapeproof")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def import_source(source: str):
    """Import generated source as a module from a content-named file in the cache folder."""
    name = "shapeproof_" + hashlib.sha256(source.encode()).hexdigest()[:20]
    if name in sys.modules:
        return sys.modules[name]
    path = cache_dir() / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)  # atomic: a concurrent process never imports half a file
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Net:
    """A compiled forward pass: `net.set_weights(keras_model.get_weights()); y = net(x)`."""

    def __init__(self, model, source: str, module):
        self.model = model
        self.source = source
        self.module = module
        self.weights: list[np.ndarray] | None = None

    @property
    def weight_shapes(self) -> list[tuple[str, str, tuple]]:
        """(layer, weight, shape) in get_weights() order."""
        return list(self.module.WEIGHT_SHAPES)

    def set_weights(self, weights: list):
        """Weights in Keras's get_weights() order and layouts (shapes checked)."""
        self.weights = self.module.check_weights(list(weights))

    def load_weights(self, path):
        """From an .npz written by save_weights, a Keras .weights.h5, or a .keras archive (a ValueError
        naming the file, the layer and both shapes when they do not fit)."""
        self.weights = self.module.load_weights(str(path))

    def save_weights(self, path):
        np.savez(str(path), *self._weights())

    def random_weights(self, seed: int = 0) -> list[np.ndarray]:
        """Random weights of the right shapes (variances positive), set and returned."""
        rng = np.random.default_rng(seed)
        weights = []
        for _, name, shape in self.weight_shapes:
            w = rng.normal(0.0, 0.5, size=shape)
            weights.append(np.abs(w) + 0.5 if "variance" in name else w)
        self.set_weights(weights)
        return self.weights

    def __call__(self, *inputs):
        """Forward pass on NumPy arrays; a tuple when the model has several outputs."""
        return self.module.forward(*self.module.check_inputs(*inputs), *self._weights())

    def _weights(self):
        if self.weights is None:
            if self.module.WEIGHT_SHAPES:
                raise ValueError("no weights: call set_weights(...) or load_weights(...) first")
            self.weights = []
        return self.weights


class CudaNet(Net):
    """A forward pass of CUDA kernels: weights uploaded once by set_weights/load_weights; `net(x)` takes
    NumPy arrays (returns NumPy) or device arrays (Numba, CuPy, PyTorch CUDA; returns device arrays)."""

    def set_weights(self, weights: list):
        super().set_weights(weights)
        self.device_weights = self.module.upload_weights(self.weights)

    def load_weights(self, path):
        super().load_weights(path)
        self.device_weights = self.module.upload_weights(self.weights)

    def __call__(self, *inputs):
        self._weights()
        if not hasattr(self, "device_weights"):
            self.device_weights = []
        return self.module.call(inputs, self.device_weights)
