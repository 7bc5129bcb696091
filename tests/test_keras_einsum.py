"""Keras cross-check of EinsumDense: the equations of Keras's own layers (Dense-like, MultiHeadAttention's
projections, GroupedQueryAttention's), the ellipsis forms, per-position weights, an input axis summed
without the kernel, a transposed output, bias spans with 1s, activations; T symbolic. Shapes, weight
shapes and counts (crosscheck), counts as formulas, located errors for what Keras refuses (or we do),
and the generated CPU kernels vs Keras predict (tests/test_reference_einsum.py runs the NumPy reference)."""
import pytest

from keras_harness import codegen_crosscheck, crosscheck

from shapeproof import analyzer
from shapeproof.analyzer.errors import ShapeproofError

# Dense-like on a sequence (output_shape None where the input gives the size), MultiHeadAttention's
# projections and output, a rank-4 contraction of two axes.
PROJECTIONS = """
model M(batch, T):
    x = input (batch, T, 8)
    a = EinsumDense("abc,cd->abd", output_shape=(None, 6), bias_axes="d")(x)
    q = EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de", name="query")(x)
    o = EinsumDense("abcd,cde->abe", output_shape=(None, 5), bias_axes="e", activation="relu")(q)
    output a, o
"""

# GroupedQueryAttention's equations, and a bias over the last kernel axis only (shape (3,)) and over
# the first (shape (2, 1)).
GROUPED = """
model M(batch, T):
    x = input (batch, T, 4)
    q = EinsumDense("bqm,muh->bquh", output_shape=(None, 2, 3), bias_axes="uh")(x)
    k = EinsumDense("bkm,mvh->bkvh", output_shape=(None, 2, 3), bias_axes="h")(x)
    v = EinsumDense("bkm,mvh->bkvh", output_shape=(None, 2, 3), bias_axes="v", activation="tanh")(x)
    y = EinsumDense("bquh,uhm->bqm", output_shape=(None, 4))(q)
    output y, k, v
"""

# The ellipsis on the left (rank 2 and rank 3 inputs, no ellipsis axis but the batch) and on the right.
ELLIPSIS = """
model M(batch, T):
    x = input (batch, T, 6)
    f = input (batch, 6)
    a = EinsumDense("...b,bc->...c", output_shape=4, bias_axes="c")(x)
    b = EinsumDense("...b,bc->...c", output_shape=(3,), activation="softmax")(f)
    c = EinsumDense("...ab,bc->...ac", output_shape=(None, 5), bias_axes="c")(x)
    d = EinsumDense("ab...,bc->ac...", output_shape=(4,), bias_axes="c")(x)
    output a, b, c, d
"""

# Letters the GEMM form cannot take: per-position weights (b in the input, the kernel and the output),
# an input axis summed without the kernel, an output with the kernel's axis before the input's.
GENERAL = """
model M(batch, T):
    x = input (batch, T, 6)
    a = EinsumDense("abc,bcd->abd", output_shape=(T, 4), bias_axes="bd")(x)
    b = EinsumDense("abc,d->abd", output_shape=(T, 3))(x)
    c = EinsumDense("abc,cd->adb", output_shape=(5, T), bias_axes="d", activation="sigmoid")(x)
    d = EinsumDense("abc,cde->abde", output_shape=(T, 2, 3), bias_axes="d")(x)
    output a, b, c, d
"""

# Rank 2, as Keras's docstring example; a softmax over the last of two kernel axes.
PLAIN = """
model M(batch, T):
    x = input (batch, 7)
    a = EinsumDense("ab,bc->ac", output_shape=5, bias_axes="c", activation="gelu")(x)
    b = EinsumDense("ab,bcd->acd", output_shape=(2, 3), bias_axes="cd", activation="softmax")(a)
    output b
"""

CASES = {"projections": PROJECTIONS, "grouped": GROUPED, "ellipsis": ELLIPSIS, "general": GENERAL, "plain": PLAIN}
SET = {"T": 5}


def crosscheck_none(source: str):
    """crosscheck, except for output_shape's None: Keras's symbolic shape keeps None where the spec
    wrote None (its compute_output_shape is the partial output shape), where predict and we have the
    input's size (tests/test_reference_einsum.py compares the real arrays)."""
    import keras_harness

    real = keras_harness.keras_shape
    ours = analyzer.loads(source, set=SET).models["M"]
    _, layers = keras_harness.build_keras(ours)
    expected = {}
    for node in ours.nodes:
        layer, outs = layers[node.name]
        expected[node.name] = [tuple(t.shape) for t in outs]
    for node in ours.nodes:
        for got, theirs in zip((real(s) for s in node.output_shapes), expected[node.name], strict=True):
            assert len(got) == len(theirs) and all(k is None or k == g for g, k in zip(got, theirs)), \
                f"{node.name}: {got} != Keras {theirs}"
    return ours


@pytest.mark.parametrize("name", CASES)
def test_shapes_and_weights_equal_keras(name):
    if "None" in CASES[name]:
        crosscheck_none(CASES[name])
        # weights and counts: the same spec with the sizes written out (Keras's shapes then agree too)
        source = CASES[name].replace("(None, ", "(T, ")
    else:
        source = CASES[name]
    ours = crosscheck(source, set=SET)
    assert any(n.type == "EinsumDense" for n in ours.nodes)


