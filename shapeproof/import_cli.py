"""`shapeproof import`: a Keras model file -> a .nn spec (analyzer/keras_import.py does the work)."""
from __future__ import annotations

import argparse
import sys

from shapeproof.options import add_command


def cmd_import(args) -> int:
    from shapeproof.keras.importer import import_to_file  # here: every other command builds this parser too

    result = import_to_file(args.file, args.output, args.symbolic, args.weights, args.name, args.partial)
    if args.output:
        model = next(iter(result.program.models.values()))
        checked = "PARTIAL: up to the first unsupported layer, weights not checked" if args.partial and \
            result.info.get("kind") == "partial" else "weights checked" if args.weights or \
            result.info.get("has_weights") or result.info.get("kind") == "h5" else "no weights in the file"
        print(
            f"wrote {args.output}: model {model.name}({', '.join(str(s) for s in model.values)}), "
            f"{len(model.nodes)} layers, {model.total_params} params ({checked})", file=sys.stderr)
    else:
        sys.stdout.write(result.text)
    return 0


def add_parser(sub) -> argparse.ArgumentParser:
    """The `import` subcommand, added to the CLI's subparsers."""
    p = add_command(sub, "import", "write the .nn spec of a Keras model (.keras, model JSON or full-model .h5)",
                    ["shapeproof import model.keras -o model.nn",
                     "shapeproof import model.json --weights model.weights.h5 --symbolic batch,T",
                     "shapeproof import custom.keras --partial -o supported_part.nn"])
    p.add_argument("file", help="a Keras 3 .keras archive, a model JSON (model.to_json(), Keras 3 or tf.keras 2), "
                   "or a full-model .h5")
    p.add_argument("-o", "--output", help="the .nn file to write (default: standard output)")
    p.add_argument("--symbolic", action="append", default=[], metavar="[INPUT:]NAMES",
                   help="name input axes by position, batch axis first, `_` keeps one: --symbolic batch,T turns "
                   "(None, 100, 8) into (batch, T, 8); INPUT: limits it to one input")
    p.add_argument("--weights", help="also check this Keras .weights.h5 against the model (a .keras archive's "
                   "own weights are always checked)")
    p.add_argument("--name", help="the model's name in the spec (default: the Keras model's name)")
    p.add_argument("--partial", action="store_true", help="with unsupported layers, write the model up to the "
                   "first of them (a comment lists every problem) instead of failing")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks")
    p.set_defaults(run=cmd_import)
    return p
