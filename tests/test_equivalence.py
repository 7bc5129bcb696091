"""The equivalence prover: every must-prove and must-refute case of examples/equivalences.nn through
the API and the CLI, the JSON document, the rewrite rules, the witness guarding the proofs, unknown for
kinds without an element formula, and each layer's element formula against its NumPy reference."""
import json
import subprocess
import sys

import numpy as np
import pytest
import sympy
from equivalence_harness import formula_outputs

from shapeproof import analyzer
from shapeproof.analyzer.equivalence import check_assertions
from shapeproof.analyzer.equivalence import decide
from shapeproof.analyzer.equivalence import witness as witnesses
from shapeproof.analyzer.equivalence.canonical import canonical
from shapeproof.analyzer.equivalence.maps import TensorMap, pairings
from shapeproof.analyzer.equivalence.ranges import Ranges, Sizes
from shapeproof.analyzer.equivalence.report import to_json
from shapeproof.analyzer.equivalence.rewrite import Normalizer
from shapeproof.analyzer.equivalence.setup import Setup
from shapeproof.analyzer.indexing import Sum
from shapeproof.analyzer.reference import forward
from shapeproof.analyzer.values import symbol
from shapeproof.cli import main

EXAMPLES = "examples/equivalences.nn"


@pytest.fixture(scope="module")
def program():
    return analyzer.load(EXAMPLES)


MUST_PROVE = [
    ("PointConv1D", "LastAxisDense1D"),
    ("PointConv2D", "LastAxisDense2D"),
    ("PointConv3D", "LastAxisDense3D"),
    ("WholeWindowConv", "FlattenThenDense"),
    ("PerStepDense", "PlainDense"),
    ("PerFrameConv2D", "StackedFramesConv2D"),
    ("PixelConvLSTM", "SequenceLSTM"),
    ("Named", "Unnamed"),
    ("WithDropout", "Unnamed"),
    ("SeparateActivation", "Unnamed"),
    ("EinsumSequenceDense", "SequenceDense"),
]

# (A, B, level, the inclusion proved (or None), the inclusion refuted (or None))
MUST_REFUTE = [
    ("ConvLSTMGrid", "ConvThenLSTMVector", "shapes", None, None),
    ("PointConvFlatten", "FlattenWideDense", "counterexample", "A <= B", "B <= A"),
    ("ValidConv", "SameConv", "shapes", None, None),
    ("SameConv", "SameConv5", "counterexample", "A <= B", "B <= A"),
]


@pytest.mark.parametrize("a, b", MUST_PROVE)
def test_must_prove(program, a, b):
    result = decide(program.models[a], program.models[b])
    assert result.verdict == "proved", result.reason
    assert result.holds is True
    assert result.witness.passed and result.witness.runs
    assert all(c.equal for c in result.compared)
    assert result.weight_map or not any(n.weights for n in program.models[a].nodes)
    assert result.statement.startswith("for all ")


def test_recurrent_proof_inducts_over_time(program):
    result = decide(program.models["PixelConvLSTM"], program.models["SequenceLSTM"])
    assert result.recurrences == [("conv_lstm2d", "lstm")]
    assert [c.label.split()[0] for c in result.compared] == ["output", "cell", "cell"]
    assert {m.kind for m in result.state_maps} == {"unit axes"}
    assert "induction" in result.statement
    # conv_lstm2d.kernel (1, 1, C, 4f) -> lstm.kernel (C, 4f): unit axes dropped
    assert {m.kind for m in result.weight_map} == {"unit axes", "identity"}


def test_whole_window_map_is_a_reshape(program):
    result = decide(program.models["WholeWindowConv"], program.models["FlattenThenDense"])
    kernel = result.weight_map[0]
    assert kernel.kind == "reshape"
    assert str(kernel.value) == "A.conv1d.kernel[floor(j1/C), Mod(j1, C), j2]"
    assert "sum-split" in {s.rule for _, s in result.steps}


