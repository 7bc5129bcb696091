"""CPU kernels of the recurrent layers: SimpleRNN, GRU, LSTM and ConvLSTM1D/2D/3D.

SimpleRNN, GRU and LSTM work a chunk of time steps at a time. First the input projection of every
step of the chunk, x_t @ kernel + bias, as one blocked GEMM over (batch * steps) x (gates * units)
(parallel over row and column blocks, so a single sample still uses every core); then the
recurrence over the chunk, parallel over blocks of samples, the recurrent product h @
recurrent_kernel vectorised over the contiguous gate axis and sharing each loaded kernel row among
the samples of the block. The states live in small arrays (batch, units) between chunks, so memory
stays bounded for long sequences.

ConvLSTMs run step by step: at every step one parallel pass over (sample, block of positions)
computes the input convolution of that frame and the "same" recurrent convolution of the previous
state (kept in a double buffer), then the LSTM gates, in place.

Every kind follows its NumPy reference (analyzer/layers/recurrent.py): zero initial states, Keras's
gate orders (LSTM i, f, c, o; GRU z, r, h), and with go_backwards the output sequence in processing
order (output step 0 reads the last input step).

Every emitter here also runs two directions in one kernel, for Bidirectional's default backward
layer (wrappers.py): both directions' recurrences are tasks of the same parallel loops.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import CodegenError
from ..writer import Writer
from .activations import LAST_AXIS, element
from .base import Site, kernel

CHUNK = 64  # time steps projected at once: bounds the projection buffer to batch x 64 x gates*units
ROW_BLOCK = 4  # projection rows sharing each loaded kernel row
OUT_BLOCK = 64  # projection columns per task
SAMPLE_BLOCK = 4  # samples per recurrence task (at large batch): they share each recurrent kernel row
POSITION_BLOCK = 16  # ConvLSTM output positions per task


def check_activations(site: Site):
    for slot in ("activation", "recurrent_activation"):
        name = getattr(site.layer, slot, None)
        if name in LAST_AXIS:
            raise CodegenError(f"{site.layer.kind}: {slot}={name!r} inside a recurrence has no CPU kernel; "
                               "use an elementwise activation")


@dataclass
class Direction:
    """One recurrence of a kernel: its weight parameters, where its outputs go, its direction."""

    kernel: str
    recurrent_kernel: str
    bias: str | None  # None without use_bias
    y: str  # the output sequence, or the last h
    h: str | None  # the state outputs, None when not returned
    c: str | None
    backwards: bool


def direction_of(site: Site) -> Direction:
    """The single direction of a layer's own kernel: the parameters of site.args()."""
    outs = site.args()[1 + len(site.weights):]
    bias = "bias" if site.layer.use_bias else None
    return Direction("kernel", "recurrent_kernel", bias, outs[0], *(outs[1:] + [None, None])[:2],
                     bool(site.layer.go_backwards))


def pick(dirs: list[Direction], attr: str, suffix: str = "") -> str:
    """An array of the task's direction: the only one's name, or a choice on `d` between two."""
    names = [getattr(d, attr) + suffix for d in dirs]
    return names[0] if len(dirs) == 1 else f"{names[0]} if d == 0 else {names[1]}"


def lstm_gates(w: Writer, layer, z: str, u: int, c_old: str) -> str:
    """Statements of the LSTM cell at unit k from pre-activations z[..k] (blocks i, f, c, o); leaves the
    new cell state in `cn` and the new output in `hn`, returns nothing to store (the caller does)."""
    ra, a = layer.recurrent_activation, layer.activation
    w.line(f"vi = {z.format(k='k')}")
    w.line(f"vf = {z.format(k=f'{u} + k')}")
    w.line(f"vc = {z.format(k=f'{2 * u} + k')}")
    w.line(f"vo = {z.format(k=f'{3 * u} + k')}")
    w.line(f"cn = {element(ra, 'vf')} * {c_old} + {element(ra, 'vi')} * {element(a, 'vc')}")
    w.line(f"hn = {element(ra, 'vo')} * {element(a, 'cn')}")
    return "hn"


