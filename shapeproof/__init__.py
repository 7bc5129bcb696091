"""shapeproof: symbolic shapes, parameter counts, costs and equivalence proofs for Keras-style models,
and Numba forward kernels that load Keras weights.

    import shapeproof
    program = shapeproof.load("examples/seeds.nn", set={"n_features": 50})
    model = program.models["ConvModel"]
    model.total_params, model.nodes[0].output_shape
    net = shapeproof.build(model, target="cpu")    # or "cuda"
    net.load_weights("model.keras")                # or net.set_weights(keras_model.get_weights())
    y = net(x)

The stages, in import order (each imports only those before it):
shapeproof.grammar, shapeproof.analyzer (syntax, layers, analysis, equivalence, reference),
shapeproof.codegen (lowering, cpu and cuda renderers), shapeproof.keras (import, export, weight files),
and the command line (shapeproof.cli). Nothing heavy is imported until it is used.
"""
from __future__ import annotations

__version__ = "0.1.0"


def load(path, set: dict | None = None):
    """Parse and analyse a .nn file: a Program with `.models` (name -> analysed Model)."""
    from .analyzer import load as load_program

    return load_program(path, set=set)


def loads(text: str, set: dict | None = None, file: str = "<string>"):
    """load() for .nn text."""
    from .analyzer import loads as loads_program

    return loads_program(text, set=set, file=file)


def build(model, target: str = "cpu", dtype: str = "float32", parallel: bool = True, threads: int | None = None):
    """Generate, compile (cached across processes) and wrap an analysed model's forward pass: a Net.
    `threads=N` runs its parallel loops on N threads (CPU; default: all cores)."""
    from .codegen import build as build_net

    return build_net(model, target=target, dtype=dtype, parallel=parallel, threads=threads)


def predict(model, weights=None, data=(), out=None, **options):
    """Run a model over a dataset in chunks, in this process or on a Dask cluster (`client=`): see
    shapeproof/scoring.py. NumPy, Dask and Zarr are imported only when it is called."""
    from .scoring import predict as run_predict

    return run_predict(model, weights, data, out, **options)


__all__ = ["__version__", "build", "load", "loads", "predict"]