@pytest.mark.parametrize("a, b, level, proved, refuted", MUST_REFUTE)
def test_must_refute(program, a, b, level, proved, refuted):
    result = decide(program.models[a], program.models[b], "!=")
    assert result.verdict == "refuted" and result.level == level, result.reason
    assert result.holds is True  # `assert A != B` holds
    inclusions = {i.direction: i.verdict for i in result.inclusions}
    if proved:
        assert inclusions[proved] == "proved"
    if refuted:
        assert inclusions[refuted] == "refuted"
    assert "param" not in result.reason  # never refuted on a parameter count


def test_shape_refutation_says_for_which_values(program):
    result = decide(program.models["ConvLSTMGrid"], program.models["ConvThenLSTMVector"])
    assert "for every value" in result.reason and "u = f*(H - 2)*(W - 2)" in result.reason
    valid = decide(program.models["ValidConv"], program.models["SameConv"])
    assert "(batch, T - 2, 8)" in valid.reason and "(batch, T, 8)" in valid.reason


def test_counterexample_is_concrete(program):
    result = decide(program.models["PointConvFlatten"], program.models["FlattenWideDense"])
    s = result.separations[0]
    assert (s.dependent, s.blind) == ("B", "A")  # the Dense after Flatten reads what the k=1 conv cannot
    assert s.position not in s.blind_reads and s.change > 1e-6
    assert len(s.blind_reads) == s.sizes["C"]  # one time step: C input elements
    assert "receptive field" in result.reason and "(all)" in result.reason and "(1)" in result.reason
    kernel = next(i for i in result.inclusions if i.direction == "A <= B").weight_map[0]
    assert kernel.kind.startswith("block-diagonal")


@pytest.mark.parametrize("a, b", [("PointConvFlatten", "FlattenWideDense"), ("SameConv", "SameConv5"),
                                  ("PointConvFlattenDense", "FlattenDenseDense")])
def test_inclusions(program, a, b):
    assert decide(program.models[a], program.models[b], "<=").holds is True
    converse = decide(program.models[b], program.models[a], "<=").holds
    # With a Dense after both, every output reads every input: the converse is not decided.
    assert converse is (None if a == "PointConvFlattenDense" else False)


def test_seed_models_are_equivalent_for_every_size():
    program = analyzer.load("examples/seeds.nn", set={"n_features": "N"})
    result = decide(program.models["ConvModel"], program.models["FCModel"])
    assert result.verdict == "proved" and result.witness.passed
    assert [str(s) for s in result.symbols] == ["batch", "N"]


def test_seed_models_at_their_default_size_skip_the_witness():
    program = analyzer.load("examples/seeds.nn")
    result = decide(program.models["ConvModel"], program.models["FCModel"])
    assert result.verdict == "proved" and result.witness.skipped and "12,800,457" in result.witness.skipped


def test_unknown_names_the_kind_without_element_formula():
    program = analyzer.loads("""
model A(batch, T):
    input (batch, T, 2)
    GlobalMaxPooling1D()
model B(batch, T):
    input (batch, T, 2)
    GlobalMaxPooling1D()
""")
    result = decide(program.models["A"], program.models["B"])
    assert result.verdict == "unknown" and result.holds is None
    assert "GlobalMaxPooling1D" in result.reason


def test_no_bijection_and_no_counterexample_is_unknown():
    program = analyzer.loads("""
model A(batch):
    input (batch, 3)
    Dense(4)
    Dense(2)
model B(batch):
    input (batch, 3)
    Dense(2)
""")
    result = decide(program.models["A"], program.models["B"])
    assert result.verdict == "unknown"  # same function class, different parameter counts: no verdict on counts


# --- the witness guards every proof ---------------------------------------------------------------


