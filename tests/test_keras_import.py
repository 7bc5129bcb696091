"""`shapeproof import`: Keras models built here, saved, imported, reported and run with generated kernels.

Each round trip (a) saves a real Keras 3 model (random weights: Keras's initial zero biases would hide
bugs) as a .keras archive, or as model.to_json() + .weights.h5, or as a legacy full-model .h5;
(b) imports it with the command; (c) checks that `shapeproof report --json` gives every layer
Keras's output shape and trainable / non-trainable parameter counts; (d) builds the CPU kernels,
loads the saved weights from the file and compares the outputs with `model.predict` (max error
relative to the output's magnitude <= 1e-4; the recurrent models' kernels in `make test-all` only).
The bad-input tests check one clear error, exit 2.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from keras_harness import random_keras_weights, relative_error

from shapeproof.cli import main

keras = pytest.importorskip("keras")
from keras import layers as L  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
ROOT = Path(__file__).resolve().parent.parent


# --- the models -------------------------------------------------------------------------------------


def mlp():
    return keras.Sequential([
        keras.Input((12,)),
        L.Dense(16, activation="relu", kernel_initializer="he_normal", kernel_regularizer="l2",
                bias_constraint=keras.constraints.NonNeg(), name="hidden"),
        L.BatchNormalization(momentum=0.9, epsilon=1e-5),
        L.Dropout(0.3),
        L.Dense(8, activation="tanh", use_bias=False, trainable=False),
        L.Activation("softmax"),
    ], name="mlp")


def cnn1d():
    return keras.Sequential([
        keras.Input((40, 3)),
        L.Conv1D(8, 5, strides=2, padding="same", activation="relu"),
        L.Conv1D(8, 3, dilation_rate=2, groups=2),
        L.MaxPooling1D(),
        L.AveragePooling1D(3, strides=1, padding="same"),
        L.SeparableConv1D(6, 3, depth_multiplier=2, activation="elu"),
        L.DepthwiseConv1D(2, depth_multiplier=2, padding="same"),
        L.GlobalAveragePooling1D(),
        L.Dense(2, activation="sigmoid"),
    ], name="cnn1d")


def cnn2d():
    return keras.Sequential([
        keras.Input((14, 12, 3)),
        L.ZeroPadding2D((1, 2)),
        L.Conv2D(6, (3, 2), strides=(1, 2), activation="relu"),
        L.DepthwiseConv2D(3, padding="same", activation="relu6"),
        L.SeparableConv2D(5, 2, activation="swish"),
        L.MaxPooling2D((2, 2)),
        L.Cropping2D(((1, 0), (0, 1))),
        L.UpSampling2D((2, 1)),
        L.SpatialDropout2D(0.2),
        L.AveragePooling2D(pool_size=2, strides=1),
        L.Conv2D(4, 1, use_bias=False),
        L.GlobalMaxPooling2D(),
        L.Dense(3, activation="softmax"),
    ], name="cnn2d")


def cnn3d():
    x = keras.Input((6, 8, 8, 2), name="volume")
    a = L.ZeroPadding3D(1)(x)
    a = L.Conv3D(4, 3, activation="relu")(a)
    a = L.MaxPooling3D(2)(a)
    a = L.GlobalAveragePooling3D()(a)
    b = L.Cropping3D(((1, 1), (2, 1), (0, 1)))(x)
    b = L.UpSampling3D((1, 2, 1))(b)
    b = L.SpatialDropout3D(0.1)(b)
    b = L.AveragePooling3D((2, 2, 2), padding="same")(b)
    b = L.GlobalMaxPooling3D()(b)
    y = L.Concatenate()([a, b])
    return keras.Model(x, L.Dense(2)(y), name="cnn3d")


def transposed_three_inputs():
    """Several inputs of different ranks: the transposed convolutions."""
    s = keras.Input((7, 3), name="signal")
    i = keras.Input((5, 6, 2), name="image")
    v = keras.Input((3, 4, 4, 1), name="volume")
    a = L.GlobalAveragePooling1D()(L.Conv1DTranspose(4, 3, strides=2)(s))
    b = L.GlobalAveragePooling2D()(L.Conv2DTranspose(4, (3, 2), strides=(2, 1), padding="same", activation="relu")(i))
    c = L.GlobalAveragePooling3D()(L.Conv3DTranspose(4, 2, strides=2, use_bias=False)(v))
    y = L.Concatenate(name="joined")([a, b, c])
    return keras.Model([s, i, v], L.Dense(3, name="head")(y), name="transposed")


def reshaping():
    return keras.Sequential([
        keras.Input((12, 4)),
        L.ZeroPadding1D((2, 1)),
        L.Cropping1D((1, 2)),
        L.UpSampling1D(3),
        L.SpatialDropout1D(0.25),
        L.Permute((2, 1)),
        L.Reshape((6, -1)),
        L.Flatten(),
        L.RepeatVector(3),
        L.Activation("gelu"),
        L.Dense(2),
    ], name="reshaping")


def text_classifier():
    return keras.Sequential([
        keras.Input((20,), dtype="int32"),
        L.Embedding(50, 8),
        L.Conv1D(6, 3, activation="relu"),
        L.GlobalMaxPooling1D(),
        L.Dense(1, activation="sigmoid"),
    ], name="text_cnn")


def recurrent_stack():
    return keras.Sequential([
        keras.Input((10, 4)),
        L.SimpleRNN(6, return_sequences=True, dropout=0.2),
        L.GRU(5, return_sequences=True, reset_after=False, go_backwards=True),
        L.GRU(5, return_sequences=True, recurrent_activation="hard_sigmoid"),
        L.LSTM(4, unit_forget_bias=False, recurrent_dropout=0.1),
        L.Dense(2),
    ], name="recurrent")


def return_states():
    x = keras.Input((9, 3), name="x")
    seq, h, c = L.LSTM(6, return_sequences=True, return_state=True, name="encoder")(x)
    y, g = L.GRU(4, return_state=True, name="summary")(seq)
    s, sh = L.SimpleRNN(3, return_state=True, go_backwards=True)(seq)
    both = L.Concatenate()([h, c, g, sh])
    out = L.Dense(2, activation="softmax", name="probs")(both)
    return keras.Model(x, [out, y, s, c], name="states")


def bidirectional():
    x = keras.Input((8, 5))
    a = L.Bidirectional(L.LSTM(4, return_sequences=True))(x)
    b = L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum")(a)
    c = L.Bidirectional(L.LSTM(3, return_sequences=True),
                        backward_layer=L.LSTM(3, return_sequences=True, go_backwards=True, activation="relu"),
                        merge_mode="ave")(b)
    f, r = L.Bidirectional(L.SimpleRNN(2), merge_mode=None)(c)
    d = L.Multiply()([f, r])
    return keras.Model(x, d, name="bidirectional")


def bidirectional_states():
    x = keras.Input((6, 3), name="x")
    y, fh, _fc, bh, bc = L.Bidirectional(L.LSTM(4, return_state=True), name="bi")(x)
    z = L.Add()([fh, bh])
    return keras.Model(x, [y, z, bc], name="bidirectional_states")


def time_distributed():
    return keras.Sequential([
        keras.Input((4, 10, 10, 2)),
        L.TimeDistributed(L.Conv2D(4, 3, activation="relu")),
        L.TimeDistributed(L.MaxPooling2D()),
        L.ConvLSTM2D(3, 2, padding="same", return_sequences=True),
        L.TimeDistributed(L.Flatten()),
        L.TimeDistributed(L.Dense(5, activation="relu")),
        L.LSTM(3),
    ], name="video")


def conv_lstms():
    x = keras.Input((3, 9, 2), name="rows")
    v = keras.Input((2, 5, 5, 5, 1), name="volumes")
    a = L.ConvLSTM1D(3, 3, padding="same", return_sequences=True)(x)
    a = L.ConvLSTM1D(2, 2, strides=2)(a)
    a = L.Flatten()(a)
    b = L.ConvLSTM3D(2, 3, recurrent_activation="hard_sigmoid")(v)
    b = L.GlobalAveragePooling3D()(b)
    return keras.Model([x, v], [L.Concatenate()([a, b])], name="conv_lstms")


def merges():
    a = keras.Input((6,), name="a")
    b = keras.Input((6,), name="b")
    c = keras.Input((6,), name="c")
    s = L.Add()([a, b, c])
    d = L.Subtract()([a, b])
    m = L.Multiply()([b, c])
    v = L.Average()([a, c])
    hi = L.Maximum()([s, d])
    lo = L.Minimum()([m, v])
    cat = L.Concatenate(axis=1)([L.Reshape((6, 1))(hi), L.Reshape((6, 1))(lo)])
    return keras.Model([a, b, c], [L.Flatten()(cat), s], name="merges")


def residual():
    x = keras.Input((16, 8), name="x")
    h = L.Conv1D(8, 3, padding="same", activation="relu")(x)
    h = L.LayerNormalization(epsilon=1e-5)(h)
    h = L.Conv1D(8, 3, padding="same", trainable=False)(h)
    y = L.Add()([x, h])
    y = L.BatchNormalization(center=False)(y)
    y = L.LayerNormalization(axis=[1, 2], scale=False)(y)
    return keras.Model(x, L.GlobalAveragePooling1D()(y), name="residual")


def nested():
    """A Sequential inside a Sequential inside a Functional model, one of them frozen: flattened."""
    block = keras.Sequential([L.Dense(8, activation="relu"), L.Dense(8)], name="block")
    frozen = keras.Sequential([L.Dense(4), L.BatchNormalization()], name="frozen")
    frozen.trainable = False
    inner = keras.Sequential([keras.Input((6,)), block, L.Activation("tanh")], name="inner")
    x = keras.Input((6,), name="x")
    y = inner(x)
    return keras.Model(x, frozen(L.Add()([y, L.Dense(8)(x)])), name="nested")


def nested_functional():
    """A two-input Functional model called inside another, next to a Sequential built without an Input."""
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    sub = keras.Model([a, b], L.Concatenate()([L.Dense(3, activation="relu")(a), b]), name="sub")
    tail = keras.Sequential([L.Dense(5), L.Dense(2)], name="tail")
    tail.build((None, 7))
    x = keras.Input((4,), name="x")
    return keras.Model(x, tail(sub([x, L.Dense(4)(x)])), name="nested_functional")


def multi_io():
    """Several inputs and outputs; layer names that differ from Keras's class-based file names."""
    tokens = keras.Input((12,), dtype="int32", name="tokens")
    meta = keras.Input((5,), name="meta")
    e = L.Embedding(30, 6, name="embed")(tokens)
    h = L.GRU(8, name="encoder")(e)
    m = L.Dense(8, activation="relu", name="meta_dense")(meta)
    j = L.Concatenate(name="join")([h, m])
    score = L.Dense(1, activation="sigmoid", name="score")(j)
    kind = L.Dense(3, activation="softmax", name="kind")(j)
    return keras.Model([tokens, meta], [score, kind], name="multi_io")


