"""The CUDA tests: on a real GPU when one is attached, else under Numba's CUDA simulator.

Note: the simulator must be chosen before Numba is first imported, so this folder runs in its own
pytest process (`pytest tests/cuda`; `make test` runs it after the rest). A GPU is detected through
the driver API (cuInit, cuDeviceGetCount) with ctypes, without importing Numba. The simulator runs
each CUDA thread as a Python thread (~3 µs per multiply-add) and does not type-check, so the
shapes here are tiny, and tests/test_cuda_ptx.py compiles every kernel to PTX for a real GPU.
"""
import ctypes
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))  # the shared helpers in tests/


def gpu_count() -> int:
    """CUDA devices the driver sees (0 without a driver or a device)."""
    for name in ("libcuda.so.1", "libcuda.so"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    return 0


if "numba" in sys.modules and "NUMBA_ENABLE_CUDASIM" not in os.environ and gpu_count() == 0:
    pytest.exit("tests/cuda must run in its own pytest process (Numba was imported before the CUDA "
                "simulator could be chosen): run `pytest tests/cuda`", returncode=2)
if gpu_count() == 0:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"


def lock_shared_arrays():
    """Make the simulator's cuda.shared.array thread-safe. It finds a block's array by the calling
    source line in a dict, and two simulated threads arriving together can both miss it and each
    allocate their own "shared" array, so a kernel that is right computes a wrong result now and
    then (seen once under a load of 25 on 2 cores, in a Bidirectional(GRU) case). Same lookup, under
    a lock; the caller is still the kernel's line (this function is the method, not a wrapper)."""
    import threading
    import traceback

    import numpy as np
    from numba.core import types
    from numba.np import numpy_support
    from numba.cuda.simulator import kernelapi

    lock = threading.Lock()
    original = kernelapi.FakeCUDAShared.array

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:  # dynamic shared memory, alignment: as before
            return original(self, shape, dtype, alignment)
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        caller = traceback.extract_stack(sys._getframe())[-2][0:2]
        with lock:
            found = self._allocations.get(caller)
            if found is None:
                found = self._allocations[caller] = np.empty(shape, dtype)
        return found

    kernelapi.FakeCUDAShared.array = array


if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    lock_shared_arrays()
os.environ.setdefault("SHAPEPROOF_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "shapeproof"))


def pytest_report_header(config):
    return "CUDA tests on " + ("the simulator (no GPU found)" if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
                               else f"{gpu_count()} GPU(s)")
