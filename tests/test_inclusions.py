"""Inclusions `A <= B` beyond reindexing: B's weights zeroed (no counterpart in A), a dilated kernel
in a wider one, and B's layer solved for from A's affine map (products of linear layers, rescaled
weights, BatchNormalization folded); each proved with a checked map and a passing witness, and the
false ones next to them never proved."""
import pytest
import sympy
from shapeproof.analyzer.equivalence import check_assertions, decide
from shapeproof.analyzer.equivalence.maps import MAX_COMBINATIONS, pairings
from shapeproof.analyzer.equivalence.setup import Setup

from shapeproof import analyzer

EXAMPLES = "examples/equivalences.nn"


@pytest.fixture(scope="module")
def program():
    return analyzer.load(EXAMPLES)


# (A, B, the kinds of B's weight maps)
MUST_PROVE = [
    ("PointConvNoBias", "DenseWithBias", {"unit axes", "zero (no counterpart in the other model)"}),
    ("DilatedConv", "WideConv", {"dilated (taps at multiples of the dilation, zeros between)", "identity"}),
    ("TwoLinear", "OneLinear", {"kernel: the coefficients of the other model's affine map",
                                "bias: the other model at input 0"}),
    ("RescaledDense", "DenseWithBias", {"kernel: the coefficients of the other model's affine map",
                                        "bias: the other model at input 0"}),
    ("ConvBatchNorm", "ConvWithBias", {"kernel: the coefficients of the other model's affine map",
                                       "bias: the other model at input 0"}),
]


def proved(result):
    assert result.verdict == "proved", result.reason
    assert result.holds is True
    assert result.witness.passed and result.witness.runs
    assert all(c.equal for c in result.compared)
    return {m.target.name: m for m in result.weight_map}


@pytest.mark.parametrize("a, b, kinds", MUST_PROVE)
def test_must_prove(program, a, b, kinds):
    maps = proved(decide(program.models[a], program.models[b], "<="))
    assert {m.kind for m in maps.values()} == kinds


def test_the_maps(program):
    def maps(a, b):
        return {name.rsplit(".", 1)[-1]: str(m.value) for name, m in
                proved(decide(program.models[a], program.models[b], "<=")).items()}

    assert maps("PointConvNoBias", "DenseWithBias")["bias"] == "0"
    dilated = maps("DilatedConv", "WideConv")["kernel"]
    assert "Eq(j1, 2*t1)" in dilated and "(t1, 0, 2)" in dilated
    product = maps("TwoLinear", "OneLinear")
    assert "A.dense.kernel[j1" in product["kernel"] and "A.dense_1.kernel[" in product["kernel"]
    assert "A.dense_1.bias[j1]" in product["bias"] and "A.dense.bias[" in product["bias"]
    rescaled = maps("RescaledDense", "DenseWithBias")
    assert rescaled == {"kernel": "2.0*A.dense.kernel[j1, j2]", "bias": "2.0*A.dense.bias[j1]"}
    folded = maps("ConvBatchNorm", "ConvWithBias")
    assert "moving_variance[j3]" in folded["kernel"] and "moving_mean[j1]" in folded["bias"]


def test_check_holds_for_every_inclusion(program):
    verdicts = [v for v in check_assertions(program) if "<=" in v.text]
    assert verdicts and all(v.holds is True for v in verdicts), [(v.text, v.reason) for v in verdicts]


