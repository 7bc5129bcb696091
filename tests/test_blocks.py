"""Blocks: reusable, parametrised definitions used like layers; `repeat`; one report row per call."""
import json

import pytest

from shapeproof import analyzer
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.cli import main

BLOCKS = """
block Unit(x, filters, stride=1):
    h = Conv2D(filters, 3, padding="same", strides=stride, activation="relu")(x)
    s = Conv2D(filters, 1, strides=stride)(x)
    y = Add()([s, h])
    output Activation("relu")(y)

model Net(batch, H, W):
    input (batch, H, W, 3)
    Unit(8, stride=2)
    repeat 2: Unit(8)
    GlobalAveragePooling2D()
    Dense(2)
"""

FLAT = """
model Net(batch, H, W):
    x = input (batch, H, W, 3)
    h = Conv2D(8, 3, padding="same", strides=2, activation="relu")(x)
    s = Conv2D(8, 1, strides=2)(x)
    y = Add()([s, h])
    y = Activation("relu")(y)
    h = Conv2D(8, 3, padding="same", activation="relu")(y)
    s = Conv2D(8, 1)(y)
    y = Add()([s, h])
    y = Activation("relu")(y)
    h = Conv2D(8, 3, padding="same", activation="relu")(y)
    s = Conv2D(8, 1)(y)
    y = Add()([s, h])
    y = Activation("relu")(y)
    y = GlobalAveragePooling2D()(y)
    Dense(2)(y)
"""


def test_a_block_expands_to_the_layers_written_out():
    blocks, flat = analyzer.loads(BLOCKS).models["Net"], analyzer.loads(FLAT).models["Net"]
    assert [(n.name, n.type, n.output_shapes, n.params) for n in blocks.nodes] == \
        [(n.name, n.type, n.output_shapes, n.params) for n in flat.nodes]
    assert [n.block for n in blocks.nodes[:4]] == ["unit"] * 4 and blocks.nodes[4].block == "unit_1"
    assert blocks.nodes[-1].block is None


