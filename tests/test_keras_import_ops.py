"""`shapeproof import` of Keras models whose graphs hold operation nodes (`x + h`, `x * 0.5`,
`ops.mean`, `ops.reshape`, `ops.matmul`, ...): the written spec uses tensor arithmetic, reports Keras's
names, shapes and counts, and its generated kernels equal model.predict with the file's weights."""
from __future__ import annotations

import pytest

import json

import numpy as np
from keras_harness import random_keras_weights
from test_keras_import import _shape, check_outputs, run_cli

keras = pytest.importorskip("keras")

from keras import layers as L  # noqa: E402
from keras import ops  # noqa: E402


def arithmetic():
    x = keras.Input((6, 4), name="x")
    h = L.Dense(4, name="d")(x)
    y = (x + h) * 0.5
    y = ops.relu(y - ops.mean(y, axis=1, keepdims=True))
    y = 1.0 / (2 + ops.square(y)) - ops.sqrt(ops.abs(y))
    return keras.Model(x, L.Dense(3, name="out")(-y))


def hard_swish_block():
    """MobileNetV3's hard_sigmoid and hard_swish: ReLU(6)(x + 3) * (1 / 6), then x times it."""
    x = keras.Input((8, 8, 3), name="image")
    h = L.Conv2D(4, 3, padding="same", name="conv")(x)
    gate = L.ReLU(6.0, name="re_lu")(h + 3.0) * (1.0 / 6.0)
    return keras.Model(x, L.Multiply(name="hard_swish")([h, gate]))


def structure():
    x = keras.Input((6, 4), name="x")
    r = ops.reshape(x, (-1, 24))
    t = ops.transpose(ops.reshape(r, (-1, 6, 4)), (0, 2, 1))
    c = ops.concatenate([t, t * 2], axis=-1)
    g = ops.matmul(c, ops.transpose(c, (0, 2, 1)))
    return keras.Model(x, [ops.sum(g, axis=-1), ops.max(g, axis=1)])


def renamed():
    """A layer and an operation share Keras's count of automatic names: Add() is add, the operation add_1."""
    x = keras.Input((4,), name="x")
    a = L.Add()([x, x])
    return keras.Model(x, ops.add(a, x))


MODELS = {f.__name__: f for f in (arithmetic, hard_swish_block, structure, renamed)}


def build(name: str, seed: int = 0):
    """The model with random weights, its operations named from a fresh count (add, add_1, ...)."""
    keras.backend.clear_session()
    model = MODELS[name]()
    random_keras_weights(model, np.random.default_rng(seed))
    return model


def check_report(model, nn_path, capsys):
    """`shapeproof report --json` has every Keras layer and operation, with its output shape and counts."""
    code, out, err = run_cli(["report", str(nn_path), "--json"], capsys)
    assert code == 0, err
    ours = {layer["name"]: layer for layer in json.loads(out)["models"][0]["layers"]}
    theirs = [op for op in model.operations if not isinstance(op, L.InputLayer)]
    assert sorted(ours) == sorted(op.name for op in theirs)
    for op in theirs:
        node = op._inbound_nodes[0]
        expected = [list(t.shape) for t in node.output_tensors]
        got = ours[op.name]["output_shape"]
        assert [_shape(got, expected[0])] == expected, f"{op.name}: {got} != Keras {expected}"
        weights = sum(int(np.prod(w.shape)) for w in getattr(op, "weights", []))
        assert ours[op.name]["trainable_params"] + ours[op.name]["non_trainable_params"] == weights, op.name
    assert json.loads(out)["models"][0]["total_params"] == model.count_params()


@pytest.mark.parametrize("name", MODELS)
def test_operation_graphs_round_trip(name, tmp_path, capsys):
    model = build(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    nn = tmp_path / f"{name}.nn"
    code, _, err = run_cli(["import", str(path), "-o", str(nn)], capsys)
    assert code == 0, err
    check_report(model, nn, capsys)
    check_outputs(model, nn, path)


def test_written_as_arithmetic(tmp_path, capsys):
    model = build("arithmetic")
    model.save(tmp_path / "a.keras")
    code, out, err = run_cli(["import", str(tmp_path / "a.keras")], capsys)
    assert code == 0, err
    assert "add = x + d\n" in out and "multiply = add * 0.5\n" in out
    assert "mean = mean(multiply, axis=1, keepdims=True)\n" in out and "true_divide = 1 / add_1\n" in out
    assert "negative = -subtract_1\n" in out


def test_a_name_taken_before_is_written(tmp_path, capsys):
    build("renamed").save(tmp_path / "r.keras")
    code, out, err = run_cli(["import", str(tmp_path / "r.keras")], capsys)
    assert code == 0, err
    assert "add_1 = add + x\n" in out  # the analyzer names it add_1 too: plain arithmetic
