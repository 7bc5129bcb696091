"""Unit tests of ZeroPadding, Cropping and UpSampling: shapes, argument forms, constraints, errors."""
import pytest
import sympy

from shapeproof.analyzer.values import symbol
from test_layers_conv import B, fails, node, nodes, same_shape

T = symbol("T")


@pytest.mark.parametrize("args, expected", [
    ("", 9), ("3", 13), ("(0, 2)", 9), ("[2, 1]", 10), ("padding=(4, 0)", 11)])
def test_zero_padding1d_forms(args, expected):
    n = node(f"input (batch, 7, 3)\nZeroPadding1D({args})")
    assert n.output_shape == (B, expected, 3)
    assert (n.params, n.macs) == (0, 0)


@pytest.mark.parametrize("args, expected", [
    ("", (7, 8)), ("2", (9, 10)), ("(1, 3)", (7, 12)), ("((0, 1), (2, 3))", (6, 11)), ("(1, (0, 4))", (7, 10))])
def test_zero_padding2d_forms(args, expected):
    assert node(f"input (batch, 5, 6, 2)\nZeroPadding2D({args})").output_shape == (B, *expected, 2)


def test_zero_padding3d_and_symbolic():
    assert node("input (batch, 2, 3, 4, 1)\nZeroPadding3D()").output_shape == (B, 4, 5, 6, 1)
    assert node("input (batch, 2, 3, 4, 1)\nZeroPadding3D(((0, 1), 2, (3, 0)))").output_shape == (B, 3, 7, 7, 1)
    n = node("input (batch, T, 3)\nZeroPadding1D((1, p))", "batch, T, p")
    assert same_shape(n.output_shape, (B, T + 1 + symbol("p"), 3))
    n = nodes("input (batch, 8, 1)\nConv1D(1, 3)\nZeroPadding1D(5)")[-1]
    assert list(n.receptive_field) == [3]  # padding reads no input


def test_zero_padding_errors():
    e = fails("input (batch, 7, 3)\nZeroPadding1D((1,))")
    assert "(before, after)" in e.message
    assert "(before, after)" in fails("input (batch, 7, 3)\nZeroPadding1D(((1, 2),))").message
    assert "expected 2 entries" in fails("input (batch, 7, 7, 3)\nZeroPadding2D((1, 2, 3))").message
    assert "two integers" in fails("input (batch, 7, 7, 3)\nZeroPadding2D(((1, 2, 3), 1))").message
    assert "at least 0" in fails("input (batch, 7, 7, 3)\nZeroPadding2D(((1, -2), 1))").message
    assert "1.0" in fails("input (batch, 7, 7, 3)\nZeroPadding2D(1.0)").message
    e = fails("input (batch, 7, 7, 3)\nZeroPadding3D()")
    assert "rank-5" in e.message and "ZeroPadding2D" in e.hint


@pytest.mark.parametrize("args, expected", [("", 9), ("2", 7), ("(0, 3)", 8), ("cropping=(1, 0)", 10)])
def test_cropping1d_forms(args, expected):
    assert node(f"input (batch, 11, 3)\nCropping1D({args})").output_shape == (B, expected, 3)


def test_cropping2d_3d_forms():
    assert node("input (batch, 9, 10, 2)\nCropping2D()").output_shape == (B, 9, 10, 2)
    assert node("input (batch, 9, 10, 2)\nCropping2D(((0, 1), (3, 2)))").output_shape == (B, 8, 5, 2)
    assert node("input (batch, 9, 10, 2)\nCropping2D((2, 0))").output_shape == (B, 5, 10, 2)
    assert node("input (batch, 6, 7, 9, 1)\nCropping3D()").output_shape == (B, 4, 5, 7, 1)
    assert node("input (batch, 6, 7, 9, 1)\nCropping3D(((0, 1), 1, (2, 0)))").output_shape == (B, 5, 5, 7, 1)


def test_cropping_too_much_is_an_error_at_the_layer_line():
    e = fails("input (batch, 4, 4, 3)\nCropping2D(((1, 1), (2, 2)))")
    assert "crops 4 of the 4 positions on axis 2" in e.message
    assert e.span.line == 3 and "crop less" in e.hint
    e = fails("input (batch, 3, 3)\nCropping1D()\nCropping1D()")
    assert e.span.line == 4 and "crops 2 of the 1 positions" in e.message
    assert "Cropping1D has no argument 'data_format'" in fails(
        'input (batch, 7, 3)\nCropping1D(1, data_format="channels_last")').message


def test_cropping_symbolic_constraint():
    n = node("input (batch, T, 3)\nCropping1D((2, 3))", "batch, T")
    assert same_shape(n.output_shape, (B, T - 5, 3))
    assert [str(c.condition) for c in n.constraints] == ["T >= 6"]
    n = node("input (batch, T, T, 3)\nCropping2D(((0, T - 1), 0))", "batch, T")
    assert same_shape(n.output_shape, (B, 1, T, 3)) and n.constraints == []
    e = fails("input (batch, T, 3)\nCropping1D((T, 0))", "batch, T")
    assert "at least one must remain" in e.message


def test_upsampling_shapes_and_receptive_field():
    n = node("input (batch, T, 3)\nUpSampling1D(3)", "batch, T")
    assert same_shape(n.output_shape, (B, 3 * T, 3))
    assert node("input (batch, 3, 4, 2)\nUpSampling2D()").output_shape == (B, 6, 8, 2)
    assert node('input (batch, 3, 4, 2)\nUpSampling2D((2, 3), interpolation="bilinear")').output_shape == (B, 6, 12, 2)
    assert node("input (batch, 2, 3, 1, 2)\nUpSampling3D((1, 2, 3))").output_shape == (B, 2, 6, 3, 2)
    # nearest: each output reads one input position; the next conv's kernel covers 3 / 2 -> 2 positions
    n = nodes("input (batch, 16, 1)\nUpSampling1D(2)\nConv1D(1, 3)")
    assert [list(x.receptive_field) for x in n] == [[1], [sympy.Rational(2)]]
    n = nodes('input (batch, 16, 16, 1)\nUpSampling2D(interpolation="bilinear")')
    assert list(n[-1].receptive_field) == [2, 2]


def test_upsampling_errors():
    assert "a tuple of 1" in fails("input (batch, 7, 3)\nUpSampling1D((2,))").message  # Keras wants an int
    assert "did you mean" in fails('input (batch, 7, 7, 3)\nUpSampling2D(interpolation="bilinar")').hint
    assert "UpSampling1D has no argument 'data_format'" in fails(
        'input (batch, 7, 3)\nUpSampling1D(data_format="channels_last")').message
    assert "interpolation" in fails('input (batch, 7, 7, 7, 3)\nUpSampling3D(interpolation="nearest")').message
    assert "UpSampling1D" in fails("input (batch, 7, 7, 3)\nUpSampling2D()\nUpSampling1D()").message
