"""Every generated CUDA kernel compiles to PTX for an H100 (cc 9.0), with no float64 arithmetic in a
float32 model. The simulator (tests/cuda) runs kernels as Python and type-checks nothing; this
compiles the kernels of every tests/cuda case with Numba's real CUDA compiler (NVVM, from the
`cuda` extra) and skips where NVVM is not installed. No GPU is needed: `forward` runs on host
arrays with each kernel launch recorded instead of run, which gives each kernel's argument types.
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from shapeproof import analyzer
from shapeproof import codegen

CUDA_TESTS = Path(__file__).parent / "cuda"


def cases() -> dict:
    sys.path.insert(0, str(CUDA_TESTS))
    found = {}
    for path in sorted(CUDA_TESTS.glob("test_cuda_*.py")):
        spec = importlib.util.spec_from_file_location(f"ptx_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, case in getattr(module, "KERNEL_CASES", {}).items():
            found[f"{path.stem[10:]}-{name}"] = case
    return found


CASES = cases()


@pytest.fixture(scope="module")
def nvvm():
    numba = pytest.importorskip("numba")
    from numba import cuda

    if cuda.is_available() is None:  # pragma: no cover
        pytest.skip("numba.cuda unusable")
    try:
        cuda.compile_ptx(lambda a: None, (numba.float32[::1],), cc=(9, 0))
    except Exception as error:  # NVVM missing: no `cuda` extra
        pytest.skip(f"NVVM is not available ({type(error).__name__}: {error})")
    return cuda


class Recorder:
    """Stands in for a kernel: `kernel[grid, block](*args)` records the argument types."""

    def __init__(self, name, dispatcher, seen):
        self.name, self.dispatcher, self.seen = name, dispatcher, seen

    def __getitem__(self, config):
        def launch(*args):
            import numba

            self.seen.setdefault((self.name, tuple(numba.typeof(a) for a in args)), self.dispatcher.py_func)

        return launch


def traced_kernels(module, xs, weights) -> dict:
    """{(kernel name, argument types): Python function} of one forward pass on host arrays."""
    seen = {}
    for name, value in list(vars(module).items()):
        if hasattr(value, "py_func") and hasattr(value, "__getitem__"):
            setattr(module, name, Recorder(name, value, seen))
    module.empty = lambda shape: np.zeros(shape, module.DT)
    module.scratch = lambda key, shape, dtype=module.DT: np.zeros(shape, dtype)
    module.fresh = np.copy
    module.forward(*xs, *weights)
    return seen


def float64_lines(ptx: str) -> list[str]:
    return [line.strip() for line in ptx.splitlines() if ".f64" in line and not line.strip().startswith("//")]


def test_the_check_sees_a_bare_float_literal(nvvm):
    import numba

    def scaled(a):  # `0.1` is a float64: the product is computed in double precision
        i = nvvm.grid(1)
        if i < a.shape[0]:
            a[i] = a[i] * 0.1

    ptx, _ = nvvm.compile_ptx(scaled, (numba.float32[::1],), cc=(9, 0))
    assert float64_lines(ptx)
    ptx, _ = nvvm.compile_ptx(lambda a: None, (numba.float32[::1],), cc=(9, 0))
    assert not float64_lines(ptx)


@pytest.mark.parametrize("case", CASES)
def test_kernels_compile_to_ptx_without_float64(case, nvvm, tmp_path):
    from cuda_harness import source_of

    layers, shape, given, sizes = CASES[case]
    model = next(iter(analyzer.loads(source_of(CASES[case]), set=given or None).models.values()))
    source = codegen.generate(model, target="cuda")
    path = tmp_path / "generated.py"  # a private copy: its kernels get replaced by recorders
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"ptx_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from arrays import random_inputs

    xs = random_inputs(model, 2, np.random.default_rng(0), sizes[0])
    xs = module.check_inputs(*xs)
    weights = [np.zeros(s, np.float32) for _, _, s in module.WEIGHT_SHAPES]
    kernels = traced_kernels(module, xs, weights)
    assert kernels, "no kernel was launched"
    for (name, types), fn in kernels.items():
        ptx, _ = nvvm.compile_ptx(fn, types, cc=(9, 0))
        wide = float64_lines(ptx)
        assert not wide, f"{name}{types}: float64 arithmetic in a float32 kernel, e.g. {wide[:3]}"


@pytest.mark.parametrize("case", ["recurrent-lstm_backwards_states", "recurrent-gru_states",
                                  "recurrent-gru_reset_before_states", "recurrent-simple_rnn_states"])
def test_recurrent_step_kernels_compile_to_ptx(case, nvvm, tmp_path, monkeypatch):
    """The per-step path of SimpleRNN/GRU/LSTM (wider than PERSISTENT_WIDTH), which no narrow case takes."""
    from shapeproof.codegen.cuda import recurrent

    monkeypatch.setattr(recurrent, "PERSISTENT_WIDTH", 0)
    test_kernels_compile_to_ptx_without_float64(case, nvvm, tmp_path)
