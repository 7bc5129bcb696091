"""Command-line values -> Python values, shared by the commands (cli.py, equiv.py, export_cli.py, run.py)."""
from __future__ import annotations

import argparse

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


def model_of(args, program):
    """The model named by --model, or the only one in the file."""
    if args.model is None:
        if len(program.models) != 1:
            raise ShapeproofError(f"{program.file} has {len(program.models)} models: choose one with --model",
                                  hint=f"models: {', '.join(program.models)}")
        return next(iter(program.models.values()))
    if args.model not in program.models:
        raise unknown_model(args.model, program)
    return program.models[args.model]


def unknown_model(name: str, program) -> ShapeproofError:
    from shapeproof.analyzer.values import did_you_mean

    return ShapeproofError(f"no model named {name!r} in {program.file}",
                           hint=did_you_mean(name, program.models) or f"models: {', '.join(program.models)}")


def print_json(document):
    """A command's --json output."""
    import json  # on use: the commands' tables do not need it

    print(json.dumps(document, indent=1))


def add_command(sub, name: str, what: str, examples: list[str]) -> argparse.ArgumentParser:
    """A subcommand whose --help says what it does and ends with examples."""
    return sub.add_parser(name, help=what, description=what, formatter_class=argparse.RawDescriptionHelpFormatter,
                          epilog="examples:\n" + "\n".join(f"  {e}" for e in examples))
