"""Contract over the registry: every registered layer kind comes with all of its parts, and a kind
added without one fails a test that names the kind and the missing part:

- a docstring and Keras's name; shapes and parameter counts cross-checked against Keras by a
  tests/test_keras_*.py model, where its params and MACs are SymPy expressions;
- a NumPy `reference`, run by a tests/test_reference_*.py model (checked against Keras predict);
- an element formula, or else `no_element_formula = "why"` on the class (never both);
- a CPU and a CUDA emitter, each run by a kernel case: a model given to `check_generated` in
  tests/test_codegen_cpu*.py or one of tests/test_keras_codegen.py's MODELS (CPU); an entry of
  the KERNEL_CASES of tests/cuda/test_cuda_*.py (CUDA, also compiled to PTX by test_cuda_ptx.py).

Known gaps are listed in GAPS and run as strict xfails: visible, and closing one fails its xfail.
"""
import ast
import importlib
import importlib.util
import itertools
import sys
from functools import cache
from pathlib import Path

import pytest
import sympy

from shapeproof import analyzer
from shapeproof.analyzer.equivalence.elements import Composition, Names, Operand, output_indices
from shapeproof.analyzer.indexing import NoElement
from shapeproof.analyzer.layers import REGISTRY, Layer
from shapeproof.codegen import cpu, cuda

TESTS = Path(__file__).parent
KINDS = sorted({cls.kind for cls in REGISTRY.values()})
EMITTERS = {"cpu": cpu.EMITTERS, "cuda": cuda.EMITTERS}

GAPS: dict = {}  # (requirement, [target,] kind) -> why it is missing today: strict xfails, deleted once closed


def contract(requirement: str, targets: tuple = ()) -> list:
    """The test parameters, (kind) or (target, kind), with GAPS entries marked as strict xfails."""
    rows = [(t, k) for t in targets for k in KINDS] if targets else [(k,) for k in KINDS]
    return [pytest.param(*row, id="-".join(row), marks=[pytest.mark.xfail(strict=True, reason=GAPS[(requirement, *row)])]
                         if (requirement, *row) in GAPS else []) for row in rows]


# --- the cases: .nn sources of the test modules, analysed once ---------------------------------------


def case_sources(pattern: str) -> list[str]:
    """The values of the CASES dicts of the test modules matching `pattern`."""
    sources = []
    for path in sorted(TESTS.glob(pattern)):
        sources += list(getattr(importlib.import_module(path.stem), "CASES", {}).values())
    return sources


def harness_sources(path: Path, harness: str) -> list[str]:
    """The sources a test module passes to `harness(...)`, read from its text: literals, module- or
    function-level string names, `+` and f-strings over @pytest.mark.parametrize values. A source
    built otherwise (a helper's result, a loop) fails here, so that no case is silently missed."""
    tree = ast.parse(path.read_text())
    module = assignments(tree.body, {})
    sources = []
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        envs = [assignments(fn.body, {**module, **binding}) for binding in parametrized(fn)]
        for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
            if getattr(call.func, "id", getattr(call.func, "attr", None)) == harness:
                found = [s for env in envs for s in strings(call.args[0], env)]
                assert found, f"{path.name}:{call.lineno}: cannot read the source given to {harness}()"
                sources += found
    return sources


def assignments(body: list, env: dict) -> dict:
    """`env` with the string values of the plain `NAME = ...` statements of `body`."""
    env = dict(env)
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            env[node.targets[0].id] = strings(node.value, env)
    return env


def parametrized(fn: ast.FunctionDef) -> list[dict]:
    """One {name: [string]} binding per combination of the function's literal parametrize values."""
    bindings = [{}]
    for deco in fn.decorator_list:
        if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize":
            try:
                names = ast.literal_eval(deco.args[0])
                names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
                rows = [row if len(names) > 1 else (row,) for row in ast.literal_eval(deco.args[1])]
            except ValueError:  # not literals (a dict of cases): a source built from them is not read
                continue
            bindings = [{**b, **{n: [v] for n, v in zip(names, row) if isinstance(v, str)}}
                        for b in bindings for row in rows]
    return bindings


