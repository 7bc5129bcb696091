"""Keras cross-check: core and normalization layers (shapes, weight shapes, parameter counts)."""
import pytest

from keras_harness import crosscheck

# Keras's own advice, not a difference: masks dropped by Flatten, rms_scaling deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:.*(mask|rms_scaling).*:UserWarning")

CASES = {
    "normalization_preprocessing": """
model M(batch):
    x = input (batch, 5, 4)
    a = Normalization()(x)
    b = Normalization(axis=1)(x)
    c = Normalization(mean=0.5, variance=4.0)(x)
    d = Normalization(invert=True)(a)
    y = Concatenate()([a, b, c, d])
    output y
""",
    "activation_layers": """
model M(batch):
    x = input (batch, 5, 4)
    a = ReLU(max_value=1.5, negative_slope=0.1, threshold=0.25)(x)
    b = ReLU(negative_slope=0.2)(x)
    c = ReLU(max_value=6)(x)
    d = LeakyReLU(negative_slope=0.25)(x)
    e = PReLU(shared_axes=[1])(x)
    f = PReLU()(x)
    g = ELU(alpha=0.5)(x)
    h = ELU()(x)
    i = Identity()(x)
    j = ReLU(threshold=0.5)(x)
    k = Rescaling(0.00392156862745098, offset=-1)(x)
    y = Concatenate()([a, b, c, d, e, f, g, h, i, j, k])
    output y
""",
    "dense_lora_and_keras_aliases": """
model M(batch):
    input (batch, 8, 6)
    Dense(5, lora_rank=2, lora_alpha=4)
    Convolution1D(4, 3, lora_rank=1)
    MaxPool1D(2)
    GlobalAvgPool1D()
""",
    "activation_dropout_flatten": """
model M(batch):
    input (batch, 6, 5, 3)
    Activation("relu")
    Dropout(0.25, noise_shape=(None, 1, 1, 3), seed=7)
    SpatialDropout2D(0.1)
    Activation(None)
    Flatten()
    Dense(4, activation="softmax")
""",
    "spatial_dropout_1d_3d": """
model M(batch):
    x = input (batch, 12, 4)
    h = SpatialDropout1D(0.2, seed=3)(x)
    r = Reshape((3, 2, 2, 4))(h)
    s = SpatialDropout3D(0.5, data_format="channels_last")(r)
    f = Flatten(data_format="channels_first")(s)
    output f
""",
    "reshape_infer_permute": """
model M(batch, t=6):
    input (batch, t, 8)
    Reshape((-1, 4))
    Permute((2, 1))
    Reshape((4, 3, 4))
    Permute((3, 1, 2))
    Reshape((2, -1, 3))
""",
    "repeat_vector": """
model M(batch):
    input (batch, 10)
    Dense(5)
    RepeatVector(7)
    Dense(3, use_bias=False, trainable=False)
""",
    "embedding_tokens": """
model M(batch, L=20, vocab=100):
    tokens = input (batch, L) int32
    e = Embedding(vocab, 16, mask_zero=True)(tokens)
    p = Embedding(vocab, 8, lora_rank=4, name="lora_table")(tokens)
    f = Flatten()(e)
    output f, p
""",
    "embedding_3d_ids": """
model M(batch):
    ids = input (batch, 4, 5) int32
    Embedding(input_dim=50, output_dim=3, trainable=False)
""",
    "batch_norm_variants": """
model M(batch):
    input (batch, 9, 7, 6)
    BatchNormalization()
    BatchNormalization(axis=1, center=False)
    BatchNormalization(axis=-2, scale=False, momentum=0.9, epsilon=0.01)
    BatchNormalization(center=False, scale=False, trainable=False)
    BatchNormalization(renorm=True)
""",
    "layer_norm_axes": """
model M(batch):
    x = input (batch, 4, 5, 6)
    a = LayerNormalization()(x)
    b = LayerNormalization(axis=[1, 2, 3], center=False)(a)
    c = LayerNormalization(axis=[-1, 1], epsilon=1e-5)(b)
    d = LayerNormalization(axis=(2,), scale=False, trainable=False)(c)
    e = LayerNormalization(rms_scaling=True)(d)
    output e
""",
}


@pytest.mark.parametrize("name", CASES)
def test_core_matches_keras(name):
    crosscheck(CASES[name])


SYMBOLIC = """
model M(batch, T, V):
    tokens = input (batch, T) int32
    e = Embedding(V, 6)(tokens)
    r = Reshape((-1, 4))(e)
    p = Permute((2, 1))(r)
    n = LayerNormalization(axis=[1, 2])(p)
    f = Flatten()(n)
    output f
"""


@pytest.mark.parametrize("T", [2, 6, 10])
def test_symbolic_model_bound_matches_keras(T):
    ours = crosscheck(SYMBOLIC, set={"T": T, "V": 40})
    assert ours.nodes[-1].output_shape[1] == 6 * T