def test_a_wrong_map_is_never_a_proof(program):
    a, b = program.models["WholeWindowConv"], program.models["FlattenThenDense"]
    setup = Setup(a, b)
    right = next(iter(pairings(setup.source.weight_list(), setup.target.weight_list())))
    assert setup.check(right).proved
    kernel, bias = right
    j1, j2 = kernel.symbols
    T = symbol("T")
    # Read the kernel column-major instead of row-major: same shapes, wrong map.
    wrong = TensorMap(kernel.target, kernel.symbols,
                      kernel.value.func(kernel.value.base, sympy.Mod(j1, T), sympy.floor(j1 / T), j2), "reshape")
    assert not setup.check([wrong, bias]).proved
    symbols = [symbol(s) for s in ("batch", "T", "C", "n")]
    good = witnesses.run(a, b, setup.source, setup.target, {m.target: m for m in right}, symbols)
    bad = witnesses.run(a, b, setup.source, setup.target, {wrong.target: wrong, bias.target: bias}, symbols)
    assert good.passed and not bad.passed
    assert max(r.max_abs_diff for r in bad.runs) > 1e-3


def test_a_formula_that_disagrees_with_its_reference_is_not_a_proof(program, monkeypatch):
    from shapeproof.analyzer.layers.core import Dense

    original = Dense.reference
    monkeypatch.setattr(Dense, "reference", lambda self, x, w: original(self, x, w) + 1.0)
    result = decide(program.models["PointConv1D"], program.models["LastAxisDense1D"])
    assert result.verdict == "unknown" and "witness" in result.reason


# --- the CLI --------------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b, code", [
    ("PointConv1D", "LastAxisDense1D", 0), ("PixelConvLSTM", "SequenceLSTM", 0),
    ("ValidConv", "SameConv", 1), ("SameConv", "SameConv5", 1),
])
def test_cli_exit_codes(a, b, code, capsys):
    assert main(["equiv", EXAMPLES, a, b]) == code
    out = capsys.readouterr().out
    assert ("proved" if code == 0 else "refuted") in out and "Verdict" in out


def test_cli_unknown_and_input_errors(tmp_path, capsys):
    path = tmp_path / "pool.nn"
    path.write_text("model A(batch):\n    input (batch, 4, 1)\n    GlobalMaxPooling1D()\n"
                    "model B(batch):\n    input (batch, 4, 1)\n    GlobalMaxPooling1D()\n")
    assert main(["equiv", str(path), "A", "B"]) == 3
    assert main(["equiv", str(path), "A", "Nope"]) == 2
    assert "no model named 'Nope'" in capsys.readouterr().err
    assert main(["equiv", str(tmp_path / "missing.nn"), "A", "B"]) == 2


def test_cli_set_makes_seed_sizes_symbolic(capsys):
    assert main(["equiv", "examples/seeds.nn", "ConvModel", "FCModel", "--set", "n_features=N"]) == 0
    assert "for all batch, N ≥ 1" in capsys.readouterr().out


