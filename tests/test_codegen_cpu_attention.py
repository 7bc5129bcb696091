"""Generated CPU kernels of MultiHeadAttention vs the NumPy reference: the fused online-softmax core
with a key block boundary inside the sequence (T = 70 > KEY_BLOCK), causal masking with query blocks
(T_q = 20 > QUERY_BLOCK), cross-attention with a key input and an attention_mask, the scores output."""
from codegen_harness import check_generated

SELF = """
model M(batch, T):
    x = input (batch, T, 6)
    output MultiHeadAttention(2, 3)(x, x)
"""

CAUSAL = """
model M(batch, T):
    x = input (batch, T, 4)
    output MultiHeadAttention(2, 2, value_dim=3, output_shape=5, use_bias=False)(x, x, use_causal_mask=True)
"""

MASKED = """
model M(batch):
    q = input (batch, 5, 4)
    v = input (batch, 7, 3)
    k = input (batch, 7, 2)
    m = input (batch, 1, 7) int32
    y, s = MultiHeadAttention(2, 2)(q, v, k, attention_mask=m, return_attention_scores=True, use_causal_mask=True)
    output y, s
"""


def test_self_attention_across_key_blocks():
    check_generated(SELF, sizes=[{"T": 70}, {"T": 3, "batch": 1}])


def test_causal_skips_blocks_and_matches():
    check_generated(CAUSAL, sizes=[{"T": 20}, {"T": 70, "batch": 1}])


def test_cross_attention_with_mask_and_scores():
    check_generated(MASKED, sizes=[{"batch": 3}])
