"""The keras.applications catalogue through `shapeproof import`: every published architecture that builds on
the torch backend, random weights (BatchNormalization's moving statistics random and non-trivial, so that
every layer matters numerically), small inputs, logits (`classifier_activation=None`).

For each model: the import succeeds; every layer and operation has Keras's output shape and weight count
and the totals equal `model.count_params()`; the NumPy reference equals `model.predict` (max error
relative to the output's largest magnitude <= 1e-4); the generated CPU kernels equal it too; and the
import with symbolic sizes (`--symbolic batch,H,W,_`) gives MACs and shapes that equal the concrete
figures once H and W are bound. `make test` runs one model per family through the reference and a
bounded few through the kernels; `make test-all` runs them all (benchmarks/applications.py prints the
README's table).
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy

keras = pytest.importorskip("keras")

from arrays import relative_error  # noqa: E402

from shapeproof.analyzer.reference import forward  # noqa: E402
from shapeproof.keras.importer import import_keras, parse_symbolic  # noqa: E402

A = keras.applications

# name: (input side, family). The smallest of each family first: it runs in `make test`.
CATALOGUE = {
    "VGG16": (32, "VGG"), "VGG19": (32, "VGG"),
    "ResNet50": (32, "ResNet"), "ResNet101": (32, "ResNet"), "ResNet152": (32, "ResNet"),
    "ResNet50V2": (32, "ResNetV2"), "ResNet101V2": (32, "ResNetV2"), "ResNet152V2": (32, "ResNetV2"),
    "DenseNet121": (32, "DenseNet"), "DenseNet169": (32, "DenseNet"), "DenseNet201": (32, "DenseNet"),
    "InceptionV3": (75, "Inception"), "InceptionResNetV2": (75, "InceptionResNet"), "Xception": (71, "Xception"),
    "MobileNet": (32, "MobileNet"), "MobileNetV2": (32, "MobileNetV2"),
    "MobileNetV3Small": (32, "MobileNetV3"), "MobileNetV3Large": (32, "MobileNetV3"),
    **{f"EfficientNetB{i}": (32, "EfficientNet") for i in range(8)},
    **{f"EfficientNetV2B{i}": (32, "EfficientNetV2") for i in range(4)},
    "EfficientNetV2S": (32, "EfficientNetV2"), "EfficientNetV2M": (32, "EfficientNetV2"),
    "EfficientNetV2L": (32, "EfficientNetV2"),
    **{f"ConvNeXt{s}": (32, "ConvNeXt") for s in ("Tiny", "Small", "Base", "Large", "XLarge")},
}
FIRST_OF_FAMILY = {}
for _name, (_, _family) in CATALOGUE.items():
    FIRST_OF_FAMILY.setdefault(_family, _name)
# Generated kernels in `make test`: cold builds cost ~1 s per distinct layer, so the smallest graphs only.
KERNELS_IN_MAKE_TEST = ("VGG16",)


def bounded(names, subset) -> list:
    return [n if n in subset else pytest.param(n, marks=pytest.mark.full) for n in names]


def scaled_weights(model, rng):
    """Random weights a deep network survives (N(0, 0.5) everywhere overflows DenseNet to NaN in Keras
    too): kernels N(0, 1/fan_in), biases, betas and moving means N(0, 0.1), gammas and moving variances
    uniform in [0.5, 1.5] (so every BatchNormalization matters), the rest (Normalization's count,
    LayerScale) uniform in [0.5, 1.5]."""
    weights = []
    for variable in model.weights:
        shape, path = tuple(variable.shape), variable.path
        if "int" in str(variable.dtype):
            w = rng.integers(1, 10, size=shape)
        elif path.endswith(("kernel", "depthwise_kernel", "pointwise_kernel")) and len(shape) >= 2:
            fan_in = int(np.prod(shape[:-1])) if not path.endswith("depthwise_kernel") else int(np.prod(shape[:-2]))
            w = rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=shape)
        elif path.endswith(("bias", "beta", "moving_mean", "mean")):
            w = rng.normal(0.0, 0.1, size=shape)
        else:
            w = rng.uniform(0.5, 1.5, size=shape)
        weights.append(np.asarray(w).astype(str(variable.dtype).replace("torch.", "")))
    model.set_weights(weights)


def build(name: str, seed: int = 0):
    """The application with random weights and a fresh count of automatic names."""
    keras.backend.clear_session()
    side = CATALOGUE[name][0]
    model = getattr(A, name)(weights=None, input_shape=(side, side, 3), classifier_activation=None)
    scaled_weights(model, np.random.default_rng(seed))
    return model


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """name -> (Keras model, Imported, archive path), each built and imported once per module."""
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            model = build(name)
            path = tmp_path_factory.mktemp(name) / f"{name}.keras"
            model.save(path)
            cache[name] = (model, import_keras(str(path), weights=str(path)), path)
        return cache[name]

    return get


def flat_operations(model):
    """Every layer and operation, nested models flattened, InputLayers left out."""
    for op in getattr(model, "operations", None) or model.layers:
        if isinstance(op, keras.Model):
            yield from flat_operations(op)
        elif not isinstance(op, keras.layers.InputLayer):
            yield op


def inputs(model, batch: int = 2, seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, size=(batch, *model.input_shape[1:])).astype("float32")  # image pixels


@pytest.mark.parametrize("name", bounded(CATALOGUE, FIRST_OF_FAMILY.values()))
def test_report_equals_keras(name, imported):
    model, result, _ = imported(name)
    ours = result.concrete
    assert int(ours.total_params) == model.count_params()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert int(ours.trainable_params) == trainable
    by_name = {n.name: n for n in ours.nodes}
    theirs = list(flat_operations(model))
    assert sorted(by_name) == sorted(op.name for op in theirs)
    for op in theirs:
        expected = [tuple(t.shape)[1:] for t in op._inbound_nodes[0].output_tensors]
        got = [tuple(int(d) for d in s[1:]) for s in by_name[op.name].output_shapes]
        assert got == expected, f"{op.name}: {got} != Keras {expected}"
        weights = sum(int(np.prod(w.shape)) for w in getattr(op, "weights", []))
        assert int(by_name[op.name].params) == weights, op.name
    # our layer order is Keras's (model.layers, get_weights()): an .npz of get_weights() loads in order
    assert [s for _, _, s in ours.weight_shapes] == [tuple(w.shape) for w in model.weights]


@pytest.mark.parametrize("name", bounded(CATALOGUE, FIRST_OF_FAMILY.values()))
def test_reference_equals_predict(name, imported):
    model, result, path = imported(name)
    from shapeproof.keras.weights import read_weights

    ours = result.concrete
    weights = read_weights(str(path), ours.weight_shapes, ours.layer_kinds)
    x = inputs(model)
    theirs = model.predict(x, verbose=0)
    mine = forward(ours, weights, x)
    assert mine.shape == theirs.shape
    assert relative_error(mine, theirs) <= 1e-4


@pytest.mark.parametrize("name", bounded(CATALOGUE, KERNELS_IN_MAKE_TEST))
def test_generated_kernels_equal_predict(name, imported):
    from shapeproof import codegen

    model, result, path = imported(name)
    net = codegen.build(result.concrete, parallel=False)
    net.load_weights(str(path))
    x = inputs(model)
    assert relative_error(net(x), model.predict(x, verbose=0)) <= 1e-4


SYMBOLIC = [n for n in CATALOGUE if not n.startswith("VGG")]  # VGG's Flatten + Dense fixes H and W


@pytest.mark.parametrize("name", bounded(SYMBOLIC, ("ResNet50", "MobileNetV3Small")))
def test_symbolic_sizes_equal_the_concrete_figures(name, imported):
    model, result, path = imported(name)
    symbolic = import_keras(str(path), symbolic=parse_symbolic(["batch,H,W,_"])).program
    general = next(iter(symbolic.models.values()))
    side = CATALOGUE[name][0]
    H, W = sympy.Symbol("H", integer=True, positive=True), sympy.Symbol("W", integer=True, positive=True)
    assert {str(s) for s in general.free_symbols} == {"batch", "H", "W"}
    at = {s: side for s in general.free_symbols if str(s) in ("H", "W")}
    concrete = result.concrete
    assert sympy.simplify(general.macs.xreplace(at) - concrete.macs) == 0
    assert general.output_shapes[0][1:] == concrete.output_shapes[0][1:]
    assert H in general.macs.free_symbols and W in general.macs.free_symbols
