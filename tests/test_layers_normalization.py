"""Normalization layers: BatchNormalization, LayerNormalization (weights, counts, axes, receptive field)."""
import pytest
import sympy

from shapeproof import analyzer
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.values import symbol

T, C, B = symbol("T"), symbol("C"), symbol("batch")
oo = sympy.oo


def nodes(source: str):
    return {n.name: n for n in analyzer.loads(source).models["M"].nodes}


def error_of(source: str) -> ShapeproofError:
    with pytest.raises(ShapeproofError) as info:
        analyzer.loads(source)
    return info.value


def weights(node):
    return [(w.name, w.shape, w.trainable) for w in node.weights]


def test_batch_norm_default_weights():
    n = nodes("model M(batch, T, C):\n    input (batch, T, C)\n    BatchNormalization()\n")["batch_normalization"]
    assert n.output_shape == (B, T, C) and n.macs == 0
    assert weights(n) == [("gamma", (C,), True), ("beta", (C,), True),
                          ("moving_mean", (C,), False), ("moving_variance", (C,), False)]
    assert (n.trainable_params, n.non_trainable_params) == (2 * C, 2 * C)


@pytest.mark.parametrize("args, names", [
    ("center=False", ["gamma", "moving_mean", "moving_variance"]),
    ("scale=False", ["beta", "moving_mean", "moving_variance"]),
    ("center=False, scale=False", ["moving_mean", "moving_variance"]),
    ("renorm=True", ["gamma", "beta", "moving_mean", "moving_variance", "moving_stddev", "renorm_mean",
                     "renorm_stddev"]),
])
def test_batch_norm_center_scale_renorm(args, names):
    n = nodes(f"model M(batch):\n    input (batch, 5, 6)\n    BatchNormalization({args})\n")["batch_normalization"]
    assert [w.name for w in n.weights] == names and all(w.shape == (6,) for w in n.weights)


def test_batch_norm_axis_and_frozen():
    n = nodes("model M(batch, T):\n    input (batch, T, 6)\n    BatchNormalization(1, trainable=False)\n")
    bn = n["batch_normalization"]
    assert all(w.shape == (T,) for w in bn.weights)
    assert (bn.trainable_params, bn.non_trainable_params) == (0, 4 * T)


@pytest.mark.parametrize("axis, words", [("3", "out of range"), ("-4", "out of range"), ("0", "batch axis"),
                                         ("[1]", "an integer")])
def test_batch_norm_bad_axis(axis, words):
    e = error_of(f"model M(batch):\n    input (batch, 5, 6)\n    BatchNormalization(axis={axis})\n")
    assert words in e.message and e.span.line == 3


def test_batch_norm_keeps_the_receptive_field():
    n = nodes("model M(batch):\n    input (batch, 9, 2)\n    Conv1D(4, 3)\n    BatchNormalization()\n")
    assert n["batch_normalization"].receptive_field == [3]


def test_layer_norm_default():
    n = nodes("model M(batch, T):\n    input (batch, T, 8)\n    LayerNormalization()\n")["layer_normalization"]
    assert n.output_shape == (B, T, 8) and n.macs == 0
    assert weights(n) == [("gamma", (8,), True), ("beta", (8,), True)]


def test_layer_norm_axis_lists_follow_keras_sorting():
    n = nodes("model M(batch):\n    x = input (batch, 4, 5, 6)\n    a = LayerNormalization(axis=[2, 1])(x)\n"
              "    b = LayerNormalization(axis=[-1, 1])(x)\n    c = LayerNormalization(axis=(3,))(x)\n"
              "    output a, b, c\n")
    assert [w.shape for w in n["layer_normalization"].weights] == [(4, 5), (4, 5)]
    # Keras sorts the axes as written: [-1, 1] stays in that order, so gamma is (6, 4).
    assert [w.shape for w in n["layer_normalization_1"].weights] == [(6, 4), (6, 4)]
    assert [w.shape for w in n["layer_normalization_2"].weights] == [(6,), (6,)]


@pytest.mark.parametrize("args, names", [("center=False", ["gamma"]), ("scale=False", ["beta"]),
                                         ("center=False, scale=False", []), ("rms_scaling=True", ["gamma"]),
                                         ("scale=False, rms_scaling=True", ["gamma"])])
def test_layer_norm_center_scale_rms(args, names):
    n = nodes(f"model M(batch):\n    input (batch, 5, 6)\n    LayerNormalization({args})\n")["layer_normalization"]
    assert [w.name for w in n.weights] == names


@pytest.mark.parametrize("axis, words", [("[1, 1]", "twice"), ("[-1, 2]", "twice"), ("3", "out of range"),
                                         ("[0, 1]", "batch axis"), ("[]", "at least one"), ("\"x\"", "an integer")])
def test_layer_norm_bad_axis(axis, words):
    e = error_of(f"model M(batch):\n    input (batch, 5, 6)\n    LayerNormalization(axis={axis})\n")
    assert words in e.message and e.span.line == 3


def test_layer_norm_receptive_field():
    n = nodes("model M(batch):\n    x = input (batch, 9, 7, 2)\n    c = Conv2D(4, 3)(x)\n    f = Reshape((7, 20))(c)\n"
              "    a = LayerNormalization()(c)\n    b = LayerNormalization(axis=[1, 3])(c)\n"
              "    d = LayerNormalization()(f)\n    output a, b, d\n")
    assert n["layer_normalization"].receptive_field == [3, 3]  # only the channels are mixed
    assert n["layer_normalization_1"].receptive_field == [oo, 3]  # and all of axis 1
    assert n["layer_normalization_2"].receptive_field == [3, oo]  # the folded W axis is mixed in
