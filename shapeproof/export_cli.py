"""`shapeproof export`: a model of a .nn file -> an untrained Keras model (.keras) or the Python that
builds it (shapeproof/keras/export.py does the work)."""
from __future__ import annotations

import argparse
import sys

from shapeproof import analyzer
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.options import add_command, model_of, parse_set


def cmd_export(args) -> int:
    from shapeproof.keras.export import export_keras, python_source

    model = model_of(args, analyzer.load(args.file, set=parse_set(args.set)))
    if args.python:
        text = python_source(model, args.file)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
        return 0
    if not args.output or not args.output.endswith(".keras"):
        raise ShapeproofError("export writes a .keras archive: give -o MODEL.keras (or --python for the code)")
    keras_model = export_keras(model, args.output)
    print(f"wrote {args.output}: Keras model {model.name}, {len(model.nodes)} layers, "
          f"{keras_model.count_params():,} params (untrained)", file=sys.stderr)
    return 0


def add_parser(sub) -> argparse.ArgumentParser:
    """The `export` subcommand, added to the CLI's subparsers."""
    p = add_command(sub, "export", "write a model as an untrained Keras model (.keras), or the Keras code that "
                    "builds it (--python)", ["shapeproof export examples/seeds.nn --model ConvModel -o conv_model.keras",
                                             "shapeproof export examples/text_cnn.nn --python -o text_cnn.py"])
    p.add_argument("file", help="a .nn file")
    p.add_argument("--model", help="the model (needed when the file has several)")
    p.add_argument("-o", "--output", help="the .keras archive (or with --python, the .py file; default stdout)")
    p.add_argument("--python", action="store_true", help="write the Keras code instead of an archive")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a model parameter with an integer or a new symbol name")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks")
    p.set_defaults(run=cmd_export)
    return p