def test_json_of_a_proof(capsys):
    assert main(["equiv", EXAMPLES, "WholeWindowConv", "FlattenThenDense", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "proved" and doc["holds"] is True and doc["level"] is None
    assert doc["statement"].startswith("for all batch, T, C, n ≥ 1")
    assert doc["symbols"] == ["batch", "T", "C", "n"]
    formula = doc["formulas"][0]
    assert set(formula) >= {"label", "index", "A", "B", "A_normal", "B_normal", "canonical"}
    assert "Σ" in formula["A"] and formula["canonical"]
    assert doc["weight_map"][0] == {"target": "B.dense.kernel[j1, j2]",
                                    "value": "A.conv1d.kernel[⌊j1/C⌋, (j1 mod C), j2]", "kind": "reshape"}
    rules = [s["rule"] for s in doc["steps"]]
    assert "sum-split" in rules and "floor-range" in rules and "mod-range" in rules
    assert set(doc["rules"]) == set(rules)
    w = doc["witness"]
    assert w["seed"] == 0 and w["dtype"] == "float64" and w["passed"] and len(w["runs"]) == 3
    assert all(r["max_abs_diff"] < 1e-9 for r in w["runs"])


def test_json_of_a_refutation(capsys):
    assert main(["equiv", EXAMPLES, "SameConv", "SameConv5", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "refuted" and doc["level"] == "counterexample"
    example = doc["counterexample"][0]
    assert example["dependent"] == "B" and example["input"] not in example["blind_reads"]
    inclusions = {i["direction"]: i for i in doc["inclusions"]}
    assert inclusions["A <= B"]["verdict"] == "proved" and inclusions["B <= A"]["verdict"] == "refuted"
    assert "zero-padded" in inclusions["A <= B"]["weight_map"][0]["kind"]
    shapes = json.loads(json.dumps(to_json(decide(*(analyzer.load(EXAMPLES).models[n] for n in ("ValidConv", "SameConv"))))))
    assert shapes["level"] == "shapes" and shapes["shape_differences"][0]["B"] == ["batch", "T", "8"]


# --- assertions in .nn files use the prover ---------------------------------------------------------


def test_check_uses_the_prover(capsys):
    assert main(["check", EXAMPLES]) == 0
    out = capsys.readouterr().out
    assert out.count("holds (proved") == 19 and out.count("holds (refuted") == 4


def test_assertion_verdicts_come_from_decide(monkeypatch):
    from shapeproof.analyzer import equivalence

    calls = []
    real = equivalence.decide
    monkeypatch.setattr(equivalence, "decide", lambda a, b, op: calls.append((a.name, b.name, op)) or real(a, b, op))
    program = analyzer.loads("""
model A(batch, T):
    input (batch, T, 2)
    Conv1D(3, 1)
model B(batch, T):
    input (batch, T, 2)
    Dense(3)
assert A == B
assert A != B
""")
    verdicts = check_assertions(program)
    assert calls == [("A", "B", "=="), ("A", "B", "!=")]
    assert [v.holds for v in verdicts] == [True, False]
    assert verdicts[0].reason.startswith("proved: φ identity, unit axes")


def test_report_without_equivalences_does_not_load_the_prover():
    code = ("import sys; from shapeproof.cli import main; main(['report', 'examples/text_cnn.nn']); "
            "print('PROVER' if 'shapeproof.analyzer.equivalence' in sys.modules else 'LAZY', "
            "'NUMPY' if 'numpy' in sys.modules else 'NONUMPY')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("LAZY NONUMPY")


# --- the rewrite rules ------------------------------------------------------------------------------


def _normalizer():
    names = iter(f"v{k}" for k in range(1000))
    return Normalizer(lambda base: sympy.Symbol(next(names), integer=True))


def test_range_lemmas():
    T, C, n = symbol("T"), symbol("C"), symbol("n")
    j, p, q = sympy.symbols("j p q", integer=True)
    R = Ranges(Sizes(), {j: (0, n - 1), p: (0, T - 1), q: (0, C - 1)})
    norm = _normalizer()
    assert norm.norm(sympy.floor((C * p + q) / C), R) == p
    assert norm.norm(sympy.Mod(C * p + q, C), R) == q
    assert norm.norm(sympy.floor(j / n), R) == 0
    assert norm.norm(sympy.floor((C * p + q) / (C * T)), R) == 0  # floor-nested, then range
    assert norm.norm(sympy.floor(q / (C - 1 + 1)), R) == 0
    assert norm.norm(sympy.floor((q + 1) / C), R) != 0  # q + 1 may reach C: the rule does not fire


def test_reshape_bijection_and_canonical_renaming():
    T, C = symbol("T"), symbol("C")
    m, t, c = sympy.symbols("m t c", integer=True)
    x, w = sympy.IndexedBase("x"), sympy.IndexedBase("w")
    flat = Sum(x[sympy.floor(m / C), sympy.Mod(m, C)] * w[m], (m, 0, T * C - 1))
    nested = Sum(x[t, c] * w[C * t + c], (c, 0, C - 1), (t, 0, T - 1))
    norm = _normalizer()
    R = Ranges(Sizes(), {})
    assert canonical(norm.norm(flat, R)) == canonical(norm.norm(nested, R))
    assert "sum-split" in {s.rule for s in norm.steps}


def test_sum_restrict_and_delta():
    T = symbol("T")
    k, i = sympy.symbols("k i", integer=True)
    x = sympy.IndexedBase("x")
    R = Ranges(Sizes(), {i: (0, T - 1)})
    norm = _normalizer()
    zero_padded = Sum(sympy.Piecewise((x[k - 1], (k >= 1) & (k <= 3)), (0, True)), (k, 0, 4))
    assert canonical(norm.norm(zero_padded, R)) == canonical(Sum(x[k], (k, 0, 2)))
    delta = Sum(sympy.Piecewise((x[k], sympy.Eq(k, i)), (0, True)), (k, 0, T - 1))
    assert norm.norm(delta, R) == x[i]


def test_sums_keep_their_piecewise_terms():
    """SymPy's Sum folds a Piecewise out of the term through inner sums (capturing their index);
    analyzer.indexing.Sum builds the term as written."""
    c, k = sympy.symbols("c k", integer=True)
    x = sympy.IndexedBase("x")
    inner = Sum(sympy.Piecewise((x[k + c], k + c >= 1), (0, True)), (k, 0, 2))
    outer = Sum(sympy.Function("relu")(inner), (c, 0, 3))
    assert outer.function == sympy.Function("relu")(inner)


# --- each layer's element formula agrees with its NumPy reference --------------------------------------

LAYERS = {
    "dense": ("(2, 4, 3)", 'Dense(3, activation="tanh")'),
    "dense_lora": ("(2, 3)", "Dense(3, lora_rank=2)"),
    "dense_softmax": ("(2, 3)", 'Dense(4, activation="softmax")'),
    "conv1d_same_strided": ("(2, 7, 2)", 'Conv1D(3, 3, padding="same", strides=2)'),
    "conv1d_causal_dilated": ("(2, 7, 2)", 'Conv1D(3, 3, padding="causal", dilation_rate=2)'),
    "conv1d_groups": ("(2, 5, 4)", "Conv1D(4, 2, groups=2)"),
    "conv1d_lora": ("(2, 5, 2)", "Conv1D(3, 2, lora_rank=2, lora_alpha=3.0)"),
    "conv2d_same": ("(1, 5, 4, 2)", 'Conv2D(2, (2, 3), padding="same", strides=(2, 1))'),
    "conv3d": ("(1, 3, 3, 3, 2)", 'Conv3D(2, 2, activation="relu")'),
    "depthwise1d": ("(2, 5, 2)", 'DepthwiseConv1D(3, depth_multiplier=2, padding="same")'),
    "depthwise2d": ("(1, 4, 4, 2)", "DepthwiseConv2D(2)"),
    "separable1d": ("(2, 5, 2)", "SeparableConv1D(3, 3, depth_multiplier=2)"),
    "separable2d": ("(1, 4, 4, 2)", 'SeparableConv2D(2, 2, padding="same")'),
    "flatten": ("(2, 3, 2, 2)", "Flatten()"),
    "reshape": ("(2, 4, 3)", "Reshape((-1, 2))"),
    "permute": ("(2, 4, 3)", "Permute((2, 1))"),
    "repeat": ("(2, 4)", "RepeatVector(3)"),
    "softmax": ("(2, 3, 4)", 'Activation("softmax")'),
    "log_softmax": ("(2, 4)", 'Activation("log_softmax")'),
    "dropout": ("(2, 4)", "Dropout(0.3)"),
    "spatial_dropout": ("(2, 3, 4)", "SpatialDropout1D(0.3)"),
    "zeropad1d": ("(2, 4, 2)", "ZeroPadding1D((1, 2))"),
    "zeropad2d": ("(1, 3, 3, 2)", "ZeroPadding2D(((1, 0), (0, 2)))"),
    "crop1d": ("(2, 5, 2)", "Cropping1D((1, 2))"),
    "crop2d": ("(1, 4, 5, 2)", "Cropping2D(((1, 0), (2, 1)))"),
    "upsample1d": ("(2, 3, 2)", "UpSampling1D(2)"),
    "upsample2d": ("(1, 2, 3, 2)", "UpSampling2D((2, 3))"),
    "avgpool_same": ("(2, 5, 2)", 'AveragePooling1D(2, strides=1, padding="same")'),
    "avgpool2d": ("(1, 4, 5, 2)", "AveragePooling2D((2, 2))"),
    "avgpool2d_same": ("(1, 5, 5, 2)", 'AveragePooling2D((3, 3), strides=2, padding="same")'),
    "global_avg1d": ("(2, 5, 3)", "GlobalAveragePooling1D()"),
    "global_avg2d_keepdims": ("(1, 3, 4, 2)", "GlobalAveragePooling2D(keepdims=True)"),
    "batchnorm": ("(2, 3, 4)", "BatchNormalization()"),
    "batchnorm_axis1": ("(2, 3, 4)", "BatchNormalization(axis=1, center=False)"),
    "layernorm": ("(2, 3, 4)", "LayerNormalization()"),
    "layernorm_two_axes": ("(2, 3, 4)", "LayerNormalization(axis=[2, 1])"),
    "layernorm_rms": ("(2, 3, 4)", "LayerNormalization(rms_scaling=True)"),
    "simple_rnn": ("(2, 4, 3)", "SimpleRNN(3, return_sequences=True)"),
    "gru": ("(2, 4, 3)", "GRU(3)"),
    "gru_reset_before": ("(2, 4, 3)", "GRU(3, reset_after=False, return_sequences=True)"),
    "lstm_backwards": ("(2, 4, 3)", "LSTM(3, go_backwards=True, return_sequences=True)"),
    "conv_lstm1d": ("(1, 3, 4, 2)", 'ConvLSTM1D(2, 3, padding="same")'),
    "conv_lstm2d": ("(1, 3, 3, 3, 2)", "ConvLSTM2D(2, (2, 2), return_sequences=True)"),
    "bidirectional_concat": ("(2, 3, 2)", "Bidirectional(LSTM(2, return_sequences=True))"),
    "bidirectional_sum": ("(2, 3, 2)", 'Bidirectional(GRU(2), merge_mode="sum")'),
    "bidirectional_ave": ("(2, 3, 2)", 'Bidirectional(SimpleRNN(2), merge_mode="ave")'),
    "time_distributed_conv": ("(2, 3, 4, 2)", "TimeDistributed(Conv1D(2, 2))"),
    "time_distributed_dense": ("(2, 3, 4)", "TimeDistributed(Dense(2))"),
    "einsum_projection": ("(2, 3, 4)", 'EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="e", activation="relu")'),
    "einsum_ellipsis_softmax": ("(2, 3, 4)", 'EinsumDense("...b,bc->...c", 3, bias_axes="c", activation="softmax")'),
    "einsum_general": ("(2, 3, 4)", 'EinsumDense("abc,bcd->adb", (2, 3), bias_axes="db")'),
    "embedding": ("(2, 3) int32", "Embedding(5, 3)"),
}
GRAPHS = {
    merge: f"model M():\n    x = input (2, 3, 2)\n    a = Dense(2)(x)\n    b = Dense(2, activation=\"relu\")(x)\n"
           f"    y = {merge}()([a, b])\n    output y\n"
    for merge in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
}
GRAPHS["Concatenate"] = ("model M():\n    x = input (2, 3, 2)\n    a = Dense(3)(x)\n    b = Dense(2)(x)\n"
                         "    y = Concatenate()([a, b])\n    output y\n")
GRAPHS["Concatenate_axis1"] = ("model M():\n    x = input (2, 3, 2)\n    a = Dense(2)(x)\n    b = Conv1D(2, 2)(x)\n"
                               "    y = Concatenate(axis=1)([a, b])\n    output y\n")
GRAPHS["Add_broadcast"] = ("model M():\n    x = input (2, 3, 2)\n    a = Dense(1)(x)\n    b = Dense(2)(x)\n"
                           "    y = Add()([a, b])\n    output y\n")
GRAPHS["lstm_state_c"] = ("model M():\n    x = input (2, 3, 2)\n    y, h, c = LSTM(2, return_state=True)(x)\n"
                          "    output c\n")


@pytest.mark.parametrize("name", list(LAYERS) + list(GRAPHS))
def test_element_formula_matches_reference(name):
    if name in LAYERS:
        shape, layer = LAYERS[name]
        source = f"model M():\n    input {shape}\n    {layer}\n"
    else:
        source = GRAPHS[name]
    model = analyzer.loads(source).models["M"]
    rng = np.random.default_rng(1)
    weights = [rng.normal(0, 0.5, size=tuple(int(d) for d in w.shape)) for n in model.nodes for w in n.weights]
    if any(w.name == "moving_variance" for n in model.nodes for w in n.weights):
        weights = [np.abs(w) + 0.1 for w in weights]
    spec = model.inputs[0]
    size = tuple(int(d) for d in spec.shape)
    x = rng.integers(0, 5, size=size) if spec.dtype.startswith("int") else rng.normal(size=size)
    expected = forward(model, weights, x, dtype=np.float64)
    np.testing.assert_allclose(formula_outputs(model, weights, x), expected, rtol=1e-9, atol=1e-12)


NUMERIC = """
model MaxP(batch, T):
    x = input (batch, T, 3)
    y = MaxPooling1D(2)(x)
    output y

model AvgP(batch, T):
    x = input (batch, T, 3)
    y = AveragePooling1D(2)(x)
    output y

model MaxP2(batch, T):
    x = input (batch, T, 3)
    y = MaxPooling1D(2, strides=2)(x)
    output y

model FlatDense(batch, T=6):
    x = input (batch, T, 3)
    h = Flatten()(x)
    y = Dense(4)(h)
    output y

model PoolDense(batch, T=6):
    x = input (batch, T, 3)
    h = GlobalAveragePooling1D()(x)
    y = Dense(4)(h)
    output y

model TransposedPoint(batch, T):
    x = input (batch, T, 3)
    y = Conv1DTranspose(4, 1)(x)
    output y

model PointDense(batch, T):
    x = input (batch, T, 3)
    y = Dense(4)(x)
    output y

model TransposedWide(batch, T):
    x = input (batch, T, 3)
    y = Conv1DTranspose(4, 3, padding="same")(x)
    output y

model PointRelu(batch, T):
    x = input (batch, T, 3)
    y = Dense(4, activation="relu")(x)
    output y

model PointTanh(batch, T):
    x = input (batch, T, 3)
    y = Dense(4, activation="tanh")(x)
    output y
"""


@pytest.mark.parametrize("a, b, verdict", [
    ("MaxP", "AvgP", "refuted"),                  # the formulas differ, no counterexample: one random input refutes
    ("FlatDense", "PoolDense", "refuted"),        # PoolDense is affine in its weights: no fit of FlatDense
    ("PoolDense", "FlatDense", "refuted"),        # and the other way round (either inclusion fails)
    ("MaxP", "MaxP2", "proved"),                  # the same function: never refuted (max has its formula)
    ("TransposedPoint", "PointDense", "unknown"),  # the same family (a 1-tap transposed conv is a Dense): fits exactly
    ("TransposedWide", "PointDense", "refuted"),  # wider taps: PointDense cannot fit them
    ("PointRelu", "TransposedPoint", "refuted"),  # TransposedPoint is affine: relu's kink does not fit
    ("TransposedWide", "PointRelu", "refuted"),   # TransposedWide is affine: PointRelu's outputs do not fit
    ("PointRelu", "PointTanh", "unknown"),        # neither is affine in its weights: no exact fit, no claim
])
def test_numeric_refutation_is_sound(a, b, verdict):
    from shapeproof.analyzer.equivalence import decide

    models = analyzer.loads(NUMERIC).models
    result = decide(models[a], models[b])
    assert result.verdict == verdict, result.reason
    if verdict == "refuted":
        assert result.level in ("numeric", "counterexample", "shapes")
