"""What a build shows while it works: a Rich progress bar on a terminal, one plain line per stage when piped.

    with BuildProgress(model, "cpu") as progress:
        progress.stage("generating the kernels")
        net = codegen.build(model)
        net.compile(progress.kernel)          # kernel(name, n, total) per kernel compiled
    # done: "... 3 kernels compiled in 4.2 s" or "... kernels loaded from the cache"

Everything goes to stderr, so that `--json` and piped standard output stay clean.
"""
from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class BuildProgress:
    def __init__(self, model, target: str, stream=None, quiet: bool = False):
        from shapeproof.codegen.lowering import identifier

        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.title = f"{model.name} ({target})"
        # kernel function -> the layer it computes: `k_conv1d` -> `conv1d: Conv1D(8, 3)`
        self.layers = {"k_" + identifier(n.name): f"{n.name}: {n.text}" for n in model.nodes}
        self.compiled = 0
        self.counted = True  # False where kernels compile unseen (CUDA, at their first launch)
        self.bar = None

    def __enter__(self):
        self.start = time.perf_counter()
        if not self.quiet and self.stream.isatty():
            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(file=self.stream), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(escape(f"building {self.title}"), total=None)
        return self

    def stage(self, what: str):
        if self.bar is not None:
            self.bar.update(self.task, description=escape(f"{self.title}: {what}"))
        elif not self.quiet:
            print(f"shapeproof: {self.title}: {what}", file=self.stream, flush=True)

    def kernel(self, fn: str, n: int, total: int):
        """Called as kernel `fn` (the n-th of `total` to compile) starts compiling."""
        self.compiled = n
        what = self.layers.get(fn, fn)
        if self.bar is not None:
            self.bar.update(self.task, description=escape(f"compiling {what}"), completed=n - 1, total=total)
        elif not self.quiet:
            print(f"shapeproof: {self.title}: compiling kernel {n} of {total}: {what}", file=self.stream, flush=True)

    def __exit__(self, kind, error, tb):
        if self.bar is not None:
            self.bar.stop()
        if error is None and not self.quiet:
            took = time.perf_counter() - self.start
            done = (f"{self.compiled} kernel{'s' * (self.compiled != 1)} compiled in {took:.1f} s" if self.compiled
                    else f"kernels loaded from the cache in {took:.1f} s" if self.counted
                    else f"kernels compiled or loaded in {took:.1f} s")
            if self.bar is not None:
                Console(file=self.stream, highlight=False).print(escape(f"built {self.title}: {done}"))
            else:
                print(f"shapeproof: {self.title}: built, {done}", file=self.stream, flush=True)
        return False
