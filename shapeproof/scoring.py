"""The engine of `shapeproof predict` and `shapeproof.predict(...)`: score a dataset with a model's kernels, chunk by chunk, in one process or on Dask.

    import shapeproof
    y = shapeproof.predict("model.nn", "model.keras", "x.npy", "scores.zarr")           # streams, one process
    y = shapeproof.predict("model.nn", "model.keras", "parts/*.npy", "y.npy", client=c)  # on a Dask cluster
    lazy = shapeproof.predict(model, "w.npz", "s3://bucket/x.zarr")                      # a Dask array

The work is a list of chunks of rows. Each chunk is one order-independent task (`run_chunk`): read
its rows from every input, run the forward pass, write the outputs and flag the chunk done. The same
task runs in the calling process, one chunk in memory at a time, or on Dask workers (one
`client.submit` per chunk; Dask reruns the tasks of a worker that dies).

Note: one net per process. A task carries the generated source and the weights file's path, not a
built net: each process builds the net once per (source, weights) hash, loads the weights once and
reuses Numba's kernel cache (SHAPEPROOF_CACHE, shared when the workers share a filesystem). Kernel
calls in one process are serialised: each is parallel already, and Numba's thread pool is not for
nested use by several Dask threads.

Note: resuming. A Zarr output holds `chunks_done`, one flag per chunk, each flag its own Zarr chunk,
set after that chunk's outputs are written: no two tasks ever write the same file, and `resume`
runs only the chunks not flagged. Dask, distributed and Zarr are imported here only, when used.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from glob import glob
from pathlib import Path

import numpy as np
import sympy

from shapeproof.analyzer.errors import ShapeproofError

DONE = "chunks_done"
CHUNK_BYTES = 128 << 20  # default chunk: about this much activation memory per forward pass
INPUT_HINT = "--data takes a .npy file, a quoted glob of .npy files ('parts/*.npy') or a Zarr array"


# ---- inputs: picklable descriptions that read rows where they run ----

@dataclass(frozen=True)
class NpyInput:
    """One .npy file, or a glob's files in sorted order concatenated along the first axis, memory-mapped."""

    text: str                      # as the user wrote it
    paths: tuple[str, ...]
    starts: tuple[int, ...]        # each file's first row, then the total
    shape: tuple[int, ...]
    dtype: str
    chunk_rows: int | None = None  # a .npy has no chunks of its own

    def read(self, start: int, stop: int) -> np.ndarray:
        parts = [_memmap(path, os.stat(path).st_mtime_ns)[max(start, a) - a:min(stop, b) - a]
                 for path, a, b in zip(self.paths, self.starts, self.starts[1:]) if start < b and a < stop]
        return np.concatenate(parts) if len(parts) > 1 else np.array(parts[0])


@lru_cache(maxsize=64)
def _memmap(path: str, mtime_ns: int):
    """A read-only memory map, opened once per process and file version (the time in the key)."""
    return np.load(path, mmap_mode="r", allow_pickle=False)


@dataclass(frozen=True)
class ZarrInput:
    """One array of a Zarr store: a local path or an fsspec URL."""

    text: str
    url: str
    shape: tuple[int, ...]
    dtype: str
    chunk_rows: int | None

    def read(self, start: int, stop: int) -> np.ndarray:
        import zarr

        return zarr.open_array(self.url, mode="r")[start:stop]


