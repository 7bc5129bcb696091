"""Command-line values -> Python values, shared by the commands (cli.py, equiv.py, run.py)."""
from __future__ import annotations

from shapeproof.analyzer.errors import ShapeproofError


def parse_set(items: list[str]) -> dict:
    """`--set n=50 --set T=steps` -> {"n": 50, "T": "steps"} (an integer, or a new symbol name)."""
    result: dict = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.isidentifier():
            raise ShapeproofError(f"--set {item!r}: expected NAME=VALUE", hint="e.g. --set n_features=50 or --set T=steps")
        if value.lstrip("-").isdigit():
            if int(value) < 1:
                raise ShapeproofError(f"--set {item!r}: a dimension must be at least 1")
            result[name] = int(value)
        elif value.isidentifier():
            result[name] = value
        else:
            raise ShapeproofError(f"--set {item!r}: the value must be an integer or a symbol name")
    return result
