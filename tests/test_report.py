"""The report: golden text for examples/seeds.nn, the JSON structure, and the figures it must show.

Regenerate the golden files after an intended change with:
    SHAPEPROOF_REGOLD=1 .venv/bin/python -m pytest tests/test_report.py
"""
import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from shapeproof import analyzer
from shapeproof.analyzer.equivalence import check_assertions
from shapeproof.analyzer.report import program_json, render_report
from shapeproof.cli import main

GOLDEN = Path(__file__).parent / "golden"
SEEDS = "examples/seeds.nn"


def rendered(path: str, **options) -> str:
    program = analyzer.load(path)
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None, force_terminal=False)
    render_report(program, console, verdicts=check_assertions(program), **options)
    return out.getvalue()


@pytest.mark.parametrize("name, options", [("seeds_report.txt", {}), ("seeds_explain.txt", {"explain_layers": True})])
def test_seeds_report_golden(name, options):
    text = rendered(SEEDS, **options)
    if os.environ.get("SHAPEPROOF_REGOLD"):
        (GOLDEN / name).write_text(text)
    assert text == (GOLDEN / name).read_text()


def test_report_fits_80_columns_without_colour_codes():
    text = rendered(SEEDS, explain_layers=True)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "\x1b[" not in text


def test_seed_figures():
    models = {m["name"]: m for m in program_json(analyzer.load(SEEDS), [])["models"]}
    conv, fc = models["ConvModel"], models["FCModel"]
    assert [layer["params"] for layer in conv["layers"]] == [256, 0, 12_800_100, 101]
    assert [layer["params"] for layer in fc["layers"]] == [256, 0, 12_800_100, 101]
    assert conv["total_params"] == fc["total_params"] == 12_800_457
    assert [layer["receptive_field"] for layer in conv["layers"]] == [[1], [1], ["all"], ["all"]]
    assert models["ConvLSTM"]["total_params"] == "4*C*F*k**2 + 4*F**2*k**2 + 4*F"


