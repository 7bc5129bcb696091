"""Random test inputs and the error measure shared by the kernel and Keras harnesses (no Keras here)."""
from __future__ import annotations

import numpy as np


def random_inputs(model, batch: int, rng, sizes: dict | None = None):
    """One array per model input: normal floats, or token ids below every Embedding's input_dim.
    Free sizes other than the batch come from `sizes` (default 2)."""
    sizes = {"batch": batch, **(sizes or {})}
    vocab = min([int(n.layer.input_dim) for n in model.nodes if n.type == "Embedding"] or [2])
    arrays = []
    for spec in model.inputs:
        shape = (sizes.get(str(spec.shape[0]), batch),
                 *(int(d.subs({s: sizes.get(str(s), 2) for s in d.free_symbols})) for d in spec.shape[1:]))
        if spec.dtype.startswith(("int", "uint")):
            arrays.append(rng.integers(0, vocab, size=shape).astype(spec.dtype))
        else:
            arrays.append(rng.normal(size=shape).astype(spec.dtype))
    return arrays


def relative_error(ours, theirs) -> float:
    """max |ours - theirs|, relative to the largest magnitude of theirs."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    return float(np.max(np.abs(ours - theirs), initial=0.0) / max(np.max(np.abs(theirs), initial=0.0), 1e-6))


def unchecked_layers(model) -> list[str]:
    """Layers whose result reaches no model output: a harness comparing outputs would not see them
    (write `output a, b` to make each branch an output)."""
    used = {name for node in model.nodes for name, _ in node.input_refs} | {name for name, _ in model.output_refs}
    return [node.name for node in model.nodes if node.name not in used]
