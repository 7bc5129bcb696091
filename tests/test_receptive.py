"""The RF column against the dependencies the reference forward pass really has.

For stacks of layers that move, fold, window and mix the time axis, drawn at random from a fixed
vocabulary, the receptive field the analyzer reports for the last layer is compared with the input
positions whose perturbation changes the output element at the centre (random weights, float64,
linear activations so that no dependency vanishes by chance): a finite RF must be exactly the span of
those positions, and "all" must not be explained by a window (every position, or all up to the
centre for a causal recurrence).
"""
import numpy as np
import pytest
import sympy

from shapeproof import analyzer
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.reference import forward

T, C = 48, 3
# (layer line, rank it needs, rank it gives); rank 3 is (batch, steps, features), rank 2 (batch, features)
VOCABULARY = [
    ("Permute((2, 1))", 3, 3),
    ("Dense(5)", 3, 3),
    ('Conv1D(4, 3, padding="same")', 3, 3),
    ('Conv1D(4, 2, dilation_rate=2, padding="causal")', 3, 3),
    ("Conv1D(4, 1)", 3, 3),
    ('Conv1D(4, 3)', 3, 3),
    ('AveragePooling1D(2, padding="same")', 3, 3),
    ("ZeroPadding1D((1, 2))", 3, 3),
    ("Cropping1D((2, 1))", 3, 3),
    ("DepthwiseConv1D(3)", 3, 3),
    ("LayerNormalization()", 3, 3),
    ("SimpleRNN(3, return_sequences=True)", 3, 3),
    ("Flatten()", 3, 2),
    ("GlobalAveragePooling1D()", 3, 2),
    ("Dense(6)", 2, 2),
    ("RepeatVector(4)", 2, 3),
]


def stacks(count: int = 40, seed: int = 7) -> list[str]:
    """Layer stacks of 2 to 5 lines on a (batch, T, C) input that the analyzer accepts."""
    rng = np.random.default_rng(seed)
    found = []
    while len(found) < count:
        rank, lines = 3, []
        for _ in range(int(rng.integers(2, 6))):
            choices = [v for v in VOCABULARY if v[1] == rank]
            line, _, rank = choices[int(rng.integers(len(choices)))]
            lines.append(line)
        source = f"model M(batch):\n    input (batch, {T}, {C})\n" + "".join(f"    {line}\n" for line in lines)
        try:
            analyzer.loads(source)
        except ShapeproofError:
            continue
        found.append(source)
    return found


def dependencies(model, rng) -> set[int]:
    """Input time positions whose perturbation changes the output element at the centre."""
    weights = []
    for w in (w for n in model.nodes for w in n.weights):
        shape = tuple(int(d) for d in w.shape)
        if w.name == "recurrent_kernel":  # orthogonal: an early step's influence does not fade to nothing
            weights.append(np.linalg.qr(rng.normal(size=shape))[0])
        else:
            value = rng.normal(0.0, 0.5, size=shape)
            weights.append(np.abs(value) + 0.5 if "variance" in w.name else value)
    x = rng.normal(size=(1, T, C))
    base = forward(model, weights, x, dtype=np.float64)
    centre = tuple(s // 2 for s in base.shape)
    found = set()
    for t in range(T):
        bumped = x.copy()
        bumped[0, t, :] += rng.normal(size=C)
        if forward(model, weights, bumped, dtype=np.float64)[centre] != base[centre]:
            found.add(t)
    return found


@pytest.mark.parametrize("source", stacks(), ids=lambda s: " | ".join(s.splitlines()[2:]).replace(" ", ""))
def test_rf_column_matches_the_real_dependencies(source):
    model = analyzer.loads(source).models["M"]
    rf = model.nodes[-1].receptive_field[0]
    used = dependencies(model, np.random.default_rng(0))
    assert used, "the output depends on no input position"
    span = max(used) - min(used) + 1
    if rf == sympy.oo:
        assert span > T // 3, f"RF 'all', but the centre element depends on positions {sorted(used)} only"
    else:
        assert span == int(rf), f"RF {rf}, but the centre element depends on positions {sorted(used)}"


def test_the_permuted_mixer_reads_all_steps():
    """The issue's case: Permute -> Dense(T) -> Permute mixes the time axis (RF 'all', not 1)."""
    model = analyzer.loads("model M(batch, T=16, C=8):\n    x = input (batch, T, C)\n    a = Permute((2, 1))(x)\n"
                           "    b = Dense(T)(a)\n    c = Permute((2, 1))(b)\n    output c\n").models["M"]
    assert model.nodes[-1].receptive_field[0] == sympy.oo