# Shared by every SimpleRNN/GRU/LSTM kernel of a module (the same text, so compiled once): the input
# projection of one chunk of steps as a blocked GEMM, parallel over blocks of rows and of columns.
PROJECTION = f'''\
@njit(cache=True, parallel=PARALLEL, fastmath=FASTMATH)
def rnn_input_projection(xr, kernel, bias, xp, t0, n_c, n_t, backwards):
    """xp[b, s] = xr[b * n_t + step] @ kernel + bias for the chunk's steps s < n_c, step = t0 + s
    (n_t - 1 - t0 - s when backwards): one task per {ROW_BLOCK} rows x {OUT_BLOCK} columns."""
    n_b = xp.shape[0]
    n_rows = n_b * n_c
    n_ob = (kernel.shape[1] + {OUT_BLOCK - 1}) // {OUT_BLOCK}
    for task in prange(((n_rows + {ROW_BLOCK - 1}) // {ROW_BLOCK}) * n_ob):
        r0 = (task // n_ob) * {ROW_BLOCK}
        o0 = (task % n_ob) * {OUT_BLOCK}
        nr = min(r0 + {ROW_BLOCK}, n_rows) - r0
        no = min(o0 + {OUT_BLOCK}, kernel.shape[1]) - o0
        src = np.empty({ROW_BLOCK}, dtype=np.int64)
        acc = np.empty(({ROW_BLOCK}, {OUT_BLOCK}), dtype=DT)
        for r in range(nr):
            step = t0 + (r0 + r) % n_c
            src[r] = ((r0 + r) // n_c) * n_t + (n_t - 1 - step if backwards else step)
            for o in range(no):
                acc[r, o] = bias[o0 + o]
        for i in range(kernel.shape[0]):
            for r in range(nr):
                v = xr[src[r], i]
                for o in range(no):
                    acc[r, o] += v * kernel[i, o0 + o]
        for r in range(nr):
            b = (r0 + r) // n_c
            s = (r0 + r) % n_c
            for o in range(no):
                xp[b, s, o0 + o] = acc[r, o]
'''


def zero(w: Writer, array: str, dims: list[str]):
    """array[...] = 0 as a plain loop (a slice assignment would be a parallel loop of its own)."""
    w.line(f"{array}_flat = {array}.reshape(-1)")
    with w.block(f"for i in range({' * '.join(dims)})"):
        w.line(f"{array}_flat[i] = ZERO")


def copy(w: Writer, target: str, source: str, dims: list[str]):
    """target[...] = source[...] as a plain loop over the flat arrays (both C-contiguous)."""
    w.line(f"dst = {target}.reshape(-1)")
    w.line(f"src = {source}.reshape(-1)")
    with w.block(f"for i in range({' * '.join(dims)})"):
        w.line("dst[i] = src[i]")


@kernel("SimpleRNN", "GRU", "LSTM")
def recurrence(site: Site, w: Writer):
    emit_rnn(site, w, [direction_of(site)])


