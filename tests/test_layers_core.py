"""Core layers: Activation, Dropout, SpatialDropout*, Flatten, Reshape, Permute, RepeatVector, Embedding."""
import pytest
import sympy

from shapeproof import analyzer
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.values import symbol

T, L, V, B = symbol("T"), symbol("L"), symbol("V"), symbol("batch")
oo = sympy.oo


def model(source: str, set=None):
    return analyzer.loads(source, set=set).models["M"]


def nodes(source: str, set=None):
    return {n.name: n for n in model(source, set).nodes}


def error_of(source: str) -> ShapeproofError:
    with pytest.raises(ShapeproofError) as info:
        analyzer.loads(source)
    return info.value


def where(e):
    return (e.span.line, e.span.column)


# --- Activation, Dropout -----------------------------------------------------------------------


def test_activation_keeps_shape_and_counts_nothing():
    n = nodes("model M(batch, T):\n    input (batch, T, 4)\n    Activation(\"relu\")\n    Activation(None)\n")
    assert n["activation"].output_shape == (B, T, 4) and n["activation_1"].output_shape == (B, T, 4)
    assert n["activation"].params == 0 and n["activation"].macs == 0


def test_activation_is_required_and_checked():
    e = error_of("model M(batch):\n    input (batch, 4)\n    Activation()\n")
    assert "needs the argument 'activation'" in e.message and e.span.line == 3
    e = error_of("model M(batch):\n    input (batch, 4)\n    Activation(\"rleu\")\n")
    assert where(e) == (3, 16) and "'relu'" in e.hint


def test_dropout_shape_and_rate_range():
    n = nodes("model M(batch):\n    input (batch, 5, 6)\n    Dropout(0.5, (None, 1, 6), seed=1)\n")
    assert n["dropout"].output_shape == (B, 5, 6) and n["dropout"].params == 0
    e = error_of("model M(batch):\n    input (batch, 4)\n    Dropout(1.5)\n")
    assert where(e) == (3, 13) and "between 0 and 1" in e.message


def test_dropout_noise_shape_must_fit_the_input():
    e = error_of("model M(batch):\n    input (batch, 5, 6)\n    Dropout(0.5, noise_shape=(None, 6))\n")
    assert "has 2 axes" in e.message and where(e) == (3, 18)
    e = error_of("model M(batch):\n    input (batch, 5, 6)\n    Dropout(0.5, noise_shape=(None, 2, 6))\n")
    assert "does not broadcast" in e.message and "axis 1" in e.message
    m = model("model M(batch, T):\n    input (batch, T, 6)\n    Dropout(0.5, noise_shape=(None, 4, 1))\n")
    assert [str(c.condition) for c in m.constraints] == ["Eq(T, 4)"]


def test_spatial_dropout_ranks():
    n = nodes("model M(batch, T):\n    x = input (batch, T, 3)\n    a = SpatialDropout1D(0.2)(x)\n"
              "    y = input (batch, 4, 4, 3)\n    b = SpatialDropout2D(0.2, \"channels_last\")(y)\n"
              "    z = input (batch, 2, 4, 4, 3)\n    c = SpatialDropout3D(0.2)(z)\n    output a, b, c\n")
    assert n["spatial_dropout1d"].output_shape == (B, T, 3)
    assert n["spatial_dropout2d"].output_shape == (B, 4, 4, 3)
    assert n["spatial_dropout3d"].output_shape == (B, 2, 4, 4, 3)
    e = error_of("model M(batch):\n    input (batch, 4, 4, 3)\n    SpatialDropout1D(0.2)\n")
    assert "rank-3" in e.message and "SpatialDropout2D" in e.hint
    e = error_of("model M(batch):\n    input (batch, 4)\n    SpatialDropout1D(0.2)\n")
    assert "rank-3" in e.message and "Dropout" in e.hint


def test_spatial_dropout_refuses_trainable_as_keras_does():
    e = error_of("model M(batch):\n    input (batch, 4, 3)\n    SpatialDropout1D(0.2, trainable=False)\n")
    assert "'trainable'" in e.message and where(e) == (3, 27)


# --- Flatten, Reshape ----------------------------------------------------------------------------


def test_flatten_concrete_and_symbolic():
    n = nodes("model M(batch, T):\n    input (batch, T, 4, 3)\n    Flatten()\n    Dense(2)\n")
    assert n["flatten"].output_shape == (B, 12 * T)
    assert n["dense"].params == 24 * T + 2 and n["dense"].macs == B * 24 * T


def test_flatten_folds_the_receptive_field():
    n = nodes("model M(batch):\n    input (batch, 8, 8, 3)\n    Conv2D(4, 3)\n    Flatten()\n    Dense(2)\n")
    assert n["conv2d"].receptive_field == [3, 3]
    assert n["flatten"].receptive_field == [3, 3]
    assert n["dense"].receptive_field == [oo, oo]


def test_reshape_infers_minus_one():
    n = nodes("model M(batch):\n    input (batch, 6, 8)\n    Reshape((-1, 4))\n    Reshape((3, 2, -1))\n")
    assert n["reshape"].output_shape == (B, 12, 4)
    assert n["reshape_1"].output_shape == (B, 3, 2, 8)


def test_reshape_symbolic_minus_one_is_exact():
    m = model("model M(batch, T):\n    input (batch, T, 6)\n    Reshape((-1, 3))\n    Reshape((-1, 4))\n")
    assert m.nodes[0].output_shape == (B, 2 * T, 3)
    assert m.nodes[1].output_shape == (B, sympy.Rational(3, 2) * T, 4)
    assert len(m.constraints) == 1 and "divisible by 4" in m.constraints[0].reason
    assert m.constraints[0].condition.subs(T, 4) is sympy.true
    assert m.constraints[0].condition.subs(T, 3) is sympy.false