MODELS = analyzer.loads("""
model Dilated(batch, T, C):
    input (batch, T, C)
    Conv1D(4, 3, dilation_rate=2)
model Four(batch, T, C):
    input (batch, T, C)
    Conv1D(4, 4)
model Dilated2D(batch, H, W, C):
    input (batch, H, W, C)
    Conv2D(4, (3, 2), dilation_rate=(2, 3))
model Wide2D(batch, H, W, C):
    input (batch, H, W, C)
    Conv2D(4, (5, 4))
model Dilated4(batch, T, C):
    input (batch, T, C)
    Conv1D(4, 3, dilation_rate=4)
model Dilated2(batch, T, C):
    input (batch, T, C)
    Conv1D(4, 5, dilation_rate=2)
model ReluBetween(batch, C):
    input (batch, C)
    Dense(8, activation="relu")
    Dense(4)
model Linear(batch, C):
    input (batch, C)
    Dense(4)
model Narrow(batch, C):
    input (batch, C)
    Dense(2)
    Dense(4)
model ReluAfter(batch, C):
    input (batch, C)
    Dense(8)
    Dense(4, activation="relu")
model LinearRelu(batch, C):
    input (batch, C)
    Dense(4, activation="relu")
model Sequence(batch, T, C):
    input (batch, T, C)
    Dense(4)
model PointNoBias(batch, T, C):
    input (batch, T, C)
    Conv1D(4, 1, use_bias=False)
model Identity(batch, C):
    input (batch, C)
    Dropout(0.5)
model Square(batch, C):
    input (batch, C)
    Dense(C)
model SquareFirst(batch, C):
    input (batch, C)
    Dense(C)
    Dense(4)
""").models


@pytest.mark.parametrize("a, b", [
    ("Dilated2D", "Wide2D"),      # taps at (2·t1, 3·t2)
    ("Dilated4", "Dilated2"),     # dilation 4 in dilation 2: every other tap
    ("ReluAfter", "LinearRelu"),  # the same activation after both: its argument solved for
    ("Narrow", "Linear"),         # a rank-2 product is still one Dense
    ("Identity", "Square"),       # the cut at the input: kernel := the identity matrix
    ("Linear", "SquareFirst"),    # and a layer of B before A's set to the identity
])
def test_the_mechanisms_are_general(a, b):
    proved(decide(MODELS[a], MODELS[b], "<="))


@pytest.mark.parametrize("a, b, relation, verdict", [
    ("Dilated", "Four", "<=", "refuted"),         # span 5 in 4 taps: the shapes differ, no map either
    ("ReluBetween", "Linear", "<=", "refuted"),   # a kink no affine map has
    ("Sequence", "PointNoBias", "<=", "refuted"),  # A's bias has no counterpart in B
    ("Narrow", "Linear", "==", "unknown"),        # rank at most 2: the same family only one way
    ("Linear", "Narrow", "<=", "unknown"),        # (the converse inclusion is not decided)
])
def test_must_not_prove(a, b, relation, verdict):
    result = decide(MODELS[a], MODELS[b], relation)
    assert result.verdict == verdict, result.reason
    assert result.holds is not True or relation == "!="


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_batch_normalization_is_never_refuted(program):
    # ConvWithBias <= ConvBatchNorm holds too (γ = 1, β = 0, μ = 0, σ² = 1 - ε), though not proved:
    # B's outputs are NaN at a random negative variance, which must not pass for an affine fit.
    result = decide(program.models["ConvBatchNorm"], program.models["ConvWithBias"])
    assert result.verdict == "unknown", result.reason


def test_a_numeric_refutation_still_proves_the_other_inclusion():
    result = decide(MODELS["PointNoBias"], MODELS["Sequence"])
    assert result.verdict == "refuted" and result.level == "numeric"
    inclusions = {i.direction: i for i in result.inclusions}
    assert inclusions["B <= A"].verdict == "refuted"
    assert inclusions["A <= B"].verdict == "proved" and inclusions["A <= B"].witness.passed


def test_zeroed_weights_stay_bounded():
    setup = Setup(MODELS["PointNoBias"], MODELS["Sequence"])
    candidates = list(pairings(setup.source.weight_list(), setup.target.weight_list(), inclusion=True))
    assert 1 <= len(candidates) <= MAX_COMBINATIONS
    assert [m.value for m in candidates[0]][1] == sympy.Integer(0)
    # Fewer weights in B than in A: no pairing (a weight of A cannot be dropped).
    assert not list(pairings(setup.target.weight_list(), setup.source.weight_list(), inclusion=True))
