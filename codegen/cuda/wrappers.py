"""CUDA kernels of the wrappers: TimeDistributed and Bidirectional. Both reuse the emitters of the
layers they wrap, on sub-sites with their own forward variables (CudaSite.sub).

TimeDistributed runs the inner layer's emitter once on the input viewed as (batch * T, ...), as
its reference does: the views are free, so nothing runs but the inner layer's kernels.

Bidirectional runs the forward and the backward recurrence through their own emitters (the
default backward layer is the forward one with go_backwards=True, made by the analyzer), their
states straight into the wrapper's state outputs, then one merge kernel. The backward sequence is
in processing order: the merge reads it back in time order (step T - 1 - t), as Keras does.
"""
from __future__ import annotations

from ..errors import CodegenError
from shapeproof.analyzer.exprs import product, shape
from ..writer import Writer
from .base import EMITTERS, CudaSite, kernel
from .templates import pointwise, wrap


def _shapes(out) -> list[tuple]:
    return [tuple(s) for s in out] if isinstance(out, list) else [tuple(out)]


def _emitter(site: CudaSite, inner):
    emitter = EMITTERS.get(inner.kind)
    if emitter is None:
        raise CodegenError(f"no CUDA kernel yet for {inner.kind} (inside {site.layer.kind})")
    return emitter


@kernel("TimeDistributed", allocates=True)
def time_distributed(site: CudaSite, k: Writer, f: Writer):
    inner = site.layer.layer
    emitter = _emitter(site, inner)
    x, y = site.x, site.y
    folded_x, folded_y = (x[0] * x[1], *x[2:]), (y[0] * y[1], *y[2:])
    key, out = site.scratch_key, site.outs[0]
    xs, ys = f"{key}_steps_x", f"{key}_steps_y"
    f.line(f"{xs} = {site.ins[0]}.reshape({shape(folded_x)[1:-1]})")
    if not emitter.allocates:
        # Allocated here (this emitter assigns its output: the inner one may make a view instead).
        f.line(f"{out} = scratch({out!r}, {shape(y)})")
        f.line(f"{ys} = {out}.reshape({shape(folded_y)[1:-1]})")
    sub = site.sub(inner, site.fn + "_step", [folded_x], [folded_y], site.weights, [xs], site.wvars, [ys],
                   key=key + "_step")
    emitter(sub, k, f)
    if emitter.allocates:
        f.line(f"{out} = {ys}.reshape({shape(y)[1:-1]})")


MERGES = {  # merge_mode: the output element from fw (forward) and bw (backward, in time order)
    "sum": "fw[b, t, p, o] + bw[b, tb, p, o]",
    "mul": "fw[b, t, p, o] * bw[b, tb, p, o]",
    "ave": "(fw[b, t, p, o] + bw[b, tb, p, o]) * HALF",
    None: "bw[b, tb, p, o]",  # the backward output alone (the forward one is written in place)
}


@kernel("Bidirectional")
def bidirectional(site: CudaSite, k: Writer, f: Writer):
    layer = site.layer
    x = site.x
    sub_shapes = _shapes(layer.forward.output_shape(x))
    n_fw = len(layer.forward.weights(x))
    mode = layer.merge_mode
    n_merged = 2 if mode is None else 1
    merged, states = site.outs[:n_merged], site.outs[n_merged:]
    n_states = len(sub_shapes) - 1
    seq = bool(layer.forward.return_sequences)
    key = site.scratch_key
    # Each direction's output: straight into the wrapper's output where no merge kernel reads it.
    directions = [(layer.forward, "forward", merged[0] if mode is None else f"{key}_fw_y",
                   site.weights[:n_fw], site.wvars[:n_fw], states[:n_states]),
                  (layer.backward, "backward", merged[1] if mode is None and not seq else f"{key}_bw_y",
                   site.weights[n_fw:], site.wvars[n_fw:], states[n_states:])]
    for inner, name, y, weights, wvars, inner_states in directions:
        if y not in merged:
            f.line(f"{y} = scratch({key + '_' + name!r}, {shape(sub_shapes[0])})")
        emitter = _emitter(site, inner)
        assert not emitter.allocates, f"{inner.kind} inside Bidirectional assigns its outputs"
        sub = site.sub(inner, f"{site.fn}_{name}", [x], sub_shapes, weights, site.ins, wvars, [y, *inner_states],
                       key=f"{key}_{name}")
        emitter(sub, k, f)
    if mode is None and not seq:
        return
    # The merge, on (batch, T, positions, units) views (T = 1 without return_sequences).
    out_shape = sub_shapes[0]
    units = int(out_shape[-1])
    batch, steps = site.xd(0), site.xd(1) if seq else "1"
    positions = product(out_shape[2 if seq else 1:-1])
    width = 2 * units if mode == "concat" else units

    def view(var: str, n: int) -> str:
        return f"{var}.reshape({batch}, {steps}, {positions}, {n})"

    fw_y, bw_y = directions[0][2], directions[1][2]
    target = merged[1] if mode is None else merged[0]

    def body(w: Writer, idx: list[str]):
        b, t, p, o = idx
        w.line(f"b = {b}")
        w.line(f"t = {t}")
        w.line(f"p = {p}")
        w.line(f"o = {o}")
        w.line(f"tb = {wrap(steps)} - 1 - t")  # the backward step of time t
        if mode == "concat":
            with w.block(f"if o < {units}"):
                w.line("out[b, t, p, o] = fw[b, t, p, o]")
            with w.block("else"):
                w.line(f"out[b, t, p, o] = bw[b, tb, p, o - {units}]")
        else:
            w.line(f"out[b, t, p, o] = {MERGES[mode]}")

    params, args = ["bw", "out"], [view(bw_y, units), view(target, width)]
    if mode is not None:
        params, args = ["fw", *params], [view(fw_y, units), *args]
    pointwise(site, k, f, site.fn + "_merge", params, args, [batch, steps, positions, str(width)], body)
