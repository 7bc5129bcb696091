"""CPU kernels of the wrappers: TimeDistributed and Bidirectional.

Both reuse the emitters of the layers they wrap. TimeDistributed runs the inner layer once on the
input viewed as (batch * T, ...), as its reference does: the inner layer's kind writes a helper
function (its own @njit kernel for the folded shapes), which the wrapper's kernel calls on views.

Bidirectional runs both recurrences into their outputs (states straight into the wrapper's state
outputs), then merges: the backward sequence is in processing order, so the merge reads it back in
time order (step T - 1 - t). With the default backward layer (the forward one with go_backwards)
the recurrent emitters run both directions in one kernel body, as tasks of the same parallel loops
(at batch 1, two cores); a given backward layer (any recurrent kind) runs through helper functions
written by the two layers' emitters, one after the other.
"""
from __future__ import annotations

import sympy

from ..errors import CodegenError
from ..writer import Writer
from .base import EMITTERS, Site, kernel
from .recurrent import Direction, emit_conv_lstm, emit_rnn


def inner_kernel(parent: Site, inner: Site) -> str:
    """Write `inner` (a layer inside a wrapper) as a helper function of `parent`; returns its name.
    The helper's own helpers come first (nested wrappers)."""
    emitter = EMITTERS.get(inner.layer.kind)
    if emitter is None:
        raise CodegenError(f"no CPU kernel yet for {inner.layer.kind} (inside {parent.layer.kind})")
    body = Writer()
    body.level = 1
    emitter(inner, body)
    parent.helpers.extend(h for h in inner.helpers if h not in parent.helpers)
    parallel = ", parallel=PARALLEL" if getattr(emitter, "parallel", True) else ""
    lines = [f"@njit(cache=True{parallel}, fastmath=FASTMATH)", f"def {inner.fn}({', '.join(inner.args())}):",
             *body.lines]
    parent.helpers.append("\n".join(lines))
    return inner.fn


def product(site: Site, array: str, shape: tuple, axes) -> str:
    """The product of some axes of an array as source (literal factors folded)."""
    literal, symbolic = 1, []
    for axis in axes:
        d = sympy.sympify(shape[axis])
        if d.is_number:
            literal *= int(d)
        else:
            symbolic.append(site.dim(array, shape, axis))
    return " * ".join(([str(literal)] if literal != 1 or not symbolic else []) + symbolic)


def _shapes(out) -> list[tuple]:
    return [tuple(s) for s in out] if isinstance(out, list) else [tuple(out)]


@kernel("TimeDistributed", parallel=False)
def time_distributed(site: Site, w: Writer):
    inner_layer = site.layer.layer
    x, y = site.x, site.y
    folded_x = (x[0] * x[1], *x[2:])
    folded_y = (y[0] * y[1], *y[2:])
    inner = Site(inner_layer, site.fn + "_step", [folded_x], [folded_y], site.weights, site.text)
    fn = inner_kernel(site, inner)
    rows = product(site, "x", x, [0, 1])
    x_dims = ", ".join([rows] + [site.xd(a) for a in range(2, len(x))])
    y_dims = ", ".join([rows] + [site.yd(a) for a in range(2, len(y))])
    w.line(f"xr = x.reshape({x_dims}{',' if len(x) == 2 else ''})")
    w.line(f"yr = out.reshape({y_dims}{',' if len(y) == 2 else ''})")
    weights = site.args()[1:-1]
    w.line(f"{fn}({', '.join(['xr', *weights, 'yr'])})")


# Shared by every Bidirectional kernel of a module (the same text, so compiled once).
MERGE = '''\
@njit(cache=True, parallel=PARALLEL, fastmath=FASTMATH)
def bidirectional_merge(f3, b3, o3, mode, reverse):
    """o3[b, t, p] = merge(f3[b, t, p], b3[b, t', p]) on (batch, T, positions, units) views, t' = T - 1 - t
    when `reverse` (a backward sequence is in processing order). mode: 0 concat (o3 twice as wide),
    1 sum, 2 mul, 3 ave, 4 the backward output alone."""
    n_t = f3.shape[1]
    n_u = f3.shape[3]
    for task in prange(f3.shape[0] * n_t):
        b = task // n_t
        t = task % n_t
        tb = n_t - 1 - t if reverse else t
        for p in range(f3.shape[2]):
            if mode == 0:
                for k in range(n_u):
                    o3[b, t, p, k] = f3[b, t, p, k]
                    o3[b, t, p, n_u + k] = b3[b, tb, p, k]
            elif mode == 1:
                for k in range(n_u):
                    o3[b, t, p, k] = f3[b, t, p, k] + b3[b, tb, p, k]
            elif mode == 2:
                for k in range(n_u):
                    o3[b, t, p, k] = f3[b, t, p, k] * b3[b, tb, p, k]
            elif mode == 3:
                for k in range(n_u):
                    o3[b, t, p, k] = (f3[b, t, p, k] + b3[b, tb, p, k]) * HALF
            else:
                for k in range(n_u):
                    o3[b, t, p, k] = b3[b, tb, p, k]
'''
MODES = {"concat": 0, "sum": 1, "mul": 2, "ave": 3, None: 4}


