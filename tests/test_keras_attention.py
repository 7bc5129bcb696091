"""Keras cross-check of MultiHeadAttention: self- and cross-attention, `(q, v, k)`, value_dim and
output_shape, no bias, causal masking, an attention_mask input and the attention scores as a second
output: shapes, weight shapes and counts (crosscheck), and the generated CPU kernels vs Keras predict
(tests/test_reference_attention.py runs the NumPy reference on the same cases)."""
import pytest
import sympy

from keras_harness import codegen_crosscheck, crosscheck

SELF_ATTENTION = """
model M(batch, T=5):
    x = input (batch, T, 8)
    a = MultiHeadAttention(2, 4)(x, x)
    output LayerNormalization()(x + a)
"""

CROSS_ATTENTION = """
model M(batch):
    q = input (batch, 3, 6)
    v = input (batch, 5, 4)
    k = input (batch, 5, 7)
    output MultiHeadAttention(2, 3, value_dim=2, output_shape=5, use_bias=False)(q, v, k)
"""

CAUSAL = """
model M(batch):
    x = input (batch, 6, 8)
    output MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)
"""

MASKED_SCORES = """
model M(batch):
    q = input (batch, 4, 6)
    v = input (batch, 4, 6)
    m = input (batch, 4, 4) int32
    y, s = MultiHeadAttention(3, 2, output_shape=(4,))(q, v, attention_mask=m, return_attention_scores=True, use_causal_mask=True)
    output y, s
"""

SLIDING_WINDOW = """
model M(batch):
    x = input (batch, 7, 8)
    output MultiHeadAttention(2, 4, sliding_window=2)(x, x, use_causal_mask=True)
"""

GROUPED = """
model M(batch, T=5):
    x = input (batch, T, 8)
    a = GroupQueryAttention(4, 4, 2)(x, x)
    output LayerNormalization()(x + a)
"""

GROUPED_CROSS = """
model M(batch):
    q = input (batch, 3, 6)
    v = input (batch, 5, 6)
    k = input (batch, 5, 7)
    output GroupQueryAttention(3, 4, 1, use_bias=False)(q, v, k)
"""

GROUPED_MASKED_SCORES = """
model M(batch):
    x = input (batch, 6, 6)
    m = input (batch, 6, 6) int32
    y, s = GroupQueryAttention(2, 6, 3, sliding_window=3)(x, x, attention_mask=m, return_attention_scores=True)
    output y, s
"""

CASES = {"self_attention": SELF_ATTENTION, "cross_attention": CROSS_ATTENTION, "causal": CAUSAL,
         "masked_scores": MASKED_SCORES, "sliding_window": SLIDING_WINDOW, "grouped": GROUPED,
         "grouped_cross": GROUPED_CROSS, "grouped_masked_scores": GROUPED_MASKED_SCORES}


@pytest.mark.parametrize("name", CASES)
def test_shapes_and_weights_equal_keras(name):
    ours = crosscheck(CASES[name])
    assert any(n.type in ("MultiHeadAttention", "GroupQueryAttention") for n in ours.nodes)


def test_counts_are_formulas_in_the_sizes():
    from shapeproof import analyzer

    node = analyzer.loads(SELF_ATTENTION.replace("T=5", "T")).models["M"].nodes[0]
    # q, k, v and output projections (4·T·8·8), then scores and weighted sum (heads·T²·(key_dim + value_dim))
    assert str(node.macs) == "batch*(16*T**2 + 256*T)"
    assert node.params == 4 * (8 * 2 * 4) + 3 * 2 * 4 + 8
    assert str(node.receptive_field[0]) == "oo"  # every output reads every position


def test_memory_counts_the_score_tensor_and_the_fused_peak_does_not():
    from shapeproof import analyzer

    model = analyzer.loads(SELF_ATTENTION.replace("T=5", "T")).models["M"]
    batch, t = model.values["batch"], model.values["T"]
    # Keras's einsum path holds scores and softmax (batch, 2 heads, T, T) at once: 2·2·T²·4 bytes
    assert sympy.expand(model.peak_activation_bytes - model.fused_peak_bytes) == 16 * batch * t ** 2
    assert sympy.degree(model.fused_peak_bytes, t) == 1  # the fused kernels: O(T)
    grouped = analyzer.loads(GROUPED.replace("T=5", "T")).models["M"]
    # q (T·4·4) + k, v (T·2·4 each) + per-head output (T·4·4) floats inside, input and output (T·8) beside
    assert sympy.expand(grouped.fused_peak_bytes.subs(batch, 1)) == 4 * (16 + 8 + 8 + 16 + 8 + 8) * t


LONG = """
model M(batch):
    x = input (batch, 2048, 16)
    output MultiHeadAttention(2, 8)(x, x, use_causal_mask=CAUSAL)
"""


@pytest.mark.parametrize("causal", [False, pytest.param(True, marks=pytest.mark.full)])
def test_long_sequences_equal_keras_and_float64(causal):
    """T = 2048: rows of 2048 softmax terms, each sum taken relative to the row's running maximum.
    Keras and the generated kernels both within 1e-4 of a float64 reference, and of each other."""
    import numpy as np

    from keras_harness import keras_setup, relative_error
    from shapeproof import codegen

    ours, keras_model, _, weights, inputs = keras_setup(LONG.replace("CAUSAL", str(causal)), None, None, 1, 0)
    x = inputs[0] * 4  # peaked softmax rows: scores spread over tens of units
    theirs = keras_model.predict(x, verbose=0)
    exact = ours.nodes[0].layer.reference([x.astype(np.float64)] * 2, [w.astype(np.float64) for w in weights])
    net = codegen.build(ours, parallel=False)
    net.set_weights(weights)
    mine = net(x)
    assert relative_error(theirs, exact) <= 1e-4
    assert relative_error(mine, exact) <= 1e-5, relative_error(mine, exact)
    assert relative_error(mine, theirs) <= 1e-4


@pytest.mark.parametrize("name", ["self_attention", "masked_scores", "grouped", "grouped_masked_scores"])  # others: reference + CPU tests
def test_generated_kernels_equal_keras(name):
    codegen_crosscheck(CASES[name], set={"batch": 3})


def test_exported_python_calls_the_layer_as_the_spec_does():
    import keras

    from shapeproof import analyzer
    from shapeproof.keras.export import python_source

    ours = analyzer.loads(MASKED_SCORES).models["M"]
    text = python_source(ours)
    assert "(q, v, attention_mask=m, return_attention_scores=True, use_causal_mask=True)" in text, text
    scope: dict = {}
    exec(compile(text, "<export>", "exec"), scope)
    model = scope["model"]
    assert isinstance(model, keras.Model) and model.count_params() == int(ours.total_params)