def activation_layers():
    """Keras's activation layers, activation strings and the normalization layers that go with them
    (ConvNeXt's LayerScale, from keras.applications)."""
    from keras.src.applications.convnext import LayerScale

    return keras.Sequential([
        keras.Input((3, 8)),
        L.Dense(6), L.ReLU(), L.Dense(6), L.LeakyReLU(negative_slope=0.2), L.ELU(), L.ReLU(max_value=6.0),
        L.Dense(8, activation="hard_swish"), L.Activation("mish"), L.Softmax(axis=1),
        L.GroupNormalization(groups=4), L.UnitNormalization(axis=[1, 2]), LayerScale(0.5, 8),
        L.Dense(4, activation="sparsemax"), L.Softmax(),
    ], name="activation_layers")


def lora():
    """LoRA layers: Keras saves the kernel with the low-rank product merged in, and no factors."""
    return keras.Sequential([
        keras.Input((8,), dtype="int32"),
        L.Embedding(20, 6, lora_rank=2),
        L.Flatten(),
        L.Dense(4, lora_rank=2, activation="relu"),
        L.Dense(2),
    ], name="lora")


def variable_length():
    return keras.Sequential([
        keras.Input((None, 6)),
        L.Conv1D(8, 5, activation="relu"),
        L.MaxPooling1D(2),
        L.LSTM(4, return_sequences=True),
        L.GlobalAveragePooling1D(),
        L.Dense(2),
    ], name="variable_length")


