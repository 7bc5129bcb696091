"""Unit tests of the pooling layers: shapes, receptive fields, constraints and errors; max pooling's
element formula against its reference, and the proofs its normal form (flat Max) makes possible."""
import numpy as np
import pytest
import sympy
from equivalence_harness import formula_outputs

from shapeproof import analyzer
from shapeproof.analyzer.equivalence import decide
from shapeproof.analyzer.equivalence.ranges import Ranges, Sizes
from shapeproof.analyzer.equivalence.rewrite import Normalizer
from shapeproof.analyzer.indexing import same_size
from shapeproof.analyzer.reference import forward
from shapeproof.analyzer.values import symbol
from test_layers_conv import B, fails, node, nodes, same_shape

T, H, W = symbol("T"), symbol("H"), symbol("W")


@pytest.mark.parametrize("kind", ["MaxPooling1D", "AveragePooling1D"])
def test_pooling1d_symbolic(kind):
    n = node(f"input (batch, T, 5)\n{kind}(3, strides=2)", "batch, T")
    assert same_shape(n.output_shape, (B, sympy.floor((T - 3) / 2) + 1, 5))
    assert (n.params, n.macs) == (0, 0)
    assert [str(c.condition) for c in n.constraints] == ["T >= 3"]
    n = node(f'input (batch, T, 5)\n{kind}(3, strides=2, padding="same")', "batch, T")
    assert same_shape(n.output_shape, (B, sympy.floor((T - 1) / 2) + 1, 5))
    assert n.constraints == []


def test_strides_default_to_pool_size():
    assert node("input (batch, 7, 3)\nMaxPooling1D()").output_shape == (B, 3, 3)
    assert node("input (batch, 7, 11, 3)\nMaxPooling2D((2, 3), strides=None)").output_shape == (B, 3, 3, 3)
    n = node("input (batch, H, W, 3)\nAveragePooling2D((2, 3))", "batch, H, W")
    assert same_shape(n.output_shape, (B, sympy.floor((H - 2) / 2) + 1, sympy.floor((W - 3) / 3) + 1, 3))


def test_pooling3d_and_uneven_strides():
    n = node('input (batch, 9, 8, 7, 2)\nMaxPooling3D((2, 1, 3), strides=(1, 2, 4), padding="same")')
    assert n.output_shape == (B, 9, 4, 2, 2)
    n = node("input (batch, 9, 8, 7, 2)\nAveragePooling3D(pool_size=(3, 2, 2), strides=(2, 3, 1))")
    assert n.output_shape == (B, 4, 3, 6, 2)


def test_pooling_receptive_field():
    n = nodes("input (batch, 32, 32, 1)\nMaxPooling2D()\nAveragePooling2D(3, strides=1)\nMaxPooling2D((2, 1))")
    # 2 (jump 2), then 2 + 2*2 = 6 (jump 2), then 6 + 1*2 = 8 / 6 + 0 = 6
    assert [list(x.receptive_field) for x in n] == [[2, 2], [6, 6], [8, 6]]


def test_pooling_errors():
    e = fails("input (batch, 2, 7, 3)\nMaxPooling2D(pool_size=3)")
    assert "at least 3 positions on axis 1" in e.message and e.span.column > 17
    assert 'padding="same"' in e.hint
    assert node('input (batch, 2, 7, 3)\nMaxPooling2D(3, padding="same")').output_shape == (B, 1, 3, 3)
    e = fails('input (batch, 8, 3)\nMaxPooling1D(padding="SAME")')
    assert "'SAME'" in e.message and "same" in e.hint  # Keras compares padding as written
    assert "pool_size" in fails("input (batch, 8, 3)\nAveragePooling1D()").message  # no default in Keras
    assert "at least 1" in fails("input (batch, 8, 3)\nMaxPooling1D(2, strides=0)").message
    assert "channels_last" in fails('input (batch, 8, 3)\nMaxPooling1D(data_format="channels_first")').message
    e = fails("input (batch, 8, 8, 3)\nMaxPooling1D()")
    assert "rank-3" in e.message and "MaxPooling2D" in e.hint and "TimeDistributed" in e.hint