def test_json_structure(capsys):
    assert main(["report", SEEDS, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"file", "models", "assertions"} and doc["file"] == SEEDS
    conv = doc["models"][0]
    assert conv["name"] == "ConvModel"
    assert conv["symbols"] == {"batch": None, "n_features": 1000}
    assert conv["inputs"] == [{"name": "input", "shape": ["batch", 1000, 1], "dtype": "float32"}]
    first = conv["layers"][0]
    assert {k: first[k] for k in ("name", "type", "line", "inputs", "output_shape", "params", "trainable_params",
                                  "non_trainable_params", "macs", "receptive_field")} == {
        "name": "conv1d", "type": "Conv1D", "line": 9, "inputs": ["input"], "output_shape": ["batch", 1000, 128],
        "params": 256, "trainable_params": 256, "non_trainable_params": 0, "macs": "128000*batch",
        "receptive_field": [1]}
    assert conv["outputs"] == [{"name": "dense_1", "shape": ["batch", 1]}]
    assert (conv["total_params"], conv["trainable_params"], conv["non_trainable_params"]) == (12800457, 12800457, 0)
    assert conv["constraints"] == []
    assert doc["assertions"][0] == {"line": 21, "text": "params(ConvModel) == params(FCModel)", "holds": True,
                                    "reason": "both are 12,800,457"}


def test_json_multi_output_layer_has_a_list_of_shapes(tmp_path, capsys):
    path = tmp_path / "m.nn"
    path.write_text("model M(batch, T):\n    x = input (batch, T, 3)\n"
                    "    y, h, c = LSTM(4, return_state=True)(x)\n    output y, c\n")
    assert main(["report", str(path), "--json"]) == 0
    model = json.loads(capsys.readouterr().out)["models"][0]
    assert model["layers"][0]["output_shape"] == [["batch", 4], ["batch", 4], ["batch", 4]]
    assert model["symbols"] == {"batch": None, "T": None}


def test_symbolic_constraints_are_reported():
    model = analyzer.loads("model M(batch, T):\n    input (batch, T, 3)\n    Conv1D(4, 5)\n    Conv1D(4, 3)\n"
                           ).models["M"]
    assert [str(c.condition) for c in model.constraints] == ["T >= 7"]
    assert str(model.outputs[0][1][1]) == "T - 6"


def test_set_makes_it_concrete(capsys):
    assert main(["report", SEEDS, "--model", "ConvModel", "--set", "n_features=50", "--json"]) == 0
    model = json.loads(capsys.readouterr().out)["models"][0]
    assert model["total_params"] == 256 + 50 * 128 * 100 + 100 + 101


def test_peak_activation_memory_counts_live_values():
    model = analyzer.loads("model R(batch, T):\n    x = input (batch, T, 4)\n    h = Dense(8)(x)\n"
                           "    h = Dense(4)(h)\n    y = Dense(4)(x)\n    output h, y\n").models["R"]
    # While the second Dense runs: x (still needed), its input (8 wide) and its output (4 wide).
    assert str(model.peak_activation_bytes) == "64*T*batch"


def test_check_exit_codes(tmp_path):
    ok = tmp_path / "ok.nn"
    ok.write_text("model A(batch):\n    input (batch, 4)\n    Dense(2)\nmodel B(batch):\n    input (batch, 4)\n"
                  "    Dense(2)\nassert params(A) == params(B)\n")
    assert main(["check", str(ok)]) == 0
    bad = tmp_path / "bad.nn"
    bad.write_text(ok.read_text().replace("assert params(A) == params(B)", "assert params(A) != params(B)"))
    assert main(["check", str(bad)]) == 1
    equivalent = tmp_path / "equivalent.nn"
    equivalent.write_text(ok.read_text().replace("assert params(A) == params(B)", "assert A == B"))
    assert main(["check", str(equivalent)]) == 0
    undecided = tmp_path / "undecided.nn"  # GlobalMaxPooling has no element formula: neither proof nor counterexample
    undecided.write_text("model A(batch):\n    input (batch, 4, 1)\n    GlobalMaxPooling1D()\nmodel B(batch):\n"
                         "    input (batch, 4, 1)\n    GlobalMaxPooling1D()\nassert A == B\n")
    assert main(["check", str(undecided)]) == 3


def test_training_memory_and_connected_to(capsys, tmp_path):
    import json

    from shapeproof.analyzer.training import training_memory

    program = analyzer.loads("model M(batch):\n    x = input (batch, 3)\n    y = Dense(4)(x)\n    output y\n"
                             "model G(batch):\n    x = input (batch, 3)\n    a = Dense(3)(x)\n    b = Add()([x, a])\n"
                             "    output b\n")
    memory = training_memory(program.models["M"], "adam")
    batch = next(iter(memory.activations.free_symbols))
    # 16 float32 parameters: 64 B, their gradients 64 B, Adam's two moments 128 B; the input (3) and the
    # output (4) kept for the backward pass, and their gradients: 2·7·4 bytes per sample
    assert (memory.parameters, memory.gradients, memory.optimizer_state) == (64, 64, 128)
    assert memory.activations == 56 * batch and memory.total == 256 + 56 * batch
    assert training_memory(program.models["M"], "sgd").optimizer_state == 0
    console = Console(width=120, record=True, color_system=None)
    render_report(program, console)
    text = console.export_text()
    assert "Connected to" in text and "x, dense" in text  # the graph model G has the column ...
    assert text.index("Connected to") > text.index("Model G")  # ... the chain M does not
    spec = tmp_path / "m.nn"
    spec.write_text("model M(batch):\n    x = input (batch, 3)\n    y = Dense(4)(x)\n    output y\n")
    capsys.readouterr()  # the table above
    assert main(["report", str(spec), "--json", "--training", "adam"]) == 0
    memory = json.loads(capsys.readouterr().out)["models"][0]["training_memory"]
    assert memory == {"optimizer": "adam", "parameters": 64, "gradients": 64, "optimizer_state": 128,
                      "activations": "56*batch", "total": "56*batch + 256"}