MODELS = {f.__name__: f for f in (mlp, cnn1d, cnn2d, cnn3d, transposed_three_inputs, reshaping, text_classifier,
                                  recurrent_stack, return_states, bidirectional, bidirectional_states,
                                  time_distributed, conv_lstms, merges, residual, nested, nested_functional, multi_io,
                                  activation_layers, lora, variable_length)}
# Also saved as model.to_json() + .weights.h5 (Keras 3 names the weight groups by class, so these
# check the class-based look-up, with names that differ from the class names) and as legacy .h5.
# The other file formats' readers on a bounded subset in `make test` (the kernels of these models are
# checked by the .keras round trips already); all of them in `make test-all`.
JSON_H5 = ("mlp", "multi_io", *(pytest.param(n, marks=pytest.mark.full) for n in
                                  ("return_states", "bidirectional", "transposed_three_inputs")))
# Their kernels compile longest and tests/test_keras_codegen.py checks the same layers against Keras: in
# `make test` their round trip checks the import, the report and the weights; `make test-all` the kernels too.
RECURRENT = {"recurrent_stack", "return_states", "bidirectional", "time_distributed", "conv_lstms"}
LEGACY_H5 = ("mlp", pytest.param("bidirectional", marks=pytest.mark.full))


# --- helpers ----------------------------------------------------------------------------------------


def build(name: str, seed: int = 0):
    keras.utils.set_random_seed(seed)
    model = MODELS[name]()
    random_keras_weights(model, np.random.default_rng(seed))
    return model


def run_cli(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def keras_layers(model):
    """Every layer of the model, nested models flattened, InputLayers left out."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from keras_layers(layer)
        elif not isinstance(layer, L.InputLayer):
            yield layer


def _shape(ours, theirs):
    """Our shape as Keras writes it: an axis Keras leaves as None must be symbolic here (a string)."""
    padded = list(theirs) + [0] * len(ours)  # a rank mismatch shows in the comparison that follows
    return [None if isinstance(d, str) and k is None else d for d, k in zip(ours, padded[:len(ours)], strict=True)]


def check_report(model, nn_path, capsys):
    """`shapeproof report --json`: every Keras layer's output shape and (trainable, non-trainable) counts."""
    code, out, err = run_cli(["report", str(nn_path), "--json"], capsys)
    assert code == 0, err
    ours = {layer["name"]: layer for layer in json.loads(out)["models"][0]["layers"]}
    theirs = list(keras_layers(model))
    assert sorted(ours) == sorted(layer.name for layer in theirs)
    for layer in theirs:
        row = ours[layer.name]
        outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        expected = [list(t.shape) for t in outputs]
        got = row["output_shape"] if isinstance(row["output_shape"][0], list) else [row["output_shape"]]
        assert len(got) == len(expected), f"{layer.name}: {len(got)} outputs != Keras {len(expected)}"
        assert [_shape(s, k) for s, k in zip(got, expected, strict=True)] == expected, \
            f"{layer.name}: {got} != Keras {expected}"
        trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        frozen = sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)
        assert (row["trainable_params"], row["non_trainable_params"]) == (trainable, frozen), layer.name
    total = json.loads(out)["models"][0]
    assert total["total_params"] == model.count_params()
    return json.loads(out)["models"][0]


def inputs_for(model, batch, rng, lengths=None):
    arrays = []
    for t in model.inputs:
        shape = [batch] + [d if d is not None else (lengths or 11) for d in t.shape[1:]]
        if "int" in str(t.dtype):
            arrays.append(rng.integers(0, 12, size=shape).astype("int32"))
        else:
            arrays.append(rng.normal(size=shape).astype("float32"))
    return arrays


