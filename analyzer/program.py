"""A whole .nn file: parse it, analyse each model, keep the assertions for analyzer/assertions.py."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import ir
from .errors import ShapeproofError, Span
from .graph import Model, analyze_model
from .parse import parse


@dataclass
class Program:
    file: str
    source: str
    models: dict[str, Model]
    syntax: ir.Program


def analyze(syntax: ir.Program, overrides: dict | None = None) -> Program:
    """Analyse every model of a parsed file; `overrides` are `--set` values (int or new symbol name)."""
    overrides = dict(overrides or {})
    try:
        if not syntax.models:
            raise ShapeproofError("the file defines no model", Span(1, 1),
                                  "a file starts with `model NAME(batch):` and an indented body")
        known = {p.name for m in syntax.models for p in m.params}
        for name in overrides:
            if name not in known:
                raise ShapeproofError(f"--set {name}: no model has a parameter {name!r}",
                                      hint=f"parameters: {', '.join(sorted(known)) or 'none'}")
        models: dict[str, Model] = {}
        for m in syntax.models:
            models[m.name] = analyze_model(m, overrides)
    except ShapeproofError as e:
        e.file = syntax.file
        raise
    return Program(syntax.file, syntax.source, models, syntax)


def load(path, set: dict | None = None) -> Program:
    """Read, parse and analyse a .nn file. `set` overrides model parameters: {"n_features": 50}."""
    path = str(path)
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ShapeproofError(f"cannot read the file: {e.strerror if isinstance(e, OSError) else e}", file=path) from None
    return analyze(parse(source, path), set)


def loads(source: str, set: dict | None = None, file: str = "<string>") -> Program:
    """Like `load`, for source text."""
    return analyze(parse(source, file), set)
