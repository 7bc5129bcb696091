"""A built network: the generated module, imported from the cache, with weights and a call.

Note: caching. The source is written to `<cache>/shapeproof_<hash>.py` (the hash of the text) and
imported under that name, registered in `sys.modules` before it runs, so Numba's `cache=True`
finds its file and reuses compiled kernels from an earlier process. `SHAPEPROOF_CACHE` sets the
folder (default: ~/.cache/shapeproof); codegen/cache.py owns its files and repairs damaged entries.

Note: a cold build in several processes. Numba compiles one function at a time, and LLVM's work is
most of a cold build. The generated module lists each kernel's argument types (KERNEL_ARGS), so
`compile_ahead` can hand shares of the kernels to child processes that import the same file and
write Numba's cache, while this process compiles its own share; compiling `forward` (or, for a
plain-Python forward, each kernel for the types it passes) then loads theirs from the cache.
SHAPEPROOF_COMPILE_PROCESSES sets how many (default: the cores, at most 4).
"""
from __future__ import annotations

import ctypes
import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import types

import numpy as np

from . import cache
from .cache import cache_dir


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


def import_source(source: str, fresh: bool = False):
    """Import generated source as a module from a content-named file in the cache folder (codegen/cache.py:
    a damaged entry is discarded first). `fresh`: execute it again even if this process imported it."""
    name = "shapeproof_" + hashlib.sha256(source.encode()).hexdigest()[:20]
    if name in sys.modules and not fresh:
        return sys.modules[name]
    folder = cache_dir()
    cache.prepare(name, source, folder)
    path = folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path, loader=SourceOnlyLoader(name, str(path)))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles the module from its text, never reading or writing a .pyc (one kind of cache file less
    to go bad); the file's path stays the code's file name, which Numba's cache is keyed on."""

    def get_code(self, fullname):
        return self.source_to_code(self.get_data(self.path), self.path)


def compile_kernels(module, progress=None) -> int:
    """Compile (or load from the cache) `forward` and the kernels it calls, for the argument types that
    check_inputs and check_weights produce; the number of kernels compiled (0: all from the cache).
    `progress(name, n, total)` is told when each kernel starts compiling (n from 1)."""
    import numba
    import numpy as np
    from numba.core import event

    # each dispatcher once (forward may call a kernel by a second name: module.py _name_for)
    jitted = list({id(v): v for v in vars(module).values() if hasattr(v, "py_func") and hasattr(v, "stats")}.values())
    missing = [d for d in jitted if not _cached(d)]
    count = [0, False]  # kernels reported, forward waiting to be reported

    def report(name):
        count[0] += 1
        if progress:
            progress(name, count[0], max(len(missing), count[0]))

    class Listener(event.Listener):
        # forward starts first (typing it compiles the kernels it calls) but is compiled last: told last
        def on_start(self, ev):
            fn = ev.data["dispatcher"].py_func
            if fn.__module__ != module.__name__:
                return
            if fn.__name__ == "forward":
                count[1] = True
            else:
                report(fn.__name__)

        def on_end(self, ev):
            fn = ev.data["dispatcher"].py_func
            if fn.__module__ == module.__name__ and count[1] and (fn.__name__ == "forward" or
                                                                   count[0] >= len(missing) - 1):
                count[1] = False
                report("forward")

    dt = module.DT
    types = [numba.typeof(np.empty((0,) * len(dims), dtype=dt if dtype.startswith("float") else dtype))
             for _, dims, dtype in module.INPUTS]
    ranks = [len(shape) for _, _, shape in module.WEIGHT_SHAPES]
    for i, _, rank in module.PACKED:  # forward takes these re-laid out (pack_weights)
        ranks[i] = rank
    types += [numba.typeof(np.empty((0,) * rank, dtype=dt)) for rank in ranks]
    with event.install_listener("numba:compile", Listener()):
        elsewhere = compile_ahead(module, [d.py_func.__name__ for d in missing])
        for name in elsewhere:
            report(name)
        # what the other processes compiled loads from the cache
        if getattr(module, "JIT_FORWARD", True):
            module.forward.compile(tuple(types))
        else:  # a plain-Python forward: each kernel for the types forward passes it
            compile_each(module)
    return count[0]