def check_outputs(model, nn_path, weights_path, batch=3, seed=1, lengths=None):
    """Generated kernels with the file's weights == model.predict."""
    from shapeproof import analyzer
    from shapeproof import codegen

    program = analyzer.load(nn_path)
    net = codegen.build(next(iter(program.models.values())), parallel=False)
    net.load_weights(weights_path)
    xs = inputs_for(model, batch, np.random.default_rng(seed), lengths)
    theirs = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    theirs = list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]
    mine = net(*xs)
    mine = list(mine) if isinstance(mine, tuple) else [mine]
    assert len(mine) == len(theirs)
    for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        assert a.shape == b.shape, f"output {i}: {a.shape} != Keras {b.shape}"
        err = relative_error(a, b)
        assert err <= 1e-4, f"output {i}: relative error {err:.2e}"


# --- round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_keras_archive_round_trip(name, tmp_path, capsys):
    model = build(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    nn = tmp_path / f"{name}.nn"
    code, _, err = run_cli(["import", str(path), "-o", str(nn)], capsys)
    assert code == 0, err
    assert "weights checked" in err
    check_report(model, nn, capsys)
    if name not in RECURRENT or os.environ.get("SHAPEPROOF_TEST_ALL") == "1":
        check_outputs(model, nn, path)


def test_nested_models_import_as_blocks(tmp_path, capsys):
    """Each nested Keras model becomes a block called where Keras calls it (a block calling a block for
    a Sequential inside a Sequential); the report shows each call as one row, as Keras's summary."""
    texts = {}
    for name in ("nested", "nested_functional"):
        keras.backend.clear_session()  # Keras's automatic names count from 0 again: `dense`, not `dense_26`
        build(name).save(tmp_path / f"{name}.keras")
        code, _, err = run_cli(["import", str(tmp_path / f"{name}.keras"), "-o", str(tmp_path / f"{name}.nn")], capsys)
        assert code == 0, err
        texts[name] = (tmp_path / f"{name}.nn").read_text()
    assert "block Block(x):\n    Dense(8, activation=\"relu\")\n    Dense(8)\n" in texts["nested"]
    assert "block Inner(x):\n    Block()\n    Activation(\"tanh\")\n" in texts["nested"]
    assert "    inner = Inner()(x)\n" in texts["nested"] and "    frozen = Frozen()(add)\n" in texts["nested"]
    assert "block Sub(a, b):" in texts["nested_functional"] and "    output concatenate\n" in texts["nested_functional"]
    assert "    sub = Sub()(x, dense_3)\n    tail = Tail()(sub)\n" in texts["nested_functional"]
    code, out, _ = run_cli(["report", str(tmp_path / "nested_functional.nn")], capsys)
    assert "sub (Sub)" in out and "x, dense_3" in out and "dense (Dense)" not in out


@pytest.mark.parametrize("name", JSON_H5)
def test_json_and_weights_h5_round_trip(name, tmp_path, capsys):
    model = build(name, seed=3)
    (tmp_path / "model.json").write_text(model.to_json())
    weights = tmp_path / "model.weights.h5"
    model.save_weights(weights)
    nn = tmp_path / "model.nn"
    code, _, err = run_cli(["import", str(tmp_path / "model.json"), "-o", str(nn), "--weights", str(weights)], capsys)
    assert code == 0, err
    check_report(model, nn, capsys)
    check_outputs(model, nn, weights)


@pytest.mark.parametrize("name", LEGACY_H5)
def test_legacy_full_model_h5_round_trip(name, tmp_path, capsys):
    model = build(name, seed=4)
    path = tmp_path / "model.h5"
    model.save(path)
    nn = tmp_path / "model.nn"
    code, _, err = run_cli(["import", str(path), "-o", str(nn)], capsys)
    assert code == 0, err
    check_report(model, nn, capsys)
    check_outputs(model, nn, path)


def test_variable_length_and_symbolic_axes(tmp_path, capsys):
    """A None time axis becomes a symbol (d1, or the --symbolic name); the kernels run at any length."""
    model = build("variable_length")
    path = tmp_path / "v.keras"
    model.save(path)
    code, out, err = run_cli(["import", str(path)], capsys)
    assert code == 0, err
    assert "model variable_length(batch, d1):" in out and "input (batch, d1, 6)" in out
    nn = tmp_path / "v.nn"
    code, _, err = run_cli(["import", str(path), "--symbolic", "N,T", "-o", str(nn)], capsys)
    assert code == 0, err
    text = nn.read_text()
    assert "model variable_length(N, T):" in text and "input (N, T, 6)" in text
    code, out, _ = run_cli(["report", str(nn), "--json"], capsys)
    layers = json.loads(out)["models"][0]["layers"]
    assert layers[0]["output_shape"] == ["N", "T - 4", 8]
    for length in (11, 30):
        check_outputs(model, nn, path, lengths=length)


def test_symbolic_turns_a_fixed_axis_into_a_parameter(tmp_path, capsys):
    model = build("cnn1d")
    path = tmp_path / "c.keras"
    model.save(path)
    code, out, err = run_cli(["import", str(path), "--symbolic", "batch,T"], capsys)
    assert code == 0, err
    assert "model cnn1d(batch, T):" in out and "input (batch, T, 3)" in out and "40 in the Keras model" in out
    # One input of several, by name; `_` keeps an axis.
    model = build("transposed_three_inputs")
    model.save(tmp_path / "t.keras")
    code, out, err = run_cli(["import", str(tmp_path / "t.keras"), "--symbolic", "signal:_,T",
                              "--symbolic", "image:_,_,W"], capsys)
    assert code == 0, err
    assert "model transposed(batch, T, W):" in out and "signal = input (batch, T, 3)" in out
    assert "image = input (batch, 5, W, 2)" in out and "volume = input (batch, 3, 4, 4, 1)" in out
    # Renaming the batch axis of one input only: the merge says why that cannot be.
    model = build("merges")
    model.save(tmp_path / "m.keras")
    code, _, err = run_cli(["import", str(tmp_path / "m.keras"), "--symbolic", "b:B"], capsys)
    assert code == 2 and "only valid when batch = B" in err


def test_symbolic_that_a_layer_fixes_is_a_clear_error(tmp_path, capsys):
    model = build("merges")  # Reshape((6, 1)) on each (batch, 6) value
    model.save(tmp_path / "m.keras")
    code, _, err = run_cli(["import", str(tmp_path / "m.keras"), "--symbolic", "batch,N"], capsys)
    assert code == 2
    assert "the model is only valid when N = 6" in err and "leave it concrete" in err, err
    model = build("mlp")  # Dense after Dense: the kernel's input size is the axis
    model.save(tmp_path / "p.keras")
    code, _, err = run_cli(["import", str(tmp_path / "p.keras"), "--symbolic", "batch,F"], capsys)
    assert code == 0, err  # weights of symbolic shape are fine for the report (generated kernels need --set)


def test_symbolic_arguments_are_checked(tmp_path, capsys):
    model = build("mlp")
    model.save(tmp_path / "m.keras")
    for bad, words in (("batch,1x", "not a usable symbol name"), ("nope:batch", "no input 'nope'"),
                       ("a,b,c", "names 3 axes")):
        code, _, err = run_cli(["import", str(tmp_path / "m.keras"), "--symbolic", bad], capsys)
        assert code == 2 and words in err, err


def test_written_text_is_readable(tmp_path, capsys):
    """Keras names kept, defaults left out, ignored arguments dropped, trainable=False kept."""
    model = build("mlp")
    model.save(tmp_path / "m.keras")
    code, out, _ = run_cli(["import", str(tmp_path / "m.keras")], capsys)
    assert code == 0
    # Keras's automatic names depend on what the session built before: leave them out here.
    body = [re.sub(r'(, )?name="[a-z_]+_\d+"', "", line.strip())
            for line in out.splitlines() if line.startswith("    ")]
    assert body == [
        "input (batch, 12)",
        'Dense(16, activation="relu", name="hidden")',
        "BatchNormalization(momentum=0.9, epsilon=1e-05)",
        "Dropout(0.3)",
        'Dense(8, activation="tanh", use_bias=False, trainable=False)',
        'Activation("softmax")',
    ]
    model = build("merges")
    model.save(tmp_path / "g.keras")
    code, out, _ = run_cli(["import", str(tmp_path / "g.keras")], capsys)
    out = re.sub(r'(?<=\w)_\d+\b', "", re.sub(r'(, )?name="[a-z_]+_\d+"', "", out))
    assert "    add = Add()([a, b, c])" in out
    assert "    concatenate = Concatenate(axis=1)([reshape, reshape])" in out
    assert out.rstrip().endswith("output flatten, add")
    model = build("return_states")
    model.save(tmp_path / "s.keras")
    code, out, _ = run_cli(["import", str(tmp_path / "s.keras")], capsys)
    assert 'encoder, encoder_h, encoder_c = LSTM(6, return_sequences=True, return_state=True, name="encoder")(x)' in out


def test_import_to_standard_output_then_check_and_run(tmp_path, capsys):
    model = build("text_classifier")
    path = tmp_path / "t.keras"
    model.save(path)
    code, out, _ = run_cli(["import", str(path), "--name", "TextCNN"], capsys)
    assert code == 0 and "model TextCNN(batch):" in out and "input (batch, 20) int32" in out
    nn = tmp_path / "t.nn"
    nn.write_text(out)
    assert main(["check", str(nn)]) == 0
    code, out, err = run_cli(["run", str(nn), "--weights", str(path), "--repeat", "1", "--batch", "2"], capsys)
    assert code == 0, err
    assert "(2, 1)" in out


# --- tf.keras 2 JSON ---------------------------------------------------------------------------------

TF2_SEQUENTIAL = {
    "class_name": "Sequential", "keras_version": "2.13.1", "backend": "tensorflow",
    "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 28, 28, 1], "dtype": "float32",
                                                "sparse": False, "ragged": False, "name": "conv2d_input"}},
        {"class_name": "Conv2D", "config": {
            "name": "conv2d", "trainable": True, "dtype": "float32", "batch_input_shape": [None, 28, 28, 1],
            "filters": 8, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid",
            "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu",
            "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None}},
        {"class_name": "BatchNormalization", "config": {
            "name": "batch_normalization", "trainable": True, "dtype": "float32", "axis": [3],
            "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True,
            "beta_initializer": {"class_name": "Zeros", "config": {}},
            "gamma_initializer": {"class_name": "Ones", "config": {}},
            "moving_mean_initializer": {"class_name": "Zeros", "config": {}},
            "moving_variance_initializer": {"class_name": "Ones", "config": {}},
            "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}},
        {"class_name": "MaxPooling2D", "config": {
            "name": "max_pooling2d", "trainable": True, "dtype": "float32", "pool_size": [2, 2], "padding": "valid",
            "strides": [2, 2], "data_format": "channels_last"}},
        {"class_name": "Flatten", "config": {"name": "flatten", "trainable": True, "dtype": "float32",
                                             "data_format": "channels_last"}},
        {"class_name": "Dropout", "config": {"name": "dropout", "trainable": True, "dtype": "float32", "rate": 0.5,
                                             "noise_shape": None, "seed": None}},
        {"class_name": "Dense", "config": {
            "name": "dense", "trainable": True, "dtype": "float32", "units": 10, "activation": "softmax",
            "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None}},
    ]},
}

_LSTM2 = {"name": "lstm", "trainable": True, "dtype": "float32", "return_sequences": True, "return_state": False,
          "go_backwards": False, "stateful": False, "unroll": False, "time_major": False, "units": 6,
          "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
          "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
          "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
          "bias_initializer": {"class_name": "Zeros", "config": {}}, "unit_forget_bias": True,
          "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
          "activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None,
          "bias_constraint": None, "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 2}

TF2_FUNCTIONAL = {
    "class_name": "Functional", "keras_version": "2.13.1", "backend": "tensorflow",
    "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "name": "words", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 15], "dtype": "int32", "sparse": False, "ragged": False,
                    "name": "words"}},
        {"class_name": "InputLayer", "name": "extra", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 15, 4], "dtype": "float32", "sparse": False, "ragged": False,
                    "name": "extra"}},
        {"class_name": "Embedding", "name": "embedding", "inbound_nodes": [[["words", 0, 0, {}]]],
         "config": {"name": "embedding", "trainable": True, "dtype": "float32", "batch_input_shape": [None, 15],
                    "input_dim": 100, "output_dim": 4, "embeddings_initializer": {"class_name": "RandomUniform",
                    "config": {"minval": -0.05, "maxval": 0.05, "seed": None}}, "embeddings_regularizer": None,
                    "activity_regularizer": None, "embeddings_constraint": None, "mask_zero": False,
                    "input_length": 15}},
        {"class_name": "Add", "name": "add", "inbound_nodes": [[["embedding", 0, 0, {}], ["extra", 0, 0, {}]]],
         "config": {"name": "add", "trainable": True, "dtype": "float32"}},
        {"class_name": "Bidirectional", "name": "bidirectional", "inbound_nodes": [[["add", 0, 0, {}]]],
         "config": {"name": "bidirectional", "trainable": True, "dtype": "float32", "merge_mode": "concat",
                    "layer": {"class_name": "LSTM", "config": _LSTM2}}},
        {"class_name": "LayerNormalization", "name": "layer_normalization",
         "inbound_nodes": [[["bidirectional", 0, 0, {}]]],
         "config": {"name": "layer_normalization", "trainable": True, "dtype": "float32", "axis": [2],
                    "epsilon": 0.001, "center": True, "scale": True,
                    "beta_initializer": {"class_name": "Zeros", "config": {}},
                    "gamma_initializer": {"class_name": "Ones", "config": {}}, "beta_regularizer": None,
                    "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}},
        {"class_name": "GlobalAveragePooling1D", "name": "pool", "inbound_nodes": [[["layer_normalization", 0, 0, {}]]],
         "config": {"name": "pool", "trainable": True, "dtype": "float32", "data_format": "channels_last",
                    "keepdims": False}},
        {"class_name": "Dense", "name": "out", "inbound_nodes": [[["pool", 0, 0, {}]]],
         "config": {"name": "out", "trainable": True, "dtype": "float32", "units": 1, "activation": "sigmoid",
                    "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                    "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
                    "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
                    "bias_constraint": None}},
    ], "input_layers": [["words", 0, 0], ["extra", 0, 0]], "output_layers": [["out", 0, 0]]},
}


