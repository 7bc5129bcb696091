"""Generated CPU kernels of tensor arithmetic vs the NumPy reference: every element-wise function (one
flat loop and the broadcasting loop nest), reductions over one and several axes with a free length,
and matmul with broadcast leading axes."""
from codegen_harness import check_generated

ELEMENTWISE = """
model M(batch, T):
    x = input (batch, T, 5)
    g = input (batch, 1, 5)
    a = maximum(x, g) + minimum(g, 0.25)
    b = sqrt(absolute(a)) + exp(-square(a)) + log(1.5 + sigmoid(a))
    c = tanh(b) * softplus(a) - softsign(a) + silu(a) + elu(a) + selu(a) + hard_sigmoid(a) + relu6(a * 4)
    output divide(c, 2.0 + abs(x)) - relu(x) / 3 + gelu(x) - gelu(g, approximate=False)
"""

REDUCTIONS = """
model M(batch, T):
    x = input (batch, T, 3, 4)
    s = sum(x, axis=(1, 3))
    m = mean(x, axis=-1, keepdims=True)
    a = max(x, axis=1)
    b = min(x, axis=(1, 2), keepdims=True)
    output s, m, a, b
"""

PREPROCESSING = """
model M(batch, H):
    x = input (batch, H, 2, 3)
    n = Normalization(mean=(0.485, 0.456, 0.406), variance=(0.052, 0.05, 0.05))(x)
    output CustomScaleLayer(0.17)([n, relu(n)])
"""

MATMUL = """
model M(batch):
    q = input (batch, 2, 3, 4)
    k = input (batch, 1, 4, 5)
    output matmul(q, k)
"""


def test_elementwise_operations():
    check_generated(ELEMENTWISE, sizes=[{"T": 3}, {"T": 1, "batch": 1}])


def test_reductions():
    check_generated(REDUCTIONS, sizes=[{"T": 2}, {"T": 5, "batch": 1}])


def test_listed_normalization_and_custom_scale():
    check_generated(PREPROCESSING, sizes=[{"H": 3}])


def test_matmul_broadcasts_leading_axes():
    check_generated(MATMUL)