def bind_forward(module):
    """forward as a Net calls it: the compiled one, or (JIT_FORWARD false) the plain-Python one with each
    kernel's name bound to its compiled entry point, skipping the dispatcher's type resolution (1-2 us a
    call; forward passes each kernel the types KERNEL_ARGS lists: its own C-contiguous arrays)."""
    if getattr(module, "JIT_FORWARD", True):
        return module.forward
    return types.FunctionType(module.forward.__code__, {**vars(module), **compile_each(module)}, "forward")


def compile_each(module, names=None) -> dict:
    """Compile (or load from Numba's cache) the kernels `names` (default: every name forward calls them
    by) for the argument types KERNEL_ARGS lists: {name: compiled entry point}."""
    table = dict(module.KERNEL_ARGS)
    return {n: getattr(module, n).compile(kernel_signature(module, table[n]))
            for n in (table if names is None else names)}


# Processes compiling a cold build's kernels at once, this one included (SHAPEPROOF_COMPILE_PROCESSES):
# Numba compiles one function at a time on one core, and LLVM's work is most of a cold build.
COMPILE_PROCESSES = max(1, int(os.environ.get("SHAPEPROOF_COMPILE_PROCESSES") or min(os.cpu_count() or 1, 4)))
# Kernels per process at least (a child costs about a second to start: imports, the module). Measured
# on 2 cores (benchmarks/cold_build.py) once forward no longer compiled serially after the kernels, two
# processes nearly halve a large build: DenseNet121 66 -> 36 s, EfficientNetB0 104 -> 54 s.
MIN_SHARE = 8

WORKER = "import sys; from shapeproof.codegen.net import compile_share; compile_share(*sys.argv[1:])"


