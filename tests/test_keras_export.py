"""`shapeproof export`: every example model -> .keras -> `shapeproof import` reports what the spec
reports (layer names, shapes, parameter counts), and the exported Python builds the same model."""
from pathlib import Path

import pytest

from shapeproof import analyzer
from test_keras_examples import FILE_SIZES, MODELS, SIZES

keras = pytest.importorskip("keras")

from shapeproof.cli import main  # noqa: E402
from shapeproof.keras.export import python_source  # noqa: E402
from shapeproof.keras.importer import import_keras  # noqa: E402


def bound(path: Path, name: str):
    free = {str(s) for s in analyzer.load(path).models[name].free_symbols} - {"batch"}
    sizes = {**SIZES, **FILE_SIZES.get(path.stem, {})}
    return analyzer.load(path, set={k: sizes.get(k, 4) for k in free} or None).models[name]


def rows(model) -> list:
    return [(n.name, n.type, [tuple(map(str, s[1:])) for s in n.output_shapes], int(n.params)) for n in model.nodes]


@pytest.mark.parametrize("path, name", MODELS, ids=[f"{p.stem}-{n}" for p, n in MODELS])
def test_import_of_export_reports_what_the_spec_reports(path, name, tmp_path):
    ours = bound(path, name)
    main(["export", str(path), "--model", name, "-o", str(tmp_path / "m.keras"),
          *(f"--set={k}={v}" for k, v in ours.symbols.items() if v is not None and k in
            {str(s) for s in analyzer.load(path).models[name].free_symbols})])
    back = next(iter(import_keras(str(tmp_path / "m.keras")).program.models.values()))
    # Keras lists a functional model's layers in its own topological order (a residual branch may
    # move): the same rows, compared by name.
    assert sorted(rows(back)) == sorted(rows(ours))
    assert int(back.total_params) == int(ours.total_params)


@pytest.mark.parametrize("path, name", MODELS[:12], ids=[f"{p.stem}-{n}" for p, n in MODELS[:12]])
def test_exported_python_builds_the_same_model(path, name):
    ours = bound(path, name)
    namespace: dict = {}
    keras.backend.clear_session()  # as in a fresh process: operations (`x + h`) take Keras's automatic names
    exec(compile(python_source(ours), "<exported>", "exec"), namespace)  # our own generated code
    model = namespace["model"]
    assert model.count_params() == int(ours.total_params)
    # layers and operations alike; Keras lists them in topological order, a spec in statement order
    assert sorted(op.name for op in model.operations if not isinstance(op, keras.layers.InputLayer)) == \
        sorted(n.name for n in ours.nodes)


def test_a_layer_named_in_the_spec_is_named_once_in_the_python():
    # `name=` was written twice (the spec's keyword and the analyzer's name): a SyntaxError.
    ours = analyzer.loads('model M(batch):\n    input (batch, 4)\n    Dense(3, name="head")\n').models["M"]
    source = python_source(ours)
    assert source.count("name='head'") == 1, source
    namespace: dict = {}
    keras.backend.clear_session()
    exec(compile(source, "<exported>", "exec"), namespace)  # our own generated code
    assert namespace["model"].layers[-1].name == "head"
