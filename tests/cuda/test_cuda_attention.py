"""CUDA kernels of MultiHeadAttention vs the NumPy reference, tiny shapes (the simulator is slow):
self-attention across two key blocks is left to the CPU tests; here T = 3, two heads, key_dim 2:
plain self-attention with a free length, and causal cross-attention with a key input, a broadcast
attention_mask and the scores output."""
import pytest
from cuda_harness import check_case

KERNEL_CASES = {  # name: (whole model, "", --set, bindings of the free sizes): see cuda_harness
    "self_attention": ("""
model M(batch, T):
    x = input (batch, T, 3)
    output MultiHeadAttention(2, 2)(x, x)
""", "", {}, [{"T": 3}]),
    "masked_causal_scores": ("""
model M(batch):
    q = input (batch, 3, 2)
    v = input (batch, 3, 3)
    k = input (batch, 3, 2)
    m = input (batch, 1, 3) int32
    y, s = MultiHeadAttention(2, 2, value_dim=1, use_bias=False)(q, v, k, attention_mask=m, use_causal_mask=True, return_attention_scores=True)
    output y, s
""", "", {}, [{"batch": 2}]),
}


@pytest.mark.parametrize("name", KERNEL_CASES)
def test_attention_kernels_match_the_reference(name):
    check_case(KERNEL_CASES[name])
