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
"""
from __future__ import annotations

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


def output_names(site: Site) -> tuple[str, str | None, str | None]:
    """The output sequence/last state, and the h and c state outputs (None when not returned)."""
    if len(site.outputs) == 1:
        return "out", None, None
    return "out0", "out1", ("out2" if len(site.outputs) > 2 else None)


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


# --- SimpleRNN, GRU, LSTM -------------------------------------------------------------------------

@kernel("SimpleRNN", "GRU", "LSTM")
def recurrence(site: Site, w: Writer):
    layer = site.layer
    check_activations(site)
    kind = layer.kind
    u = int(layer.units)
    gates = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[kind]
    width = gates * u
    channels = int(site.x[-1])
    reset_after = kind == "GRU" and bool(layer.reset_after)
    seq, backwards = bool(layer.return_sequences), bool(layer.go_backwards)
    y, h_out, c_out = output_names(site)
    out_blocks = -(-width // OUT_BLOCK)
    ra, a = getattr(layer, "recurrent_activation", None), layer.activation

    w.line(f"n_b = {site.xd(0)}")
    w.line(f"n_t = {site.xd(1)}")
    w.line(f"xr = x.reshape(n_b * n_t, {channels})")
    w.line(f"h = np.zeros((n_b, {u}), dtype=DT)")
    if kind == "LSTM":
        w.line(f"c = np.zeros((n_b, {u}), dtype=DT)")
    w.line(f"xp = np.empty((n_b, min(n_t, {CHUNK}), {width}), dtype=DT)")
    w.line(f"sb = max(1, min({SAMPLE_BLOCK}, n_b // 16))  # samples per recurrence task")
    w.line("n_sb = (n_b + sb - 1) // sb")
    with w.block(f"for t0 in range(0, n_t, {CHUNK})"):
        w.line(f"n_c = min({CHUNK}, n_t - t0)")
        w.line("n_rows = n_b * n_c")
        # 1. The input projection of the chunk's steps, bias included (GRU reset_after: row 0).
        w.line("# the input projection of every step of the chunk: (n_b * n_c, C) @ kernel + bias")
        with w.block(f"for task in prange(((n_rows + {ROW_BLOCK - 1}) // {ROW_BLOCK}) * {out_blocks})"):
            w.line(f"r0 = (task // {out_blocks}) * {ROW_BLOCK}")
            w.line(f"o0 = (task % {out_blocks}) * {OUT_BLOCK}")
            w.line(f"nr = min(r0 + {ROW_BLOCK}, n_rows) - r0")
            w.line(f"o1 = min(o0 + {OUT_BLOCK}, {width})")
            w.line(f"src = np.empty({ROW_BLOCK}, dtype=np.int64)")
            w.line(f"acc = np.empty(({ROW_BLOCK}, {OUT_BLOCK}), dtype=DT)")
            with w.block("for r in range(nr)"):
                w.line("step = t0 + (r0 + r) % n_c")
                tt = "n_t - 1 - step" if backwards else "step"
                w.line(f"src[r] = ((r0 + r) // n_c) * n_t + {tt}")
                bias = ("bias[0, o]" if reset_after else "bias[o]") if layer.use_bias else "ZERO"
                with w.block("for o in range(o0, o1)"):
                    w.line(f"acc[r, o - o0] = {bias}")
            with w.block(f"for i in range({channels})"):
                with w.block("for r in range(nr)"):
                    w.line("v = xr[src[r], i]")
                    with w.block("for o in range(o0, o1)"):
                        w.line("acc[r, o - o0] += v * kernel[i, o]")
            with w.block("for r in range(nr)"):
                w.line("b = (r0 + r) // n_c")
                w.line("s = (r0 + r) % n_c")
                with w.block("for o in range(o0, o1)"):
                    w.line("xp[b, s, o] = acc[r, o - o0]")
        # 2. The recurrence over the chunk, one task per block of samples.
        w.line("# the recurrence over the chunk, one task per block of samples")
        with w.block("for task in prange(n_sb)"):
            w.line("b0 = task * sb")
            w.line("nb = min(b0 + sb, n_b) - b0")
            w.line(f"z = np.empty(({SAMPLE_BLOCK}, {width}), dtype=DT)")
            if reset_after:
                w.line(f"zr = np.empty(({SAMPLE_BLOCK}, {width}), dtype=DT)")
            if kind == "GRU" and not reset_after:
                w.line(f"rh = np.empty(({SAMPLE_BLOCK}, {u}), dtype=DT)")
            with w.block("for s in range(n_c)"):
                with w.block("for q in range(nb)"):
                    with w.block(f"for g in range({width})"):
                        w.line("z[q, g] = xp[b0 + q, s, g]")
                        if reset_after:
                            w.line("zr[q, g] = " + ("bias[1, g]" if layer.use_bias else "ZERO"))
                if kind == "GRU" and not reset_after:
                    _matvec(w, "h", "z", u, 0, 2 * u)
                    with w.block("for q in range(nb)"):
                        with w.block(f"for k in range({u})"):
                            w.line("vz = z[q, k]")
                            w.line(f"z[q, k] = {element(ra, 'vz')}")
                            w.line(f"vr = z[q, {u} + k]")
                            w.line(f"rh[q, k] = {element(ra, 'vr')} * h[b0 + q, k]")
                    _matvec(w, "rh", "z", u, 2 * u, 3 * u, local=True)
                else:
                    _matvec(w, "h", "zr" if reset_after else "z", u, 0, width)
                with w.block("for q in range(nb)"):
                    w.line("b = b0 + q")
                    with w.block(f"for k in range({u})"):
                        if kind == "SimpleRNN":
                            w.line("v = z[q, k]")
                            w.line(f"hn = {element(a, 'v')}")
                        elif kind == "LSTM":
                            lstm_gates(w, layer, "z[q, {k}]", u, "c[b, k]")
                            w.line("c[b, k] = cn")
                        elif reset_after:
                            w.line("vz = z[q, k] + zr[q, k]")
                            w.line(f"vr = z[q, {u} + k] + zr[q, {u} + k]")
                            w.line(f"vh = z[q, {2 * u} + k] + {element(ra, 'vr')} * zr[q, {2 * u} + k]")
                            w.line(f"zg = {element(ra, 'vz')}")
                            w.line(f"hn = zg * h[b, k] + (ONE - zg) * {element(a, 'vh')}")
                        else:
                            w.line("zg = z[q, k]")
                            w.line(f"vh = z[q, {2 * u} + k]")
                            w.line(f"hn = zg * h[b, k] + (ONE - zg) * {element(a, 'vh')}")
                        w.line("h[b, k] = hn")
                        if seq:
                            w.line(f"{y}[b, t0 + s, k] = hn")
    if not seq:
        w.line(f"{y}[:, :] = h")
    if h_out:
        w.line(f"{h_out}[:, :] = h")
    if c_out:
        w.line(f"{c_out}[:, :] = c")


def _matvec(w: Writer, h: str, z: str, u: int, g0: int, g1: int, local: bool = False):
    """z[q, g0:g1] += h[q] @ recurrent_kernel[:, g0:g1] for the block's samples; each kernel row is
    loaded once for the block, the inner loop runs over the contiguous gate axis."""
    row = "q" if local else "b0 + q"
    with w.block(f"for j in range({u})"):
        with w.block("for q in range(nb)"):
            w.line(f"v = {h}[{row}, j]")
            with w.block(f"for g in range({g0}, {g1})"):
                w.line(f"{z}[q, g] += v * recurrent_kernel[j, g]")


# --- ConvLSTM1D/2D/3D -----------------------------------------------------------------------------

@kernel("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def conv_lstm(site: Site, w: Writer):
    layer = site.layer
    check_activations(site)
    rank = int(layer.rank)
    k, strides, dilation = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    filters = site.arg("filters")
    width = 4 * filters
    channels = int(site.x[-1])
    seq, backwards = bool(layer.return_sequences), bool(layer.go_backwards)
    y, h_out, c_out = output_names(site)
    first = 2 if seq else 1  # the first spatial axis of the output
    grid = [site.yd(first + a, 0) for a in range(rank)]
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
    w.line(f"hs = np.zeros((2, n_b, {', '.join(sizes)}, {filters}), dtype=DT)  # h of the previous and this step")
    w.line(f"cs = np.zeros((n_b, {', '.join(sizes)}, {filters}), dtype=DT)")
    w.line(f"n_blocks = (n_pos + {POSITION_BLOCK - 1}) // {POSITION_BLOCK}")
    with w.block("for step in range(n_t)"):
        w.line("tt = " + ("n_t - 1 - step" if backwards else "step"))
        w.line("cur = step % 2")
        w.line("nxt = 1 - cur")
        with w.block("for task in prange(n_b * n_blocks)"):
            w.line("b = task // n_blocks")
            w.line(f"p0 = (task % n_blocks) * {POSITION_BLOCK}")
            w.line(f"acc = np.empty({width}, dtype=DT)")
            with w.block(f"for p in range(p0, min(p0 + {POSITION_BLOCK}, n_pos))"):
                out_idx = [f"o{a + 1}" for a in range(rank)]
                for a, name in enumerate(out_idx):
                    inner = " * ".join(sizes[a + 1:])
                    value = f"p // ({inner})" if inner else "p"
                    w.line(f"{name} = {value}" + (f" % {sizes[a]}" if a else ""))
                with w.block(f"for g in range({width})"):
                    w.line("acc[g] = " + ("bias[g]" if layer.use_bias else "ZERO"))
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
                        w.line(f"acc[g] += v * kernel[{taps}, ch, g]")
                w.close(rank)
                # the recurrent convolution of the previous state: "same", stride 1, no dilation
                for a in range(rank):
                    w.open(f"for t{a + 1} in range({k[a]})")
                    w.line(f"i{a + 1} = {out_idx[a]} + t{a + 1} - {(k[a] - 1) // 2}")
                    with w.block(f"if i{a + 1} < 0 or i{a + 1} >= {sizes[a]}"):
                        w.line("continue")
                with w.block(f"for f in range({filters})"):
                    w.line(f"v = hs[cur, b, {ins}, f]")
                    with w.block(f"for g in range({width})"):
                        w.line(f"acc[g] += v * recurrent_kernel[{taps}, f, g]")
                w.close(rank)
                here = ", ".join(out_idx)
                with w.block(f"for k in range({filters})"):
                    lstm_gates(w, layer, "acc[{k}]", filters, f"cs[b, {here}, k]")
                    w.line(f"cs[b, {here}, k] = cn")
                    w.line(f"hs[nxt, b, {here}, k] = hn")
                    if seq:
                        w.line(f"{y}[b, step, {here}, k] = hn")
    w.line("last = n_t % 2")
    if not seq:
        w.line(f"{y}[...] = hs[last]")
    if h_out:
        w.line(f"{h_out}[...] = hs[last]")
    if c_out:
        w.line(f"{c_out}[...] = cs")
