"""Unit tests of the convolutions: shapes, weights, parameter counts, MACs, receptive fields and errors,
on concrete and symbolic sizes."""
import pytest
import sympy

from shapeproof import analyzer
from shapeproof.analyzer import ShapeproofError
from shapeproof.analyzer.values import symbol

T, H, W, C, B = (symbol(n) for n in ("T", "H", "W", "C", "batch"))


def nodes(body: str, params: str = "batch", **set):
    """The analysed nodes of a one-model program with this body (4-space indented lines)."""
    source = f"model M({params}):\n" + "".join(f"    {line.strip()}\n" for line in body.strip().splitlines())
    return analyzer.loads(source, set=set or None).models["M"].nodes


def node(body: str, params: str = "batch", **set):
    return nodes(body, params, **set)[-1]


def fails(body: str, params: str = "batch") -> ShapeproofError:
    source = f"model M({params}):\n" + "".join(f"    {line.strip()}\n" for line in body.strip().splitlines())
    with pytest.raises(ShapeproofError) as info:
        analyzer.loads(source)
    return info.value


def same(a, b) -> bool:
    return sympy.simplify(sympy.sympify(a) - sympy.sympify(b)) == 0


def same_shape(shape, expected) -> bool:
    return len(shape) == len(expected) and all(same(a, b) for a, b in zip(shape, expected))


def weights(n):
    return [(w.name, tuple(int(d) for d in w.shape), w.trainable) for w in n.weights]


# --- Conv1D/2D/3D --------------------------------------------------------------------------------


def test_conv1d_symbolic_strided_valid():
    n = node("input (batch, T, 3)\nConv1D(8, 3, strides=2)", "batch, T")
    assert same_shape(n.output_shape, (B, sympy.floor((T - 3) / 2) + 1, 8))
    assert n.params == 3 * 3 * 8 + 8
    assert same(n.macs, B * (sympy.floor((T - 3) / 2) + 1) * 3 * 3 * 8)
    assert [str(c.condition) for c in n.constraints] == ["T >= 3"]


def test_conv1d_same_and_causal_keep_ceil_length():
    for padding in ("same", "causal"):
        n = node(f'input (batch, T, 3)\nConv1D(4, 5, strides=3, padding="{padding}")', "batch, T")
        assert same_shape(n.output_shape, (B, sympy.floor((T - 1) / 3) + 1, 4))
        assert n.constraints == []


def test_conv2d_concrete_dilated_and_grouped():
    n = node("input (batch, 20, 15, 6)\nConv2D(4, (3, 2), dilation_rate=(2, 3), groups=2, use_bias=False)")
    assert n.output_shape == (B, 16, 12, 4)
    assert weights(n) == [("kernel", (3, 2, 3, 4), True)]
    assert n.macs == B * 16 * 12 * 3 * 2 * 3 * 4


def test_conv3d_receptive_field():
    n = nodes("input (batch, 9, 9, 9, 1)\nConv3D(2, 3, strides=2)\nConv3D(2, 3)")
    assert [list(x.receptive_field) for x in n] == [[3, 3, 3], [7, 7, 7]]


def test_conv_lora_freezes_kernel_and_adds_low_rank_pair():
    n = node("input (batch, 10, 3)\nConv1D(8, 3, lora_rank=2)")
    assert weights(n) == [("kernel", (3, 3, 8), False), ("bias", (8,), True),
                          ("lora_kernel_a", (3, 3, 2), True), ("lora_kernel_b", (2, 8), True)]
    assert (n.trainable_params, n.non_trainable_params) == (8 + 18 + 16, 72)
    assert n.macs == B * 8 * 3 * 3 * 8 + 3 * 3 * 2 * 8


def test_conv_kernel_too_large_is_located_at_kernel_size():
    e = fails("input (batch, 4, 3)\nConv1D(4, kernel_size=5)")
    assert "at least 5 positions" in e.message and "the input has 4" in e.message
    assert e.span.line == 3 and e.span.column == 15
    assert 'padding="same"' in e.hint


