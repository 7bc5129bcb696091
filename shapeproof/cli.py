"""The `shapeproof` command: wires the stages together and holds no logic of its own.

Exit status: 0 success / all assertions hold, 1 an assertion fails, 2 an input error, 3 undecided.
Every ShapeproofError is rendered here, once, as `FILE:LINE:COL: error: ...`; `--debug` shows the
Python traceback instead.
"""
from __future__ import annotations

import argparse
import gc
import sys

# Importing SymPy, Rich and Lark makes some 120,000 objects for the cyclic collector that live as
# long as the process. It would walk them at each full collection while they are being made and
# once more at exit: 0.09 s of a 0.4 s `shapeproof report`. So it pauses during the imports, and
# gc.freeze() then takes them out of its sight; what a command makes afterwards is collected as usual.
_collecting = gc.isenabled()
gc.disable()

# SymPy's Add imports this module (20 ms) the first time it adds three terms: here, in the pause.
import sympy.tensor.tensor  # noqa: F401
from rich.console import Console

from shapeproof import analyzer
from shapeproof.analyzer.assertions import evaluate_assertions
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.report import program_json, render_report, verdict_text
from shapeproof.analyzer.training import OPTIMIZER_SLOTS, training_memory
from shapeproof.codegen.errors import CodegenError
from shapeproof.options import add_command, model_of, parse_set, print_json, unknown_model

gc.freeze()
if _collecting:
    gc.enable()

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_UNDECIDED = 0, 1, 2, 3


def cmd_report(args) -> int:
    program = analyzer.load(args.file, set=parse_set(args.set))
    if args.model and args.model not in program.models:
        raise unknown_model(args.model, program)
    verdicts = evaluate_assertions(program) if args.model is None else []  # equivalences undecided: fast
    training = None
    if args.training:
        training = {name: training_memory(m, args.training) for name, m in program.models.items()}
    if args.json:
        print_json(program_json(program, verdicts, args.model, training))
    else:
        render_report(program, console(), args.model, args.explain, verdicts, training, args.expand)
    return EXIT_OK


