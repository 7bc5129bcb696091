"""Generated Numba CPU kernels of the convolution, pooling and spatial reshaping layers, against the
NumPy reference (tests/codegen_harness.py). A few models, each covering several kinds and the
arguments that change the computation, with free sizes bound at two values or more."""
import re

import pytest
from codegen_harness import check_generated

from shapeproof import analyzer
from shapeproof import codegen
from shapeproof.codegen.cpu import CodegenError
from shapeproof.codegen.cpu.reshaping import INTERPOLATED


def kernel_text(source: str, set=None) -> dict[str, str]:
    """The generated kernels' source, by layer name."""
    text = codegen.generate(next(iter(analyzer.loads(source, set=set).models.values())))
    parts = re.split(r"\n# (\w+): ", text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


# Conv1D and Conv1DTranspose in every form: the position-blocked axpy form (Conv up to 192 filters),
# the register-blocked dot product (wider Conv, transposed with many input values per window row:
# padded input copy, strided phases) and the plain axpy form (few input values per row), over a
# free length T.
CONV_1D = """
model M(batch, T):
    input (batch, T, 8)
    Conv1D(16, 4, strides=3, padding="same", lora_rank=2, activation="relu", name="strided_lora")
    Conv1D(8, 3, padding="causal", dilation_rate=2, name="causal_dilated")
    Conv1D(193, 3, strides=2, padding="same", lora_rank=1, activation="tanh", name="wide_dot")
    Conv1DTranspose(16, 5, strides=3, padding="same", output_padding=2, activation="softmax", name="t_phased")
    Conv1DTranspose(16, 4, dilation_rate=2, name="t_dilated")
    a = Conv1DTranspose(5, 3, strides=4, use_bias=False, name="t_stride_above_kernel")
    z = input (batch, T, 3)
    Conv1D(3, 2, dilation_rate=2, name="small_dilated")(z)
    Conv1DTranspose(4, 3, strides=2, padding="same", activation="tanh", name="t_small")
    Conv1DTranspose(3, 2, strides=5, name="t_small_wide_stride")
    b = Conv1DTranspose(2, 3, dilation_rate=2, padding="same", output_padding=0, name="t_small_dilated")
    output a, b
"""


def test_conv_1d_every_form():
    kernels = kernel_text(CONV_1D)
    for name in ("strided_lora", "causal_dilated", "small_dilated"):
        assert "acc = np.empty((8, " in kernels[name], name  # the position-blocked axpy form
    for name in ("wide_dot", "t_phased", "t_dilated", "t_stride_above_kernel"):
        assert "for blk in range" in kernels[name], name  # the dot-product form
    assert "for ph in range" in kernels["t_phased"] and "for ph in range" not in kernels["t_dilated"]
    for name in ("t_small", "t_small_wide_stride", "t_small_dilated"):
        assert "for blk in range" not in kernels[name], name  # the plain axpy form
    check_generated(CONV_1D, sizes=[{"T": 3}, {"T": 9, "batch": 1}, {"T": 37, "batch": 3}])


# Few input values per window row: the position-blocked axpy form (P positions x filters in
# registers; P = 4, 2 or 1 by the number of filters), partial last blocks, padding on the blocked axis.
FEW_CHANNELS = """
model M(batch, T, h):
    input (batch, T, 3)
    Conv1D(8, 3, strides=2, padding="same", lora_rank=1, name="few_same")
    a = Conv1D(48, 2, padding="causal", dilation_rate=2, use_bias=False, activation="softmax", name="causal48")
    z = input (batch, h, 7, 3)
    b = Conv2D(16, (3, 3), activation="relu", name="rgb")(z)
    c = Conv2D(70, (2, 2), strides=2, padding="same", name="wide70")(z)
    d = Conv2D(4, (3, 3), padding="same", dilation_rate=(2, 1), name="dilated")(z)
    g = input (batch, 6, 4)
    e = Conv1D(4, 3, groups=2, name="grouped")(g)
    output a, b, c, d, e
"""


def test_conv_few_channels_blocked_axpy():
    kernels = kernel_text(FEW_CHANNELS)
    for name, block in (("few_same", 8), ("causal48", 8), ("rgb", 8), ("wide70", 4), ("dilated", 8)):
        assert f"acc = np.empty(({block}, " in kernels[name], name
    assert "acc = np.empty((" not in kernels["grouped"]  # groups: one position at a time
    check_generated(FEW_CHANNELS, sizes=[{"T": 1, "h": 3}, {"T": 6, "h": 5, "batch": 1}, {"T": 11, "h": 4, "batch": 3}])


CONV_ND = """
model M(batch, h, w):
    input (batch, h, w, 6)
    Conv2D(10, (3, 4), strides=(2, 1), padding="same", activation="gelu", name="same")
    Conv2D(200, (2, 3), strides=(1, 2), padding="same", name="wide_dot")
    Conv2DTranspose(12, 3, strides=2, padding="same", output_padding=1, name="t_phased")
    Conv2DTranspose(3, (5, 2), strides=(3, 2), padding="same", output_padding=(2, 1), use_bias=False, name="t_axpy")
    a = Conv2DTranspose(2, (1, 3), strides=(2, 3), output_padding=(1, 0), activation="relu", name="t_small")
    v = input (batch, 5, 4, 6, 4)
    Conv3D(8, (2, 3, 5), padding="same", dilation_rate=(2, 1, 1), name="c3")(v)
    b = Conv3DTranspose(5, (2, 2, 3), strides=(1, 2, 2), output_padding=(0, 1, 1), name="t3")
    output a, b
"""


def test_conv_2d_3d():
    kernels = kernel_text(CONV_ND)
    for name in ("same", "c3"):
        assert "acc = np.empty((8, " in kernels[name], name
    for name in ("wide_dot", "t_phased", "t3"):
        assert "for blk in range" in kernels[name], name
    for name in ("t_phased", "t3"):
        assert "for ph in range" in kernels[name], name  # strided: the weights of each phase
    assert "for blk in range" not in kernels["t_small"] + kernels["t_axpy"]
    check_generated(CONV_ND, sizes=[{"h": 9, "w": 11}, {"h": 6, "w": 7, "batch": 1}])


SEPARABLE = """
model M(batch, T):
    input (batch, T, 3)
    DepthwiseConv1D(3, padding="same", depth_multiplier=2, activation="relu")
    DepthwiseConv1D(2, strides=3, padding="same")
    SeparableConv1D(3, 4, padding="same", depth_multiplier=2, activation="softmax")
    SeparableConv1D(5, 3, dilation_rate=3, padding="same", use_bias=False)
    a = SeparableConv1D(4, 2, strides=2)
    x = input (batch, 9, 8, 2)
    DepthwiseConv2D((2, 3), strides=(3, 2), padding="same", depth_multiplier=3)(x)
    b = DepthwiseConv2D(2, dilation_rate=2, padding="same", use_bias=False, activation="tanh")
    y = input (batch, 11, 10, 3)
    SeparableConv2D(4, 2, strides=(2, 3), padding="same")(y)
    c = SeparableConv2D(6, (3, 2), dilation_rate=(1, 2), depth_multiplier=3, activation="relu")
    output a, b, c
"""


def test_depthwise_and_separable():
    check_generated(SEPARABLE, sizes=[{"T": 14}, {"T": 25, "batch": 3}])


POOLING = """
model M(batch, T):
    input (batch, T, 3)
    MaxPooling1D(4, strides=3, padding="same")
    AveragePooling1D(3, strides=2, padding="same")
    a = GlobalMaxPooling1D(keepdims=True)
    x = input (batch, T, 2)
    AveragePooling1D(4, strides=3, padding="same")(x)
    b = GlobalAveragePooling1D()
    z = input (batch, 7, 5, 2)
    AveragePooling2D((2, 3), strides=(1, 2), padding="same")(z)
    MaxPooling2D((3, 3), strides=(1, 2), padding="same")
    c = GlobalMaxPooling2D()
    u = input (batch, 13, 11, 2)
    MaxPooling2D(2, strides=3)(u)
    d = GlobalAveragePooling2D(keepdims=True)
    y = input (batch, 10, 9, 8, 3)
    AveragePooling3D(3, strides=(2, 3, 4))(y)
    MaxPooling3D(2, strides=1, padding="same")
    e = GlobalMaxPooling3D(keepdims=True)
    v = input (batch, 4, 5, 6, 2)
    AveragePooling3D(2, padding="same")(v)
    MaxPooling3D((2, 1, 3), strides=(1, 2, 2))
    f = GlobalAveragePooling3D()
    output a, b, c, d, e, f
"""


def test_pooling():
    # T=600: global pooling reduces more than one chunk of positions per sample
    check_generated(POOLING, sizes=[{"T": 4}, {"T": 14, "batch": 1}, {"T": 600, "batch": 3}])


RESHAPING = """
model M(batch, T):
    input (batch, T, 3)
    ZeroPadding1D((1, 2))
    Cropping1D((2, 1))
    u = UpSampling1D(3)
    z = input (batch, 4, 5, 2)
    ZeroPadding2D(((1, 0), (2, 3)))(z)
    Cropping2D(((1, 2), (0, 3)))
    UpSampling2D((2, 3))
    b = UpSampling2D((3, 1), interpolation="bilinear")
    a = input (batch, 3, 4, 2)
    UpSampling2D((2, 3), interpolation="bicubic")(a)
    c = UpSampling2D((1, 2), interpolation="area")
    l = input (batch, 5, 4, 2)
    d = UpSampling2D((2, 3), interpolation="lanczos3")(l)
    m = input (batch, 5, 7, 1)
    e = UpSampling2D((3, 2), interpolation="lanczos5")(m)
    y = input (batch, 3, 4, 2)
    f = ZeroPadding2D(((0, 2), (1, 0)))(y)
    v = input (batch, 3, 4, 5, 2)
    ZeroPadding3D(((1, 0), (0, 1), (0, 2)))(v)
    Cropping3D(((0, 1), (1, 1), (2, 1)))
    g = UpSampling3D((2, 1, 3))
    output u, b, c, d, e, f, g
"""


def test_reshaping_and_every_interpolation():
    check_generated(RESHAPING, sizes=[{"T": 5}, {"T": 9, "batch": 3}])


# Free height and width: every size the kernels use is read from the arrays.
CHAIN_2D = """
model M(batch, h, w):
    input (batch, h, w, 2)
    ZeroPadding2D(((1, 0), (2, 1)))
    SeparableConv2D(8, 3, strides=2, padding="same")
    UpSampling2D(2, interpolation="bilinear")
    Cropping2D(((1, 0), (0, 1)))
    Conv2D(8, 3, padding="same")
    Conv2DTranspose(6, 3, strides=(3, 2), padding="same", output_padding=(1, 0))
    AveragePooling2D(3, strides=2, padding="same")
    UpSampling2D((2, 1), interpolation="lanczos3")
    GlobalAveragePooling2D()
"""


def test_symbolic_2d_chain():
    kernels = kernel_text(CHAIN_2D)
    assert "acc = np.empty((8, " in kernels["conv2d"] and "for ph in range" in kernels["conv2d_transpose"]
    check_generated(CHAIN_2D, sizes=[{"h": 7, "w": 9}, {"h": 10, "w": 8, "batch": 1}])


def test_interpolations_are_all_known():
    # every UpSampling2D interpolation the analyzer accepts has a kernel (or is nearest/area)
    from shapeproof.analyzer.layers.reshaping import INTERPOLATION_TAPS
    assert set(INTERPOLATION_TAPS) == {"nearest", "area", *INTERPOLATED}


def test_unknown_interpolation_is_refused():
    # a mode the analyzer may accept one day, before a kernel exists: a clear error, no wrong numbers
    model = analyzer.loads('model M(batch):\n    input (batch, 3, 4, 2)\n    UpSampling2D(2, interpolation="bilinear")\n')
    layer = model.models["M"].nodes[0].layer
    object.__setattr__(layer, "interpolation", "gaussian")
    with pytest.raises(CodegenError, match="interpolation='gaussian' has no CPU kernel"):
        codegen.generate(model.models["M"])


# Epilogue fusion (codegen/cpu/epilogue.py): BatchNormalization and activations computed in the stores
# of the convolution before them, in each form (blocked axpy, dot product over 200 filters with a
# partial last filter block, depthwise, separable, grouped); not where another layer reads the value
# in between (the residual branch) or where it is a model output.
FUSED = """
model M(batch, H):
    x = input (batch, H, 6, 5)
    a = BatchNormalization(name="bn_a")(Conv2D(8, 3, padding="same", name="blocked")(x))
    a = Activation("swish", name="act_a")(a)
    w = ReLU(max_value=6.0, name="relu_w")(BatchNormalization(name="bn_w")(Conv2D(201, 2, name="dot")(a)))
    d = BatchNormalization(center=False, name="bn_d")(DepthwiseConv2D(3, depth_multiplier=2, name="depthwise")(a))
    s = LeakyReLU(name="leaky_s")(SeparableConv2D(4, 3, name="separable")(d))
    g = Conv2D(8, 1, groups=2, activation="relu", name="grouped")(a)
    r = BatchNormalization(name="bn_r")(g)
    y = Add(name="residual")([g, r])
    c = Conv2D(3, 1, name="output_conv")(y)
    z = Rescaling(2.0, name="scaled")(c)
    output w, s, c, z
"""


def test_element_layers_fuse_into_the_convolution_before_them():
    kernels = kernel_text(FUSED)
    fused = ["bn_a", "act_a", "bn_w", "relu_w", "bn_d", "leaky_s"]
    assert not set(fused) & set(kernels), "fused layers have no kernel of their own"
    assert "then bn_a" in kernels["blocked"] and "then act_a" in kernels["blocked"]
    assert "then relu_w" in kernels["dot"] and "then leaky_s" in kernels["separable"]
    assert {"bn_r", "scaled"} <= set(kernels), "g is read twice and c is a model output: not fused"
    check_generated(FUSED, sizes=[{"batch": 1, "H": 5}, {"batch": 2, "H": 7}])