def strings(node, env: dict) -> list[str]:
    """Every string the expression `node` can be under `env` (name -> strings); [] when unknown."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name):
        return env.get(node.id, [])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in strings(node.left, env) for b in strings(node.right, env)]
    if isinstance(node, ast.JoinedStr):
        fields = [v for v in node.values if isinstance(v, ast.FormattedValue)]
        if any(v.conversion != -1 or v.format_spec for v in fields):
            return []  # {x!r}, {x:>4}: not read
        parts = [strings(v.value if v in fields else v, env) for v in node.values]
        return ["".join(p) for p in itertools.product(*parts)]
    return []


def cuda_kernel_sources() -> list[str]:
    """The sources of the KERNEL_CASES of tests/cuda/test_cuda_*.py (their modules import no Numba)."""
    numba_cuda_before = "numba.cuda" in sys.modules
    if str(TESTS / "cuda") not in sys.path:
        sys.path.insert(0, str(TESTS / "cuda"))
    from cuda_harness import source_of

    sources = []
    for path in sorted((TESTS / "cuda").glob("test_cuda_*.py")):
        spec = importlib.util.spec_from_file_location(f"layers_contract_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sources += [source_of(case) for case in module.KERNEL_CASES.values()]
    assert numba_cuda_before or "numba.cuda" not in sys.modules, "tests/cuda modules now import numba.cuda"
    return sources


@cache
def models(source: str) -> tuple:
    """The analysed models of a source (sources recur across the case sets: analysed once)."""
    return tuple(analyzer.loads(source).models.values())


def kinds_used(sources: list[str]) -> set[str]:
    """Kinds applied by the models of `sources`, wrapped layers included."""
    used = set()

    def visit(layer: Layer):
        used.add(layer.kind)
        for sub in layer.sublayers():
            visit(sub)

    for source in sources:
        for model in models(source):
            for node in model.nodes:
                visit(node.layer)
    return used


def nodes_of(sources: list[str], kind: str) -> list:
    """(model, node) for every top-level application of `kind` in the models of `sources`."""
    return [(m, n) for s in sources for m in models(s) for n in m.nodes if n.layer.kind == kind]


@pytest.fixture(scope="module")
def keras_cases() -> list[str]:
    pytest.importorskip("keras")
    return case_sources("test_keras_*.py")


@pytest.fixture(scope="module")
def reference_cases() -> list[str]:
    pytest.importorskip("keras")
    return case_sources("test_reference_*.py")


@pytest.fixture(scope="module")
def kernel_cases() -> dict[str, set[str]]:
    pytest.importorskip("keras")  # tests/test_keras_codegen.py's MODELS (and their harness) need it
    from test_keras_codegen import MODELS

    keras = [source for _, source in MODELS.values() if "mask_zero=True" not in source]  # skipped there
    ours = [s for path in sorted(TESTS.glob("test_codegen_cpu*.py")) for s in harness_sources(path, "check_generated")]
    return {"cpu": kinds_used(keras + ours), "cuda": kinds_used(cuda_kernel_sources())}


# --- the contract --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_documented_and_named_as_keras_names_it(kind):
    cls = REGISTRY[kind]
    assert cls.__doc__ and cls.__doc__.strip(), f"{kind} has no docstring"
    assert cls.kind == kind
    assert all(name in cls.args for name in cls.positional)


@pytest.mark.parametrize("kind", contract("keras shapes"))
def test_every_kind_is_crosschecked_with_keras(kind, keras_cases):
    assert kind in kinds_used(keras_cases), f"{kind}: no tests/test_keras_*.py model uses it (shapes, params)"


@pytest.mark.parametrize("kind", contract("params and macs"))
def test_every_kind_counts_params_and_macs_as_sympy_expressions(kind, keras_cases):
    found = nodes_of(keras_cases, kind)
    assert found, f"{kind}: no tests/test_keras_*.py model applies it outside a wrapper (params, MACs unchecked)"
    for model, node in found:
        for what in ("macs", "params"):
            value = getattr(node, what)
            assert isinstance(value, sympy.Expr) and value.is_negative is not True and \
                value.free_symbols <= set(model.free_symbols), \
                f"{kind}: {what} of {node.name} in model {model.name} is {value!r}, not a count in the model's sizes"


@pytest.mark.parametrize("kind", contract("reference"))
def test_every_kind_has_a_numpy_reference(kind):
    assert REGISTRY[kind].reference is not Layer.reference, f"{kind} has no NumPy reference (Layer.reference)"


@pytest.mark.parametrize("kind", contract("reference case"))
def test_every_kind_reference_is_checked_against_keras(kind, reference_cases):
    assert kind in kinds_used(reference_cases), f"{kind}: no tests/test_reference_*.py model runs its NumPy reference"


def tensor(name: str, shape: tuple, comp: Composition, node: str) -> Operand:
    """An operand reading a fresh input tensor `name` (the layers before are left out)."""
    base = sympy.IndexedBase(name)
    return Operand(shape, lambda *i: base[i], comp, node)


def gives_element(model, node) -> bool:
    """Whether the node's layer gives an element formula there, its inputs standing for fresh tensors."""
    comp = Composition(model, "A", Names(), {})
    many = node.layer.inputs == "many"
    shapes = node.input_shapes if many else [node.input_shapes]
    x = [tensor(f"x{k}", shape, comp, node.name) for k, shape in enumerate(shapes)]
    idx = output_indices(comp.names, node.output_shapes[0])
    try:
        node.layer.element(x if many else x[0], comp.weights[node.name], idx)
    except (NoElement, NotImplementedError):
        return False
    return True


@pytest.mark.parametrize("kind", contract("element"))
def test_every_kind_has_an_element_formula_or_says_why_not(kind, keras_cases):
    """A formula is what element() gives on a tests/test_keras_*.py model (an override raising
    NoElement is none); a kind without one says why in `no_element_formula`."""
    why = REGISTRY[kind].no_element_formula
    assert why is None or (isinstance(why, str) and why.strip()), f"{kind}: no_element_formula must be a reason in words"
    formula = any(gives_element(model, node) for model, node in nodes_of(keras_cases, kind))
    assert not (formula and why), f"{kind} has an element formula and is marked no_element_formula={why!r}: drop one"
    assert formula or why, (f"{kind} has no element formula (element() raises NoElement on every tests/test_keras_*.py "
                            f"model) and no `no_element_formula` mark saying why")


@pytest.mark.parametrize("target, kind", contract("emitter", ("cpu", "cuda")))
def test_every_kind_has_an_emitter(target, kind):
    assert kind in EMITTERS[target], f"{kind} has no {target.upper()} emitter (codegen/{target}/)"


@pytest.mark.parametrize("target, kind", contract("kernel case", ("cpu", "cuda")))
def test_every_kind_has_a_kernel_case(target, kind, kernel_cases):
    where = {"cpu": "tests/test_codegen_cpu*.py (given to check_generated) or tests/test_keras_codegen.py's MODELS",
             "cuda": "the KERNEL_CASES of tests/cuda/test_cuda_*.py"}[target]
    assert kind in kernel_cases[target], f"{kind} has no {target.upper()} kernel case: it is in no model of {where}"


def test_every_example_analyses():
    for path in sorted(Path("examples").glob("*.nn")):
        program = analyzer.load(path)
        assert program.models, path