def open_input(text: str):
    """An input named on the command line, checked readable: NpyInput or ZarrInput."""
    local = "://" not in text
    if text.endswith(".npy"):
        paths = sorted(glob(text)) if any(c in text for c in "*?[") else [text]
        if not paths:
            raise ShapeproofError(f"no file matches {text!r}", file=text, hint=INPUT_HINT)
        arrays = []
        for path in paths:
            try:
                arrays.append(_memmap(path, os.stat(path).st_mtime_ns))
            except FileNotFoundError:
                raise ShapeproofError("no such file", file=path, hint=INPUT_HINT) from None
            except (OSError, ValueError) as e:
                raise ShapeproofError(f"not a readable .npy array ({e})", file=path,
                                      hint="save it with numpy.save(path, array)") from None
            if arrays[-1].ndim == 0:
                raise ShapeproofError("a 0-d array has no rows to score", file=path)
        for path, a in zip(paths, arrays):
            if a.shape[1:] != arrays[0].shape[1:] or a.dtype != arrays[0].dtype:
                raise ShapeproofError(f"shape {a.shape} {a.dtype} does not continue {paths[0]}'s "
                                      f"{arrays[0].shape} {arrays[0].dtype}", file=path,
                                      hint="a glob's files are joined along the first axis: the other axes "
                                      "and the dtype must agree")
        starts = [0]
        for a in arrays:
            starts.append(starts[-1] + len(a))
        paths = tuple(os.path.abspath(p) for p in paths)  # workers may start elsewhere
        return NpyInput(text, paths, tuple(starts), (starts[-1], *arrays[0].shape[1:]), str(arrays[0].dtype))
    import zarr

    url = os.path.abspath(text) if local else text
    if local and not os.path.exists(url):
        raise ShapeproofError("no such file or Zarr store", file=text, hint=INPUT_HINT)
    try:
        node = zarr.open(url, mode="r")
        if isinstance(node, zarr.Group):
            names = sorted(name for name, _ in node.arrays())
            if len(names) != 1:
                raise ShapeproofError(f"a Zarr group of {len(names)} arrays ({', '.join(names) or 'none'}): "
                                      "name the one to read", file=text,
                                      hint=f"e.g. --data {text.rstrip('/')}/{names[0] if names else 'NAME'}")
            url, node = f"{url.rstrip('/')}/{names[0]}", node[names[0]]
        shape, dtype, chunks = tuple(node.shape), str(node.dtype), node.chunks
    except ShapeproofError:
        raise
    except Exception as e:  # noqa: BLE001 (Zarr and fsspec raise many kinds: a missing store, bad metadata, no access)
        raise ShapeproofError(f"not a readable Zarr array ({type(e).__name__}: {e})", file=text,
                              hint=INPUT_HINT) from None
    if not shape:
        raise ShapeproofError("a 0-d array has no rows to score", file=text)
    return ZarrInput(text, url, shape, dtype, chunks[0])


def check_data(model, sources) -> dict:
    """The value of each free size (the batch axis included) that the inputs give, after checking their
    number, ranks, sizes and dtypes against the model; every error names the file and the axis."""
    if len(sources) != len(model.inputs):
        raise ShapeproofError(f"{model.name} takes {len(model.inputs)} input(s), --data gave {len(sources)}",
                              hint="one --data per model input, in the order of the inputs: "
                              + ", ".join(spec.name for spec in model.inputs))
    batch = model.inputs[0].shape[0]
    if not batch.is_Symbol or any(spec.shape[0] != batch for spec in model.inputs) or \
            any(shape[0] != batch for _, shape in model.outputs):
        raise ShapeproofError(f"{model.name}: predict splits the first axis into chunks, so it must be the same "
                              "free size on every input and output", hint="e.g. input (batch, 8)")
    values = {}
    for spec, src in zip(model.inputs, sources):
        wanted = f"{model.name}'s input {spec.name!r} is ({', '.join(map(str, spec.shape))})"
        if len(src.shape) != len(spec.shape):
            raise ShapeproofError(f"has {len(src.shape)} axes {src.shape}; {wanted}", file=src.text)
        for axis, (dim, n) in enumerate(zip(spec.shape, src.shape)):
            if dim.is_Symbol and values.setdefault(dim, n) != n:
                raise ShapeproofError(f"axis {axis} has size {n}, but {dim} is {values[dim]} on another input",
                                      file=src.text)
    for spec, src in zip(model.inputs, sources):
        wanted = f"{model.name}'s input {spec.name!r} is ({', '.join(map(str, spec.shape))})"
        for axis, (dim, n) in enumerate(zip(spec.shape, src.shape)):
            size = dim.subs(values)
            if not size.is_number:
                raise ShapeproofError(f"axis {axis}: no input axis gives {dim}", file=src.text,
                                      hint=f"give its sizes with --set; {wanted}")
            if int(size) != n:
                raise ShapeproofError(f"axis {axis} has size {n}, expected {size}: {wanted}", file=src.text)
        integer = spec.dtype.startswith(("int", "uint"))
        if np.dtype(src.dtype).kind not in ("iu" if integer else "fiu"):
            raise ShapeproofError(f"dtype {src.dtype}: {model.name}'s input {spec.name!r} takes "
                                  f"{'integers' if integer else 'real numbers'} ({spec.dtype})", file=src.text)
    for c in model.constraints:
        if c.condition.subs(values) is sympy.false:
            raise ShapeproofError(f"{model.name} is not valid for this data: {c.reason}", file=sources[0].text)
    return values


# ---- the task ----

