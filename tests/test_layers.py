"""Contract over the registry: every layer kind is documented, behaves like a layer, and is
cross-checked against Keras by at least one model of the tests/test_keras_*.py modules."""
import importlib
from pathlib import Path

import pytest

from shapeproof import analyzer
from shapeproof.analyzer.layers import REGISTRY, Layer

KINDS = sorted({cls.kind for cls in REGISTRY.values()})


def keras_case_sources() -> list[str]:
    sources = []
    for path in sorted(Path(__file__).parent.glob("test_keras_*.py")):
        module = importlib.import_module(path.stem)
        sources += list(getattr(module, "CASES", {}).values())
    return sources


def kinds_used(model) -> set[str]:
    used = set()

    def visit(layer: Layer):
        used.add(layer.kind)
        for sub in layer.sublayers():
            visit(sub)

    for node in model.nodes:
        visit(node.layer)
    return used


@pytest.fixture(scope="module")
def covered() -> set[str]:
    pytest.importorskip("keras")
    used = set()
    for source in keras_case_sources():
        for model in analyzer.loads(source).models.values():
            used |= kinds_used(model)
    return used


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_crosschecked_with_keras(kind, covered):
    assert kind in covered, f"no tests/test_keras_*.py model uses {kind}"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_documented_and_named_as_keras_names_it(kind):
    cls = REGISTRY[kind]
    assert cls.__doc__ and cls.__doc__.strip(), f"{kind} has no docstring"
    assert cls.kind == kind
    assert all(name in cls.args for name in cls.positional)


def test_every_example_analyses():
    for path in sorted(Path("examples").glob("*.nn")):
        program = analyzer.load(path)
        assert program.models, path
