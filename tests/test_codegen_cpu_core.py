"""Generated CPU kernels of the rest of core (copies, reshapes, Embedding), normalization and merging."""
import numpy as np
import pytest

from shapeproof import analyzer
from shapeproof import codegen
from shapeproof.codegen.cpu.module import CodegenError
from codegen_harness import check_generated

SIZES = [{"batch": 1, "T": 5}, {"batch": 3, "T": 8}]

# Dropout/SpatialDropout copies, Permute of rank 4, Reshape with an inferred size, Flatten in both
# data formats (ranks 3, 4 and 5), RepeatVector; T symbolic.
MOVES = """
model Moves(batch, T):
    x = input (batch, T, 4, 6)
    h = Dropout(0.3)(x)
    h = SpatialDropout2D(0.2)(h)
    p = Permute((3, 1, 2))(h)
    r = Reshape((12, -1))(p)
    a = Flatten(data_format="channels_first")(r)
    b = Flatten(data_format="channels_first")(p)
    v = input (batch, 3, T, 2, 5)
    v = SpatialDropout3D(0.1)(v)
    c = Flatten(data_format="channels_first")(v)
    d = Flatten()(v)
    s = input (batch, T, 7)
    s = SpatialDropout1D(0.5)(s)
    e = Permute((2, 1))(s)
    e = Flatten()(e)
    f = RepeatVector(3)(e)
    g = Flatten(data_format="channels_first")(f)
    output a, b, c, d, f, g
"""


def test_copies_permutes_flattens_and_repeats():
    check_generated(MOVES, sizes=SIZES)


# Integer ids (int32, int64) and float ids (truncated, negatives wrapped once); LoRA; ids of rank 3.
EMBED = """
model Embed(batch, L):
    ids = input (batch, L) int32
    wide = input (batch, L, 2) int64
    f = input (batch, L, 3)
    a = Embedding(13, 5)(ids)
    b = Embedding(9, 4, lora_rank=2)(wide)
    c = Embedding(11, 3)(f)
    d = Embedding(9, 6, lora_rank=1)(f)
    output a, b, c, d
"""


def test_embedding():
    check_generated(EMBED, sizes=[{"batch": 1, "L": 4}, {"batch": 2, "L": 9}])


def test_embedding_float_ids_truncate_and_wrap():
    net = codegen.build(analyzer.loads("model E(batch):\n    input (batch, 6)\n    Embedding(5, 2)\n").models["E"])
    table = np.arange(10, dtype=np.float32).reshape(5, 2)
    net.set_weights([table])
    ids = np.array([[0.9, 1.5, -0.5, -1.0, -4.7, 4.99]], np.float32)
    want = table[[0, 1, 0, 4, 1, 4]]
    assert np.array_equal(net(ids)[0], want)


def test_embedding_mask_zero_is_refused():
    model = analyzer.loads("model E(batch, L):\n    input (batch, L) int32\n"
                           "    Embedding(10, 4, mask_zero=True)\n    Dense(2)\n").models["E"]
    with pytest.raises(CodegenError, match="mask"):
        codegen.generate(model)


# BatchNormalization on the last axis, a middle axis and the first non-batch axis, with and without
# center/scale; LayerNormalization over one axis, adjacent axes, axes out of order (gamma's reshape
# quirk), a symbolic axis without weights, rms_scaling, center/scale off.
NORMS = """
model Norms(batch, T):
    x = input (batch, T, 4, 6)
    a = BatchNormalization()(x)
    b = BatchNormalization(axis=2, center=False, epsilon=0.01)(x)
    c = BatchNormalization(axis=-1, scale=False, center=False)(x)
    s = input (batch, 5, T)
    d = BatchNormalization(axis=1, scale=False)(s)
    e = LayerNormalization()(x)
    f = LayerNormalization(axis=[2, 3], epsilon=0.1)(x)
    g = LayerNormalization(axis=[-1, 2])(x)
    h = LayerNormalization(axis=[3, 1], center=False, scale=False)(x)
    z = input (batch, 3, T, 5)
    i = LayerNormalization(axis=[-1, 1], rms_scaling=True)(z)
    j = LayerNormalization(axis=1, center=False)(s)
    k = LayerNormalization(axis=-2, scale=False)(x)
    output a, b, c, d, e, f, g, h, i, j, k
"""


