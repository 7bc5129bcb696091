"""`shapeproof equiv FILE A B`: prove or refute that models A and B compute the same functions.

Exit status: 0 proved equivalent, 1 refuted (not equivalent), 3 unknown, 2 an input error.
The prover (analyzer/equivalence) is imported here, on demand: other commands never load it.
"""
from __future__ import annotations

import json

from rich.console import Console

from shapeproof import analyzer
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.values import did_you_mean
from shapeproof.options import parse_set

EXIT = {"proved": 0, "refuted": 1, "unknown": 3}


def cmd_equiv(args) -> int:
    from shapeproof.analyzer.equivalence import decide
    from shapeproof.analyzer.equivalence.report import render, to_json

    program = analyzer.load(args.file, set=parse_set(args.set))
    models = []
    for name in (args.a, args.b):
        if name not in program.models:
            raise ShapeproofError(f"no model named {name!r} in {program.file}", file=program.file,
                                  hint=did_you_mean(name, program.models) or f"models: {', '.join(program.models)}")
        models.append(program.models[name])
    result = decide(*models)
    if args.json:
        print(json.dumps(to_json(result, program.file), indent=1))
    else:
        render(result, Console())
    return EXIT[result.verdict]