def emit_rnn(site: Site, w: Writer, dirs: list[Direction]):
    """The body of a SimpleRNN/GRU/LSTM kernel running `dirs` (one or two directions) over input x."""
    layer = site.layer
    check_activations(site)
    kind = layer.kind
    u = int(layer.units)
    gates = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[kind]
    width = gates * u
    channels = int(site.x[-1])
    reset_after = kind == "GRU" and bool(layer.reset_after)
    seq = bool(layer.return_sequences)
    ra, a = getattr(layer, "recurrent_activation", None), layer.activation
    two = len(dirs) == 2
    if PROJECTION not in site.helpers:
        site.helpers.append(PROJECTION)

    w.line(f"n_b = {site.xd(0)}")
    w.line(f"n_t = {site.xd(1)}")
    w.line(f"xr = x.reshape(n_b * n_t, {channels})")
    lead = ["2"] if two else []  # a leading direction axis on the state and projection buffers
    state = [*lead, "n_b", str(u)]
    for name in ("hs", "cs") if kind == "LSTM" else ("hs",):
        w.line(f"{name} = np.empty(({', '.join(state)}), dtype=DT)")
        zero(w, name, state)
    if not layer.use_bias:
        w.line(f"no_bias = np.empty({width}, dtype=DT)")
        zero(w, "no_bias", [str(width)])
    w.line(f"xps = np.empty(({', '.join(lead)}{', ' if two else ''}n_b, min(n_t, {CHUNK}), {width}), dtype=DT)"
           "  # one chunk's input projections")
    w.line(f"sb = max(1, min({SAMPLE_BLOCK}, n_b // 16))  # samples per recurrence task")
    w.line("n_sb = (n_b + sb - 1) // sb")
    with w.block(f"for t0 in range(0, n_t, {CHUNK})"):
        w.line(f"n_c = min({CHUNK}, n_t - t0)")
        for i, d in enumerate(dirs):
            bias = "no_bias" if d.bias is None else f"{d.bias}[0]" if reset_after else d.bias
            target = f"xps[{i}]" if two else "xps"
            w.line(f"rnn_input_projection(xr, {d.kernel}, {bias}, {target}, t0, n_c, n_t, np.bool_({d.backwards}))")
        # The recurrence over the chunk, one task per block of samples (and direction).
        with w.block(f"for task in prange({'2 * ' if two else ''}n_sb)"):
            if two:
                w.line("d = task // n_sb")
                w.line("b0 = (task % n_sb) * sb")
                w.line("xp = xps[d]")
                w.line("h = hs[d]")
                if kind == "LSTM":
                    w.line("c = cs[d]")
                w.line(f"rk = {pick(dirs, 'recurrent_kernel')}")
                if reset_after and layer.use_bias:
                    w.line(f"rb = {pick(dirs, 'bias', '[1]')}")
                if seq:
                    w.line(f"y = {pick(dirs, 'y')}")
                names = {"xp": "xp", "h": "h", "c": "c", "rk": "rk", "rb": "rb", "y": "y"}
            else:
                w.line("b0 = task * sb")
                d = dirs[0]
                names = {"xp": "xps", "h": "hs", "c": "cs", "rk": d.recurrent_kernel, "rb": f"{d.bias}[1]", "y": d.y}
            h, c, rk = names["h"], names["c"], names["rk"]
            w.line("nb = min(b0 + sb, n_b) - b0")
            w.line(f"z = np.empty(({SAMPLE_BLOCK}, {width}), dtype=DT)")
            if reset_after:
                w.line(f"zr = np.empty(({SAMPLE_BLOCK}, {width}), dtype=DT)")
            if kind == "GRU" and not reset_after:
                w.line(f"rh = np.empty(({SAMPLE_BLOCK}, {u}), dtype=DT)")
            with w.block("for s in range(n_c)"):
                with w.block("for q in range(nb)"):
                    with w.block(f"for g in range({width})"):
                        w.line(f"z[q, g] = {names['xp']}[b0 + q, s, g]")
                        if reset_after:
                            w.line("zr[q, g] = " + (f"{names['rb']}[g]" if layer.use_bias else "ZERO"))
                if kind == "GRU" and not reset_after:
                    _matvec(w, f"{h}[b0 + q, j]", "z", rk, u, 0, 2 * u)
                    with w.block("for q in range(nb)"):
                        with w.block(f"for k in range({u})"):
                            w.line("vz = z[q, k]")
                            w.line(f"z[q, k] = {element(ra, 'vz')}")
                            w.line(f"vr = z[q, {u} + k]")
                            w.line(f"rh[q, k] = {element(ra, 'vr')} * {h}[b0 + q, k]")
                    _matvec(w, "rh[q, j]", "z", rk, u, 2 * u, 3 * u)
                else:
                    _matvec(w, f"{h}[b0 + q, j]", "zr" if reset_after else "z", rk, u, 0, width)
                with w.block("for q in range(nb)"):
                    w.line("b = b0 + q")
                    with w.block(f"for k in range({u})"):
                        if kind == "SimpleRNN":
                            w.line("v = z[q, k]")
                            w.line(f"hn = {element(a, 'v')}")
                        elif kind == "LSTM":
                            lstm_gates(w, layer, "z[q, {k}]", u, f"{c}[b, k]")
                            w.line(f"{c}[b, k] = cn")
                        elif reset_after:
                            w.line("vz = z[q, k] + zr[q, k]")
                            w.line(f"vr = z[q, {u} + k] + zr[q, {u} + k]")
                            w.line(f"vh = z[q, {2 * u} + k] + {element(ra, 'vr')} * zr[q, {2 * u} + k]")
                            w.line(f"zg = {element(ra, 'vz')}")
                            w.line(f"hn = zg * {h}[b, k] + (ONE - zg) * {element(a, 'vh')}")
                        else:
                            w.line("zg = z[q, k]")
                            w.line(f"vh = z[q, {2 * u} + k]")
                            w.line(f"hn = zg * {h}[b, k] + (ONE - zg) * {element(a, 'vh')}")
                        w.line(f"{h}[b, k] = hn")
                        if seq:
                            w.line(f"{names['y']}[b, t0 + s, k] = hn")
    at = ["[0]", "[1]"] if two else [""]
    final_states(w, dirs, seq, ["n_b", str(u)], [f"hs{i}" for i in at], [f"cs{i}" for i in at])