def test_counts_are_formulas_in_the_sizes():
    nodes = {n.name: n for n in analyzer.loads(PROJECTIONS).models["M"].nodes}
    assert str(nodes["einsum_dense"].macs) == "48*T*batch" and nodes["einsum_dense"].params == 54
    assert str(nodes["query"].macs) == "48*T*batch" and nodes["query"].params == 8 * 6 + 6
    assert str(nodes["einsum_dense_1"].macs) == "30*T*batch"  # 6 summed (c, d) per output element
    general = {n.name: n for n in analyzer.loads(GENERAL).models["M"].nodes}
    assert str(general["einsum_dense"].params) == "28*T"  # kernel (T, 6, 4), bias (T, 4)
    assert [tuple(map(str, w.shape)) for w in general["einsum_dense_3"].weights] == [("6", "2", "3"), ("2", "1")]
    assert str(general["einsum_dense_1"].macs) == "18*T*batch"  # c summed without the kernel
    right = analyzer.loads(ELLIPSIS).models["M"].nodes[3]
    assert [tuple(map(str, w.shape)) for w in right.weights] == [("T", "4"), ("4", "1")]
    assert tuple(map(str, right.output_shape)) == ("batch", "4", "6")


ERRORS = [
    ('"abc,cd->abd", (None, 4), bias_axes="x"', "bias axis 'x' is not a letter of the output", "bias_axes"),
    ('"abc,ce->abd", (None, 4)', "output letter 'd'", "equation"),
    ('"abc,cde->abd", (None, 4)', "kernel letter 'e'", "equation"),
    ('"aac,cd->ad", (4,)', "letter 'a' appears twice", "equation"),
    ('"ab.c,cd->abd", (None, 4)', "invalid einsum equation", "equation"),
    ('"...bc,cd->abd", (None, 4)', "invalid einsum equation", "equation"),
    ('"abc,cd->abd", (None, 4, 2)', "has 3 entries", "output_shape"),
    ('"abc,cd->abd", (None, None)', "takes its size from output_shape, which gives None", "output_shape"),
    ('"abc,bcd->abd", (None, 4)', "kernel axis 'b' takes its size from output_shape", "output_shape"),
    ('"abc,cd->abd", (None, 4), bias_axes="b"', "bias axis 'b' takes its size", "output_shape"),
    ('"abc,cd->abd", (9, 4)', "output_shape gives 9 for 'b' but the input has 5", "output_shape"),
    ('"abc,cd->abd", (None, 4), bias_axes="a"', "would be the batch axis", "bias_axes"),
    ('"abc,cd->bad", (None, 4)', "must start with it", "equation"),
    ('"abcd,de->abe", (None, 4)', "has 4 axes but the input", "equation"),
    ('"abc,cd->abd", (None, 4), bias_axes=""', "non-empty string", "bias_axes"),
    ('"abc,cd->abd", (None, 0)', "must be positive", "output_shape"),
]


@pytest.mark.parametrize("args, message, at", ERRORS)
def test_refused_with_a_located_error(args, message, at):
    source = f"model M(batch):\n    x = input (batch, 5, 8)\n    EinsumDense({args})(x)\n"
    with pytest.raises(ShapeproofError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        analyzer.loads(source)
    line = source.splitlines()[2]
    span = e.value.span
    assert span is not None and span.line == 3
    where = line[span.column - 1:span.end_column - 1]
    assert where.startswith(at) or (at == "equation" and where.startswith('"')) or \
        (at == "output_shape" and where.startswith("(")), (where, at)


@pytest.mark.parametrize("name", ["projections", "general"])
def test_generated_kernels_equal_keras(name):
    codegen_crosscheck(CASES[name].replace("(None, ", "(T, "), set={"batch": 3, **SET})


def test_dense_form_runs_dense_gemm_and_others_loop():
    from shapeproof import codegen

    text = codegen.generate(analyzer.loads(PROJECTIONS, set=SET).models["M"], "cpu")
    assert "kernel2d = kernel.reshape(8, 6)" in text and "bias1d = bias.reshape(6)" in text
    text = codegen.generate(analyzer.loads(GENERAL, set=SET).models["M"], "cpu")
    assert "for s_c in range(6)" in text


def test_receptive_field_moves_kept_axes_and_mixes_summed_ones():
    source = """
model R(batch, T):
    x = input (batch, T, 4)
    h = Conv1D(4, 3)(x)
    a = EinsumDense("abc,cd->adb", output_shape=(5, None))(h)
    b = Conv1D(2, 3)(a)
    c = EinsumDense("abc,cd->abd", output_shape=(None, 3))(h)
    d = Conv1D(2, 3)(c)
    e = EinsumDense("abc,bd->adc", output_shape=(2, None))(h)
    output b, d, e
"""
    rf = {n.name: [str(s) for s in n.receptive_field] for n in analyzer.loads(source).models["R"].nodes}
    assert rf["einsum_dense"] == ["3"]  # T moved to the last axis, each output still reads 3 steps
    assert rf["conv1d_1"] == ["oo"]  # ... which a convolution then mixes as its channels
    assert rf["conv1d_2"] == ["5"]  # T kept in place: windows compose
    assert rf["einsum_dense_2"] == ["oo"]  # T summed
