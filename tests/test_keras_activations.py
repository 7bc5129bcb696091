"""Keras cross-check: every activation string Keras 3 accepts (activations.get) on a layer and in
Activation(...), and the layers Softmax(axis), LayerScale, UnitNormalization, GroupNormalization
(shapes, weight shapes, parameter counts). Their NumPy references run in
tests/test_reference_activations.py, their CPU kernels in tests/test_keras_codegen.py (every CASES),
their CUDA kernels in tests/cuda/test_cuda_activations.py."""
import numpy as np
import pytest
from equivalence_harness import formula_outputs
from keras_harness import crosscheck
from shapeproof.analyzer.equivalence import decide
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.reference import forward

from shapeproof import analyzer

NEW_ACTIVATIONS = ("hard_silu", "hard_swish", "mish", "log_sigmoid", "celu", "sparse_plus", "squareplus",
                   "sparse_sigmoid", "tanh_shrink", "hard_tanh", "soft_shrink", "hard_shrink")

# One model per group, many outputs: each generated kernel compiles on its own.
CASES = {
    "activation_strings": "model M(batch):\n    x = input (batch, 2, 6)\n    h = Dense(6)(x)\n" + "".join(
        f"    a{i} = Activation(\"{name}\")(h)\n" for i, name in enumerate(NEW_ACTIVATIONS))
        + f"    output {', '.join(f'a{i}' for i in range(len(NEW_ACTIVATIONS)))}\n",
    "activation_strings_on_layers": """
model M(batch):
    x = input (batch, 5, 3)
    a = Dense(4, activation="mish")(x)
    b = Conv1D(3, 2, activation="hard_swish")(x)
    c = Dense(5, activation="sparsemax")(x)
    d = Activation("sparsemax")(x)
    e = Conv1D(4, 3, activation="sparsemax")(x)
    f = Dense(2, activation="squareplus")(x)
    output a, b, c, d, e, f
""",
    "softmax_axes": """
model M(batch):
    x = input (batch, 3, 4, 5)
    a = Softmax()(x)
    b = Softmax(axis=1)(x)
    c = Softmax(axis=(1, 3))(x)
    d = Softmax(axis=[-2, -1])(x)
    output a, b, c, d
""",
    "layer_scale": """
model M(batch):
    x = input (batch, 3, 4, 6)
    a = LayerScale(1e-6, 6)(x)
    b = LayerScale(init_values=0.5, projection_dim=6)(a)
    output b
""",
    "unit_normalization": """
model M(batch):
    x = input (batch, 3, 4, 5)
    a = UnitNormalization()(x)
    b = UnitNormalization(axis=1)(x)
    c = UnitNormalization(axis=[1, 3])(x)
    output a, b, c
""",
    "group_normalization": """
model M(batch):
    x = input (batch, 3, 4, 6)
    v = input (batch, 8)
    a = GroupNormalization(groups=2)(x)
    b = GroupNormalization(groups=3, axis=1, epsilon=0.1, center=False)(x)
    c = GroupNormalization(groups=-1, scale=False)(x)
    d = GroupNormalization(groups=4, axis=2)(x)
    e = GroupNormalization(groups=4)(v)
    output a, b, c, d, e
""",
}


@pytest.mark.parametrize("name", CASES)
def test_activations_match_keras(name):
    crosscheck(CASES[name])


def error_of(source: str):
    with pytest.raises(ShapeproofError) as info:
        analyzer.loads(source)
    return info.value


@pytest.mark.parametrize("layer, words, hint", [
    ('Dense(3, activation="glu")', "halves the last axis", "sigmoid gate"),
    ('Activation("threshold")', "has no defaults", "ReLU(threshold=...)"),
    ('Activation("mish_x")', "not one of", "mish"),
    ("GroupNormalization(groups=4)", "divisible by groups=4", "channels / groups"),
    ("GroupNormalization(groups=8)", "more groups (8) than channels (6)", "one group per channel"),
    ("GroupNormalization(groups=0)", "must be positive", "groups=32"),
    ("Softmax(axis=0)", "batch axis", "axis=-1"),
    ("UnitNormalization(axis=[1, -2])", "twice", "once"),
    ("LayerScale(0.1, 5)", "projection_dim=5", "last axis"),
])
def test_bad_arguments_are_located_errors(layer, words, hint):
    error = error_of(f"model M(batch):\n    input (batch, 4, 6)\n    {layer}\n")
    assert words in error.message and hint in error.hint and error.span is not None