def tf2_equivalents():
    """The Keras 3 models the tf.keras 2 JSON above describes (shapes and counts must agree)."""
    seq = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(8, 3, activation="relu", name="conv2d"),
                            L.BatchNormalization(name="batch_normalization"), L.MaxPooling2D(name="max_pooling2d"),
                            L.Flatten(name="flatten"), L.Dropout(0.5, name="dropout"),
                            L.Dense(10, activation="softmax", name="dense")])
    words = keras.Input((15,), dtype="int32", name="words")
    extra = keras.Input((15, 4), name="extra")
    h = L.Add(name="add")([L.Embedding(100, 4, name="embedding")(words), extra])
    h = L.Bidirectional(L.LSTM(6, return_sequences=True), name="bidirectional")(h)
    h = L.GlobalAveragePooling1D(name="pool")(L.LayerNormalization(name="layer_normalization")(h))
    return seq, keras.Model([words, extra], L.Dense(1, activation="sigmoid", name="out")(h))


def test_tf_keras_2_json(tmp_path, capsys):
    seq, fun = tf2_equivalents()
    sequential = ["input (batch, 28, 28, 1)", 'Conv2D(8, 3, activation="relu")', "BatchNormalization()",
                  "MaxPooling2D()", "Flatten()", "Dropout(0.5)", 'Dense(10, activation="softmax")']
    for config, model, expected in ((TF2_SEQUENTIAL, seq, sequential), (TF2_FUNCTIONAL, fun, None)):
        path = tmp_path / f"{config['config']['name']}.json"
        path.write_text(json.dumps(config))
        nn = tmp_path / "m.nn"
        code, _, err = run_cli(["import", str(path), "-o", str(nn)], capsys)
        assert code == 0, err
        if expected:
            body = [line.strip() for line in nn.read_text().splitlines() if line.startswith("    ")]
            assert body == expected
        else:
            text = nn.read_text()
            assert "words = input (batch, 15) int32" in text and "add = Add()([embedding, extra])" in text
            assert "LayerNormalization()" in text and "Bidirectional(LSTM(6, return_sequences=True))" in text
        check_report(model, nn, capsys)


