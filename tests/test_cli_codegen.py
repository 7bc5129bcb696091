"""`shapeproof gen` and `shapeproof run` from the command line."""
import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shapeproof.cli import main

SPEC = """model Small(batch, T):
    input (batch, T, 3)
    Conv1D(8, 3, activation="relu")
    Dense(2, activation="softmax")
model Other(batch):
    input (batch, 4)
    Dense(1)
"""


def test_gen_writes_a_module_that_parses_passes_ruff_and_is_stable(tmp_path, capsys):
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC)
    out = tmp_path / "small.py"
    assert main(["gen", str(spec), "--model", "Small", "-o", str(out)]) == 0
    text = out.read_text()
    ast.parse(text)
    assert "# conv1d: Conv1D(8, 3, activation=\"relu\")" in text and "#   (batch, T, 3) -> (batch, T - 2, 8)" in text
    assert "def forward(x_input, w_conv1d_kernel, w_conv1d_bias, w_dense_kernel, w_dense_bias):" in text
    assert "WEIGHT_SHAPES = (" in text and "def load_weights(path):" in text
    assert main(["gen", str(spec), "--model", "Small"]) == 0
    assert capsys.readouterr().out == text
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,B,SIM",
                           "--line-length", "120", str(out)], capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout


def test_gen_needs_a_model_name_when_the_file_has_several(tmp_path, capsys):
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC)
    assert main(["gen", str(spec)]) == 2
    assert "choose one with --model" in capsys.readouterr().err


def test_run_random_input_and_weights(tmp_path, capsys):
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC)
    assert main(["run", str(spec), "--model", "Small", "--set", "T=9", "--batch", "2", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert "(2, 7, 2)" in out and "median of 2 calls" in out and "random (seed 0)" in out


def test_run_needs_free_sizes(tmp_path, capsys):
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC)
    assert main(["run", str(spec), "--model", "Small"]) == 2
    assert "--set T=" in capsys.readouterr().err


def test_run_with_weights_and_input_files(tmp_path, capsys):
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC)
    np.savez(tmp_path / "w.npz", *[np.full(s, 0.1, np.float32) for s in [(4, 1), (1,)]])
    np.save(tmp_path / "x.npy", np.ones((3, 4), np.float32))
    assert main(["run", str(spec), "--model", "Other", "--weights", str(tmp_path / "w.npz"),
                 "--input", str(tmp_path / "x.npy"), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "(3, 1)" in out and "0.5" in out  # 4 * 0.1 + 0.1
    np.savez(tmp_path / "bad.npz", np.zeros((2, 4)))
    assert main(["run", str(spec), "--model", "Other", "--weights", str(tmp_path / "bad.npz")]) == 2
    assert "has 2 weight arrays, got 1" in capsys.readouterr().err


def test_every_example_module_passes_ruff(tmp_path):
    """The generated modules of every example and benchmark model, CPU and CUDA, pass ruff (long
    launches and signatures are wrapped, no unused variable, one statement per line)."""
    from shapeproof import analyzer
    from shapeproof import codegen

    written = []
    root = Path(__file__).resolve().parent.parent
    for spec in [*sorted((root / "examples").glob("*.nn")), root / "benchmarks" / "models.nn"]:
        for name, model in analyzer.load(spec).models.items():
            for target in ("cpu", "cuda"):
                try:
                    text = codegen.generate(model, target=target)
                except codegen.CodegenError:  # free weight sizes: not generated without --set
                    continue
                path = tmp_path / f"{spec.stem}_{name}_{target}.py"
                path.write_text(text)
                written.append(str(path))
    assert len(written) > 40
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,B,SIM",
                           "--line-length", "120", "--output-format", "concise", *written],
                          capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout[-3000:]


def test_run_cuda_without_a_gpu_says_so(tmp_path, capsys):
    from numba import cuda

    if cuda.is_available():
        pytest.skip("a GPU is attached: tests/cuda runs the kernels on it")
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC)
    assert main(["run", str(spec), "--model", "Small", "--target", "cuda", "--set", "T=5"]) == 2
    err = capsys.readouterr().err
    assert "needs an NVIDIA GPU" in err and "NUMBA_ENABLE_CUDASIM=1" in err and "Traceback" not in err