def test_reshape_size_mismatch_is_located_at_the_layer():
    e = error_of("model M(batch):\n    input (batch, 10, 6)\n    Dense(4)\n    Reshape((7, 8))\n")
    assert where(e) == (4, 13) and "56" in e.message and "40" in e.message and "batch" in e.hint
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    Reshape((-1, 4))\n")
    assert e.span.line == 3 and "divisible by 4" in e.message


def test_reshape_symbolic_mismatch_is_a_constraint():
    m = model("model M(batch, T):\n    input (batch, T, 4)\n    Reshape((12, 2))\n")
    assert m.nodes[0].output_shape == (B, 12, 2)
    assert [str(c.condition) for c in m.constraints] == ["Eq(4*T, 24)"]
    n = nodes("model M(batch, T):\n    input (batch, T, 4)\n    Reshape((T, 2, 2))\n")
    assert n["reshape"].output_shape == (B, T, 2, 2) and n["reshape"].constraints == []
    e = error_of("model M(batch, T):\n    input (batch, T, 4)\n    Reshape((T, 3))\n")
    assert e.span.line == 3 and "Reshape" in e.message


@pytest.mark.parametrize("target, words", [
    ("(-1, -1)", "only one size"), ("(0, 4)", "positive or -1"), ("12", "tuple of integers"),
    ("(\"a\", 4)", "not an integer")])
def test_reshape_bad_target_shape(target, words):
    e = error_of(f"model M(batch):\n    input (batch, 3, 4)\n    Reshape({target})\n")
    assert words in e.message and where(e) == (3, 13)


def test_reshape_receptive_field_keeps_unchanged_leading_axes():
    n = nodes("model M(batch):\n    input (batch, 10, 4, 3)\n    Reshape((10, 12))\n    Conv1D(2, 3)\n")
    assert n["reshape"].receptive_field == [1, 1]
    assert n["conv1d"].receptive_field == [3, oo]


# --- Permute, RepeatVector ---------------------------------------------------------------------


def test_permute_shape_and_receptive_field():
    n = nodes("model M(batch, T):\n    input (batch, T, 8, 3)\n    Permute((2, 1, 3))\n    Conv2D(4, (3, 1))\n")
    assert n["permute"].output_shape == (B, 8, T, 3)
    assert n["conv2d"].output_shape == (B, 6, T, 4)
    assert n["conv2d"].receptive_field == [1, 3]  # the window runs along the original W axis


@pytest.mark.parametrize("dims", ["(1, 3)", "(0, 1)", "(2, 2)", "(1, 2, 4)"])
def test_permute_invalid_dims(dims):
    e = error_of(f"model M(batch):\n    input (batch, 3, 4)\n    Permute({dims})\n")
    assert "not a permutation" in e.message and where(e) == (3, 13)


def test_permute_rank_must_match():
    e = error_of("model M(batch):\n    input (batch, 3, 4, 5)\n    Permute((2, 1))\n")
    assert "rank-3" in e.message and "3 non-batch axes" in e.hint


def test_repeat_vector():
    n = nodes("model M(batch, n):\n    input (batch, 10)\n    RepeatVector(n)\n    Dense(3)\n")
    assert n["repeat_vector"].output_shape == (B, symbol("n"), 10)
    assert n["dense"].macs == B * symbol("n") * 30
    e = error_of("model M(batch):\n    input (batch, 3, 4)\n    RepeatVector(2)\n")
    assert "rank-2" in e.message and "Flatten" in e.hint
    e = error_of("model M(batch):\n    input (batch, 4)\n    RepeatVector(0)\n")
    assert "at least 1" in e.message


# --- Embedding ------------------------------------------------------------------------------------


def test_embedding_tokens():
    n = nodes("model M(batch, L, V):\n    input (batch, L) int32\n    Embedding(V, 16, mask_zero=True)\n"
              "    Conv1D(8, 3)\n")
    e = n["embedding"]
    assert e.output_shape == (B, L, 16) and e.dtype == "float32"
    assert [(w.name, w.shape) for w in e.weights] == [("embeddings", (V, 16))]
    assert e.trainable_params == 16 * V and e.non_trainable_params == 0 and e.macs == 0
    assert e.receptive_field == [1] and n["conv1d"].receptive_field == [3]


def test_embedding_any_rank_and_lora():
    n = nodes("model M(batch):\n    input (batch, 4, 5) int32\n    Embedding(50, 3, lora_rank=2)\n")
    e = n["embedding"]
    assert e.output_shape == (B, 4, 5, 3)
    assert [(w.name, w.shape, w.trainable) for w in e.weights] == [
        ("embeddings", (50, 3), False), ("lora_embeddings_a", (50, 2), True), ("lora_embeddings_b", (2, 3), True)]
    assert (e.trainable_params, e.non_trainable_params) == (106, 150)


def test_embedding_frozen_and_bad_arguments():
    n = nodes("model M(batch):\n    input (batch, 7) int32\n    Embedding(10, 4, trainable=False)\n")
    assert (n["embedding"].trainable_params, n["embedding"].non_trainable_params) == (0, 40)
    e = error_of("model M(batch):\n    input (batch, 7) int32\n    Embedding(0, 4)\n")
    assert "input_dim" in e.message and where(e) == (3, 15)
    e = error_of("model M(batch):\n    input (batch, 7) int32\n    Embedding(10)\n")
    assert "output_dim" in e.message


def test_permute_dims_are_axis_numbers_not_sizes():
    e = error_of("model M(batch, n):\n    input (batch, 3, 4)\n    Permute((n, 1))\n")
    assert "literal integers" in e.message and where(e) == (3, 13)