@kernel("Bidirectional")
def bidirectional(site: Site, w: Writer):
    layer = site.layer
    # Only the default backward layer puts a parallel loop in this kernel (given ones run in helpers,
    # the merge in a shared helper). The module reads this after calling the emitter.
    bidirectional.parallel = layer.backward_layer is None
    forward, backward = layer.forward, layer.backward
    x = site.x
    sub_out = _shapes(forward.output_shape(x))
    n_fw = len(forward.weights(x))
    args = site.args()
    weights = args[1:1 + len(site.weights)]
    fw_weights, bw_weights = weights[:n_fw], weights[n_fw:]
    outs = args[1 + len(site.weights):]
    mode = layer.merge_mode
    n_merged = 2 if mode is None else 1
    merged, states = outs[:n_merged], outs[n_merged:]
    n_states = len(sub_out) - 1
    fw_states, bw_states = states[:n_states], states[n_states:]
    seq = bool(forward.return_sequences)
    y_shape = sub_out[0]
    units = int(y_shape[-1])
    # The directions' outputs: straight into the wrapper's outputs where the layout allows.
    y0 = merged[0]
    dims = ", ".join(site.dim(y0, site.outputs[0], a) for a in range(len(y_shape) - 1)) + f", {units}"
    fw_y = "yf" if mode == "concat" else y0
    bw_y = merged[1] if mode is None and not seq else "yb"
    for name in (fw_y, bw_y):
        if name not in merged:
            w.line(f"{name} = np.empty(({dims}), dtype=DT)")
    if layer.backward_layer is None:
        # The backward layer is the forward one with go_backwards=True: one kernel body runs both
        # directions, as tasks of the same parallel loops.
        dirs = [Direction(*fw_weights[:2], fw_weights[2] if forward.use_bias else None, fw_y,
                          *(fw_states + [None, None])[:2], False),
                Direction(*bw_weights[:2], bw_weights[2] if forward.use_bias else None, bw_y,
                          *(bw_states + [None, None])[:2], True)]
        both = Site(forward, site.fn, [x], sub_out, site.weights[:n_fw], site.text, site.helpers)
        (emit_conv_lstm if forward.rank else emit_rnn)(both, w, dirs)
    else:
        fw = inner_kernel(site, Site(forward, site.fn + "_forward", [x], sub_out, site.weights[:n_fw], site.text))
        bw = inner_kernel(site, Site(backward, site.fn + "_backward", [x], _shapes(backward.output_shape(x)),
                                     site.weights[n_fw:], site.text))
        w.line(f"{fw}({', '.join(['x', *fw_weights, fw_y, *fw_states])})")
        w.line(f"{bw}({', '.join(['x', *bw_weights, bw_y, *bw_states])})")
    if mode is None and not seq:
        return
    # Merge on (batch, T, positions, units) views, the backward steps back in time order.
    if MERGE not in site.helpers:
        site.helpers.append(MERGE)
    w.line(f"n_b = {site.xd(0)}")
    w.line(f"n_t = {site.xd(1)}" if seq else "n_t = 1")
    w.line(f"n_p = {product(site, y0, site.outputs[0], range(2 if seq else 1, len(y_shape) - 1))}")
    w.line(f"f3 = {fw_y}.reshape(n_b, n_t, n_p, {units})")
    w.line(f"b3 = {bw_y}.reshape(n_b, n_t, n_p, {units})")
    target = merged[1] if mode is None else y0
    w.line(f"o3 = {target}.reshape(n_b, n_t, n_p, {2 * units if mode == 'concat' else units})")
    w.line(f"bidirectional_merge(f3, b3, o3, np.int64({MODES[mode]}), np.bool_({seq}))")