def test_group_normalization_constraints_and_weights_are_symbolic():
    model = analyzer.loads("model M(batch, C):\n    input (batch, 5, C)\n    GroupNormalization(groups=4)\n"
                           "    LayerScale(1e-6, C)\n    Softmax(axis=(1, 2))\n").models["M"]
    norm, scale, softmax = model.nodes
    assert [(w.name, str(w.shape)) for w in norm.weights] == [("gamma", "(C,)"), ("beta", "(C,)")]
    assert [str(c.condition) for c in norm.layer.constraints(norm.input_shapes)] == ["C >= 4", "Eq(Mod(C, 4), 0)"]
    assert str(scale.params) == "C" and softmax.params == 0


ELEMENT_LAYERS = {  # each layer's element formula (what the prover reads) vs its NumPy reference
    "new_activations": ("(2, 3, 4)", "Activation(\"{}\")"),
    "softmax_middle_axis": ("(2, 3, 4)", "Softmax(axis=1)"),
    "softmax_two_axes": ("(2, 3, 2, 2)", "Softmax(axis=(1, 3))"),
    "layer_scale": ("(2, 3, 4)", "LayerScale(0.5, 4)"),
    "unit_norm_two_axes": ("(2, 3, 4)", "UnitNormalization(axis=[1, 2])"),
    "group_norm_last_axis": ("(2, 3, 4)", "GroupNormalization(groups=2)"),
    "group_norm_middle_axis": ("(2, 4, 3, 2)", "GroupNormalization(groups=2, axis=1, center=False)"),
}


@pytest.mark.parametrize("name", ELEMENT_LAYERS)
def test_element_formula_matches_reference(name):
    shape, layer = ELEMENT_LAYERS[name]
    for activation in NEW_ACTIVATIONS if "{}" in layer else [None]:
        model = analyzer.loads(f"model M():\n    input {shape}\n    {layer.format(activation)}\n").models["M"]
        rng = np.random.default_rng(1)
        weights = [rng.normal(0, 0.5, size=tuple(int(d) for d in w.shape)) for w in model.nodes[0].weights]
        x = rng.normal(size=tuple(int(d) for d in model.inputs[0].shape)) * 2
        expected = forward(model, weights, x, dtype=np.float64)
        np.testing.assert_allclose(formula_outputs(model, weights, x), expected, rtol=1e-9, atol=1e-12,
                                   err_msg=f"{layer.format(activation)}")


@pytest.mark.parametrize("a, b, holds", [
    ("Softmax()", 'Activation("softmax")', True),
    ('Activation("hard_swish")', 'Activation("hard_silu")', True),
    ('Dense(3, activation="swish")', 'Dense(3, activation="silu")', True),
    ('Activation("mish")', 'Activation("hard_silu")', False),  # refuted by numbers
    ("Softmax(axis=(1, 2))", "Softmax(axis=[2, 1])", True),
])
def test_prover_reads_the_new_formulas(a, b, holds):
    program = analyzer.loads(f"model A(batch):\n    input (batch, 3, 4)\n    {a}\n"
                             f"model B(batch):\n    input (batch, 3, 4)\n    {b}\n")
    assert decide(program.models["A"], program.models["B"]).holds is holds


def test_export_writes_layer_scale_from_keras_applications():
    from shapeproof.keras.export import python_source

    model = analyzer.loads(CASES["layer_scale"]).models["M"]
    text = python_source(model)
    assert "from keras.src.applications.convnext import LayerScale\n" in text
    assert "LayerScale(1e-06, 6, name='layer_scale')(x)" in text
    namespace: dict = {}
    exec(compile(text, "export", "exec"), namespace)  # noqa: S102  (the exported source builds the model)
    assert namespace["model"].count_params() == 12