def test_normalizations():
    check_generated(NORMS, sizes=SIZES)


# Element-wise merges of equal shapes (flat loop), Keras broadcasting across ranks and over size-1
# axes, three inputs; Concatenate on the last, a middle, a negative and the batch axis.
MERGES = """
model Merges(batch, T):
    x = input (batch, T, 4)
    y = input (batch, T, 4)
    v = input (batch, 4)
    o = input (batch, 1, 4)
    u = input (batch, T, 1)
    a = Add()([x, y])
    b = Subtract()([x, v])
    c = Multiply()([o, x, v])
    d = Average()([x, u, y])
    e = Maximum()([v, u])
    f = Minimum()([x, y, o])
    g = Average()([x, y])
    h = Concatenate()([x, y, u])
    i = Concatenate(axis=1)([x, o, y])
    j = Concatenate(axis=-3)([x, y])
    k = Concatenate(axis=-2)([o, x])
    output a, b, c, d, e, f, g, h, i, j, k
"""


def test_merges():
    check_generated(MERGES, sizes=SIZES)


# Dense's paths: one chunk of K (direct), several chunks, K split into slices (few rows) or not
# (many rows), several blocks of units, LoRA on a split K, row counts that are not multiples of
# the row block or group, no bias, softmax after the partial sums.
DENSE = """
model Dense(batch, T):
    x = input (batch, T, 300)
    h = Dense(270, activation="tanh")(x)
    f = input (batch, 1100)
    g = Dense(5, use_bias=False, lora_rank=2)(f)
    k = Dense(300, activation="softmax")(f)
    output h, g, k
"""


def test_dense_blocking():
    check_generated(DENSE, sizes=[{"batch": 1, "T": 5}, {"batch": 3, "T": 30}, {"batch": 67, "T": 1}])


def test_float64_build():
    check_generated("""
model F(batch, T):
    x = input (batch, T, 6)
    ids = input (batch, T) int32
    e = Embedding(7, 6, lora_rank=1)(ids)
    a = Average()([x, e])
    b = BatchNormalization(axis=1, epsilon=0.01)(a)
    c = LayerNormalization(axis=[1, 2], rms_scaling=True)(b)
    y = Dense(3, activation="sigmoid")(c)
    output y
""", set={"T": 4}, dtype="float64", tolerance=1e-10, sizes=[{"batch": 2}])


ELEMENTS = """
model E(batch, T):
    x = input (batch, T, 4)
    z = input (batch, 1, 4)
    a = Cropping1D((0, 2))(x)
    b = ZeroPadding1D((0, 2))(a)
    c = BatchNormalization(axis=1)(b)
    d = Multiply()([c, z])
    e = Average()([d, x, b])
    f = Activation("softmax")(e)
    g = BatchNormalization(center=False)(f)
    h = Flatten()(g)
    k = Activation("relu")(h)
    output k
"""


@pytest.mark.parametrize("parallel", [False, True])
def test_element_kernels_flat_nested_and_per_axis(parallel):
    # Crop/pad (0, k): reads at the output's own index of a larger input (never flattened); per-axis
    # tables on axis 1 and on the last axis; broadcasting; a softmax pass; rank 2; the prange build.
    check_generated(ELEMENTS, set={"T": 6}, sizes=[{"batch": 1}, {"batch": 3}], parallel=parallel)


def test_activation_layers_with_random_weights():
    # PReLU's alpha is random here (Keras initialises it to zeros, which hides it in the Keras checks).
    check_generated("model A(batch, T):\n    x = input (batch, T, 4)\n"
                    "    a = ReLU(max_value=1.5, negative_slope=0.1, threshold=0.25)(x)\n"
                    "    b = PReLU(shared_axes=[1])(a)\n    c = PReLU()(b)\n    d = ELU(0.5)(c)\n"
                    "    e = LeakyReLU(0.25)(d)\n    f = Identity()(e)\n    output f\n",
                    set={"T": 3}, sizes=[{"batch": 2}])