def test_report_shows_one_row_per_call_and_expands(tmp_path, capsys):
    spec = tmp_path / "b.nn"
    spec.write_text(BLOCKS)
    assert main(["report", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "unit (Unit)" in out and "unit_2 (Unit)" in out and "conv2d_1 (Conv2D)" not in out
    assert main(["report", str(spec), "--expand"]) == 0
    assert "  conv2d_1 (Conv2D)" in capsys.readouterr().out
    assert main(["report", str(spec), "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)["models"][0]["layers"]
    assert layers[0]["block"] == "unit" and "block" not in layers[-1]


@pytest.mark.parametrize("call, message", [
    ("Unit(8, strid=2)", "block Unit has no argument 'strid'"),
    ("Unit()", "block Unit needs its argument 'filters'"),
    ("Unit(8, 2, 3)", "takes 2 argument(s) besides its input(s)"),
    ("Unit(8, stride=0)", "(in block Unit, called at line 10)"),
])
def test_block_call_errors_name_the_call_site(call, message):
    source = BLOCKS.replace("    Unit(8, stride=2)\n", f"    {call}\n")
    with pytest.raises(ShapeproofError) as e:
        analyzer.loads(source)
    assert message in e.value.message + (e.value.hint or "")


def test_a_block_calling_itself_is_refused():
    with pytest.raises(ShapeproofError) as e:
        analyzer.loads("block Loop(x):\n    output Loop()(x)\nmodel M(batch):\n    input (batch, 4)\n    Loop()\n")
    assert "nested more than" in e.value.message


def test_resnet50_in_blocks_is_keras_resnet50():
    """examples/resnet50.nn (under 40 lines) against keras.applications.ResNet50: every layer's kind,
    weight shapes in order, and the totals, at a small input."""
    keras = pytest.importorskip("keras")
    ours = analyzer.load("examples/resnet50.nn", set={"H": 64, "W": 64, "classes": 10}).models["ResNet50"]
    theirs = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=10,
                                         classifier_activation=None)
    layers = [layer for layer in theirs.layers if not isinstance(layer, keras.layers.InputLayer)]
    # in Keras's order (by depth from the output: a block's shortcut convolution after its branch's
    # first layer, though the spec writes it last), so that get_weights() arrays load in order
    keras_rows = [(type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights)) for layer in layers]
    our_rows = [(n.type, tuple(tuple(int(d) for d in w.shape) for w in n.weights)) for n in ours.nodes]
    assert keras_rows == our_rows
    assert [tuple(w.shape) for w in theirs.weights] == [s for _, _, s in ours.weight_shapes]
    assert tuple(theirs.output.shape) == (None, 10) and ours.output_shapes[0][1:] == (10,)
    assert int(ours.total_params) == theirs.count_params()
    assert int(ours.non_trainable_params) == sum(int(w.numpy().size) for w in theirs.non_trainable_weights)
    assert len(open("examples/resnet50.nn").read().splitlines()) < 40


NESTED = """
model Encoder(batch, T, d=16, width=32):
    input (batch, T, d)
    Dense(width, activation="relu")
    Dense(8)

model Classifier(batch, T):
    x = input (batch, T, 16)
    h = Encoder(width=24)(x)
    g = GlobalAveragePooling1D()(h)
    Dense(2)(g)

model Flat(batch, T):
    x = input (batch, T, 16)
    h = Dense(24, activation="relu")(x)
    h = Dense(8)(h)
    g = GlobalAveragePooling1D()(h)
    Dense(2)(g)
"""


def test_a_model_used_as_a_layer_expands_with_sizes_from_its_input():
    """`Encoder(width=24)(x)`: T from x's shape, d checked against it (16), width from the keyword."""
    program = analyzer.loads(NESTED)
    nested, flat = program.models["Classifier"], program.models["Flat"]
    assert [(n.type, n.output_shapes, n.params) for n in nested.nodes] == \
        [(n.type, n.output_shapes, n.params) for n in flat.nodes]
    assert [n.block for n in nested.nodes] == ["encoder", "encoder", None, None]
    assert nested.extra["blocks"]["encoder"][0] == "Encoder"
    assert program.models["Encoder"].total_params == 16 * 32 + 32 + 32 * 8 + 8  # still a model of its own


def test_report_shows_a_nested_model_as_one_row(tmp_path, capsys):
    spec = tmp_path / "n.nn"
    spec.write_text(NESTED)
    assert main(["report", str(spec), "--model", "Classifier"]) == 0
    out = capsys.readouterr().out
    assert "encoder (Encoder)" in out and "(batch, T, 8)" in out and "dense (Dense)" not in out


@pytest.mark.parametrize("call, message", [
    ("Encoder(width=24)(g)", "model Encoder's input (line 3) has 3 axes, and it is applied to (batch, 8)"),
    ("Encoder(24)(x)", "model Encoder takes its sizes as keywords"),
    ("Encoder(widht=24)(x)", "did you mean 'width'"),
    ("Encoder(d=8)(x)", "this input takes (batch, T, 8)"),
    ("Classifier()(x)", "model Classifier uses itself as a layer"),
])
def test_model_call_errors_are_located(call, message):
    source = NESTED.replace("g = GlobalAveragePooling1D()(h)\n    Dense(2)(g)\n\nmodel Flat",
                            f"g = GlobalAveragePooling1D()(h)\n    {call}\n\nmodel Flat")
    with pytest.raises(ShapeproofError) as e:
        analyzer.loads(source)
    assert message in e.value.message + (e.value.hint or "")


def test_a_block_and_a_model_may_not_share_a_name():
    with pytest.raises(ShapeproofError) as e:
        analyzer.loads(NESTED + "\nblock Encoder(x):\n    output Dense(2)(x)\n")
    assert "block 'Encoder' is defined twice" in e.value.message and e.value.span.line == 20


def test_blocks_export_as_nested_keras_models_with_the_same_weight_order():
    """A block call is a nested Keras model; get_weights() of the exported model is in our order."""
    pytest.importorskip("keras")
    from shapeproof.keras.export import build_keras

    cases = ((BLOCKS, "Net", {"H": 8, "W": 8}, ["Functional"] * 3 + ["GlobalAveragePooling2D", "Dense"]),
             (NESTED, "Classifier", {"T": 5}, ["Functional", "GlobalAveragePooling1D", "Dense"]))
    for source, name, sizes, classes in cases:
        ours = analyzer.loads(source, set=sizes).models[name]
        theirs, _ = build_keras(ours)
        assert [type(layer).__name__ for layer in theirs.layers[1:]] == classes
        assert [(w.path, tuple(w.shape)) for w in theirs.weights] == \
            [(f"{layer}/{weight}", shape) for layer, weight, shape in ours.weight_shapes]
