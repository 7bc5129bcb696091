"""CUDA kernels of tensor arithmetic (analyzer/layers/ops.py) vs the NumPy reference, tiny shapes:
element-wise operations with numbers and broadcasting, reductions (sum/mean/max/min, keepdims, several
axes, a free length), reshape/transpose/concatenate, and matmul with broadcast leading axes."""
import pytest
from cuda_harness import check_case

KERNEL_CASES = {  # name: (whole model, "", --set, bindings of the free sizes): see cuda_harness
    "arithmetic": ("""
model M(batch, T):
    x = input (batch, T, 3)
    g = input (batch, 1, 3)
    y = relu(x - g) * 0.5 + maximum(x, g) / (2.0 + square(g))
    output -sqrt(absolute(y)) + exp(-y)
""", "", {}, [{"T": 2}]),
    "functions": ("""
model M(batch):
    x = input (batch, 2, 3)
    g = input (batch, 1, 3)
    a = maximum(x, g) + minimum(g, 0.25)
    b = sqrt(absolute(a)) + exp(-square(a)) + log(1.5 + sigmoid(a))
    c = tanh(b) * softplus(a) - softsign(a) + silu(a) + elu(a) + selu(a) + hard_sigmoid(a) + relu6(a * 4)
    output divide(c, 2.0 + abs(x)) + gelu(x) - gelu(g, approximate=False)
""", "", {}, [{}]),
    "preprocessing": ("""
model M(batch):
    x = input (batch, 2, 3)
    n = Normalization(mean=(0.485, 0.456, 0.406), variance=(0.052, 0.05, 0.05))(x)
    output CustomScaleLayer(0.17)([n, relu(n)])
""", "", {}, [{}]),
    "reductions": ("""
model M(batch, T):
    x = input (batch, T, 3)
    s = sum(x, axis=-1)
    m = mean(x, axis=1, keepdims=True)
    a = max(x, axis=(1, 2))
    b = min(x, axis=1)
    output s, m, a, b
""", "", {}, [{"T": 2}, {"T": 3, "batch": 1}]),
    "structure": ("""
model M(batch):
    x = input (batch, 2, 3)
    t = transpose(x, (0, 2, 1))
    c = concatenate([t, reshape(x, (-1, 3, 2))], axis=-1)
    output matmul(x, c)
""", "", {}, [{}]),
    "matmul_broadcast": ("""
model M(batch):
    q = input (batch, 2, 2, 3)
    k = input (batch, 1, 3, 2)
    output matmul(q, k)
""", "", {}, [{}]),
}


@pytest.mark.parametrize("name", KERNEL_CASES)
def test_operations(name):
    check_case(KERNEL_CASES[name])
