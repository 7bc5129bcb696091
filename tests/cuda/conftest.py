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
os.environ.setdefault("SHAPEPROOF_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "shapeproof"))


def pytest_report_header(config):
    return "CUDA tests on " + ("the simulator (no GPU found)" if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
                               else f"{gpu_count()} GPU(s)")
