"""NumPy reference vs Keras predict, layer by layer: core, normalization and merging layers."""
import pytest

import test_keras_core
import test_keras_merging
from keras_harness import numeric_crosscheck

# Keras's own advice, not a difference: masks dropped by Flatten, rms_scaling deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:.*(mask|rms_scaling).*:UserWarning")

ACTIVATIONS = ("linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "tanh",
               "softmax", "log_softmax", "softplus", "softsign", "swish", "silu", "exponential")

EXTRA = {
    "activation_every_name": "model M(batch):\n    x = input (batch, 3, 7)\n" + "".join(
        f"    a{i} = Activation(\"{name}\")(x)\n" for i, name in enumerate(ACTIVATIONS))
        + f"    output {', '.join(f'a{i}' for i in range(len(ACTIVATIONS)))}\n",
    "dropouts_are_identity_at_inference": """
model M(batch):
    x = input (batch, 4, 5, 6, 3)
    a = Dropout(1.0)(x)
    b = Dropout(0.0, noise_shape=(None, 4, 1, 1, 3))(a)
    c = SpatialDropout3D(0.9, data_format="channels_first")(b)
    r = Reshape((20, 18))(c)
    d = SpatialDropout1D(0.5)(r)
    q = Reshape((2, 10, 18))(d)
    e = SpatialDropout2D(0.5, data_format="channels_first", seed=1)(q)
    output e
""",
    "flatten_channels_first_orders": """
model M(batch):
    x = input (batch, 3, 4, 5)
    v = input (batch, 7)
    s = input (batch, 2, 6)
    a = Flatten(data_format="channels_first")(x)
    b = Flatten(data_format="channels_last")(x)
    c = Flatten()(x)
    d = Flatten(data_format="channels_first")(v)
    e = Flatten(data_format="channels_first")(s)
    l = Reshape((60,))(x)
    r = Reshape((2, 3, 2, 5))(l)
    f = Flatten(data_format="channels_first")(r)
    output a, b, c, d, e, f
""",
    "reshape_permute_rank5": """
model M(batch):
    x = input (batch, 2, 3, 4, 5)
    p = Permute((4, 2, 1, 3))(x)
    q = Permute((1, 2, 3, 4))(p)
    r = Reshape((-1,))(q)
    s = Reshape((5, -1, 2))(r)
    t = Permute((3, 1, 2))(s)
    output t
""",
    "repeat_vector_once_and_odd": """
model M(batch):
    x = input (batch, 5)
    a = RepeatVector(1)(x)
    b = RepeatVector(9)(x)
    output a, b
""",
    "embedding_lora_alpha_ignored": """
model M(batch):
    ids = input (batch, 6) int64
    a = Embedding(12, 5, lora_rank=3, lora_alpha=12)(ids)
    b = Embedding(12, 4, lora_rank=1, lora_alpha=0.5, mask_zero=False)(ids)
    c = Embedding(input_dim=12, output_dim=2)(ids)
    output a, b, c
""",
    "embedding_single_and_rank3_ids": """
model M(batch):
    ids = input (batch, 1) int32
    grid = input (batch, 2, 3, 4) int32
    a = Embedding(7, 3)(ids)
    b = Embedding(7, 2, lora_rank=2)(grid)
    output a, b
""",
    # Keras casts float ids to int32 (truncating toward zero); negative ids wrap once.
    "embedding_float_ids_truncated": """
model M(batch):
    x = input (batch, 8)
    Embedding(9, 4)
""",
    "batch_norm_axes_and_flags": """
model M(batch):
    x = input (batch, 7)
    y = input (batch, 3, 4, 5, 6)
    s = input (batch, 5, 4)
    a = BatchNormalization(epsilon=0.5)(x)
    b = BatchNormalization(axis=1, center=False, scale=False)(y)
    c = BatchNormalization(axis=3, momentum=0.5)(y)
    d = BatchNormalization(axis=-3, scale=False)(y)
    e = BatchNormalization(axis=1, epsilon=1e-5)(s)
    f = BatchNormalization(renorm=True, center=False, renorm_momentum=0.5)(s)
    g = BatchNormalization(axis=-2, renorm=True, scale=False, synchronized=False)(s)
    output a, b, c, d, e, f, g
""",
    "layer_norm_trailing_axes": """
model M(batch):
    x = input (batch, 7)
    y = input (batch, 3, 4, 5)
    a = LayerNormalization(epsilon=0.5)(x)
    b = LayerNormalization(axis=[-2, -1])(y)
    c = LayerNormalization(axis=[2, 3], center=False, scale=False)(y)
    d = LayerNormalization(axis=(3,), scale=False)(y)
    e = LayerNormalization(axis=[1, 2, 3], rms_scaling=True)(y)
    f = LayerNormalization(axis=[2, 3], rms_scaling=True, scale=False, center=False)(y)
    g = LayerNormalization(axis=-1, rms_scaling=True, epsilon=0.1)(x)
    output a, b, c, d, e, f, g
""",
    # Axes listed out of position order: Keras sorts them as given ([-1, 1] stays so), shapes
    # gamma/beta in that order and then reshapes (not transposes) them into place.
    "layer_norm_unordered_axes_scramble_gamma": """
model M(batch):
    x = input (batch, 3, 5)
    y = input (batch, 3, 4, 5)
    a = LayerNormalization(axis=[-1, 1])(x)
    b = LayerNormalization(axis=[2, -3], center=False)(y)
    c = LayerNormalization(axis=[1, 3])(y)
    d = LayerNormalization(axis=[-1, 1], rms_scaling=True)(y)
    e = LayerNormalization(axis=[3, 1], scale=False)(y)
    output a, b, c, d, e
""",
    "elementwise_rank_broadcast": """
model M(batch):
    x = input (batch, 3, 4, 5)
    v = input (batch, 5)
    u = input (batch, 1)
    g = input (batch, 4, 1)
    h = input (batch, 1, 4, 5)
    a = Add()([v, x, u, g])
    s = Subtract()([v, x])
    t = Subtract()([h, g])
    m = Multiply()([g, v, h])
    av = Average()([x, v, u])
    mx = Maximum()([u, g, x])
    mn = Minimum()([h, v])
    one = Add()([x])
    one_max = Maximum()([v])
    one_avg = Average()([u])
    output a, s, t, m, av, mx, mn, one, one_max, one_avg
""",
    "concatenate_every_axis": """
model M(batch):
    x = input (batch, 2, 3, 4)
    y = input (batch, 5, 3, 4)
    z = input (batch, 2, 1, 4)
    w = input (batch, 2, 3, 7)
    a = Concatenate(axis=1)([x, y, x])
    b = Concatenate(axis=-3)([y, x])
    c = Concatenate(axis=2)([x, z, z])
    d = Concatenate(axis=-2)([z, x])
    e = Concatenate()([x, w])
    f = Concatenate(axis=3)([w, x, w])
    g = Concatenate()([x])
    output a, b, c, d, e, f, g
""",
}

