"""Look-alikes: pairs of models that differ in one small detail (padding, where an activation sits, a
merge mode, a stride) and compute different functions. The prover must never claim `A == B` for
them, nor an inclusion `<=` that does not hold; the verdict it reaches today is recorded (a refutation
must stay one, an unknown may become one). Each pair is also run through the NumPy references with
random weights, mapped from A's to B's where a natural map exists, to show that the two really
differ: a pair that only fails to be proved because of a typo would pass vacuously otherwise."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest

from shapeproof import analyzer
from shapeproof.analyzer.equivalence import decide
from shapeproof.analyzer.reference import concrete, forward


def same(weights: list) -> list:
    """B's weights are A's (the pair's weights have the same shapes)."""
    return weights


@dataclass
class Pair:
    inputs: str  # the input statement's shape
    a: list  # A's layers, one per line
    b: list
    verdict: str  # what the prover says of A == B today: "refuted" (must stay) or "unknown"
    not_below: tuple = ()  # inclusions that do not hold ("A <= B", "B <= A"): never proved
    weights: object = same  # B's weights from A's (None: B draws its own); or "rank" (see narrow_rank)
    sizes: dict | None = None  # sizes for the numeric check (default batch 2, T 5)
    shapes_differ: bool = False  # the outputs differ in shape at `sizes` (else they must agree)


def gru_reset_before(w: list) -> list:
    """GRU(reset_after=True)'s weights for GRU(reset_after=False): kernels kept, the input and recurrent
    biases added, so both update and reset gates agree and only the candidate differs (r applied
    before or after the recurrent kernel)."""
    kernel, recurrent, bias = w
    return [kernel, recurrent, bias[0] + bias[1]]


PAIRS = {
    "causal_vs_same_conv1d": Pair("(batch, T, 2)", ['Conv1D(4, 3, padding="causal")'], ['Conv1D(4, 3, padding="same")'],
                                  "refuted", ("A <= B", "B <= A")),
    "relu_on_hidden_vs_on_output": Pair("(batch, 3)", ['Dense(8, activation="relu")', "Dense(4)"],
                                        ["Dense(8)", 'Dense(4, activation="relu")'], "unknown", ("A <= B",)),
    # A's linear map has rank 2 at most, B's rank 4 (its input size): B <= A fails, A <= B holds.
    "narrow_middle_dense": Pair("(batch, 4)", ["Dense(16)", "Dense(2)", "Dense(16)"], ["Dense(16)", "Dense(16)"],
                                "unknown", ("B <= A",), "rank"),
    "bidirectional_sum_vs_ave": Pair("(batch, T, 2)", ['Bidirectional(LSTM(3, return_sequences=True), merge_mode="sum")'],
                                     ['Bidirectional(LSTM(3, return_sequences=True), merge_mode="ave")'], "unknown",
                                     ("A <= B",), sizes={"batch": 2, "T": 4}),
    "max_vs_average_pooling": Pair("(batch, T, 3)", ["MaxPooling1D(2)"], ["AveragePooling1D(2)"], "refuted",
                                   ("A <= B", "B <= A")),
    # Same output length for every T, equal where 4 divides T: "same" pads the two halves differently.
    "same_pooling_2x2_vs_4": Pair("(batch, T, 2)", ['MaxPooling1D(2, padding="same")', 'MaxPooling1D(2, padding="same")'],
                                  ['MaxPooling1D(4, padding="same")'], "refuted", ("A <= B", "B <= A"),
                                  sizes={"batch": 2, "T": 6}),
    "valid_vs_same_conv1d": Pair("(batch, T, 2)", ["Conv1D(4, 3)"], ['Conv1D(4, 3, padding="same")'], "refuted",
                                 ("A <= B", "B <= A"), shapes_differ=True),
    # The same shapes where T is even (and then the same function): odd T tells them apart.
    "valid_vs_same_pooling": Pair("(batch, T, 2)", ["MaxPooling1D(2)"], ['MaxPooling1D(2, padding="same")'], "refuted",
                                  ("A <= B", "B <= A"), shapes_differ=True),
    "strides_1_vs_2": Pair("(batch, T, 2)", ["Conv1D(4, 3)"], ["Conv1D(4, 3, strides=2)"], "refuted",
                           ("A <= B", "B <= A"), shapes_differ=True),
    # At T = 4 both give 2 positions: strides 2 with "same" against strides 1 "valid", reading different inputs.
    "strides_1_vs_2_same_length": Pair("(batch, 4, 2)", ["Conv1D(4, 3)"], ['Conv1D(4, 3, strides=2, padding="same")'],
                                       "refuted", ("A <= B", "B <= A")),
    "dilation_1_vs_2": Pair("(batch, T, 2)", ['Conv1D(4, 2, padding="causal")'],
                            ['Conv1D(4, 2, padding="causal", dilation_rate=2)'], "refuted", ("A <= B", "B <= A")),
    "global_max_vs_average": Pair("(batch, T, 3)", ["GlobalMaxPooling1D()"], ["GlobalAveragePooling1D()"], "refuted",
                                  ("A <= B", "B <= A")),
    "gru_reset_after": Pair("(batch, T, 2)", ["GRU(3)"], ["GRU(3, reset_after=False)"], "unknown",
                            weights=gru_reset_before, sizes={"batch": 2, "T": 3}),
    # No natural map between their gates: B draws its own weights (their difference is then no surprise).
    "lstm_vs_gru": Pair("(batch, T, 2)", ["LSTM(3)"], ["GRU(3)"], "unknown", weights=None, sizes={"batch": 2, "T": 3}),
    "bias_vs_no_bias": Pair("(batch, T, 3)", ["Dense(4)"], ["Dense(4, use_bias=False)"], "refuted", ("A <= B",),
                            lambda w: w[:1]),
    # Kernel (3, 1) against (1, 3), B's kernel A's transposed: one mixes rows, the other columns.
    "conv2d_kernel_transposed": Pair("(batch, H, W, 2)", ['Conv2D(3, (3, 1), padding="same")'],
                                     ['Conv2D(3, (1, 3), padding="same")'], "refuted", ("A <= B", "B <= A"),
                                     lambda w: [w[0].transpose(1, 0, 2, 3), w[1]], {"batch": 1, "H": 4, "W": 4}),
    # Dense over the time axis (between two Permutes) against Dense over the channels; square, so the
    # shapes agree.
    "permute_placement": Pair("(batch, 4, 4)", ["Permute((2, 1))", "Dense(4)", "Permute((2, 1))"], ["Dense(4)"],
                              "refuted", ("A <= B", "B <= A")),
    # Square, so that the shapes agree: a reshape keeps the row-major order, a transpose does not.
    "reshape_vs_permute": Pair("(batch, 3, 3)", ["Reshape((3, 3))"], ["Permute((2, 1))"], "refuted", ("A <= B", "B <= A")),
    # Causal is ZeroPadding1D((2, 0)) before a valid convolution (proved elsewhere), not (1, 1).
    "causal_vs_symmetric_zero_padding": Pair("(batch, T, 2)", ['Conv1D(4, 3, padding="causal")'],
                                             ["ZeroPadding1D((1, 1))", "Conv1D(4, 3)"], "refuted", ("A <= B", "B <= A")),
    "go_backwards": Pair("(batch, T, 2)", ["SimpleRNN(3, return_sequences=True)"],
                         ["SimpleRNN(3, return_sequences=True, go_backwards=True)"], "unknown", ("A <= B", "B <= A")),
    "permute_before_vs_after": Pair("(batch, 4, 4)", ["Permute((2, 1))", "Dense(4)"], ["Dense(4)", "Permute((2, 1))"],
                                    "refuted", ("A <= B", "B <= A")),
}


def models(pair: Pair) -> tuple:
    symbols = ", ".join(dict.fromkeys(re.findall(r"[A-Za-z_]\w*", pair.inputs)))
    source = "".join(f"model {name}({symbols}):\n    input {pair.inputs}\n" + "".join(f"    {line}\n" for line in layers)
                     for name, layers in (("A", pair.a), ("B", pair.b)))
    program = analyzer.loads(source)
    return program.models["A"], program.models["B"]


def random_weights(model, rng) -> list:
    return [rng.normal(0.0, 0.5, size=tuple(int(d) for d in w.shape)) for n in model.nodes for w in n.weights]


def narrow_rank(model, weights: list, x: np.ndarray) -> int:
    """The rank of a model that is affine in its input (Dense layers without activations): its
    outputs on the unit vectors less its output at 0."""
    n = x.shape[-1]
    basis = np.vstack([np.zeros(n), np.eye(n)])
    y = forward(model, weights, basis, dtype=np.float64)
    return int(np.linalg.matrix_rank(y[1:] - y[0], tol=1e-9))


def differ(pair: Pair, a_model, b_model) -> bool:
    """Whether A and B compute different outputs on one random input, B's weights mapped from A's."""
    sizes = pair.sizes or {"batch": 2, "T": 5}
    a, b = (concrete(m, {k: v for k, v in sizes.items() if k in map(str, m.free_symbols)}) for m in (a_model, b_model))
    rng = np.random.default_rng(0)
    x = rng.normal(size=tuple(int(d) for d in a.inputs[0].shape))
    wa = random_weights(a, rng)
    if pair.weights == "rank":  # no weights of A reach B's rank
        return narrow_rank(b_model, random_weights(b, rng), x) > 2 >= narrow_rank(a_model, wa, x)
    wb = random_weights(b, rng) if pair.weights is None else pair.weights(wa)
    ya, yb = forward(a, wa, x, dtype=np.float64), forward(b, wb, x, dtype=np.float64)
    assert (ya.shape != yb.shape) == pair.shapes_differ, f"output shapes {ya.shape} and {yb.shape} at {sizes}"
    return ya.shape != yb.shape or not np.allclose(ya, yb, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", PAIRS)
def test_lookalikes_are_never_proved_equal(name):
    pair = PAIRS[name]
    a, b = models(pair)
    assert differ(pair, a, b), f"{name}: A and B agree numerically: not a look-alike"
    result = decide(a, b)
    assert result.verdict != "proved", f"{name}: the prover claims A == B: {result.reason}"
    if pair.verdict == "refuted":
        assert result.verdict == "refuted", f"{name}: no longer refuted: {result.reason}"
    for direction in pair.not_below:
        x, y = (a, b) if direction == "A <= B" else (b, a)
        inclusion = decide(x, y, "<=")
        assert inclusion.verdict != "proved", f"{name}: the prover claims {direction}: {inclusion.reason}"