def compile_ahead(module, names: list[str]) -> list[str]:
    """Compile the kernels among `names` that forward calls (module.KERNEL_ARGS) in parallel: this
    process takes one share, each other share a child process that writes Numba's cache, which
    forward's compilation then loads. Returns the kernels the children compiled (a child that fails
    leaves its kernels to forward: slower, never wrong)."""
    import subprocess

    table = dict(getattr(module, "KERNEL_ARGS", ()))
    kernels = [n for n in names if n in table]
    processes = min(COMPILE_PROCESSES, len(kernels) // MIN_SHARE)
    if processes < 2:
        return []
    shares: list[list[str]] = [[] for _ in range(processes)]
    loads = [0] * processes
    sizes = {n: len(getattr(module, n).py_func.__code__.co_code) for n in kernels}
    for n in sorted(kernels, key=sizes.get, reverse=True):  # largest first, each to the lightest share
        k = loads.index(min(loads))
        shares[k].append(n)
        loads[k] += sizes[n]
    children = [subprocess.Popen([sys.executable, "-c", WORKER, module.__name__, module.__file__, *share],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for share in shares[1:]]
    compile_each(module, shares[0])
    done = []
    for child, share in zip(children, shares[1:]):
        _, err = child.communicate()
        if child.returncode == 0:
            done += share
        elif os.environ.get("SHAPEPROOF_DEBUG"):
            print(f"shapeproof: a compile process failed ({child.returncode}): {err.decode()[-2000:]}",
                  file=sys.stderr)
    return done


def kernel_signature(module, spec: str):
    """Numba argument types from a KERNEL_ARGS entry (`4float 1float 0bool`)."""
    import re

    import numba

    types = []
    for item in spec.split():
        rank, dtype = re.fullmatch(r"(\d+)(\w+)", item).groups()
        if dtype == "bool":
            types.append(numba.types.boolean)
        else:
            dt = np.dtype(module.DT if dtype == "float" else dtype)
            types.append(numba.types.Array(numba.from_dtype(dt), int(rank), "C"))
    return tuple(types)


def compile_share(name: str, path: str, *kernels: str):
    """A child process of compile_ahead: import the generated module from its file and compile
    `kernels`, which writes them to Numba's cache."""
    spec = importlib.util.spec_from_file_location(name, path, loader=SourceOnlyLoader(name, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    compile_each(module, kernels)


def _cached(dispatcher) -> bool:
    try:
        return os.path.exists(dispatcher._cache._cache_file._index_path)
    except AttributeError:
        return False


class Net:
    """A compiled forward pass: `net.set_weights(keras_model.get_weights()); y = net(x)`."""

    def __init__(self, model, source: str, module, threads: int | None = None):
        self.model = model
        self.source = source
        self.module = module
        self.weights: list[np.ndarray] | None = None
        self.packed: list[np.ndarray] | None = None  # the weights as forward takes them (pack_weights)
        self.threads = threads
        self.compiled = False
        self.forward = None  # the module's forward, bound by compile (bind_forward)

    @property
    def name(self) -> str:
        """The cache entry's name (`shapeproof_<hash>`)."""
        return self.module.__name__

    def compile(self, progress=None) -> int:
        """Compile the kernels now (or load them from the cache) instead of on the first call: the number
        compiled. A cache entry that fails to load is discarded and rebuilt with a one-line warning."""
        try:
            compiled = self._compile(progress)
        except Exception as e:
            self._rebuild(e)
            compiled = self._compile(progress)
        cache.record_if_changed(self.name)
        self.compiled = True
        return compiled

    def _rebuild(self, error: Exception):
        """After `error` while loading kernels: re-raise it, unless it came from a damaged cache entry,
        which is then discarded (with a one-line warning) and the module imported afresh."""
        if not cache.from_cache_loading(error):
            raise error
        cache.warn(f"damaged kernel cache entry {self.name} ({type(error).__name__}: {error}): discarded, "
                   "rebuilding it")
        cache.discard(self.name)
        self.module = import_source(self.source, fresh=True)

    def _compile(self, progress) -> int:
        compiled = compile_kernels(self.module, progress)
        self.forward = bind_forward(self.module)
        return compiled

    @property
    def weight_shapes(self) -> list[tuple[str, str, tuple]]:
        """(layer, weight, shape) in get_weights() order."""
        return list(self.module.WEIGHT_SHAPES)

    def set_weights(self, weights: list):
        """Weights in Keras's get_weights() order and layouts (shapes checked)."""
        self.weights = self.module.check_weights(list(weights))
        self.packed = None

    def load_weights(self, path):
        """From an .npz written by save_weights, a Keras .weights.h5, or a .keras archive (a ValueError
        naming the file, the layer and both shapes when they do not fit)."""
        self.weights = self.module.load_weights(str(path))
        self.packed = None

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
        arrays = self.module.check_inputs(*inputs)
        weights = self._weights()
        if self.packed is None:  # once per set_weights: kernels that read a weight re-laid out get it so
            self.packed = self.module.pack_weights(weights)
        if not self.compiled:
            self.compile()
        if self.threads:
            set_threads(self.threads)
        return self.forward(*arrays, *self.packed)

    def _weights(self):
        if self.weights is None:
            if self.module.WEIGHT_SHAPES:
                raise ValueError("no weights: call set_weights(...) or load_weights(...) first")
            self.weights = []
        return self.weights


def set_threads(n: int):
    """Numba's thread count for this Python thread's parallel regions (at most NUMBA_NUM_THREADS)."""
    import numba

    if numba.get_num_threads() != n:
        if not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
            raise ValueError(f"threads={n}: between 1 and {numba.config.NUMBA_NUM_THREADS} (NUMBA_NUM_THREADS, "
                             "by default the number of cores)")
        numba.set_num_threads(n)


class CudaNet(Net):
    """A forward pass of CUDA kernels: weights uploaded once by set_weights/load_weights; `net(x)` takes
    NumPy arrays (returns NumPy) or device arrays (Numba, CuPy, PyTorch CUDA; returns device arrays)."""

    def set_weights(self, weights: list):
        super().set_weights(weights)
        self.device_weights = self.module.upload_weights(self.weights)

    def load_weights(self, path):
        super().load_weights(path)
        self.device_weights = self.module.upload_weights(self.weights)

    def compile(self, progress=None) -> int:
        """CUDA kernels compile at their first launch (for the sizes of that call): nothing to do here."""
        return 0

    def __call__(self, *inputs):
        self._weights()
        if not hasattr(self, "device_weights"):
            self.device_weights = []
        if self.compiled:
            return self.module.call(inputs, self.device_weights)
        try:
            result = self.module.call(inputs, self.device_weights)
        except Exception as e:
            self._rebuild(e)
            self.device_weights = self.module.upload_weights(self.weights) if self.weights else []
            result = self.module.call(inputs, self.device_weights)
        self.compiled = True
        cache.record_if_changed(self.name)
        return result
