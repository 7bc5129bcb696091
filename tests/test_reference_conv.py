"""NumPy reference vs Keras predict, layer by layer: convolutions, pooling and spatial reshaping
(every CASES entry of test_keras_conv/pooling/reshaping, plus the extra cases below)."""
import re

import numpy as np
import pytest

import test_keras_conv
import test_keras_pooling
import test_keras_reshaping
from keras_harness import numeric_crosscheck

from shapeproof import analyzer
from shapeproof.analyzer.reference import forward

EXTRA = {
    "conv1d_paddings": """
model M(batch):
    input (batch, 17, 4)
    Conv1D(6, 4, padding="same", activation="tanh")
    Conv1D(5, 4, strides=3, padding="same")
    Conv1D(4, 2, strides=2, padding="same")
    Conv1D(3, 3, padding="causal")
    Conv1D(4, 2, strides=2, padding="causal", use_bias=False)
    Conv1D(4, 3, padding="same", dilation_rate=3)
""",
    "conv1d_causal_dilated": """
model M(batch):
    input (batch, 20, 2)
    Conv1D(4, 3, padding="causal", dilation_rate=4, activation="relu")
    Conv1D(6, 2, padding="causal", dilation_rate=2, groups=2)
""",
    "conv_groups": """
model M(batch):
    input (batch, 11, 6)
    Conv1D(9, 3, groups=3, activation="sigmoid")
    Conv1D(3, 2, strides=2, padding="same", groups=3)
    x = input (batch, 5, 6, 7, 4)
    Conv3D(6, (2, 3, 2), strides=(1, 2, 3), padding="same", groups=2)(x)
""",
    "conv2d_same_strided": """
model M(batch):
    input (batch, 10, 13, 3)
    Conv2D(5, (4, 3), strides=(3, 2), padding="same", activation="elu")
    Conv2D(4, (2, 2), dilation_rate=(2, 3), padding="same")
    Conv2D(2, (3, 1), strides=(1, 4), padding="valid", use_bias=False)
""",
    "conv3d_same": """
model M(batch):
    input (batch, 6, 7, 5, 2)
    Conv3D(3, 2, strides=2, padding="same")
    Conv3D(2, (3, 2, 1), padding="same", dilation_rate=(1, 2, 1), activation="relu")
""",
    "conv_lora_more": """
model M(batch):
    input (batch, 7, 6, 5, 3)
    Conv3D(4, 2, lora_rank=2, use_bias=False)
    Conv3D(2, 1, groups=2, lora_rank=1)
""",
    "conv_transpose_more": """
model M(batch):
    input (batch, 5, 6, 3)
    Conv2DTranspose(4, 3, strides=2, padding="same", dilation_rate=1)
    Conv2DTranspose(3, (2, 3), dilation_rate=(2, 2), padding="same")
    Conv2DTranspose(2, (5, 2), strides=(3, 2), padding="same", output_padding=(2, 1), use_bias=False)
    Conv2DTranspose(2, (1, 3), strides=(2, 3), padding="valid", output_padding=(1, 0), activation="tanh")
""",
    "conv_transpose_stride_above_kernel": """
model M(batch):
    input (batch, 4, 2)
    Conv1DTranspose(3, 2, strides=5)
    Conv1DTranspose(2, 1, strides=3, padding="same")
    Conv1DTranspose(2, 2, strides=4, padding="same", output_padding=3)
    Conv1DTranspose(2, 3, strides=2, padding="same", output_padding=0)
""",
    "conv3d_transpose_valid": """
model M(batch):
    input (batch, 3, 2, 4, 3)
    Conv3DTranspose(2, (2, 3, 2), strides=(2, 3, 1), output_padding=(1, 2, 0), activation="relu")
""",
    "depthwise_more": """
model M(batch):
    input (batch, 12, 3)
    DepthwiseConv1D(3, padding="same", depth_multiplier=2, activation="relu")
    DepthwiseConv1D(2, strides=3, padding="same")
    x = input (batch, 9, 8, 2)
    DepthwiseConv2D((2, 3), strides=(3, 2), padding="same", depth_multiplier=3)(x)
    DepthwiseConv2D(2, dilation_rate=2, padding="same", use_bias=False, activation="tanh")
""",
    "separable_more": """
model M(batch):
    input (batch, 14, 2)
    SeparableConv1D(3, 4, padding="same", depth_multiplier=2, activation="relu")
    SeparableConv1D(5, 3, dilation_rate=3, padding="same", use_bias=False)
    x = input (batch, 11, 10, 3)
    SeparableConv2D(4, 2, strides=(2, 3), padding="same")(x)
    SeparableConv2D(6, (3, 2), dilation_rate=(1, 2), depth_multiplier=3, activation="tanh")
""",
    "pooling_same_uneven": """
model M(batch):
    input (batch, 7, 3)
    MaxPooling1D(4, strides=3, padding="same")
    x = input (batch, 7, 2)
    AveragePooling1D(4, strides=3, padding="same")(x)
    y = input (batch, 7, 2)
    AveragePooling1D(3, strides=2, padding="same")(y)
    z = input (batch, 7, 5, 2)
    AveragePooling2D((2, 3), strides=(1, 2), padding="same")(z)
    MaxPooling2D((3, 3), strides=(1, 2), padding="same")(z)
""",
    "pooling_strides_above_pool": """
model M(batch):
    input (batch, 13, 11, 2)
    MaxPooling2D(2, strides=3)
    x = input (batch, 13, 11, 2)
    AveragePooling2D((2, 1), strides=(3, 4), padding="same")(x)
    y = input (batch, 10, 9, 8, 1)
    AveragePooling3D(3, strides=(2, 3, 4))(y)
    MaxPooling3D(2, strides=1, padding="same")
""",
    "upsampling2d_interpolations": """
model M(batch):
    input (batch, 4, 5, 2)
    UpSampling2D((3, 1), interpolation="bilinear")
    x = input (batch, 3, 4, 2)
    UpSampling2D((2, 3), interpolation="bicubic")(x)
    y = input (batch, 5, 3, 1)
    UpSampling2D(3, interpolation="bicubic")(y)
    z = input (batch, 2, 6, 3)
    UpSampling2D((4, 2), interpolation="bilinear")(z)
    w = input (batch, 3, 3, 2)
    UpSampling2D(1, interpolation="bilinear")(w)
    UpSampling2D(1, interpolation="bicubic")
""",
}