def test_tf_keras_2_old_sequential_without_input_layer(tmp_path, capsys):
    config = json.loads(json.dumps(TF2_SEQUENTIAL))
    config["config"] = config["config"]["layers"][1:]  # Keras 2.0-2.2: a bare list, batch_input_shape on layer 1
    path = tmp_path / "old.json"
    path.write_text(json.dumps(config))
    code, out, err = run_cli(["import", str(path)], capsys)
    assert code == 0, err
    assert "input (batch, 28, 28, 1)" in out


# --- what is refused, and bad files ----------------------------------------------------------------


def test_unsupported_layers_and_arguments_are_all_listed(tmp_path, capsys):
    x = keras.Input((10, 4), name="x")
    h = L.Conv1D(4, 3, data_format="channels_first", name="cf")(x)
    h = L.LeakyReLU(name="leaky")(h)  # a layer kind now: imported
    h = L.GaussianDropout(0.1, name="gdrop")(h)
    h = L.GaussianNoise(0.1, name="noise")(h)
    h = L.Dense(4, activation="glu", name="glu_dense")(h)
    h = L.Dense(4, activation=keras.activations.relu, name="fine")(h)
    shared = L.Dense(4, name="shared")
    y = L.Add()([shared(h), shared(h)])
    model = keras.Model(x, y, name="bad")
    path = tmp_path / "bad.keras"
    model.save(path)
    code, out, err = run_cli(["import", str(path)], capsys)
    assert code == 2 and out == ""
    assert "5 unsupported layers or arguments" in err
    assert "layers[1] 'cf' (Conv1D): data_format=\"channels_first\": only channels_last is supported" in err
    assert "'gdrop' (GaussianDropout)" in err and "'leaky'" not in err
    assert "'noise' (GaussianNoise)" in err
    assert "'glu_dense' (Dense): argument activation=\"glu\"" in err
    assert "'shared' (Dense): a shared layer (called 2 times)" in err
    assert "'fine'" not in err
    assert err.startswith(f"{path}: error:")


