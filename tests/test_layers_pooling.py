"""Unit tests of the pooling layers: shapes, receptive fields, constraints and errors."""
import pytest
import sympy

from shapeproof.analyzer.values import symbol
from test_layers_conv import B, fails, node, nodes, same_shape

T, H, W = symbol("T"), symbol("H"), symbol("W")


@pytest.mark.parametrize("kind", ["MaxPooling1D", "AveragePooling1D"])
def test_pooling1d_symbolic(kind):
    n = node(f"input (batch, T, 5)\n{kind}(3, strides=2)", "batch, T")
    assert same_shape(n.output_shape, (B, sympy.floor((T - 3) / 2) + 1, 5))
    assert (n.params, n.macs) == (0, 0)
    assert [str(c.condition) for c in n.constraints] == ["T >= 3"]
    n = node(f'input (batch, T, 5)\n{kind}(3, strides=2, padding="same")', "batch, T")
    assert same_shape(n.output_shape, (B, sympy.floor((T - 1) / 2) + 1, 5))
    assert n.constraints == []


def test_strides_default_to_pool_size():
    assert node("input (batch, 7, 3)\nMaxPooling1D()").output_shape == (B, 3, 3)
    assert node("input (batch, 7, 11, 3)\nMaxPooling2D((2, 3), strides=None)").output_shape == (B, 3, 3, 3)
    n = node("input (batch, H, W, 3)\nAveragePooling2D((2, 3))", "batch, H, W")
    assert same_shape(n.output_shape, (B, sympy.floor((H - 2) / 2) + 1, sympy.floor((W - 3) / 3) + 1, 3))


def test_pooling3d_and_uneven_strides():
    n = node('input (batch, 9, 8, 7, 2)\nMaxPooling3D((2, 1, 3), strides=(1, 2, 4), padding="same")')
    assert n.output_shape == (B, 9, 4, 2, 2)
    n = node("input (batch, 9, 8, 7, 2)\nAveragePooling3D(pool_size=(3, 2, 2), strides=(2, 3, 1))")
    assert n.output_shape == (B, 4, 3, 6, 2)


def test_pooling_receptive_field():
    n = nodes("input (batch, 32, 32, 1)\nMaxPooling2D()\nAveragePooling2D(3, strides=1)\nMaxPooling2D((2, 1))")
    # 2 (jump 2), then 2 + 2*2 = 6 (jump 2), then 6 + 1*2 = 8 / 6 + 0 = 6
    assert [list(x.receptive_field) for x in n] == [[2, 2], [6, 6], [8, 6]]


def test_pooling_errors():
    e = fails("input (batch, 2, 7, 3)\nMaxPooling2D(pool_size=3)")
    assert "at least 3 positions on axis 1" in e.message and e.span.column > 17
    assert 'padding="same"' in e.hint
    assert node('input (batch, 2, 7, 3)\nMaxPooling2D(3, padding="same")').output_shape == (B, 1, 3, 3)
    e = fails('input (batch, 8, 3)\nMaxPooling1D(padding="SAME")')
    assert "'SAME'" in e.message and "same" in e.hint  # Keras compares padding as written
    assert "pool_size" in fails("input (batch, 8, 3)\nAveragePooling1D()").message  # no default in Keras
    assert "at least 1" in fails("input (batch, 8, 3)\nMaxPooling1D(2, strides=0)").message
    assert "channels_last" in fails('input (batch, 8, 3)\nMaxPooling1D(data_format="channels_first")').message
    e = fails("input (batch, 8, 8, 3)\nMaxPooling1D()")
    assert "rank-3" in e.message and "MaxPooling2D" in e.hint and "TimeDistributed" in e.hint


@pytest.mark.parametrize("kind", ["GlobalMaxPooling", "GlobalAveragePooling"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_global_pooling(kind, rank):
    spatial = ", ".join(["T"] * rank)
    n = node(f"input (batch, {spatial}, 6)\n{kind}{rank}D()", "batch, T")
    assert n.output_shape == (B, 6)
    assert list(n.receptive_field) == [sympy.oo] * rank
    n = node(f"input (batch, {spatial}, 6)\n{kind}{rank}D(keepdims=True)", "batch, T")
    assert n.output_shape == (B, *[1] * rank, 6)
    assert (n.params, n.macs, n.constraints) == (0, 0, [])


def test_global_pooling_positional_args_and_errors():
    assert node("input (batch, 5, 6)\nGlobalAveragePooling1D(None, True)").output_shape == (B, 1, 6)
    e = fails("input (batch, 5, 5, 6)\nGlobalAveragePooling1D()")
    assert "GlobalAveragePooling2D" in e.hint
    assert "True or False" in fails("input (batch, 5, 6)\nGlobalMaxPooling1D(keepdims=1)").message