@dataclass(frozen=True)
class ZarrOutput:
    """The output store: one array per model output, and the chunks_done flags."""

    url: str
    names: tuple[str, ...]

    def write(self, index: int, start: int, outputs):
        import zarr

        group = zarr.open_group(self.url, mode="r+")
        for name, y in zip(self.names, outputs):
            group[name][start:start + len(y)] = y
        group[DONE][index] = True  # last: a chunk interrupted before this line is redone on resume


@dataclass(frozen=True)
class Job:
    """What every task needs, picklable: the generated source, the weights file, the data, the output."""

    source: str
    target: str
    weights: str | None
    key: str                       # sha256 of source and weights: one net per key per process
    inputs: tuple
    output: ZarrOutput | None      # None: the tasks return their outputs (a .npy, a lazy array)
    rows: int
    chunk: int
    threads: int | None            # Numba threads per process (None: Numba's default)

    @property
    def n_chunks(self) -> int:
        return -(-self.rows // self.chunk)

    def bounds(self, index: int) -> tuple[int, int]:
        return index * self.chunk, min(self.rows, (index + 1) * self.chunk)


@dataclass(frozen=True)
class ChunkResult:
    index: int
    rows: int
    outputs: tuple | None          # when the job has no output store
    built: str | None              # how this process built the net, on its first chunk


_NETS: dict = {}
_LOCK = threading.Lock()


def run_chunk(job: Job, index: int) -> ChunkResult:
    """The task: chunk `index` of the job, read, run and written (or returned)."""
    start, stop = job.bounds(index)
    inputs = [src.read(start, stop) for src in job.inputs]
    with _LOCK:
        began = None
        if job.key not in _NETS:
            began = time.perf_counter()
            _build(job)
        net = _NETS[job.key]
        if job.threads:
            import numba

            numba.set_num_threads(min(job.threads, numba.config.NUMBA_NUM_THREADS))
        outputs = net(*inputs)
        built = None if began is None else _built(net, time.perf_counter() - began)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    if job.output is None:
        return ChunkResult(index, stop - start, outputs, built)
    job.output.write(index, start, outputs)
    return ChunkResult(index, stop - start, None, built)


def _built(net, seconds: float) -> str:
    """Where and how a process built its net (its first chunk included), for the progress report."""
    from shapeproof.run import _loaded_from_cache

    how = "kernels loaded from the cache" if _loaded_from_cache(net.module) else "kernels compiled and cached"
    return f"pid {os.getpid()} on {os.uname().nodename}: net built and first chunk run in {seconds:.1f} s ({how})"


def _build(job: Job):
    from shapeproof.codegen.net import CudaNet, Net, import_source

    net = (CudaNet if job.target == "cuda" else Net)(None, job.source, import_source(job.source))
    if job.weights:
        net.load_weights(job.weights)
    _NETS.clear()  # a worker serves one job at a time: do not keep old weights alive
    _NETS[job.key] = net
    return net


# ---- the driver ----

def predict(model, weights=None, data=(), out=None, *, client=None, chunk: int | None = None,
            model_name: str | None = None, set: dict | None = None, target: str = "cpu", dtype: str = "float32",
            threads: int | None = None, resume: bool = False, progress: bool = False):
    """Run `model` (an analysed Model, or a .nn path with `model_name` when it has several) with the weights
    file `weights` (.npz, .keras, .weights.h5) over `data` (one input, or a list: one per model input) into
    `out`, in chunks of `chunk` rows (default: about 128 MiB of activations), on `client`'s Dask cluster
    or in this process. Returns the output array (a tuple when several): for `out` a Zarr store, its Zarr
    arrays; a `.npy`, a read-only memory map; None, lazy Dask arrays that compute when asked.

        y = shapeproof.predict("m.nn", "m.keras", "x.npy", "y.zarr", chunk=4096, resume=True)
    """
    if isinstance(model, (str, Path)):
        model = _model_of(model, model_name, set)
    sources = [open_input(str(d)) for d in ([data] if isinstance(data, (str, Path)) else data)]
    values = check_data(model, sources)
    rows = sources[0].shape[0]
    weights_sha = None
    if weights is not None:
        weights = os.path.abspath(weights)
        weights_sha = _file_sha256(weights)
    from shapeproof import __version__, codegen

    source = codegen.generate(model, target, dtype)
    source_sha = hashlib.sha256(source.encode()).hexdigest()
    if chunk is None:
        chunk = default_chunk(model, values, sources)
    if chunk < 1:
        raise ShapeproofError(f"--chunk {chunk}: a chunk needs at least one row")
    chunk = min(chunk, rows)
    names = tuple(name for name, _ in model.outputs)
    shapes = [tuple(rows if i == 0 else int(d.subs(values)) for i, d in enumerate(shape))
              for _, shape in model.outputs]
    job = Job(source, target, str(weights) if weights else None, f"{source_sha[:16]}-{weights_sha}",
              tuple(sources), None, rows, chunk, threads)
    if out is None:
        return _lazy(job, shapes, dtype)
    out = str(out)
    if out.endswith(".npy"):
        if resume:
            raise ShapeproofError(f"--resume needs a Zarr output, not {out}", hint="e.g. --out scores.zarr")
        if len(names) > 1:
            raise ShapeproofError(f"{model.name} has {len(names)} outputs: write them to a Zarr store",
                                  hint="e.g. --out scores.zarr")
        return _to_npy(job, out, shapes[0], dtype, client, progress)
    attrs = {"model": model.name, "source_sha256": source_sha, "weights": job.weights,
             "weights_sha256": weights_sha, "rows": rows, "chunk": chunk, "shapeproof": __version__,
             "inputs": [s.text for s in sources]}
    url = os.path.abspath(out) if "://" not in out else out
    done = _open_store(url, names, shapes, dtype, attrs, job.n_chunks, resume)
    job = replace(job, output=ZarrOutput(url, names))
    todo = [i for i in range(job.n_chunks) if not done[i]]
    with Reporter(f"{model.name}", rows, rows - sum(job.bounds(i)[1] - job.bounds(i)[0] for i in todo),
                  progress) as report:
        for result in _results(job, todo, client, report):
            report.advance(result)
    import zarr

    group = zarr.open_group(url, mode="r")
    arrays = tuple(group[name] for name in names)
    return arrays if len(arrays) > 1 else arrays[0]


def _model_of(path, name, set):
    from shapeproof import load

    program = load(path, set=set)
    if name is None and len(program.models) != 1:
        raise ShapeproofError(f"{path} has {len(program.models)} models: choose one",
                              hint=f"models: {', '.join(program.models)}")
    if name is not None and name not in program.models:
        raise ShapeproofError(f"no model named {name!r} in {path}", hint=f"models: {', '.join(program.models)}")
    return program.models[name] if name else next(iter(program.models.values()))


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise ShapeproofError("no such file", file=path, hint="--weights takes .npz, .keras or .weights.h5") from None
    return digest.hexdigest()


def default_chunk(model, values: dict, sources) -> int:
    """The rows of the first Zarr input's chunks, else as many rows as fit CHUNK_BYTES of activations."""
    for src in sources:
        if src.chunk_rows:
            return src.chunk_rows
    per_row = int(model.peak_activation_bytes.subs({**values, model.inputs[0].shape[0]: 1}))
    return max(1, CHUNK_BYTES // max(per_row, 1))


def _open_store(url, names, shapes, dtype, attrs, n_chunks, resume) -> np.ndarray:
    """Create the output store (or, resuming, check it is this run's); its chunks_done flags."""
    import zarr

    if resume:
        try:
            group = zarr.open_group(url, mode="r")
            done = group[DONE][:]
        except Exception as e:  # noqa: BLE001 (no store, or not one of ours: Zarr raises many kinds)
            raise ShapeproofError(f"nothing to resume: not an output store of shapeproof predict "
                                  f"({type(e).__name__}: {e})", file=url, hint="run without --resume") from None
        for key in ("model", "source_sha256", "weights_sha256", "rows", "chunk"):
            if group.attrs.get(key) != attrs[key]:
                raise ShapeproofError(f"written by another run: its {key} is {group.attrs.get(key)!r}, this run's "
                                      f"{attrs[key]!r}", file=url, hint="remove it to start again")
        return done
    try:
        group = zarr.open_group(url, mode="w-")
    except Exception as e:  # noqa: BLE001 (zarr.errors.Contains*Error, FileExistsError, a URL we cannot write)
        raise ShapeproofError(f"cannot create the output store ({type(e).__name__}: {e})", file=url,
                              hint="--resume finishes an interrupted run; remove the store to start again") from None
    for name, shape in zip(names, shapes):
        array = group.create_array(name, shape=shape, chunks=(attrs["chunk"], *shape[1:]), dtype=dtype)
        array.attrs.update({k: attrs[k] for k in ("model", "weights_sha256", "shapeproof")})
    group.create_array(DONE, shape=(n_chunks,), chunks=(1,), dtype=bool, fill_value=False)
    group.attrs.update(attrs)  # last: a store without them is not resumable, so never half-trusted
    return np.zeros(n_chunks, bool)


def _to_npy(job, out, shape, dtype, client, progress):
    """Write one output to a .npy through a memory map, under a temporary name until complete."""
    partial = f"{out}.partial"
    y = np.lib.format.open_memmap(partial, mode="w+", dtype=dtype, shape=shape)
    try:
        with Reporter(os.path.basename(out), job.rows, 0, progress) as report:
            for result in _results(job, range(job.n_chunks), client, report):
                start, stop = job.bounds(result.index)
                y[start:stop] = result.outputs[0]
                report.advance(result)
        y.flush()
        del y
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return np.load(out, mmap_mode="r")


def _results(job, todo, client, report):
    """ChunkResults of the chunks `todo`, in this process in order, or on `client` as they finish."""
    if client is None:
        for index in todo:
            yield run_chunk(job, index)
        return
    from distributed import as_completed

    # The job is a task of its own (not scattered data): Dask recomputes it if every worker holding it dies,
    # and each worker fetches it once instead of unpickling the source with every chunk.
    shared = client.submit(_same, job, key=f"shapeproof-job-{job.key}-{time.time_ns()}")
    futures = [client.submit(run_chunk, shared, index, key=f"shapeproof-chunk-{index}-{shared.key}")
               for index in todo]
    report.note(f"Dask dashboard: {_dashboard(client)}")
    try:
        for future in as_completed(futures):
            yield future.result()
            future.release()
    finally:
        client.cancel(futures + [shared])


def _same(x):
    return x


def _dashboard(client) -> str:
    try:
        import bokeh  # noqa: F401 (distributed draws its dashboard's pages with Bokeh)
    except ImportError:
        return f"{client.dashboard_link} (its pages need bokeh: pip install bokeh)"
    return client.dashboard_link


def _lazy(job, shapes, dtype):
    """The outputs as Dask arrays of one task per chunk."""
    import dask
    import dask.array as da

    shared = dask.delayed(job, pure=True)
    columns = [[] for _ in shapes]
    for index in range(job.n_chunks):
        start, stop = job.bounds(index)
        result = dask.delayed(_chunk_outputs, pure=True)(shared, index)
        for k, shape in enumerate(shapes):
            columns[k].append(da.from_delayed(result[k], (stop - start, *shape[1:]), dtype=dtype))
    arrays = tuple(da.concatenate(parts) for parts in columns)
    return arrays if len(arrays) > 1 else arrays[0]


def _chunk_outputs(job, index):
    return run_chunk(job, index).outputs


def local_client(workers: int, threads: int | None = None, dashboard: str = ":8787"):
    """A Dask client of a new local cluster: `workers` processes of one task each, whose kernels use `threads`
    Numba threads (default: the cores shared out, so that workers x threads = cores). Returns (client, threads)."""
    from distributed import Client, LocalCluster

    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=dashboard)
    return Client(cluster), threads


# ---- progress ----

class Reporter:
    """Rows done, rows/s and the time left: a Rich bar on a terminal, a plain line every few seconds
    on a pipe (both on standard error), nothing when not enabled."""

    def __init__(self, label: str, total: int, done: int, enabled: bool):
        from rich.console import Console

        self.label, self.total, self.done, self.enabled = label, total, done, enabled
        self.console = Console(stderr=True)
        self.bar = None
        self.start = self.last = time.perf_counter()
        self.first = done

    def __enter__(self):
        if self.enabled and self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=self.console)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total, completed=self.done, rate="")
        elif self.enabled and self.done:
            self.console.print(f"{self.label}: {self.done:,} of {self.total:,} rows already written, resuming")
        return self

    def note(self, text: str):
        if self.enabled:
            (self.bar.console if self.bar else self.console).print(text, soft_wrap=True)

    def advance(self, result: ChunkResult):
        if result.built:
            self.note(result.built)
        self.done += result.rows
        now = time.perf_counter()
        rate = (self.done - self.first) / max(now - self.start, 1e-9)
        if self.bar:
            self.bar.update(self.task, completed=self.done, rate=f"{rate:,.0f} rows/s")
        elif self.enabled and (now - self.last >= 2 or self.done == self.total):
            self.last = now
            left = (self.total - self.done) / rate if rate else 0
            self.console.print(f"{self.label}: {self.done:,}/{self.total:,} rows, {rate:,.0f} rows/s, "
                               f"{left:.0f} s left", soft_wrap=True, highlight=False)

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()
        if self.enabled and exc[0] is None:
            seconds = time.perf_counter() - self.start
            self.console.print(f"{self.label}: {self.done - self.first:,} rows in {seconds:.1f} s "
                               f"({(self.done - self.first) / max(seconds, 1e-9):,.0f} rows/s)", highlight=False)
        return False