CASES = {**test_keras_conv.CASES, **test_keras_pooling.CASES, **test_keras_reshaping.CASES, **EXTRA}

# Specs with free sizes, checked at two bindings each.
SYMBOLIC = {
    "conv1d_same_strided": """
model M(batch, n):
    input (batch, n, 3)
    Conv1D(4, 4, strides=3, padding="same")
    Conv1DTranspose(2, 3, strides=2, padding="same")
    AveragePooling1D(3, strides=2, padding="same")
""",
    "conv2d_chain": """
model M(batch, h, w):
    input (batch, h, w, 2)
    ZeroPadding2D(((1, 0), (2, 1)))
    SeparableConv2D(3, 3, strides=2, padding="same")
    MaxPooling2D(2, padding="same")
    UpSampling2D(2, interpolation="bilinear")
    Cropping2D(((1, 0), (0, 1)))
    DepthwiseConv2D(2, padding="same")
    GlobalAveragePooling2D()
""",
}
BINDINGS = {"conv1d_same_strided": [{"n": 10}, {"n": 13}],
            "conv2d_chain": [{"h": 7, "w": 9}, {"h": 10, "w": 8}]}


def branches(source: str) -> list[str]:
    """The spec cut into one model per input (each branch with its own input statement).

    The harness draws random weights for the Keras model from the inputs to the model's output (the
    last value) only: layers on other inputs' branches keep Keras's initial weights (zero biases,
    zero LoRA factors), which would hide bugs there. One model per branch randomises every layer."""
    header, *lines = source.strip("\n").split("\n")
    parts: list[list[str]] = []
    for line in lines:
        if re.match(r"\s*(\w+\s*=\s*)?input\b", line) or not parts:
            parts.append([])
        parts[-1].append(line)
    return ["\n".join([header, *part]) + "\n" for part in parts]


def keras_average_pool_excluding_padding(original):
    """Keras's torch average_pool with padding="same", padded positions left out of each average
    (TF's and JAX's definition). Keras 3.15's torch backend pads by repeating the edge values and
    counts them wherever the padding is uneven on some axis (fixed upstream: keras-team/keras#23233)."""
    import torch
    import torch.nn.functional as F
    from keras.src.backend.torch.nn import _compute_padding_length

    pools = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}

    def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
        if padding != "same":
            return original(inputs, pool_size, strides, padding, data_format)
        x = torch.as_tensor(inputs)
        n = x.ndim - 2
        pool = (pool_size,) * n if isinstance(pool_size, int) else tuple(pool_size)
        strides = pool if strides is None else (strides,) * n if isinstance(strides, int) else tuple(strides)
        assert data_format in (None, "channels_last")
        x = torch.movedim(x, -1, 1)  # channels first for torch
        pads = [_compute_padding_length(L, p, s) for L, p, s in zip(x.shape[2:], pool, strides)]
        flat = [v for pair in reversed(pads) for v in pair]
        ones = torch.ones_like(x[:, :1])
        sums = pools[n](F.pad(x, flat), pool, strides)
        counts = pools[n](F.pad(ones, flat), pool, strides)
        return torch.movedim(sums / counts, 1, -1)

    return average_pool