def test_initial_state_call_is_refused(tmp_path, capsys):
    x = keras.Input((5, 3), name="x")
    s = keras.Input((4,), name="s")
    y = L.GRU(4, name="gru")(x, initial_state=s)
    path = tmp_path / "init.keras"
    keras.Model([x, s], y).save(path)
    code, _, err = run_cli(["import", str(path)], capsys)
    assert code == 2 and "'gru' (GRU): called with initial_state=" in err


def _no_traceback(args):
    proc = subprocess.run([sys.executable, "-m", "shapeproof", *args], capture_output=True, text=True, cwd=ROOT,
                          check=False, env={**os.environ, "KERAS_BACKEND": "torch"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("error:") == 1, proc.stderr
    return proc.stderr


def test_truncated_keras_archive(tmp_path):
    build("mlp").save(tmp_path / "good.keras")
    data = (tmp_path / "good.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    err = _no_traceback(["import", str(tmp_path / "cut.keras")])
    assert f"{tmp_path / 'cut.keras'}: error: not a valid .keras archive" in err


def test_keras_file_that_is_not_a_zip(tmp_path):
    (tmp_path / "text.keras").write_text("hello, I am not a zip archive\n")
    err = _no_traceback(["import", str(tmp_path / "text.keras")])
    assert "text.keras: error: not a valid .keras archive" in err


def test_zip_without_config(tmp_path):
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as z:
        z.writestr("readme.txt", "nothing here")
    err = _no_traceback(["import", str(tmp_path / "empty.keras")])
    assert "empty.keras: error: the archive has no config.json" in err


@pytest.mark.parametrize("text, words", [
    ('{"hello": "world"}', 'not a Keras model: expected a JSON object with "class_name"'),
    ("[1, 2, 3]", "not a Keras model"),
    ('{"class_name": "Dense", "config": {"units": 3}}', "this is a Dense layer's config, not a Sequential"),
    ('{"class_name": "Sequential", "config": {', "is not valid JSON: Expecting"),
    ("\u00ff\u00fe garbage", "is not valid JSON"),
])
def test_json_that_is_not_a_keras_model(tmp_path, text, words):
    path = tmp_path / "model.json"
    path.write_text(text)
    err = _no_traceback(["import", str(path)])
    assert f"{path}: error:" in err and words in err, err


def test_missing_file(tmp_path):
    err = _no_traceback(["import", str(tmp_path / "nope.keras")])
    assert "nope.keras: error: cannot read the file" in err


def test_weights_that_do_not_fit(tmp_path, capsys):
    """An .h5 of another model: import --weights, a .keras with foreign weights, run --weights, load_weights."""
    model, other = build("mlp"), keras.Sequential([keras.Input((12,)), L.Dense(16), L.BatchNormalization(),
                                                   L.Dense(9, use_bias=False), L.Activation("relu")])
    (tmp_path / "m.json").write_text(model.to_json())
    other.save_weights(tmp_path / "other.weights.h5")
    err = _no_traceback(["import", str(tmp_path / "m.json"), "--weights", str(tmp_path / "other.weights.h5")])
    assert "other.weights.h5: error: the weights do not fit the model" in err
    assert re.search(r"layer '\w+' weight 'kernel': the file has shape \(16, 9\), the model expects \(16, 8\)", err)
    # a .keras archive whose model.weights.h5 is another model's
    model.save(tmp_path / "m.keras")
    other.save(tmp_path / "o.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as a, zipfile.ZipFile(tmp_path / "o.keras") as b, \
            zipfile.ZipFile(tmp_path / "mixed.keras", "w") as out:
        out.writestr("config.json", a.read("config.json"))
        out.writestr("metadata.json", a.read("metadata.json"))
        out.writestr("model.weights.h5", b.read("model.weights.h5"))
    err = _no_traceback(["import", str(tmp_path / "mixed.keras")])
    assert "mixed.keras: error: the weights do not fit the model" in err
    # run --weights and Net.load_weights
    nn = tmp_path / "m.nn"
    assert main(["import", str(tmp_path / "m.keras"), "-o", str(nn)]) == 0
    capsys.readouterr()
    err = _no_traceback(["run", str(nn), "--weights", str(tmp_path / "other.weights.h5")])
    assert "other.weights.h5" in err and "(16, 9)" in err
    from shapeproof import analyzer
    from shapeproof import codegen

    net = codegen.build(next(iter(analyzer.load(nn).models.values())), parallel=False)
    with pytest.raises(ValueError, match=r"other\.weights\.h5: layer '\w+' weight 'kernel': the file has shape "
                                         r"\(16, 9\), the model expects \(16, 8\)"):
        net.load_weights(tmp_path / "other.weights.h5")
    (tmp_path / "junk.weights.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match=r"junk\.weights\.h5: not a readable HDF5 file"):
        net.load_weights(tmp_path / "junk.weights.h5")


def test_sequential_built_without_an_input(tmp_path, capsys):
    model = keras.Sequential([L.Dense(4, name="first"), L.Dense(2)], name="built")
    model.build((None, 5))
    model.save(tmp_path / "b.keras")
    code, out, err = run_cli(["import", str(tmp_path / "b.keras")], capsys)
    assert code == 0, err
    assert "input (batch, 5)" in out and 'Dense(4, name="first")' in out
    (tmp_path / "u.json").write_text(keras.Sequential([L.Dense(4)]).to_json())
    err = _no_traceback(["import", str(tmp_path / "u.json")])
    assert "u.json: error: the Sequential model has no input shape: it was never built" in err


def test_partial_import_stops_before_the_first_unsupported_layer(tmp_path, capsys):
    x = keras.Input((8,), name="x")
    h = L.Dense(6, name="d1")(x)
    y = L.Dense(2, name="d2")(keras.ops.cumsum(L.GaussianNoise(0.1, name="noise")(h), axis=1))
    keras.Model(x, y).save(tmp_path / "p.keras")
    code, _, err = run_cli(["import", str(tmp_path / "p.keras")], capsys)
    assert code == 2 and "--partial" in err and "'noise' (GaussianNoise)" in err and "'Cumsum'" in err
    code, out, err = run_cli(["import", str(tmp_path / "p.keras"), "--partial", "-o", str(tmp_path / "p.nn")], capsys)
    assert code == 0, err
    text = (tmp_path / "p.nn").read_text()
    assert "stops before layers[2] 'noise' (GaussianNoise)" in text and "'Cumsum'" in text
    assert 'Dense(6, name="d1")' in text and "d2" not in text
    assert "PARTIAL" in err and "54 params" in err
    code, out, _ = run_cli(["report", str(tmp_path / "p.nn"), "--json"], capsys)
    assert code == 0 and json.loads(out)["models"][0]["total_params"] == 54


def test_unsupported_keras_operations_are_refused(tmp_path, capsys):
    x = keras.Input((4,), name="x")
    keras.Model(x, L.Dense(1, name="d")(keras.ops.cumsum(x, axis=1))).save(tmp_path / "ops.keras")
    code, _, err = run_cli(["import", str(tmp_path / "ops.keras")], capsys)
    assert code == 2
    assert "1 unsupported layer or argument" in err and "operation 'Cumsum' (keras.src.ops.numpy) is not supported" in err


def test_weights_only_h5_is_not_an_architecture(tmp_path):
    build("mlp").save_weights(tmp_path / "w.weights.h5")
    err = _no_traceback(["import", str(tmp_path / "w.weights.h5")])
    assert "holds weights only, no architecture" in err


def test_worked_example_model(tmp_path, capsys):
    """examples/keras/train.py's model (untrained here: the round trip does not need the training)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("keras_example_train", ROOT / "examples" / "keras" / "train.py")
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    keras.utils.set_random_seed(0)
    model = train.build()
    random_keras_weights(model, np.random.default_rng(0))
    path = tmp_path / "model.keras"
    model.save(path)
    nn = tmp_path / "model.nn"
    code, _, err = run_cli(["import", str(path), "-o", str(nn)], capsys)
    assert code == 0, err
    assert "signal = input (batch, 64, 3)" in nn.read_text()
    assert check_report(model, nn, capsys)["total_params"] == 7875
    check_outputs(model, nn, path, batch=5)