@pytest.mark.parametrize("kind", ["GlobalMaxPooling", "GlobalAveragePooling"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_global_pooling(kind, rank):
    spatial = ", ".join(["T"] * rank)
    n = node(f"input (batch, {spatial}, 6)\n{kind}{rank}D()", "batch, T")
    assert n.output_shape == (B, 6)
    assert list(n.receptive_field) == [sympy.oo] * rank
    n = node(f"input (batch, {spatial}, 6)\n{kind}{rank}D(keepdims=True)", "batch, T")
    assert n.output_shape == (B, *[1] * rank, 6)
    assert (n.params, n.macs, n.constraints) == (0, 0, [])


def test_global_pooling_positional_args_and_errors():
    assert node("input (batch, 5, 6)\nGlobalAveragePooling1D(None, True)").output_shape == (B, 1, 6)
    e = fails("input (batch, 5, 5, 6)\nGlobalAveragePooling1D()")
    assert "GlobalAveragePooling2D" in e.hint
    assert "True or False" in fails("input (batch, 5, 6)\nGlobalMaxPooling1D(keepdims=1)").message


# --- max pooling's element formula, and what the prover does with it -----------------------------

MAX_POOLS = {
    "valid": ("(2, 7, 2)", "MaxPooling1D(2)"),
    "strides_below_pool": ("(2, 7, 2)", "MaxPooling1D(3, strides=2)"),
    "same_strided": ("(2, 7, 2)", 'MaxPooling1D(3, strides=2, padding="same")'),
    "same_uneven": ("(2, 7, 2)", 'MaxPooling1D(4, strides=3, padding="same")'),
    "same_stride1": ("(2, 6, 2)", 'MaxPooling1D(2, strides=1, padding="same")'),
    "2d_same": ("(1, 5, 6, 2)", 'MaxPooling2D((3, 2), strides=(2, 3), padding="same")'),
    "3d_same": ("(1, 5, 4, 3, 2)", 'MaxPooling3D((2, 1, 3), strides=(1, 2, 2), padding="same")'),
    "3d_valid": ("(1, 5, 4, 3, 2)", "MaxPooling3D()"),
}


@pytest.mark.parametrize("name", MAX_POOLS)
def test_max_pooling_formula_matches_reference(name):
    """The formula reads -inf in the padding, as the reference (and Keras) do: zeros would win over
    negative inputs at the border."""
    shape, layer = MAX_POOLS[name]
    model = analyzer.loads(f"model M():\n    input {shape}\n    {layer}\n").models["M"]
    x = np.random.default_rng(1).normal(size=tuple(int(d) for d in model.inputs[0].shape)) - 1.0
    np.testing.assert_array_equal(formula_outputs(model, [], x), forward(model, [], x, dtype=np.float64))


def decide_pair(a: str, b: str, inputs: str = "(batch, T, 3)"):
    source = "".join(f"model {name}(batch, T):\n    input {inputs}\n" + "".join(f"    {l}\n" for l in layers.split("; "))
                     for name, layers in (("A", a), ("B", b)))
    models = analyzer.loads(source).models
    return decide(models["A"], models["B"])


@pytest.mark.parametrize("a, b, inputs, rules", [
    ("MaxPooling1D(2); MaxPooling1D(2)", "MaxPooling1D(4)", "(batch, T, 3)",  # floor(floor(T/2)/2) = floor(T/4)
     {"max-flatten"}),
    ("MaxPooling1D(2, strides=1); MaxPooling1D(2)", "MaxPooling1D(3, strides=2)", "(batch, T, 3)", {"max-flatten"}),
    ("MaxPooling2D((2, 1)); MaxPooling2D((1, 2))", "MaxPooling2D((2, 2))", "(batch, T, T, 2)", {"max-flatten"}),
    ('MaxPooling1D(3, strides=1, padding="same"); MaxPooling1D(3, strides=1, padding="same")',
     'MaxPooling1D(5, strides=1, padding="same")', "(batch, T, 2)",  # -inf padding: the border windows shrink
     {"max-flatten", "max-padding"}),
    ("Dense(4); MaxPooling1D(2)", "Conv1D(4, 1); MaxPooling1D(2)", "(batch, T, 3)", set()),
    ("UpSampling1D(2); MaxPooling1D(2)", "Dropout(0.5)", "(batch, T, 3)", set()),  # max(x, x) = x
])
def test_max_pooling_stacks_are_proved(a, b, inputs, rules):
    result = decide_pair(a, b, inputs)
    assert result.verdict == "proved", result.reason
    assert result.witness.passed
    assert rules == {s.rule for _, s in result.steps} & {"max-flatten", "max-padding"}


def test_max_pooling_is_not_average_pooling():
    result = decide_pair("MaxPooling1D(2)", "AveragePooling1D(2)")
    assert result.verdict == "refuted" and result.level == "numeric"


def test_average_pooling_stack_has_the_shape_of_one_pool():
    """Two pools of 2 give floor(floor(T/2)/2) positions, one of 4 floor(T/4): the same for every T,
    so no refutation on shapes (the sums' normal forms do not meet yet: unknown)."""
    result = decide_pair("AveragePooling1D(2); AveragePooling1D(2)", "AveragePooling1D(4)")
    assert result.verdict == "unknown" and result.level is None, result.reason
    assert same_size(sympy.floor(sympy.floor(T / 2) / 2), sympy.floor(T / 4))
    assert same_size(sympy.floor((sympy.floor((T - 2) / 2) - 1) / 2) + 1, sympy.floor(T / 4))
    assert not same_size(sympy.floor(sympy.floor(T / 2) / 2), sympy.floor(T / 3))


def test_max_normal_form():
    """Max is flattened, sorted, -inf dropped, and a padded read covered by a weaker one dropped."""
    i = sympy.Symbol("i", integer=True)
    x = sympy.IndexedBase("x")
    norm = Normalizer(lambda base: sympy.Symbol(base, integer=True))
    R = Ranges(Sizes(), {i: (0, T - 1)})
    nested = sympy.Max(sympy.Max(x[i + 1], x[i], evaluate=False), -sympy.oo, x[i], evaluate=False)
    assert norm.norm(nested, R) == sympy.Max(x[i], x[i + 1], evaluate=False)

    def padded(e, condition):
        return sympy.Piecewise((e, condition), (-sympy.oo, True))

    edge = padded(sympy.Max(padded(x[i + 2], i + 2 <= T - 1), x[i + 1], evaluate=False), i + 1 <= T - 1)
    again = padded(x[i + 1], i + 1 <= T - 1)
    flat = norm.norm(sympy.Max(x[i], edge, again, padded(x[i], i >= 1), evaluate=False), R)
    assert flat == sympy.Max(x[i], padded(x[i + 1], T - i - 2 >= 0), padded(x[i + 2], T - i - 3 >= 0), evaluate=False)
    assert {"max-flatten", "max-padding"} <= {s.rule for s in norm.steps}
    assert norm.norm(sympy.Min(sympy.Min(x[i], sympy.oo, evaluate=False), x[i], evaluate=False), R) == x[i]