SYMBOLIC = {
    "core_symbolic": (test_keras_core.SYMBOLIC, [{"T": 2, "V": 40}, {"T": 6, "V": 9}]),
    "merge_norm_symbolic": ("""
model M(batch, T, C):
    x = input (batch, T, C)
    v = input (batch, C)
    n = LayerNormalization(axis=[1, 2])(x)
    b = BatchNormalization(axis=1)(x)
    a = Add()([n, v, b])
    m = Multiply()([v, a])
    c = Concatenate(axis=1)([a, m, x])
    r = Reshape((-1, C))(c)
    f = Flatten()(r)
    p = RepeatVector(T)(v)
    output f, p
""", [{"T": 3, "C": 5}, {"T": 8, "C": 2}]),
}

CASES = {**test_keras_core.CASES, **test_keras_merging.CASES, **EXTRA}

# Keras's torch backend has a shortcut in ops.layer_normalization: when the (sorted) axes are
# "continuous" (one axis, or consecutive ones) it calls torch's F.layer_norm with their sizes,
# which normalises the *last* axes: a single non-last axis (axis=1 or axis=(2,) on a rank-4
# input) or consecutive non-trailing axes ([1, 2] of rank 4) then fails (sizes differ) or
# silently normalises the wrong axes (sizes equal). The other backends take the generic path;
# the reference follows it, and these cases are checked against Keras with the shortcut off.
TORCH_LAYER_NORM_BUG = {
    "layer_norm_axes",  # test_keras_core: LayerNormalization(axis=(2,)) on (batch, 4, 5, 6)
    "layer_norm_single_inner_axis",
}
CASES["layer_norm_single_inner_axis"] = """
model M(batch):
    x = input (batch, 3, 4, 5)
    s = input (batch, 6, 6)
    a = LayerNormalization(axis=1)(x)
    b = LayerNormalization(axis=-2, center=False)(x)
    c = LayerNormalization(axis=[1, 2])(x)
    d = LayerNormalization(axis=(-3, -2), rms_scaling=True)(x)
    e = LayerNormalization(axis=1)(s)
    output a, b, c, d, e
"""


@pytest.fixture
def generic_layer_norm(monkeypatch):
    """Keras's ops.layer_normalization without the torch F.layer_norm shortcut (the generic path
    that the TensorFlow and JAX backends take)."""
    import keras.src.ops.nn

    monkeypatch.setattr(keras.src.ops.nn, "is_continuous_axis", lambda axis: False)


@pytest.mark.parametrize("name", CASES)
def test_reference_matches_keras(name, request):
    if name in TORCH_LAYER_NORM_BUG:
        request.getfixturevalue("generic_layer_norm")
    numeric_crosscheck(CASES[name])


@pytest.mark.parametrize("name, sizes", [(name, sizes) for name, (_, bindings) in SYMBOLIC.items()
                                         for sizes in bindings])
def test_reference_matches_keras_at_bound_sizes(name, sizes):
    numeric_crosscheck(SYMBOLIC[name][0], set=sizes)


@pytest.mark.xfail(strict=True, reason="Keras's torch backend normalises the last axis for "
                                       "LayerNormalization(axis=1) when the sizes happen to match")
def test_keras_torch_layer_norm_shortcut_differs():
    numeric_crosscheck("model M(batch):\n    x = input (batch, 6, 6)\n    LayerNormalization(axis=1)\n")
