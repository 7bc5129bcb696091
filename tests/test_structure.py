"""The package's shape: one import namespace, and imports that point one way down the pipeline.

Every module of the installed package is parsed (not imported) and each of its imports, top-level or
inside a function, is checked against the stage order below; the CPU and CUDA renderers may not
import each other.
"""
import ast
import importlib.util
import pkgutil
from pathlib import Path

import pytest

import shapeproof

# The pipeline, upstream first. A module may import its own stage and the stages before it.
STAGES = [
    ("syntax", ("shapeproof.grammar",)),
    ("analysis", ("shapeproof.analyzer",)),
    ("equivalence", ("shapeproof.analyzer.equivalence",)),
    ("lowering", ("shapeproof.codegen",)),
    ("renderers", ("shapeproof.codegen.cpu", "shapeproof.codegen.cuda")),
    ("keras", ("shapeproof.keras",)),
    ("cli", ("shapeproof",)),
]
TARGETS = ("shapeproof.codegen.cpu", "shapeproof.codegen.cuda")
# A package's __init__ may expose what its subpackages define (the entry point dispatches to them).
ENTRY_POINTS = {"shapeproof.codegen": ("shapeproof.codegen.cpu", "shapeproof.codegen.cuda"),
                "shapeproof.analyzer": ("shapeproof.analyzer.equivalence",)}


def stage(module: str) -> int:
    """The index in STAGES of the longest prefix that owns `module`."""
    best, length = None, -1
    for index, (_, prefixes) in enumerate(STAGES):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > length:
                best, length = index, len(p)
    assert best is not None, module
    return best


def modules() -> dict[str, Path]:
    """Every module of the installed package: name -> source file. The stage packages are walked one
    by one: an editable install maps analyzer/, codegen/ and grammar/ into the namespace by a finder,
    which pkgutil does not list under shapeproof's own folder."""
    found = {}
    for _, prefixes in STAGES:
        for package in prefixes:
            spec = importlib.util.find_spec(package)
            found[package] = Path(spec.origin)
            for info in pkgutil.walk_packages(spec.submodule_search_locations, package + "."):
                found[info.name] = Path(importlib.util.find_spec(info.name).origin)
    return found


def imports(name: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement in the module, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    result = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            result += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # `from shapeproof import analyzer` imports the subpackage shapeproof.analyzer
            result += [(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base, node.lineno)
                       for a in node.names]
    return result


MODULES = modules()


def test_one_top_level_name():
    assert set(MODULES) and all(m == "shapeproof" or m.startswith("shapeproof.") for m in MODULES)
    for expected in ("shapeproof.analyzer", "shapeproof.grammar", "shapeproof.codegen", "shapeproof.keras"):
        assert expected in MODULES, expected
    assert callable(shapeproof.load) and callable(shapeproof.build)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down_the_pipeline(name):
    own = stage(name)
    wrong = []
    for target, line in imports(name, MODULES[name]):
        where = f"{MODULES[name]}:{line}: {name} imports {target}"
        if target.split(".")[0] in ("analyzer", "codegen", "grammar"):
            wrong.append(f"{where} (outside the shapeproof namespace)")
            continue
        if not target.startswith("shapeproof"):
            continue
        if any(target == t or target.startswith(t + ".") for t in ENTRY_POINTS.get(name, ())):
            continue
        if stage(target) > own:
            wrong.append(f"{where}: {STAGES[own][0]} may not import {STAGES[stage(target)][0]}")
        for a in TARGETS:
            for b in TARGETS:
                if a != b and (name == a or name.startswith(a + ".")) and (target == b or target.startswith(b + ".")):
                    wrong.append(f"{where}: one target may not import the other's code")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_wrong_import():
    """The rule above is not vacuous: an analyzer module importing codegen is caught."""
    assert stage("shapeproof.analyzer.graph") < stage("shapeproof.codegen.cpu.conv")
    assert stage("shapeproof.codegen.cuda.conv") == stage("shapeproof.codegen.cpu.conv")
    assert stage("shapeproof.keras.importer") > stage("shapeproof.codegen.net")
    assert stage("shapeproof.cli") > stage("shapeproof.keras.weights")


def test_tests_benchmarks_and_examples_use_the_namespace():
    """Only `shapeproof.*` imports outside the package too (a fallback for old checkouts, inside an
    `except ImportError:`, is allowed)."""
    root = Path(__file__).resolve().parent.parent
    wrong = []
    for folder in ("tests", "benchmarks", "examples"):
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            fallback = {id(n) for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler) for n in ast.walk(h)}
            for node in ast.walk(tree):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                if id(node) not in fallback and any(n.split(".")[0] in ("analyzer", "codegen", "grammar")
                                                    for n in names):
                    wrong.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not wrong, "top-level analyzer/codegen/grammar imports: " + ", ".join(wrong)