@pytest.fixture
def keras_pooling_fixed(monkeypatch):
    """Patch Keras's torch average_pool when it has the uneven-padding bug (see above)."""
    import keras
    from keras.src import backend

    probe = keras.layers.AveragePooling1D(4, strides=3, padding="same")(np.arange(1, 8, dtype="float32")[None, :, None])
    if not np.allclose(np.asarray(probe).ravel(), [2.0, 4.5, 6.5]):  # (1+2+3)/3, (3+4+5+6)/4, (6+7)/2
        monkeypatch.setattr(backend.nn, "average_pool", keras_average_pool_excluding_padding(backend.nn.average_pool))


@pytest.mark.parametrize("name", CASES)
def test_reference_matches_keras(name, keras_pooling_fixed):
    for source in branches(CASES[name]):
        numeric_crosscheck(source)


@pytest.mark.parametrize("name", SYMBOLIC)
def test_reference_matches_keras_at_two_sizes(name, keras_pooling_fixed):
    for sizes in BINDINGS[name]:
        numeric_crosscheck(SYMBOLIC[name], set=sizes)


def test_average_pooling_same_counts_only_the_input():
    """Positions in the padding are not counted: windows at the ends average fewer values."""
    model = analyzer.loads("""
model M(batch):
    input (batch, 7, 1)
    AveragePooling1D(4, strides=3, padding="same")
""").models["M"]
    x = np.arange(1, 8, dtype=np.float32).reshape(1, 7, 1)
    np.testing.assert_allclose(forward(model, [], x).ravel(), [2.0, 4.5, 6.5])


def test_outputs_keep_float32():
    model = analyzer.loads("""
model M(batch):
    input (batch, 6, 5, 2)
    Conv2D(3, 2, padding="same")
    Conv2DTranspose(2, 3, strides=2)
    DepthwiseConv2D(2)
    SeparableConv2D(2, 2, padding="same")
    AveragePooling2D(2, padding="same")
    MaxPooling2D(2, padding="same")
    UpSampling2D(2, interpolation="bicubic")
    UpSampling2D(2, interpolation="lanczos3")
    ZeroPadding2D(1)
    GlobalAveragePooling2D()
""").models["M"]
    from keras_harness import random_inputs
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=tuple(int(d) for d in w.shape)).astype(np.float32)
               for node in model.nodes for w in node.weights]
    _, by_layer = forward(model, weights, *random_inputs(model, 2, rng), keep=True)
    assert {name: y.dtype for name, y in by_layer.items()} == {name: np.float32 for name in by_layer}


@pytest.fixture
def keras_numpy_resize(monkeypatch):
    """Keras's NumPy-backend image resize (a port of JAX's), loaded from its file on its own: the
    NumPy backend package itself needs SciPy, which the project does not install."""
    import importlib.util
    import sys
    import types
    from pathlib import Path

    import keras.src.backend

    core = types.ModuleType("keras.src.backend.numpy.core")
    core.convert_to_tensor = np.asarray  # all image.resize needs from it
    monkeypatch.setitem(sys.modules, "keras.src.backend.numpy.core", core)
    path = Path(keras.src.backend.__file__).parent / "numpy" / "image.py"
    spec = importlib.util.spec_from_file_location("keras_numpy_image", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.resize


@pytest.mark.parametrize("interpolation", ["lanczos3", "lanczos5"])
@pytest.mark.parametrize("size", [(2, 3), (4, 1), (1, 1)])
def test_lanczos_matches_keras_numpy_backend(interpolation, size, keras_numpy_resize):
    """Keras's torch backend refuses Lanczos; its NumPy backend (a port of JAX's resize) is the
    reference here."""
    resize = keras_numpy_resize

    model = analyzer.loads(f"""
model M(batch):
    input (batch, 5, 7, 3)
    UpSampling2D({size}, interpolation="{interpolation}")
""").models["M"]
    x = np.random.default_rng(2).normal(size=(2, 5, 7, 3)).astype(np.float32)
    theirs = resize(x, (5 * size[0], 7 * size[1]), interpolation=interpolation, data_format="channels_last")
    ours = forward(model, [], x)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(theirs).max())


def test_area_is_nearest_for_whole_factors():
    """UpSampling2D(interpolation="area") (TF-only in Keras): every output pixel lies inside one
    input pixel, so it repeats like "nearest"."""
    source = """
model M(batch):
    input (batch, 3, 4, 2)
    UpSampling2D((2, 3), interpolation="{}")
"""
    x = np.random.default_rng(3).normal(size=(2, 3, 4, 2)).astype(np.float32)
    area = forward(analyzer.loads(source.format("area")).models["M"], [], x)
    nearest = forward(analyzer.loads(source.format("nearest")).models["M"], [], x)
    np.testing.assert_array_equal(area, nearest)
    np.testing.assert_array_equal(area, x.repeat(2, axis=1).repeat(3, axis=2))