def final_states(w: Writer, dirs: list[Direction], seq: bool, dims: list[str], h: list[str], c: list[str]):
    """Copy each direction's last h (from h[i]) and c (c[i]) to its outputs: y without
    return_sequences, and the states."""
    for i, d in enumerate(dirs):
        targets = [(d.y, h[i])] if not seq else []
        targets += [(d.h, h[i])] if d.h else []
        targets += [(d.c, c[i])] if d.c else []
        for target, source in targets:
            copy(w, target, source, dims)


def _matvec(w: Writer, h: str, z: str, rk: str, u: int, g0: int, g1: int):
    """z[q, g0:g1] += h(q, j) @ rk[:, g0:g1] for the block's samples; each kernel row is loaded once
    for the block, the inner loop runs over the contiguous gate axis."""
    with w.block(f"for j in range({u})"):
        with w.block("for q in range(nb)"):
            w.line(f"v = {h}")
            with w.block(f"for g in range({g0}, {g1})"):
                w.line(f"{z}[q, g] += v * {rk}[j, g]")


# --- ConvLSTM1D/2D/3D -----------------------------------------------------------------------------

@kernel("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def conv_lstm(site: Site, w: Writer):
    emit_conv_lstm(site, w, [direction_of(site)])


def emit_conv_lstm(site: Site, w: Writer, dirs: list[Direction]):
    """The body of a ConvLSTMnD kernel running `dirs` (one or two directions) over input x."""
    layer = site.layer
    check_activations(site)
    rank = int(layer.rank)
    k, strides, dilation = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    filters = site.arg("filters")
    width = 4 * filters
    channels = int(site.x[-1])
    seq = bool(layer.return_sequences)
    two = len(dirs) == 2
    first = 2 if seq else 1  # the first spatial axis of the output
    grid = [site.dim(dirs[0].y, site.outputs[0], first + a) for a in range(rank)]
    spatial_in = [site.xd(2 + a) for a in range(rank)]

    w.line(f"n_b = {site.xd(0)}")
    w.line(f"n_t = {site.xd(1)}")
    for a in range(rank):
        w.line(f"n{a + 1} = {grid[a]}")
        if layer.padding == "same":
            reach = dilation[a] * (k[a] - 1) + 1
            w.line(f"pad{a + 1} = max((n{a + 1} - 1) * {strides[a]} + {reach} - {spatial_in[a]}, 0) // 2")
    sizes = [f"n{a + 1}" for a in range(rank)]
    w.line("n_pos = " + " * ".join(sizes))
    state = ["n_b", *sizes, str(filters)]
    lead = ["2"] if two else []
    # h of the previous step and of this one (a double buffer), c updated in place
    w.line(f"hs = np.empty(({', '.join([*lead, '2', *state])}), dtype=DT)")
    zero(w, "hs", [*lead, "2", *state])
    w.line(f"cs = np.empty(({', '.join([*lead, *state])}), dtype=DT)")
    zero(w, "cs", [*lead, *state])
    w.line(f"n_blocks = (n_pos + {POSITION_BLOCK - 1}) // {POSITION_BLOCK}")
    with w.block("for step in range(n_t)"):
        w.line("cur = step % 2")
        w.line("nxt = 1 - cur")
        with w.block(f"for task in prange({'2 * ' if two else ''}n_b * n_blocks)"):
            if two:
                w.line("d = task // (n_b * n_blocks)")
                w.line("b = (task // n_blocks) % n_b")
                w.line("tt = n_t - 1 - step if d == 1 else step")  # the forward layer reads forwards
                w.line("h = hs[d]")
                w.line("c = cs[d]")
                for name, attr in (("kq", "kernel"), ("rq", "recurrent_kernel")):
                    w.line(f"{name} = {pick(dirs, attr)}")
                if layer.use_bias:
                    w.line(f"bq = {pick(dirs, 'bias')}")
                if seq:
                    w.line(f"y = {pick(dirs, 'y')}")
                h, c, kq, rq, bq, y = "h", "c", "kq", "rq", "bq", "y"
            else:
                d = dirs[0]
                w.line("b = task // n_blocks")
                w.line("tt = " + ("n_t - 1 - step" if d.backwards else "step"))
                h, c, kq, rq, bq, y = "hs", "cs", d.kernel, d.recurrent_kernel, d.bias, d.y
            w.line(f"p0 = (task % n_blocks) * {POSITION_BLOCK}")
            w.line(f"acc = np.empty({width}, dtype=DT)")
            with w.block(f"for p in range(p0, min(p0 + {POSITION_BLOCK}, n_pos))"):
                out_idx = [f"o{a + 1}" for a in range(rank)]
                for a, name in enumerate(out_idx):
                    inner = " * ".join(sizes[a + 1:])
                    value = f"p // ({inner})" if inner else "p"
                    w.line(f"{name} = {value}" + (f" % {sizes[a]}" if a else ""))
                with w.block(f"for g in range({width})"):
                    w.line("acc[g] = " + (f"{bq}[g]" if layer.use_bias else "ZERO"))
                # the input convolution of this frame: the layer's strides, dilation and padding
                for a in range(rank):
                    pad = f" - pad{a + 1}" if layer.padding == "same" else ""
                    w.open(f"for t{a + 1} in range({k[a]})")
                    w.line(f"i{a + 1} = {out_idx[a]} * {strides[a]} + t{a + 1} * {dilation[a]}{pad}")
                    if layer.padding == "same":
                        with w.block(f"if i{a + 1} < 0 or i{a + 1} >= {spatial_in[a]}"):
                            w.line("continue")
                ins = ", ".join(f"i{a + 1}" for a in range(rank))
                taps = ", ".join(f"t{a + 1}" for a in range(rank))
                with w.block(f"for ch in range({channels})"):
                    w.line(f"v = x[b, tt, {ins}, ch]")
                    with w.block(f"for g in range({width})"):
                        w.line(f"acc[g] += v * {kq}[{taps}, ch, g]")
                w.close(rank)
                # the recurrent convolution of the previous state: "same", stride 1, no dilation
                for a in range(rank):
                    w.open(f"for t{a + 1} in range({k[a]})")
                    w.line(f"i{a + 1} = {out_idx[a]} + t{a + 1} - {(k[a] - 1) // 2}")
                    with w.block(f"if i{a + 1} < 0 or i{a + 1} >= {sizes[a]}"):
                        w.line("continue")
                with w.block(f"for f in range({filters})"):
                    w.line(f"v = {h}[cur, b, {ins}, f]")
                    with w.block(f"for g in range({width})"):
                        w.line(f"acc[g] += v * {rq}[{taps}, f, g]")
                w.close(rank)
                here = ", ".join(out_idx)
                with w.block(f"for k in range({filters})"):
                    lstm_gates(w, layer, "acc[{k}]", filters, f"{c}[b, {here}, k]")
                    w.line(f"{c}[b, {here}, k] = cn")
                    w.line(f"{h}[nxt, b, {here}, k] = hn")
                    if seq:
                        w.line(f"{y}[b, step, {here}, k] = hn")
    w.line("last = n_t % 2")
    at = ["0, ", "1, "] if two else [""]
    final_states(w, dirs, seq, state, [f"hs[{i}last]" for i in at], [f"cs[{i[:-2]}]" if two else "cs" for i in at])
