"""The CPU kernel registry and what an emitter is given.

Note: one layer kind, one emitter. A family module registers an emitter per layer kind:

    @kernel("Dense")
    def dense(site: Site, w: Writer):
        ...   # writes the body of `def <site.fn>(x, kernel, bias, out):`

The module writer (codegen/cpu/module.py) puts `@njit(...)` and the signature around it, and the
call in `forward`. An emitter sees a `Site`: the layer (its checked arguments), its input and
output shapes as SymPy dims, and helpers that print a dimension as a literal when it is concrete
or as `x.shape[i]` when it depends on a free symbol bound at call time.
"""
from __future__ import annotations

from typing import Callable

from ..site import Site, extent, rows  # noqa: F401  (re-exported for the emitters)
from ..writer import Writer

EMITTERS: dict[str, Callable[["Site", Writer], None]] = {}


def kernel(*kinds: str, parallel: bool = True, reads_sizes: str | None = None):
    """Register an emitter for layer kinds. `parallel=False` for kernels without prange loops.
    `reads_sizes`: which sizes the kernel reads off its arrays instead of having them as literals, so
    that layers differing only in those sizes share one compiled kernel: "all" (above 1) or "spatial"
    (the input's axes between batch and channels); see codegen/cpu/module.py `_read_sizes`."""

    def register(fn):
        for kind in kinds:
            assert kind not in EMITTERS, f"two CPU emitters for {kind}"
            EMITTERS[kind] = fn
        fn.parallel = parallel
        fn.reads_sizes = reads_sizes
        return fn

    return register