def test_conv_symbolic_too_short_is_a_constraint_and_provably_false_is_an_error():
    n = node("input (batch, T, 3)\nConv1D(4, 5, dilation_rate=2)", "batch, T")
    assert [str(c.condition) for c in n.constraints] == ["T >= 9"]
    e = fails("input (batch, 2 * T, 3)\nConv1D(4, 4)\nConv1D(4, 2 * T)", "batch, T")
    assert "needs at least 2*T positions" in e.message


def test_conv_wrong_rank_hints():
    e = fails("input (batch, 10, 3)\nConv2D(4, 3)")
    assert "rank-4 input" in e.message and "got rank 3" in e.message
    assert "use Conv1D" in e.hint and "Reshape((10, 3, 1))" in e.hint
    e = fails("input (batch, 10)\nConv1D(4, 3)")
    assert "Reshape((10, 1))" in e.hint
    e = fails("input (batch, 5, 10, 10, 3)\nConv2D(4, 3)")
    assert "TimeDistributed(Conv2D(4, 3))" in e.hint and "Conv3D" in e.hint


def test_conv_argument_errors():
    assert "Keras refuses" in fails("input (batch, 10, 3)\nConv1D(4, 3, strides=2, dilation_rate=2)").message
    assert "channels_last" in fails('input (batch, 10, 3)\nConv1D(4, 3, data_format="channels_first")').message
    assert "divisible by groups" in fails("input (batch, 10, 3)\nConv1D(4, 3, groups=3)").message
    e = fails("input (batch, 10, 6)\nConv1D(4, 3, groups=4)")
    assert "filters=4" not in e.message and "divisible by groups=4" in e.message  # channels 6 vs groups 4
    assert "causal" in fails('input (batch, 10, 10, 3)\nConv2D(4, 3, padding="causal")').message
    assert "quantization_config" in fails("input (batch, 10, 3)\nConv1D(4, 3, quantization_config=None)").message


# --- transposed convolutions -----------------------------------------------------------------------


@pytest.mark.parametrize("args, expected", [
    ("3", (T - 1) + 3),  # valid, s=1: (T-1)*1 + max(3, 1)
    ("3, strides=2", 2 * (T - 1) + 3),  # valid: (T-1)*s + max(k, s)
    ("2, strides=3", 3 * (T - 1) + 3),  # kernel smaller than stride: max(k, s) = s
    ("3, strides=2, output_padding=1", 2 * (T - 1) + 3 + 1),
    ('5, strides=3, padding="same"', 3 * T),
    ('4, strides=3, padding="same", output_padding=2', 3 * (T - 1) + 0 + 2),
    ('5, strides=2, padding="same", output_padding=0', 2 * (T - 1) + 1),
    ('3, dilation_rate=2, padding="valid"', (T - 1) + 5),
])
def test_conv1d_transpose_lengths(args, expected):
    n = node(f"input (batch, T, 3)\nConv1DTranspose(4, {args})", "batch, T")
    assert same_shape(n.output_shape, (B, expected, 4))


def test_conv2d_transpose_concrete_weights_macs_rf():
    n = node("input (batch, 7, 9, 5)\nConv2DTranspose(6, (3, 4), strides=(2, 3), output_padding=(1, 2))")
    assert n.output_shape == (B, 16, 30, 6)
    assert weights(n) == [("kernel", (3, 4, 6, 5), True), ("bias", (6,), True)]
    assert n.macs == B * 7 * 9 * 3 * 4 * 5 * 6  # every input position scatters a kernel patch
    # an output position reads ceil(3/2) = 2 rows and ceil(4/3) = 2 columns of the input
    assert list(n.receptive_field) == [2, 2]


def test_conv_transpose_receptive_field_after_strided_conv():
    n = nodes("input (batch, 32, 1)\nConv1D(4, 3, strides=2)\nConv1DTranspose(4, 3, strides=2)\nConv1D(4, 3)")
    # jump 2 after the strided conv; the transpose reads 2 positions (3 + 2 = 5) and halves the jump to 1
    assert [list(x.receptive_field) for x in n] == [[3], [5], [7]]


def test_conv_transpose_symbolic_macs_and_params():
    n = node("input (batch, H, W, C)\nConv2DTranspose(8, 3, strides=2, padding=\"same\")", "batch, H, W, C")
    assert same_shape(n.output_shape, (B, 2 * H, 2 * W, 8))
    assert same(n.params, 9 * C * 8 + 8)
    assert same(n.macs, B * H * W * 9 * C * 8)


