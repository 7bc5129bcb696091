"""Keras cross-check of Attention, AdditiveAttention and Dot: dot and concat scores with and without
scale, a key input, causal masking and the scores output; Dot over an int and a pair of axes, with
normalize, on rank 2 and 3: shapes, weight shapes and counts (crosscheck), and the generated CPU
kernels vs Keras predict (tests/test_reference_attention_layers.py runs the NumPy reference)."""
import pytest

from keras_harness import codegen_crosscheck, crosscheck

DOT_ATTENTION = """
model M(batch, T=5):
    q = input (batch, T, 4)
    v = input (batch, 6, 3)
    output Attention()([q, v, Dense(4)(v)])
"""

CONCAT_CAUSAL_SCORES = """
model M(batch):
    q = input (batch, 4, 3)
    v = input (batch, 4, 3)
    y, s = Attention(use_scale=True, score_mode="concat")([q, v], use_causal_mask=True, return_attention_scores=True)
    output y, s
"""

SCALED_SELF = """
model M(batch):
    x = input (batch, 5, 4)
    output Attention(use_scale=True)([x, x], use_causal_mask=True)
"""

ADDITIVE = """
model M(batch):
    q = input (batch, 3, 4)
    v = input (batch, 5, 2)
    k = input (batch, 5, 4)
    y, s = AdditiveAttention()([q, v, k], return_attention_scores=True)
    output y, s
"""

ADDITIVE_UNSCALED = """
model M(batch):
    x = input (batch, 4, 3)
    output AdditiveAttention(use_scale=False)([x, x], use_causal_mask=True)
"""

DOT = """
model M(batch):
    a = input (batch, 4, 3)
    b = input (batch, 5, 3)
    c = input (batch, 4)
    d = Dot(axes=2)([a, b])
    e = Dot(axes=(1, 1), normalize=True)([a, Dense(2)(a)])
    f = Dot(-1)([c, Dense(4)(c)])
    g = Dot(axes=(1, 1))([c, a])
    output d, e, f, g
"""

CASES = {"dot_attention": DOT_ATTENTION, "concat_causal_scores": CONCAT_CAUSAL_SCORES, "scaled_self": SCALED_SELF,
         "additive": ADDITIVE, "additive_unscaled": ADDITIVE_UNSCALED, "dot": DOT}


@pytest.mark.parametrize("name", CASES)
def test_shapes_and_weights_equal_keras(name):
    ours = crosscheck(CASES[name])
    assert any(n.type in ("Attention", "AdditiveAttention", "Dot") for n in ours.nodes)


def test_counts_are_formulas_in_the_sizes():
    from shapeproof import analyzer

    nodes = analyzer.loads(DOT_ATTENTION.replace("T=5", "T")).models["M"].nodes
    node = [n for n in nodes if n.type == "Attention"][0]
    assert str(node.macs) == "42*T*batch"  # T·6 pairs, 4 products each for scores, 3 for the sum
    assert node.params == 0
    additive = analyzer.loads(ADDITIVE).models["M"].nodes[0]
    assert additive.params == 4  # scale, one per feature


def test_mask_is_refused_with_a_located_error():
    from shapeproof import analyzer
    from shapeproof.analyzer.errors import ShapeproofError

    with pytest.raises(ShapeproofError, match="mask= call argument is not supported"):
        analyzer.loads(SCALED_SELF.replace("use_causal_mask=True", "mask=x"))


@pytest.mark.parametrize("name", ["concat_causal_scores", "additive", "dot"])
def test_generated_kernels_equal_keras(name):
    codegen_crosscheck(CASES[name], set={"batch": 3})
