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
    assert "(2, 7, 2)" in out and "median of 2 calls" in out and "initializers (seed 0)" in out


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


def test_run_saves_outputs_and_prints_json(tmp_path, capsys):
    import json

    spec = tmp_path / "m.nn"
    spec.write_text(SPEC)
    assert main(["run", str(spec), "--model", "Small", "--set", "T=9", "--batch", "2", "--repeat", "1",
                 "-o", str(tmp_path / "y.npy"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (2, 7, 2) and report["outputs"][0]["shape"] == [2, 7, 2]
    assert np.isclose(report["outputs"][0]["mean"], y.mean()) and np.allclose(y.sum(axis=-1), 1.0, atol=1e-5)
    assert set(report["timings"]) == {"build_s", "first_call_s", "cached", "median_call_s", "calls"}
    assert main(["run", str(spec), "--model", "Small", "--set", "T=9", "--repeat", "1",
                 "-o", str(tmp_path / "y.npz")]) == 0
    assert list(np.load(tmp_path / "y.npz")) == ["dense"]
    assert main(["run", str(spec), "--model", "Small", "--set", "T=9", "-o", str(tmp_path / "y.txt")]) == 2
    assert "not .npy or .npz" in capsys.readouterr().err


def test_run_input_file_errors_are_clear(tmp_path, capsys):
    spec = tmp_path / "m.nn"
    spec.write_text(SPEC)
    assert main(["run", str(spec), "--model", "Other", "--input", str(tmp_path / "missing.npy")]) == 2
    err = capsys.readouterr().err
    assert "missing.npy: no such file" in err and "Errno" not in err and "Traceback" not in err
    (tmp_path / "junk.npy").write_text("not an array")
    assert main(["run", str(spec), "--model", "Other", "--input", str(tmp_path / "junk.npy")]) == 2
    assert "not a readable .npy array" in capsys.readouterr().err
    np.save(tmp_path / "x.npy", np.ones((3, 4), np.float32))
    assert main(["run", str(spec), "--model", "Other", "--input", str(tmp_path / "x.npy"),
                 "--input", str(tmp_path / "x.npy")]) == 2
    assert "takes 1 input(s), --input gave 2" in capsys.readouterr().err


def test_run_draws_weights_as_keras_initializers_would():
    from shapeproof.keras.initializers import fans, initial_weights

    shapes = [("conv", "kernel", (3, 8, 16)), ("conv", "bias", (16,)), ("lstm", "recurrent_kernel", (6, 24)),
              ("bn", "gamma", (4,)), ("bn", "moving_variance", (4,)), ("bn", "moving_mean", (4,)),
              ("emb", "embeddings", (50, 8))]
    kernel, bias, recurrent, gamma, variance, mean, embeddings = initial_weights(shapes, seed=1)
    assert fans((3, 8, 16)) == (24, 48)
    limit = np.sqrt(6 / (24 + 48))  # glorot_uniform
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    assert not bias.any() and not mean.any() and (gamma == 1).all() and (variance == 1).all()
    assert np.allclose(recurrent @ recurrent.T, np.eye(6), atol=1e-12)  # orthogonal rows (6 x 24)
    assert np.abs(embeddings).max() <= 0.05


def test_version_and_layer_catalogue(capsys):
    import json

    from shapeproof import __version__
    from shapeproof.analyzer.layers import REGISTRY

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"shapeproof {__version__}"
    assert main(["layers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in rows} == {cls.kind for cls in REGISTRY.values()}
    assert main(["layers", "MaxPool1D"]) == 0
    out = capsys.readouterr().out
    assert 'MaxPooling1D(pool_size=2, strides=None, padding="valid"' in out and "also called: MaxPool1D" in out
    assert "has its element formula" in out
    assert main(["layers", "GlobalMaxPool1D"]) == 0
    assert "no element formula" in capsys.readouterr().out
    assert main(["layers", "Conv1d"]) == 2
    assert "did you mean 'Conv1D'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["report", "check", "gen", "equiv", "run", "layers", "import", "build", "cache"])
def test_every_subcommand_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "examples:\n  shapeproof " + command in capsys.readouterr().out
