"""Merging layers: element-wise merges (Keras broadcasting) and Concatenate."""
import pytest

from shapeproof import analyzer
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.values import symbol

T, B = symbol("T"), symbol("batch")


def model(source: str):
    return analyzer.loads(source).models["M"]


def error_of(source: str) -> ShapeproofError:
    with pytest.raises(ShapeproofError) as info:
        analyzer.loads(source)
    return info.value


MERGES = ["Add", "Multiply", "Average", "Maximum", "Minimum", "Subtract"]


@pytest.mark.parametrize("kind", MERGES)
def test_elementwise_same_shapes(kind):
    m = model(f"model M(batch, T):\n    x = input (batch, T, 8)\n    h = Dense(8)(x)\n    y = {kind}()([x, h])\n"
              "    output y\n")
    y = m.nodes[-1]
    assert y.output_shape == (B, T, 8) and y.params == 0 and y.macs == 0 and y.inputs == ["x", "dense"]
    assert m.constraints == []


@pytest.mark.parametrize("a, b, out", [
    ("(batch, 4, 5)", "(batch, 1, 5)", (B, 4, 5)),
    ("(batch, 1, 5)", "(batch, 4, 1)", (B, 4, 5)),
    ("(batch, 4, 5)", "(batch, 5)", (B, 4, 5)),
    ("(batch, 1)", "(batch, 4, 5)", (B, 4, 5)),
    ("(batch, 1, T)", "(batch, 3, 1)", (B, 3, T)),
])
def test_elementwise_broadcasting_as_keras(a, b, out):
    m = model(f"model M(batch, T):\n    a = input {a}\n    b = input {b}\n    y = Add()([a, b])\n    output y\n")
    assert m.nodes[0].output_shape == out


def test_more_than_two_inputs():
    m = model("model M(batch):\n    a = input (batch, 4, 5)\n    b = input (batch, 1, 5)\n    c = input (batch, 4, 1)\n"
              "    y = Maximum()([a, b, c])\n    z = Average()([a])\n    output y, z\n")
    assert m.nodes[0].output_shape == (B, 4, 5) and m.nodes[1].output_shape == (B, 4, 5)


def test_elementwise_mismatch_names_both_shapes():
    e = error_of("model M(batch):\n    x = input (batch, 4, 8)\n    h = Dense(5)(x)\n    y = Add()([x, h])\n"
                 "    output y\n")
    assert e.span.line == 4 and "(batch, 4, 8)" in e.message and "(batch, 4, 5)" in e.message
    assert "axis 2" in e.message and "Concatenate" in e.hint


def test_elementwise_symbolic_sizes_give_a_constraint():
    m = model("model M(batch, T, n):\n    a = input (batch, T, 8)\n    b = input (batch, T, n)\n"
              "    y = Multiply()([a, b])\n    output y\n")
    assert m.nodes[0].output_shape == (B, T, 8)  # the concrete size is kept
    assert [str(c.condition) for c in m.constraints] == ["Eq(8, n)"]
    assert "axis 2" in m.constraints[0].reason


def test_different_batch_symbols_must_be_equal():
    m = model("model M(b1, b2):\n    a = input (b1, 4)\n    b = input (b2, 4)\n    y = Add()([a, b])\n    output y\n")
    assert [str(c.condition) for c in m.constraints] == ["Eq(b1, b2)"]


def test_subtract_needs_exactly_two_inputs():
    e = error_of("model M(batch):\n    a = input (batch, 4)\n    y = Subtract()([a, a, a])\n    output y\n")
    assert e.span.line == 3 and "exactly 2 inputs, got 3" in e.message
    e = error_of("model M(batch):\n    a = input (batch, 4)\n    y = Subtract()([a])\n    output y\n")
    assert "exactly 2 inputs, got 1" in e.message


def test_merge_needs_a_list():
    e = error_of("model M(batch):\n    a = input (batch, 4)\n    y = Add()(a)\n    output y\n")
    assert "takes a list" in e.message


def test_concatenate_default_and_axis():
    m = model("model M(batch, T):\n    x = input (batch, T, 6)\n    y = input (batch, 3, 6)\n    h = Dense(2)(x)\n"
              "    a = Concatenate()([x, h, x])\n    b = Concatenate(axis=1)([x, y])\n    c = Concatenate(-2)([y, y])\n"
              "    output a, b, c\n")
    out = {n.name: n.output_shape for n in m.nodes}
    assert out["concatenate"] == (B, T, 14)
    assert out["concatenate_1"] == (B, T + 3, 6)
    assert out["concatenate_2"] == (B, 6, 6)
    assert m.constraints == [] and all(n.params == 0 for n in m.nodes if n.type == "Concatenate")


def test_concatenate_mismatch_and_constraints():
    e = error_of("model M(batch):\n    x = input (batch, 4, 6)\n    y = input (batch, 3, 6)\n"
                 "    c = Concatenate()([x, y])\n    output c\n")
    assert e.span.line == 4 and "(batch, 4, 6)" in e.message and "(batch, 3, 6)" in e.message and "axis 1" in e.message
    e = error_of("model M(batch):\n    x = input (batch, 4, 6)\n    y = input (batch, 6)\n"
                 "    c = Concatenate()([x, y])\n    output c\n")
    assert "one rank" in e.message
    e = error_of("model M(batch):\n    x = input (batch, 4, 6)\n    c = Concatenate(axis=3)([x, x])\n    output c\n")
    assert "out of range" in e.message and e.span.line == 3
    m = model("model M(batch, T):\n    x = input (batch, T, 6)\n    y = input (batch, 3, 2)\n"
              "    c = Concatenate()([x, y])\n    output c\n")
    assert m.nodes[0].output_shape == (B, 3, 8)
    assert [str(c.condition) for c in m.constraints] == ["Eq(T, 3)"]


def test_merges_keep_the_merged_receptive_field():
    m = model("model M(batch):\n    x = input (batch, 20, 3)\n    a = Conv1D(4, 3, padding=\"same\")(x)\n"
              "    b = Conv1D(4, 5, padding=\"same\")(x)\n    s = Add()([a, b])\n    c = Concatenate()([a, x])\n"
              "    output s, c\n")
    rf = {n.name: n.receptive_field for n in m.nodes}
    assert rf["add"] == [5] and rf["concatenate"] == [3]


def test_two_input_receptive_fields_stay_apart():
    m = model("model M(batch):\n    x = input (batch, 20, 3)\n    y = input (batch, 20, 4)\n"
              "    a = Conv1D(4, 3, padding=\"same\")(x)\n    s = Add()([a, y])\n    output s\n")
    assert m.nodes[0].receptive_field == [3, 0]  # the branch of x does not depend on y
    assert m.nodes[-1].receptive_field == [3, 1]


def test_concatenate_axis_is_a_literal():
    e = error_of("model M(batch, n):\n    x = input (batch, 4, 6)\n    c = Concatenate(axis=n)([x, x])\n    output c\n")
    assert "literal integer" in e.message and e.span.line == 3
