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
    # Keras lists a functional model's layers in topological order (a block's shortcut convolution
    # after its branch's first layers); the spec in statement order: the same layers, compared as sets.
    keras_rows = sorted((type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights)) for layer in layers)
    our_rows = sorted((n.type, tuple(tuple(int(d) for d in w.shape) for w in n.weights)) for n in ours.nodes)
    assert keras_rows == our_rows
    assert tuple(theirs.output.shape) == (None, 10) and ours.output_shapes[0][1:] == (10,)
    assert int(ours.total_params) == theirs.count_params()
    assert int(ours.non_trainable_params) == sum(int(w.numpy().size) for w in theirs.non_trainable_weights)
    assert len(open("examples/resnet50.nn").read().splitlines()) < 40
