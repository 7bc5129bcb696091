"""`shapeproof build` (warm the kernel cache ahead of time) and `shapeproof cache info|clear`.

The cache itself (where it is, what an entry holds, how a damaged one is repaired) is codegen/cache.py.
"""
from __future__ import annotations

import argparse
import sys

from shapeproof.options import add_command, model_of, parse_set, print_json


def cmd_build(args) -> int:
    from shapeproof import analyzer, codegen
    from shapeproof.codegen.cache import cache_dir
    from shapeproof.progress import BuildProgress

    program = analyzer.load(args.file, set=parse_set(args.set))
    model = model_of(args, program)
    with BuildProgress(model, args.target) as progress:
        progress.stage("generating the kernels")
        net = codegen.build(model, args.target, args.dtype)
        if args.target == "cuda":
            _launch_once(net, model, progress)
        else:
            net.compile(progress.kernel)
    print(f"{net.name} in {cache_dir()}", file=sys.stderr)
    return 0


def _launch_once(net, model, progress):
    """CUDA kernels compile at their first launch: run the forward once on zeros at the least sizes."""
    import numpy as np
    from numba import cuda

    from shapeproof.analyzer.inequalities import least_sizes
    from shapeproof.codegen.errors import CodegenError

    if not cuda.is_available():
        raise CodegenError("building CUDA kernels needs an NVIDIA GPU and its driver, and none was found; "
                           "the module is in the cache and compiles at its first run on a GPU")
    progress.stage("compiling the kernels (first launch)")
    progress.counted = False
    sizes = least_sizes(model.free_symbols, model.constraints)
    net.random_weights()
    arrays = [np.zeros([int(d.subs(sizes)) for d in spec.shape], dtype=spec.dtype) for spec in model.inputs]
    net(*arrays)


def cmd_cache(args) -> int:
    from shapeproof.codegen import cache

    if args.action == "clear":
        files, size = cache.clear()
        print(f"removed {files} files ({_size(size)}) from {cache.cache_dir()}")
        return 0
    info = cache.summary()
    if args.json:
        print_json(info)
        return 0
    print(f"location: {info['location']}  (SHAPEPROOF_CACHE)")
    if info["numba_cache_dir"]:
        print(f"compiled kernels: {info['numba_cache_dir']}  (NUMBA_CACHE_DIR)")
    print(f"entries: {info['entries']} built model{'s' * (info['entries'] != 1)}, {info['files']} files "
          f"({info['compiled_files']} compiled-kernel files), {_size(info['bytes'])}")
    if info["temporary_files"]:
        print(f"unfinished: {info['temporary_files']} temporary files left by interrupted builds "
              "(`shapeproof cache clear` removes them)")
    return 0


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def add_parsers(sub):
    """The `build` and `cache` subcommands, added to the CLI's subparsers."""
    build = add_command(sub, "build", "generate and compile a model's kernels into the kernel cache, ahead of "
                        "its first run (Docker images, CI)",
                        ["shapeproof build examples/seeds.nn --model ConvModel",
                         "SHAPEPROOF_CACHE=/opt/kernels shapeproof build model.nn --set n_features=50"])
    build.add_argument("file", help="a .nn file")
    build.add_argument("--model", help="the model (needed when the file has several)")
    build.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="override a model parameter with an integer or a new symbol name")
    build.add_argument("--target", default="cpu", choices=["cpu", "cuda"], help="where the kernels run")
    build.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    build.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks")
    build.set_defaults(run=cmd_build)

    cache = add_command(sub, "cache", "show where the kernel cache is and how big (info), or empty it (clear)",
                        ["shapeproof cache info", "shapeproof cache clear"])
    cache.add_argument("action", choices=["info", "clear"])
    cache.add_argument("--json", action="store_true", help="info as JSON")
    cache.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show Python tracebacks")
    cache.set_defaults(run=cmd_cache)