def console() -> Console:
    """The terminal's width on a terminal; piped or redirected, 160 columns, so that formulas and
    names are not folded mid-word at Rich's default of 80."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def cmd_check(args) -> int:
    program = analyzer.load(args.file, set=parse_set(args.set))
    from shapeproof.analyzer.equivalence import check_assertions  # on demand: the prover loads NumPy

    verdicts = check_assertions(program)
    if args.json:
        print_json(program_json(program, verdicts))
    else:
        console = Console()
        names = ", ".join(program.models)
        console.print(f"{program.file}: {len(program.models)} model{'s' * (len(program.models) != 1)} ({names}) "
                      f"analysed, {len(verdicts)} assertion{'s' * (len(verdicts) != 1)}")
        console.print(verdict_text(verdicts), end="")
    if any(v.holds is False for v in verdicts):
        return EXIT_FAILED
    if any(v.holds is None for v in verdicts):
        return EXIT_UNDECIDED
    return EXIT_OK


def cmd_gen(args) -> int:
    from shapeproof import codegen

    program = analyzer.load(args.file, set=parse_set(args.set))
    model = model_of(args, program)
    source = codegen.generate(model, args.target, args.dtype, source_file=args.file)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(source)
        Console(stderr=True).print(f"wrote {args.output}: {len(model.nodes)} layers in {source.count(chr(10))} lines for model "
                                   f"{model.name} ({args.target}, {args.dtype})")
    else:
        sys.stdout.write(source)
    return EXIT_OK


def cmd_run(args) -> int:
    from shapeproof.run import run_model

    program = analyzer.load(args.file, set=parse_set(args.set))
    run_model(model_of(args, program), args, Console())
    return EXIT_OK


def cmd_layers(args) -> int:
    from shapeproof.analyzer.report import layer_catalog, render_layers

    rows = layer_catalog(args.name)
    if args.json:
        print_json(rows if args.name is None else rows[0])
    else:
        render_layers(rows, Console(), detail=args.name is not None)
    return EXIT_OK


def _equiv(args) -> int:
    from shapeproof.equiv import cmd_equiv

    return cmd_equiv(args)


def build_parser() -> argparse.ArgumentParser:
    from shapeproof import __version__

    parser = argparse.ArgumentParser(prog="shapeproof", description="Symbolic shapes, parameters, costs and "
                                     "equivalences of Keras-style layer stacks written as .nn specs.")
    parser.add_argument("--version", action="version", version=f"shapeproof {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, what: str, examples: list[str]):
        return add_command(sub, name, what, examples)

    def common(p, json: bool = True):
        p.add_argument("file", help="a .nn file")
        p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="override a model parameter with an integer or a new symbol name")
        if json:
            p.add_argument("--json", action="store_true", help="print JSON instead of tables")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks")

    report = command("report", "per-layer shapes, params, MACs, memory and receptive fields",
                     ["shapeproof report examples/seeds.nn --model ConvModel --training adam",
                      "shapeproof report examples/text_cnn.nn --set L=T --json"])
    common(report)
    report.add_argument("--model", help="only this model")
    report.add_argument("--explain", action="store_true", help="show each layer's formulas")
    report.add_argument("--expand", action="store_true", help="show the layers of each block call under its row")
    optimizers = list(OPTIMIZER_SLOTS)
    report.add_argument("--training", metavar="OPTIMIZER", choices=optimizers,
                        help=f"add the memory one training step keeps: {', '.join(optimizers)}")
    report.set_defaults(run=cmd_report)

    check = command("check", "parse, analyse and evaluate the file's assertions (exit 0 all hold, 1 one fails, "
                    "3 undecided)", ["shapeproof check examples/equivalences.nn"])
    common(check)
    check.set_defaults(run=cmd_check)

    gen = command("gen", "write the model's forward pass as a module of Numba kernels",
                  ["shapeproof gen examples/seeds.nn --model ConvModel -o conv_model.py",
                   "shapeproof gen examples/video.nn --target cuda --set T=8"])
    common(gen, json=False)
    gen.add_argument("--model", help="the model (needed when the file has several)")
    gen.add_argument("--target", default="cpu", choices=["cpu", "cuda"], help="where the kernels run")
    gen.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    gen.add_argument("-o", "--output", help="the .py file to write (default: standard output)")
    gen.set_defaults(run=cmd_gen)

    equiv = command("equiv", "prove or refute that two models compute the same functions "
                    "(exit 0 proved, 1 refuted, 3 unknown)",
                    ["shapeproof equiv examples/seeds.nn PointwiseConv PointwiseDense"])
    equiv.add_argument("file", help="a .nn file")
    equiv.add_argument("a", metavar="A", help="a model of the file")
    equiv.add_argument("b", metavar="B", help="another model of the file")
    equiv.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="override a model parameter with an integer or a new symbol name")
    equiv.add_argument("--json", action="store_true", help="print JSON instead of the proof text")
    equiv.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks")
    equiv.set_defaults(run=_equiv)

    run = command("run", "build the kernels, run them on an input and time them",
                  ["shapeproof run examples/seeds.nn --model ConvModel --batch 8 --threads 2",
                   "shapeproof run model.nn --weights model.keras --input x.npy -o y.npy",
                   "shapeproof run examples/text_cnn.nn --json"])
    common(run)
    run.add_argument("--model", help="the model (needed when the file has several)")
    run.add_argument("--target", default="cpu", choices=["cpu", "cuda"],
                     help="cuda needs an NVIDIA GPU (or NUMBA_ENABLE_CUDASIM=1: Numba's slow simulator)")
    run.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    run.add_argument("--weights", help="weights: .npz, Keras .keras, .weights.h5 or legacy .h5 (default: drawn as "
                     "Keras's default initializers would)")
    run.add_argument("--input", action="append", help=".npy input array (one per model input, in order)")
    run.add_argument("--batch", type=int, default=1, help="batch size of the random input (default 1)")
    run.add_argument("--repeat", type=int, default=20, help="timed calls after the first (default 20)")
    run.add_argument("--seed", type=int, default=0, help="seed of the random input and weights")
    run.add_argument("--threads", type=int, help="threads for the kernels' parallel loops (default: all cores)")
    run.add_argument("-o", "--output", help="save the output: .npy (one output) or .npz (named by output)")
    run.set_defaults(run=cmd_run)

    layers = command("layers", "every supported layer kind, or one with its Keras arguments",
                     ["shapeproof layers", "shapeproof layers Conv1D", "shapeproof layers --json"])
    layers.add_argument("name", nargs="?", help="one layer kind (or an alias: MaxPool2D)")
    layers.add_argument("--json", action="store_true", help="print JSON instead of a table")
    layers.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks")
    layers.set_defaults(run=cmd_layers)

    from shapeproof.import_cli import add_parser as add_import  # `shapeproof import`: Keras file -> .nn

    add_import(sub)
    from shapeproof.export_cli import add_parser as add_export  # `shapeproof export`: .nn -> Keras

    add_export(sub)
    from shapeproof.predict_cli import add_parser as add_predict  # `shapeproof predict`: a dataset, on Dask

    add_predict(sub)
    from shapeproof.cache_cli import add_parsers as add_cache  # `build` and `cache`

    add_cache(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:  # `shapeproof report ... | head`: the reader has gone, nothing to say
        sys.stderr.close()
        return EXIT_OK
    except ShapeproofError as e:
        if args.debug:
            raise
        e.file = e.file or getattr(args, "file", None)
        print(e.render(_source(e.file)), file=sys.stderr)
        return EXIT_INPUT
    except (CodegenError, ValueError, OSError) as e:  # a model we cannot generate, a bad weight or input file
        if args.debug:
            raise
        print(f"shapeproof: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug in shapeproof, not in the input: still no traceback unless asked
        if args.debug:
            raise
        print(f"shapeproof: internal error: {type(e).__name__}: {e}\n(run with --debug for the traceback, "
              "and please report it)", file=sys.stderr)
        return EXIT_INPUT


def _source(file: str | None) -> str | None:
    try:
        with open(file, encoding="utf-8") as f:
            return f.read()
    except (OSError, TypeError, UnicodeDecodeError):
        return None


if __name__ == "__main__":
    sys.exit(main())
