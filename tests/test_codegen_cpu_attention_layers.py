"""Generated CPU kernels of Attention, AdditiveAttention and Dot vs the NumPy reference: free
lengths, a key input, causal masking, concat scores with the scores output, mask=[query_mask,
value_mask] on free lengths (either None), Dot on ranks 2 and 3."""
from codegen_harness import check_generated

ATTENTION = """
model M(batch, T):
    q = input (batch, T, 4)
    v = input (batch, 6, 3)
    k = input (batch, 6, 4)
    a = Attention(use_scale=True)([q, v, k])
    y, s = Attention(use_scale=True, score_mode="concat")([q, q], use_causal_mask=True, return_attention_scores=True)
    output a, y, s
"""

ADDITIVE = """
model M(batch, T):
    x = input (batch, T, 3)
    v = input (batch, T, 2)
    a = AdditiveAttention()([x, v, x], use_causal_mask=True)
    output a + AdditiveAttention(use_scale=False)([x, v, x])
"""

MASKED = """
model M(batch, T, S):
    q = input (batch, T, 4)
    v = input (batch, S, 3)
    k = input (batch, S, 4)
    qm = input (batch, T) int32
    vm = input (batch, S) int32
    a = Attention(use_scale=True)([q, v, k], mask=[qm, vm])
    y, s = AdditiveAttention()([q, v, k], mask=[None, vm], use_causal_mask=True, return_attention_scores=True)
    c = Attention(score_mode="concat")([q, q], mask=[qm, None])
    output a, y, s, c
"""

DOT = """
model M(batch):
    a = input (batch, 4, 3)
    b = input (batch, 5, 3)
    c = input (batch, 4)
    d = Dot(axes=2)([a, b])
    e = Dot(axes=(1, 1), normalize=True)([a, c])
    f = Dot(-1, normalize=True)([c, c])
    g = Dot(axes=(1, 1))([c, a])
    output d, e, f, g
"""


def test_attention_kernels():
    check_generated(ATTENTION, sizes=[{"T": 5}, {"T": 1, "batch": 1}])


def test_additive_attention_kernels():
    check_generated(ADDITIVE, sizes=[{"T": 4}])


def test_masked_attention_kernels():
    check_generated(MASKED, sizes=[{"T": 3, "S": 5}, {"T": 1, "S": 2, "batch": 1}])


def test_dot_kernels():
    check_generated(DOT, sizes=[{"batch": 3}])
