"""Keras cross-check of Attention, AdditiveAttention and Dot: dot and concat scores with and without
scale, a key input, causal masking, Keras's mask=[query_mask, value_mask] (int 0/1 inputs, either
None) and the scores output; Dot over an int and a pair of axes, with
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

MASKED_DOT_SCORES = """
model M(batch):
    q = input (batch, 3, 4)
    v = input (batch, 5, 2)
    k = input (batch, 5, 4)
    qm = input (batch, 3) int32
    vm = input (batch, 5) int8
    y, s = Attention()([q, v, k], mask=[qm, vm], return_attention_scores=True)
    output y, s
"""

MASKED_CONCAT_CAUSAL = """
model M(batch):
    q = input (batch, 4, 3)
    v = input (batch, 4, 3)
    vm = input (batch, 4) int32
    output Attention(use_scale=True, score_mode="concat")([q, v], mask=[None, vm], use_causal_mask=True)
"""

MASKED_QUERY_ADDITIVE = """
model M(batch):
    q = input (batch, 3, 4)
    v = input (batch, 5, 2)
    k = input (batch, 5, 4)
    qm = input (batch, 3) int32
    y, s = AdditiveAttention()([q, v, k], mask=[qm, None], return_attention_scores=True)
    output y, s
"""

MASKED_ADDITIVE_CAUSAL = """
model M(batch):
    x = input (batch, 4, 3)
    m = input (batch, 4) int32
    output AdditiveAttention(use_scale=False)([x, x], mask=[m, m], use_causal_mask=True)
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
         "additive": ADDITIVE, "additive_unscaled": ADDITIVE_UNSCALED, "masked_dot_scores": MASKED_DOT_SCORES,
         "masked_concat_causal": MASKED_CONCAT_CAUSAL, "masked_query_additive": MASKED_QUERY_ADDITIVE,
         "masked_additive_causal": MASKED_ADDITIVE_CAUSAL, "dot": DOT}


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


def test_masks_are_inputs_after_the_list():
    from shapeproof import analyzer

    nodes = analyzer.loads(MASKED_DOT_SCORES + MASKED_CONCAT_CAUSAL.replace("model M", "model N")
                           + MASKED_QUERY_ADDITIVE.replace("model M", "model P"))
    masked, value_only, query_only = (nodes.models[m].nodes[0] for m in "MNP")
    assert masked.layer.call_inputs == ("query_mask", "value_mask")
    assert [str(s) for s in masked.input_shapes] == ["(batch, 3, 4)", "(batch, 5, 2)", "(batch, 5, 4)", "(batch, 3)",
                                                       "(batch, 5)"]
    assert value_only.layer.call_inputs == ("value_mask",) and query_only.layer.call_inputs == ("query_mask",)
    assert masked.text.endswith("([q, v, k], mask=[qm, vm], return_attention_scores=True)")
    # the masks change neither the shapes nor the counts
    plain = analyzer.loads(MASKED_DOT_SCORES.replace("mask=[qm, vm], ", "")).models["M"].nodes[0]
    assert (masked.output_shapes, masked.macs, masked.params) == (plain.output_shapes, plain.macs, plain.params)


def test_mask_receptive_fields():
    """An output row reads the query mask at its own position and the whole value mask row."""
    from shapeproof import analyzer

    def rf(line):
        src = ("model M(batch):\n    x = input (batch, 6, 2)\n    qm = input (batch, 6) int32\n"
               "    vm = input (batch, 6) int32\n" + line)
        return [str(s) for s in analyzer.loads(src).models["M"].nodes[-1].receptive_field]

    # state: x's axis, qm's, vm's
    assert rf("    Attention()([x, x], mask=[qm, None])\n") == ["oo", "1", "0"]
    assert rf("    Attention()([Dense(2)(x), Dense(2)(x)], mask=[None, vm])\n") == ["oo", "0", "oo"]


@pytest.mark.parametrize("mask, at, message", [
    ("mask=[qm, vm, vm]", "vm]", "mask= is a list of 2, [query_mask, value_mask], got 3 items"),
    ("mask=[qm]", "[qm]", "mask= is a list of 2"),
    ("mask=qm", "qm)", "mask= is a list of 2"),
    ("mask=[q, vm]", "Attention", "query_mask is (batch, T_q), got rank 3"),
    ("mask=[qm, q]", "Attention", "value_mask is (batch, T_k), got rank 3"),
    ("mask=[vm, vm]", "Attention", "axis 1"),
    ("mask=[None, qm]", "Attention", "axis 1"),
])
def test_bad_masks_are_located_errors(mask, at, message):
    from shapeproof import analyzer
    from shapeproof.analyzer.errors import ShapeproofError

    line = f"    y = Attention()([q, v], {mask})"
    src = ("model M(batch):\n    q = input (batch, 3, 4)\n    v = input (batch, 5, 4)\n"
           "    qm = input (batch, 3) int32\n    vm = input (batch, 5) int32\n"
           + line + "\n")
    with pytest.raises(ShapeproofError) as info:
        analyzer.loads(src, file="bad.nn")
    e = info.value
    assert message in e.message, e.message
    assert (e.span.line, e.span.column) == (6, 1 + line.rindex(at) if at.endswith(("]", ")")) else 1 + line.index(at))


@pytest.mark.parametrize("name", ["concat_causal_scores", "additive", "dot", "masked_dot_scores",
                                  "masked_concat_causal", "masked_query_additive", "masked_additive_causal"])
def test_generated_kernels_equal_keras(name):
    codegen_crosscheck(CASES[name], set={"batch": 3})


def test_fully_masked_rows_equal_keras():
    """Edge rows, fixed masks: a batch row whose value mask is all zeros (every score minus 1e9: Keras's
    softmax is then uniform, not zeros), a zero query mask (an output row of zeros; the scores output
    keeps its softmax), causal and value masks together: the NumPy reference and the CPU kernels equal
    Keras predict."""
    import numpy as np

    from keras_harness import assert_close, keras_setup
    from shapeproof import codegen
    from shapeproof.analyzer.reference import forward

    source = MASKED_DOT_SCORES.replace(
        "    output y, s", "    c = Attention()([q, k], mask=[qm, vm], use_causal_mask=True)\n    output y, s, c")
    ours, keras_model, _, weights, inputs = keras_setup(source, None, None, 3, 1)
    inputs[3][:] = [[1, 0, 1], [0, 0, 0], [1, 1, 1]]
    inputs[4][:] = [[0, 0, 0, 0, 0], [1, 0, 1, 0, 1], [0, 1, 1, 0, 1]]
    theirs = keras_model.predict(inputs, verbose=0)
    assert np.allclose(theirs[1][0], 0.2) and not theirs[0][0, 1].any() and not theirs[0][1].any()
    assert_close(forward(ours, weights, *inputs), theirs, 1e-5, "reference")
    net = codegen.build(ours, parallel=False)
    net.set_weights(weights)
    assert_close(list(net(*inputs)), theirs, 1e-5, "CPU kernels")
