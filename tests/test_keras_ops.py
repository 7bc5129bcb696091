"""Keras cross-check: tensor arithmetic and the preprocessing pieces of keras.applications (Normalization
with per-feature numbers, InceptionResNetV2's CustomScaleLayer) in specs (`x + h`, `x * 0.5`, `mean(x, axis=1)`, `matmul`, ...)
against the same keras.ops operations in a functional model: names, shapes and the generated CPU
kernels (tests/test_reference_ops.py compares every intermediate value of the NumPy reference)."""
import pytest

from keras_harness import build_keras, codegen_crosscheck, crosscheck, keras

ARITHMETIC = """
model M(batch, T=6):
    x = input (batch, T, 4)
    h = Dense(4)(x)
    y = x + h * 0.5
    m = mean(y, axis=1, keepdims=True)
    z = relu(y - m) / (1.0 + square(y))
    w = 2 - z * (1.0 / 6.0)
    output -w
"""

FUNCTIONS = """
model M(batch):
    x = input (batch, 3, 5)
    g = input (batch, 1, 5)
    a = maximum(x, g) + minimum(g, 0.25)
    b = sqrt(absolute(a)) + exp(-square(a)) + log(1.5 + sigmoid(a))
    c = tanh(b) * softplus(a) - softsign(a) + silu(a) + elu(a) + selu(a) + hard_sigmoid(a) + relu6(a * 4)
    d = divide(c, 2.0 + abs(x)) + gelu(a) - gelu(a, approximate=False)
    output d
"""

STRUCTURE = """
model M(batch):
    x = input (batch, 6, 4)
    r = reshape(x, (-1, 24))
    t = transpose(reshape(r, (-1, 6, 4)), (0, 2, 1))
    c = concatenate([t, t * 2], axis=-1)
    g = matmul(c, transpose(c, (0, 2, 1)))
    s = sum(g, axis=-1)
    mx = max(g, axis=(1, 2), keepdims=True)
    mn = min(x, axis=1)
    output s, mx, mn
"""

MATMUL_BROADCAST = """
model M(batch):
    q = input (batch, 2, 3, 4)
    k = input (batch, 1, 4, 5)
    output matmul(q, k) / 2.0
"""

PREPROCESSING = """
model M(batch):
    x = input (batch, 4, 4, 3)
    n = Normalization(mean=(0.485, 0.456, 0.406), variance=(0.052, 0.05, 0.05))(x)
    h = Conv2D(3, 1)(n)
    r = CustomScaleLayer(0.17)([n, h])
    output Normalization(mean=0.5, variance=4.0, invert=True)(r)
"""

CASES = {"preprocessing": PREPROCESSING, "arithmetic": ARITHMETIC, "functions": FUNCTIONS, "structure": STRUCTURE, "matmul_broadcast": MATMUL_BROADCAST}


@pytest.mark.parametrize("name", CASES)
def test_shapes_and_names_equal_keras(name):
    ours = crosscheck(CASES[name])
    assert any(n.type in ("add", "matmul", "maximum", "CustomScaleLayer") for n in ours.nodes)


@pytest.mark.parametrize("name", ["preprocessing", "arithmetic", "structure"])
def test_generated_kernels_equal_keras(name):
    codegen_crosscheck(CASES[name], set={"batch": 3})


def test_operation_names_are_kerass():
    """Keras's names (given in statement order), in Keras's order (its functional model's operations)."""
    ours = crosscheck(ARITHMETIC)
    assert sorted(n.name for n in ours.nodes) == sorted(["dense", "multiply", "add", "mean", "subtract", "relu",
                                                         "square", "add_1", "true_divide", "multiply_1",
                                                         "subtract_1", "negative"])
    theirs, _ = build_keras(ours)
    assert [n.name for n in ours.nodes] == [op.name for op in theirs.operations
                                            if not isinstance(op, keras.layers.InputLayer)]
