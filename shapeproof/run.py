"""`shapeproof run`: build a model's kernels, run them on an input, print the output and timings."""
from __future__ import annotations

import json
import statistics
import time

from rich.console import Console
from rich.table import Table

from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.progress import BuildProgress


def run_model(model, args, console: Console):
    import numpy as np

    from shapeproof import codegen

    if args.target == "cuda":
        _need_gpu()
    with BuildProgress(model, args.target) as progress:
        progress.stage("generating the kernels")
        start = time.perf_counter()
        net = codegen.build(model, args.target, args.dtype, threads=getattr(args, "threads", None))
        build_s = time.perf_counter() - start
        if args.weights:
            net.load_weights(args.weights)
            weights_from = args.weights
        else:
            from shapeproof.keras.initializers import initial_weights

            net.set_weights(initial_weights(net.weight_shapes, args.seed))
            weights_from = f"Keras's default initializers (seed {args.seed})"
        inputs = _inputs(model, args, np)
        progress.stage("compiling (or loading from the kernel cache) and the first call")
        start = time.perf_counter()
        net.compile(progress.kernel)
        outputs = net(*inputs)
        first_s = time.perf_counter() - start
    cached = _loaded_from_cache(net.module)
    times = []
    for _ in range(max(args.repeat, 1)):
        start = time.perf_counter()
        net(*inputs)
        times.append(time.perf_counter() - start)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    if args.output:
        _save(args.output, model, outputs, np)
    timings = {"build_s": build_s, "first_call_s": first_s, "cached": cached,
               "median_call_s": statistics.median(times), "calls": len(times)}
    if args.json:
        print(json.dumps({"model": model.name, "weights": weights_from, "dtype": args.dtype, "target": args.target,
                          "inputs": [list(i.shape) for i in inputs],
                          "outputs": [{"name": name, "shape": list(y.shape), **_statistics(y)}
                                      for (name, _), y in zip(model.outputs, outputs)],
                          "timings": timings, "saved": args.output}, indent=1))
        return
    table = Table(title=f"{model.name}: {', '.join(str(i.shape) for i in inputs)} -> "
                  f"{', '.join(str(o.shape) for o in outputs)}", title_justify="left")
    for column in ("output", "shape", "min", "max", "mean", "std"):
        table.add_column(column, justify="right" if column not in ("output", "shape") else "left")
    for (name, _), y in zip(model.outputs, outputs):
        table.add_row(name, str(y.shape), *(f"{v:.6g}" for v in _statistics(y).values()))
    console.print(table)
    console.print(f"weights: {weights_from}; dtype {args.dtype}; target {args.target}")
    console.print(f"build (generate + import): {build_s * 1e3:.0f} ms; first call: {first_s * 1e3:.0f} ms "
                  f"({'kernels loaded from the cache' if cached else 'compiled now, cached for next time'}); "
                  f"median of {len(times)} calls: {statistics.median(times) * 1e3:.3f} ms")
    if args.output:
        console.print(f"wrote {args.output}")


def _statistics(y) -> dict:
    return {"min": float(y.min()), "max": float(y.max()), "mean": float(y.mean()), "std": float(y.std())}


def _save(path: str, model, outputs, np):
    """One output as .npy, several as .npz (named after the model's outputs)."""
    if path.endswith(".npz"):
        np.savez(path, **{name: y for (name, _), y in zip(model.outputs, outputs)})
    elif len(outputs) == 1 and path.endswith(".npy"):
        np.save(path, outputs[0])
    else:
        raise ShapeproofError(f"-o {path}: {'several outputs need an .npz' if len(outputs) > 1 else 'not .npy or .npz'}",
                              hint="e.g. -o out.npy for one output, -o out.npz for several")


def _need_gpu():
    """A clear error, not Numba's, when --target cuda has no GPU to run on."""
    from numba import cuda

    from shapeproof.codegen.errors import CodegenError

    if not cuda.is_available():
        raise CodegenError("--target cuda needs an NVIDIA GPU and its driver, and none was found; "
                           "`shapeproof gen --target cuda` still writes the module, and NUMBA_ENABLE_CUDASIM=1 "
                           "runs it on Numba's CUDA simulator (slowly: for checking, not timing)")


def _loaded_from_cache(module) -> bool:
    """Whether the first call loaded compiled kernels from Numba's cache instead of compiling them."""
    stats = [v.stats for v in vars(module).values() if hasattr(v, "py_func") and hasattr(v, "stats")]
    return any(sum(s.cache_hits.values()) > 0 for s in stats)


def _load_input(path: str, np):
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ShapeproofError(f"--input {path}: no such file", hint="give the path of a .npy array") from None
    except (OSError, ValueError) as e:
        raise ShapeproofError(f"--input {path}: not a readable .npy array ({e})",
                              hint="save it with numpy.save(path, array)") from None


def _inputs(model, args, np):
    if args.input:
        if len(args.input) != len(model.inputs):
            raise ShapeproofError(f"{model.name} takes {len(model.inputs)} input(s), --input gave {len(args.input)}",
                                  hint="one --input x.npy per model input, in the order of the inputs")
        return [_load_input(path, np) for path in args.input]
    sizes = {"batch": args.batch}
    free = [str(s) for s in model.free_symbols if str(s) not in sizes]
    for spec in model.inputs:
        if str(spec.shape[0]) not in sizes and not spec.shape[0].is_number:
            sizes[str(spec.shape[0])] = args.batch  # the batch axis, whatever it is called
    unbound = [s for s in free if s not in sizes]
    if unbound:
        raise ShapeproofError(f"give the free size{'s' * (len(unbound) > 1)} {', '.join(unbound)} a value to "
                              "make a random input", hint=f"e.g. --set {unbound[0]}=16, or pass --input x.npy")
    rng = np.random.default_rng(args.seed)
    arrays = []
    for spec in model.inputs:
        shape = tuple(int(d.subs({s: sizes[str(s)] for s in d.free_symbols})) for d in spec.shape)
        if spec.dtype.startswith(("int", "uint")):
            arrays.append(rng.integers(0, 2, size=shape).astype(spec.dtype))
        else:
            arrays.append(rng.normal(size=shape).astype(spec.dtype))
    return arrays
