"""CUDA kernels of Attention, AdditiveAttention and Dot vs the NumPy reference, tiny shapes (the
simulator is slow): scaled dot and concat scores with causal masking and the scores output, a key
input, additive scores, mask=[query_mask, value_mask] (either None, with causal masking and the scores
output), Dot on ranks 2 and 3 with and without normalize."""
import pytest
from cuda_harness import check_case

KERNEL_CASES = {  # name: (whole model, "", --set, bindings of the free sizes): see cuda_harness
    "attention": ("""
model M(batch, T):
    q = input (batch, T, 2)
    v = input (batch, 3, 2)
    a = Attention(use_scale=True)([q, v])
    y, s = Attention(use_scale=True, score_mode="concat")([q, v, v], use_causal_mask=True, return_attention_scores=True)
    output a, y, s
""", "", {}, [{"T": 2}]),
    "additive": ("""
model M(batch):
    q = input (batch, 2, 2)
    v = input (batch, 3, 1)
    k = input (batch, 3, 2)
    output AdditiveAttention()([q, v, k], use_causal_mask=True)
""", "", {}, [{"batch": 2}]),
    "masked": ("""
model M(batch):
    q = input (batch, 3, 2)
    v = input (batch, 3, 1)
    qm = input (batch, 3) int32
    vm = input (batch, 3) int8
    y, s = Attention(score_mode="concat")([q, v, q], mask=[qm, vm], use_causal_mask=True, return_attention_scores=True)
    a = AdditiveAttention()([q, v, q], mask=[None, vm])
    d = Attention()([q, q], mask=[qm, None])
    output y, s, a, d
""", "", {}, [{"batch": 4}]),
    "dot": ("""
model M(batch):
    a = input (batch, 2, 3)
    c = input (batch, 2)
    d = Dot(axes=2)([a, a])
    e = Dot(axes=(1, 1), normalize=True)([c, a])
    f = Dot(-1)([c, c])
    output d, e, f
""", "", {}, [{"batch": 2}]),
}


@pytest.mark.parametrize("name", KERNEL_CASES)
def test_attention_layer_kernels_match_the_reference(name):
    check_case(KERNEL_CASES[name])