def test_conv_transpose_errors():
    e = fails("input (batch, 4, 4, 3)\nConv2DTranspose(3, 2, strides=2, output_padding=(1, 2))")
    assert "must be smaller than strides" in e.message and e.span.column > 30
    assert "Keras refuses" in fails("input (batch, 4, 3)\nConv1DTranspose(3, 2, strides=2, dilation_rate=2)").message
    assert "causal" in fails('input (batch, 4, 3)\nConv1DTranspose(3, 2, padding="causal")').message
    assert "groups" in fails("input (batch, 4, 3)\nConv1DTranspose(3, 2, groups=1)").message
    e = fails('input (batch, 1, 3)\nConv1DTranspose(2, 2, padding="same", output_padding=0)')
    assert "needs at least 2" in e.message and "output_padding" in e.hint


def test_conv_transpose_same_with_output_padding_symbolic_constraint():
    n = node('input (batch, T, 3)\nConv1DTranspose(2, 2, padding="same", output_padding=0)', "batch, T")
    assert [str(c.condition) for c in n.constraints] == ["T >= 2"]
    n = node('input (batch, T, 3)\nConv1DTranspose(2, 3, padding="same", output_padding=0)', "batch, T")
    assert n.constraints == []


# --- depthwise and separable -------------------------------------------------------------------------


def test_depthwise_conv1d_shapes_weights_macs():
    n = node("input (batch, T, C)\nDepthwiseConv1D(3, strides=2, depth_multiplier=4)", "batch, T, C")
    L = sympy.floor((T - 3) / 2) + 1
    assert same_shape(n.output_shape, (B, L, 4 * C))
    assert [(w.name, w.shape) for w in n.weights] == [("kernel", (3, C, 4)), ("bias", (4 * C,))]
    assert same(n.params, 3 * C * 4 + 4 * C)
    assert same(n.macs, B * L * 3 * C * 4)


def test_depthwise_conv2d_allows_strides_with_dilation_and_keeps_features_apart():
    n = node("input (batch, 20, 20, 3)\nDepthwiseConv2D(3, strides=2, dilation_rate=2)")
    assert n.output_shape == (B, 8, 8, 3)
    assert list(n.receptive_field) == [5, 5]
    assert "causal" in fails('input (batch, 9, 3)\nDepthwiseConv1D(3, padding="causal")').message
    e = fails("input (batch, 9, 3)\nDepthwiseConv2D(3)")
    assert "use DepthwiseConv1D" in e.hint


def test_depthwise_positional_order_is_keras():
    # DepthwiseConv2D(kernel_size, strides, padding, depth_multiplier)
    n = node('input (batch, 10, 10, 2)\nDepthwiseConv2D(3, 1, "same", 3)')
    assert n.output_shape == (B, 10, 10, 6)


def test_separable_conv_weights_and_macs():
    n = node("input (batch, 19, 6)\nSeparableConv1D(8, 3, strides=2, depth_multiplier=2)")
    assert n.output_shape == (B, 9, 8)
    assert weights(n) == [("depthwise_kernel", (3, 6, 2), True), ("pointwise_kernel", (1, 12, 8), True),
                          ("bias", (8,), True)]
    assert n.macs == B * 9 * (3 * 6 * 2 + 12 * 8)  # depthwise + pointwise
    n = node("input (batch, H, W, C)\nSeparableConv2D(5, (3, 1), padding=\"same\", use_bias=False)",
             "batch, H, W, C")
    assert same_shape(n.output_shape, (B, H, W, 5))
    assert same(n.params, 3 * C + C * 5)
    assert same(n.macs, B * H * W * (3 * C + C * 5))


def test_separable_positional_order_and_rf():
    # SeparableConv2D(filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier)
    n = node('input (batch, 12, 12, 2)\nSeparableConv2D(4, 3, 1, "valid", None, 2, 3)')
    assert n.output_shape == (B, 8, 8, 4)
    assert weights(n)[0] == ("depthwise_kernel", (3, 3, 2, 3), True)
    assert list(n.receptive_field) == [5, 5]
