"""CPU kernels of the recurrent layers: SimpleRNN, GRU, LSTM and ConvLSTM1D/2D/3D.

SimpleRNN, GRU and LSTM first project the input of every step, x_t @ kernel + bias, as one blocked
GEMM over (batch * steps) x (gates * units) (a helper shared by the module's recurrences, parallel
over blocks of rows and of columns, so a single sample still uses every core); then run the
recurrence, parallel over blocks of samples: the recurrent product h @ recurrent_kernel vectorised
over the contiguous gate axis, each loaded vector of the kernel shared by four samples and four
kernel rows; the gates elementwise, tanh and sigmoid vectorised in float32 (see GATE_CONSTANTS).

ConvLSTMs run step by step: at every step one parallel pass over (sample, block of positions)
gathers the receptive fields in the frame and in the previous state (im2col), multiplies them by
the kernels as a blocked GEMM (a helper shared by the module's ConvLSTMs), then applies the gates.

Every kind follows its NumPy reference (analyzer/layers/recurrent.py): zero initial states, Keras's
gate orders (LSTM i, f, c, o; GRU z, r, h), and with go_backwards the output sequence in processing
order (output step 0 reads the last input step).

Every emitter here also runs two directions in one kernel, for Bidirectional's default backward
layer (wrappers.py): both directions' recurrences are tasks of the same parallel loops.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy

from shapeproof.analyzer.layers.conv import padding_before

from ..activations import check_recurrent
from shapeproof.analyzer.exprs import py
from ..writer import Writer
from .activations import element
from .base import Site, kernel

SAMPLE_BLOCK = 4  # samples per recurrence task (at large batch): they share each recurrent kernel row
POSITION_BLOCK = 16  # ConvLSTM output positions per task


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


def shared(site: Site, *texts: str):
    """Module-level text several kernels need: added once per kernel (identical copies). The texts
    below keep unrolled statements on one line for the reader of this file; the module gets one
    statement per line."""
    for text in texts:
        text = one_statement_per_line(text)
        if text not in site.helpers:
            site.helpers.append(text)


def one_statement_per_line(text: str) -> str:
    """`a = 1; b = 2` -> two lines at the same indentation (the texts hold no string with '; ')."""
    lines = []
    for line in text.splitlines():
        indent = line[:len(line) - len(line.lstrip())]
        code, hash_, comment = line.partition("  #")
        lines.extend(indent + part.strip() for part in code.split("; ")[:-1])
        lines.append(indent + code.split("; ")[-1].strip() + (hash_ + comment if hash_ else "") if code.strip()
                     else line)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


# --- activations ----------------------------------------------------------------------------------

# Module-level text shared by every recurrent kernel (the same text each time): in float32, tanh and
# sigmoid (= 1/2 + tanh(x/2)/2) as Eigen's rational approximation of tanh, within 4e-7 of it, which
# vectorises (math.exp does not: gates through it take longer than the products); in float64 the
# exact expressions through math.exp. The float32 test is a global constant: Numba prunes the other
# branch before typing it.
GATE_CONSTANTS = """\
RNN_FAST_GATES = np.finfo(DT).bits == 32  # float32: tanh and sigmoid in recurrent gates as a rational function
TANH_CLAMP = DT(7.90531110763549805)
TANH_A1, TANH_A3, TANH_A5 = DT(4.89352455891786e-03), DT(6.37261928875436e-04), DT(1.48572235717979e-05)
TANH_A7, TANH_A9 = DT(5.12229709037114e-08), DT(-8.60467152213735e-11)
TANH_A11, TANH_A13 = DT(2.00018790482477e-13), DT(-2.76076847742355e-16)
TANH_B0, TANH_B2 = DT(4.89352518554385e-03), DT(2.26843463243900e-03)
TANH_B4, TANH_B6 = DT(1.18534705686654e-04), DT(1.19825839466702e-06)"""


def activate(w: Writer, name: str | None, out: str, v: str):
    """`out = name(v)` as statements (v a variable): tanh and sigmoid vectorise in float32."""
    if name not in ("tanh", "sigmoid"):
        w.line(f"{out} = {element(name, v)}")
        return
    with w.block("if RNN_FAST_GATES"):
        w.line(f"tcl = min(max({f'HALF * {v}' if name == 'sigmoid' else v}, -TANH_CLAMP), TANH_CLAMP)")
        w.line("tsq = tcl * tcl")
        w.line("tnum = TANH_A7 + tsq * (TANH_A9 + tsq * (TANH_A11 + tsq * TANH_A13))")
        w.line("tnum = tcl * (TANH_A1 + tsq * (TANH_A3 + tsq * (TANH_A5 + tsq * tnum)))")
        w.line("tden = TANH_B0 + tsq * (TANH_B2 + tsq * (TANH_B4 + tsq * TANH_B6))")
        w.line(f"{out} = HALF + HALF * (tnum / tden)" if name == "sigmoid" else f"{out} = tnum / tden")
    with w.block("else"):
        w.line(f"{out} = {element(name, v)}")


def lstm_gates(w: Writer, layer, z: str, rows: str, u: int, position, c: str, store):
    """The LSTM cell on rows q < rows of pre-activations z[q] (blocks i, f, c, o of u units): c updated
    in place at c[...k] (position(w) defines what its indices need), the new h of unit k handed to
    store(w, "hn")."""
    ra, a = layer.recurrent_activation, layer.activation
    with w.block(f"for q in range({rows})"):
        position(w)
        with w.block(f"for k in range({u})"):
            for var, gate, offset, fn in (("vi", "ig", "", ra), ("vf", "fg", f"{u} + ", ra),
                                          ("vc", "cg", f"{2 * u} + ", a), ("vo", "og", f"{3 * u} + ", ra)):
                w.line(f"{var} = {z}[q, {offset}k]")
                activate(w, fn, gate, var)
            w.line(f"cn = fg * {c} + ig * cg")
            w.line(f"{c} = cn")
            activate(w, a, "ct", "cn")
            w.line("hn = og * ct")
            store(w, "hn")


# --- SimpleRNN, GRU, LSTM -------------------------------------------------------------------------

# The input projection of every step of a SimpleRNN/GRU/LSTM, xr @ kernel + bias: parallel over
# blocks of rows and of columns (enough blocks for every core at batch 1).
PROJECTION = '''\
@njit(cache=True, parallel=PARALLEL, fastmath=FASTMATH)
def rnn_input_projection(xr, kernel, bias, xp):
    """xp = xr @ kernel + bias, (rows, C) @ (C, W): one task per 4 rows x a block of columns, the
    kernel rows four at a time, over row views indexed from 0 (as in rnn_gemm, written out here:
    a call per task costs more than a small task's products)."""
    n_rows = xr.shape[0]
    n_in = kernel.shape[0]
    n_out = kernel.shape[1]
    n_rb = (n_rows + 3) // 4
    n_ob = max(1, min(n_out // 64, max((n_out + 255) // 256, 64 // n_rb)))
    width = (n_out + n_ob - 1) // n_ob
    n_i4 = n_in - n_in % 4
    for task in prange(n_rb * n_ob):
        r0 = (task // n_ob) * 4
        r1 = min(r0 + 4, n_rows)
        o0 = (task % n_ob) * width
        o1 = min(o0 + width, n_out)
        nw = o1 - o0
        bb = bias[o0:o1]
        if r1 - r0 == 4:
            y0 = xp[r0, o0:o1]
            y1 = xp[r0 + 1, o0:o1]
            y2 = xp[r0 + 2, o0:o1]
            y3 = xp[r0 + 3, o0:o1]
            for o in range(nw):
                y0[o] = bb[o]; y1[o] = bb[o]; y2[o] = bb[o]; y3[o] = bb[o]
            for i in range(0, n_i4, 4):
                a0 = xr[r0, i]; a1 = xr[r0, i + 1]; a2 = xr[r0, i + 2]; a3 = xr[r0, i + 3]
                b0 = xr[r0 + 1, i]; b1 = xr[r0 + 1, i + 1]; b2 = xr[r0 + 1, i + 2]; b3 = xr[r0 + 1, i + 3]
                c0 = xr[r0 + 2, i]; c1 = xr[r0 + 2, i + 1]; c2 = xr[r0 + 2, i + 2]; c3 = xr[r0 + 2, i + 3]
                d0 = xr[r0 + 3, i]; d1 = xr[r0 + 3, i + 1]; d2 = xr[r0 + 3, i + 2]; d3 = xr[r0 + 3, i + 3]
                w0 = kernel[i, o0:o1]; w1 = kernel[i + 1, o0:o1]; w2 = kernel[i + 2, o0:o1]; w3 = kernel[i + 3, o0:o1]
                for o in range(nw):
                    k0 = w0[o]; k1 = w1[o]; k2 = w2[o]; k3 = w3[o]
                    y0[o] += a0 * k0 + a1 * k1 + a2 * k2 + a3 * k3
                    y1[o] += b0 * k0 + b1 * k1 + b2 * k2 + b3 * k3
                    y2[o] += c0 * k0 + c1 * k1 + c2 * k2 + c3 * k3
                    y3[o] += d0 * k0 + d1 * k1 + d2 * k2 + d3 * k3
            for i in range(n_i4, n_in):
                w0 = kernel[i, o0:o1]
                a0 = xr[r0, i]; b0 = xr[r0 + 1, i]; c0 = xr[r0 + 2, i]; d0 = xr[r0 + 3, i]
                for o in range(nw):
                    k0 = w0[o]
                    y0[o] += a0 * k0
                    y1[o] += b0 * k0
                    y2[o] += c0 * k0
                    y3[o] += d0 * k0
        else:
            for r in range(r0, r1):
                y0 = xp[r, o0:o1]
                for o in range(nw):
                    y0[o] = bb[o]
                for i in range(n_in):
                    a0 = xr[r, i]
                    w0 = kernel[i, o0:o1]
                    for o in range(nw):
                        y0[o] += a0 * w0[o]
'''


@kernel("SimpleRNN", "GRU", "LSTM")
def recurrence(site: Site, w: Writer):
    emit_rnn(site, w, [direction_of(site)])


def emit_rnn(site: Site, w: Writer, dirs: list[Direction]):
    """The body of a SimpleRNN/GRU/LSTM kernel running `dirs` (one or two directions) over input x."""
    layer = site.layer
    check_recurrent(site.layer, "CPU")
    kind = layer.kind
    u = int(layer.units)
    gates = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[kind]
    width = gates * u
    channels = int(site.x[-1])
    reset_after = kind == "GRU" and bool(layer.reset_after)
    seq = bool(layer.return_sequences)
    ra, a = getattr(layer, "recurrent_activation", None), layer.activation
    two = len(dirs) == 2
    shared(site, GATE_CONSTANTS, PROJECTION)

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
    # 1. The input projection of every step, bias included (GRU reset_after: its input row).
    w.line(f"xps = np.empty(({', '.join([*lead, 'n_b', 'n_t', str(width)])}), dtype=DT)")
    for i, d in enumerate(dirs):
        bias = "no_bias" if d.bias is None else f"{d.bias}[0]" if reset_after else d.bias
        target = f"xps[{i}]" if two else "xps"
        w.line(f"rnn_input_projection(xr, {d.kernel}, {bias}, {target}.reshape(n_b * n_t, {width}))")
    # 2. The recurrence, one task per block of samples (and direction).
    w.line(f"sb = max(1, min({SAMPLE_BLOCK}, n_b // 16))  # samples per task: enough tasks for 16 cores")
    w.line("n_sb = (n_b + sb - 1) // sb")
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
            backwards = "d == 1"  # the default backward layer (the forward one reads forwards)
        else:
            w.line("b0 = task * sb")
            d = dirs[0]
            names = {"xp": "xps", "h": "hs", "c": "cs", "rk": d.recurrent_kernel, "rb": f"{d.bias}[1]", "y": d.y}
            backwards = d.backwards
        h, c, rk = names["h"], names["c"], names["rk"]
        w.line("nb = min(b0 + sb, n_b) - b0")
        w.line(f"z = np.empty(({SAMPLE_BLOCK}, {width}), dtype=DT)")
        if reset_after:
            w.line(f"zr = np.empty(({SAMPLE_BLOCK}, {width}), dtype=DT)")
        if kind == "GRU" and not reset_after:
            w.line(f"rh = np.empty(({SAMPLE_BLOCK}, {u}), dtype=DT)")
        with w.block("for s in range(n_t)"):
            if backwards is True:
                w.line("tt = n_t - 1 - s")
            elif backwards is False:
                w.line("tt = s")
            else:
                w.line(f"tt = n_t - 1 - s if {backwards} else s")
            with w.block("for q in range(nb)"), w.block(f"for g in range({width})"):
                w.line(f"z[q, g] = {names['xp']}[b0 + q, tt, g]")
                if reset_after:
                    w.line("zr[q, g] = " + (f"{names['rb']}[g]" if layer.use_bias else "ZERO"))
            state_of = lambda q, j: f"{h}[b0 + {q}, {j}]"
            y = names["y"]

            def store(w: Writer, value: str):
                if value != "hn":
                    w.line(f"hn = {value}")
                w.line(f"{h}[b, k] = hn")
                if seq:
                    w.line(f"{y}[b, s, k] = hn")

            def sample(w: Writer):
                w.line("b = b0 + q")

            if kind == "LSTM":
                matvec(w, state_of, "z", rk, u, 0, width)
                lstm_gates(w, layer, "z", "nb", u, sample, f"{c}[b, k]", store)
            elif kind == "SimpleRNN":
                matvec(w, state_of, "z", rk, u, 0, width)
                with w.block("for q in range(nb)"):
                    sample(w)
                    with w.block(f"for k in range({u})"):
                        w.line("v = z[q, k]")
                        activate(w, a, "hn", "v")
                        store(w, "hn")
            else:
                if reset_after:
                    # z, r: x_z + h_z, x_r + h_r; the candidate: x_h + r * h_h (h_h with its bias row)
                    matvec(w, state_of, "zr", rk, u, 0, width)
                else:
                    # z, r from h; the candidate from (r * h) @ the kernel's last block
                    matvec(w, state_of, "z", rk, u, 0, 2 * u)
                    with w.block("for q in range(nb)"), w.block(f"for k in range({u})"):
                        w.line("vz = z[q, k]")
                        activate(w, ra, "zg", "vz")
                        w.line("z[q, k] = zg")
                        w.line(f"vr = z[q, {u} + k]")
                        activate(w, ra, "rg", "vr")
                        w.line(f"rh[q, k] = rg * {h}[b0 + q, k]")
                    matvec(w, lambda q, j: f"rh[{q}, {j}]", "z", rk, u, 2 * u, 3 * u)
                with w.block("for q in range(nb)"):
                    sample(w)
                    with w.block(f"for k in range({u})"):
                        if reset_after:
                            w.line("vz = z[q, k] + zr[q, k]")
                            activate(w, ra, "zg", "vz")
                            w.line(f"vr = z[q, {u} + k] + zr[q, {u} + k]")
                            activate(w, ra, "rg", "vr")
                            w.line(f"vh = z[q, {2 * u} + k] + rg * zr[q, {2 * u} + k]")
                        else:
                            w.line("zg = z[q, k]")
                            w.line(f"vh = z[q, {2 * u} + k]")
                        activate(w, a, "hh", "vh")
                        store(w, f"zg * {h}[b, k] + (ONE - zg) * hh")
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


def matvec(w: Writer, state, z: str, rk: str, u: int, g0: int, g1: int):
    """z[q, g0:g1] += state(q, :) @ rk[:, g0:g1] for the nb samples of the block. A full block of
    SAMPLE_BLOCK samples shares every loaded vector of the kernel, four kernel rows at a time (16
    multiply-adds per loaded vector, one store per four); a partial block goes sample by sample,
    still four rows at a time. The inner loops run over the contiguous gate axis and vectorise."""
    n4 = u - u % 4
    gates = f"range({g0}, {g1})" if g0 else f"range({g1})"
    with w.block(f"if nb == {SAMPLE_BLOCK}"):
        if n4:
            with w.block(f"for j in range(0, {n4}, 4)"):
                for q in range(SAMPLE_BLOCK):
                    for r in range(4):
                        w.line(f"h{q}{r} = {state(q, f'j + {r}' if r else 'j')}")
                with w.block(f"for g in {gates}"):
                    for r in range(4):
                        w.line(f"k{r} = {rk}[j{f' + {r}' if r else ''}, g]")
                    for q in range(SAMPLE_BLOCK):
                        w.line(f"{z}[{q}, g] += " + " + ".join(f"h{q}{r} * k{r}" for r in range(4)))
        for j in range(n4, u):
            for q in range(SAMPLE_BLOCK):
                w.line(f"h{q}0 = {state(q, j)}")
            with w.block(f"for g in {gates}"):
                w.line(f"k0 = {rk}[{j}, g]")
                for q in range(SAMPLE_BLOCK):
                    w.line(f"{z}[{q}, g] += h{q}0 * k0")
    with w.block("else"), w.block("for q in range(nb)"):
        if n4:
            with w.block(f"for j in range(0, {n4}, 4)"):
                for r in range(4):
                    w.line(f"h{r} = {state('q', f'j + {r}' if r else 'j')}")
                with w.block(f"for g in {gates}"):
                    for pair in ((0, 1), (2, 3)):  # two statements: lines of at most 120 characters
                        w.line(f"{z}[q, g] += " + " + ".join(f"h{r} * {rk}[j{f' + {r}' if r else ''}, g]"
                                                            for r in pair))
        for j in range(n4, u):
            w.line(f"h0 = {state('q', j)}")
            with w.block(f"for g in {gates}"):
                w.line(f"{z}[q, g] += h0 * {rk}[{j}, g]")


# --- ConvLSTM1D/2D/3D -----------------------------------------------------------------------------

# Shared by the ConvLSTM kernels of a module (the same text, so compiled once; every caller passes
# 2-D C-contiguous arrays): a task's convolutions as blocks of a GEMM.
GEMM = '''\
@njit(cache=True, fastmath=FASTMATH)
def rnn_gemm(a, b, c, g0, g1):
    """c[:m, g0:g1] += a @ b[:, g0:g1], a (m, n), b (n, W), c (at least m, W): four rows of a and four
    rows of b at a time, so that each loaded vector of b serves 16 multiply-adds and each vector of c
    is loaded and stored once per 16. The inner loops run over row views indexed from 0: an index
    that may be negative (g0 + g) gets a wraparound check that keeps LLVM from vectorising them."""
    m = a.shape[0]
    n = a.shape[1]
    n4 = n - n % 4
    for q in range(0, m - 3, 4):
        c0 = c[q, g0:g1]
        c1 = c[q + 1, g0:g1]
        c2 = c[q + 2, g0:g1]
        c3 = c[q + 3, g0:g1]
        for r in range(0, n4, 4):
            a00 = a[q, r]; a01 = a[q, r + 1]; a02 = a[q, r + 2]; a03 = a[q, r + 3]
            a10 = a[q + 1, r]; a11 = a[q + 1, r + 1]; a12 = a[q + 1, r + 2]; a13 = a[q + 1, r + 3]
            a20 = a[q + 2, r]; a21 = a[q + 2, r + 1]; a22 = a[q + 2, r + 2]; a23 = a[q + 2, r + 3]
            a30 = a[q + 3, r]; a31 = a[q + 3, r + 1]; a32 = a[q + 3, r + 2]; a33 = a[q + 3, r + 3]
            w0 = b[r, g0:g1]; w1 = b[r + 1, g0:g1]; w2 = b[r + 2, g0:g1]; w3 = b[r + 3, g0:g1]
            for g in range(g1 - g0):
                k0 = w0[g]; k1 = w1[g]; k2 = w2[g]; k3 = w3[g]
                c0[g] += a00 * k0 + a01 * k1 + a02 * k2 + a03 * k3
                c1[g] += a10 * k0 + a11 * k1 + a12 * k2 + a13 * k3
                c2[g] += a20 * k0 + a21 * k1 + a22 * k2 + a23 * k3
                c3[g] += a30 * k0 + a31 * k1 + a32 * k2 + a33 * k3
        for r in range(n4, n):
            a00 = a[q, r]; a10 = a[q + 1, r]; a20 = a[q + 2, r]; a30 = a[q + 3, r]
            w0 = b[r, g0:g1]
            for g in range(g1 - g0):
                k0 = w0[g]
                c0[g] += a00 * k0
                c1[g] += a10 * k0
                c2[g] += a20 * k0
                c3[g] += a30 * k0
    for q in range(m - m % 4, m):
        c0 = c[q, g0:g1]
        for r in range(0, n4, 4):
            a00 = a[q, r]; a01 = a[q, r + 1]; a02 = a[q, r + 2]; a03 = a[q, r + 3]
            w0 = b[r, g0:g1]; w1 = b[r + 1, g0:g1]; w2 = b[r + 2, g0:g1]; w3 = b[r + 3, g0:g1]
            for g in range(g1 - g0):
                c0[g] += a00 * w0[g] + a01 * w1[g] + a02 * w2[g] + a03 * w3[g]
        for r in range(n4, n):
            a00 = a[q, r]
            w0 = b[r, g0:g1]
            for g in range(g1 - g0):
                c0[g] += a00 * w0[g]
'''


@kernel("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def conv_lstm(site: Site, w: Writer):
    emit_conv_lstm(site, w, [direction_of(site)])


def emit_conv_lstm(site: Site, w: Writer, dirs: list[Direction]):
    """The body of a ConvLSTMnD kernel running `dirs` (one or two directions) over input x.

    Every step is one parallel loop over (direction, sample, block of output positions). A task
    gathers the receptive fields of its positions (im2col: the frame's under the layer's strides,
    dilation and padding; the previous state's under "same" padding, stride 1) into two small
    matrices, multiplies them by the kernels viewed as (taps * channels, 4 * filters) as a blocked
    GEMM (four positions and four rows at a time), then applies the LSTM gates. h is double
    buffered (the previous step's is read while this step's is written), c is updated in place."""
    layer = site.layer
    check_recurrent(site.layer, "CPU")
    rank = int(layer.rank)
    k, strides, dilation = site.ints("kernel_size"), site.ints("strides"), site.ints("dilation_rate")
    filters = site.arg("filters")
    width = 4 * filters
    channels = int(site.x[-1])
    taps = 1
    for n in k:
        taps *= n
    seq = bool(layer.return_sequences)
    two = len(dirs) == 2
    shared(site, GATE_CONSTANTS, GEMM)
    first = 2 if seq else 1  # the first spatial axis of the output
    grid = [site.dim(dirs[0].y, site.outputs[0], first + a) for a in range(rank)]
    spatial_in = [site.xd(2 + a) for a in range(rank)]
    block = POSITION_BLOCK

    w.line(f"n_b = {site.xd(0)}")
    w.line(f"n_t = {site.xd(1)}")
    for a in range(rank):
        w.line(f"n{a + 1} = {grid[a]}")
        if layer.padding == "same":
            w.line(f"pad{a + 1} = {site.padding_before(2 + a, k[a], strides[a], dilation[a])}")
    sizes = [f"n{a + 1}" for a in range(rank)]
    w.line("n_pos = " + " * ".join(sizes))
    state = ["n_b", *sizes, str(filters)]
    lead = ["2"] if two else []
    w.line(f"hs = np.empty(({', '.join([*lead, '2', *state])}), dtype=DT)  # h: the previous step's, this one's")
    zero(w, "hs", [*lead, "2", *state])
    w.line(f"cs = np.empty(({', '.join([*lead, *state])}), dtype=DT)")
    zero(w, "cs", [*lead, *state])
    w.line(f"n_blocks = (n_pos + {block - 1}) // {block}")
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
                w.line(f"kx = ({pick(dirs, 'kernel')}).reshape({taps * channels}, {width})")
                w.line(f"kh = ({pick(dirs, 'recurrent_kernel')}).reshape({taps * filters}, {width})")
                if layer.use_bias:
                    w.line(f"bq = {pick(dirs, 'bias')}")
                if seq:
                    w.line(f"y = {pick(dirs, 'y')}")
                h, c, bq, y = "h", "c", "bq", "y"
            else:
                d = dirs[0]
                w.line("b = task // n_blocks")
                w.line("tt = " + ("n_t - 1 - step" if d.backwards else "step"))
                w.line(f"kx = {d.kernel}.reshape({taps * channels}, {width})")
                w.line(f"kh = {d.recurrent_kernel}.reshape({taps * filters}, {width})")
                h, c, bq, y = "hs", "cs", d.bias, d.y
            w.line(f"p0 = (task % n_blocks) * {block}")
            w.line(f"n_q = min(p0 + {block}, n_pos) - p0")
            w.line(f"px = np.empty(({block}, {taps * channels}), dtype=DT)  # receptive fields in the frame")
            w.line(f"ph = np.empty(({block}, {taps * filters}), dtype=DT)  # ... and in the previous h")
            w.line(f"acc = np.empty(({block}, {width}), dtype=DT)")
            out_idx = [f"o{a + 1}" for a in range(rank)]
            here = ", ".join(out_idx)
            with w.block("for q in range(n_q)"):
                _position(w, sizes, out_idx)
                with w.block(f"for g in range({width})"):
                    w.line("acc[q, g] = " + (f"{bq}[g]" if layer.use_bias else "ZERO"))
                origin = [o if stride == 1 else f"{o} * {stride}" for o, stride in zip(out_idx, strides)]
                _gather(w, "px", "x[b, tt]", channels, k, origin, dilation,
                        [f"pad{a + 1}" for a in range(rank)] if layer.padding == "same" else None, spatial_in)
                _gather(w, "ph", f"{h}[cur, b]", filters, k, out_idx, [1] * rank,
                        [py(padding_before(sympy.Symbol("L", integer=True, positive=True), n, 1, 1, "same")) for n in k], sizes)
            # (np.int64: Numba would compile the shared helper again for every literal argument)
            w.line(f"rnn_gemm(px[:n_q], kx, acc, np.int64(0), np.int64({width}))")
            w.line(f"rnn_gemm(ph[:n_q], kh, acc, np.int64(0), np.int64({width}))")

            def store(w: Writer, value: str):
                w.line(f"{h}[nxt, b, {here}, k] = {value}")
                if seq:
                    w.line(f"{y}[b, step, {here}, k] = {value}")

            lstm_gates(w, layer, "acc", "n_q", filters, lambda w: _position(w, sizes, out_idx),
                       f"{c}[b, {here}, k]", store)
    if not seq or any(d.h or d.c for d in dirs):  # final_states reads the last step's buffer
        w.line("last = n_t % 2")
    at = ["0, ", "1, "] if two else [""]
    final_states(w, dirs, seq, state, [f"hs[{i}last]" for i in at], [f"cs[{i[:-2]}]" if two else "cs" for i in at])


def _position(w: Writer, sizes: list[str], names: list[str]):
    """The output coordinates of position p0 + q (row-major over the grid)."""
    w.line("p = p0 + q")
    for a, name in enumerate(names):
        inner = " * ".join(sizes[a + 1:])
        value = f"p // ({inner})" if inner else "p"
        w.line(f"{name} = {value}" + (f" % {sizes[a]}" if a else ""))


def _gather(w: Writer, patch: str, source: str, n: int, k, origin: list[str], dilation, pads, limits):
    """patch[q] = the receptive field of the position: source[i1, ..., :n] at i = origin + tap *
    dilation - pad for every tap (row-major), zeros outside `limits` (padding)."""
    rank = len(k)
    w.line(f"src = {source}")
    for a in range(rank):
        w.open(f"for t{a + 1} in range({k[a]})")
        pad = f" - {pads[a]}" if pads else ""
        tap = f"t{a + 1}" if dilation[a] == 1 else f"t{a + 1} * {dilation[a]}"
        w.line(f"i{a + 1} = {origin[a]} + {tap}{pad}")
    flat = "t1"  # the tap's row-major index
    for a in range(1, rank):
        flat = f"({flat}) * {k[a]} + t{a + 1}" if a > 1 else f"t1 * {k[1]} + t2"
    w.line(f"row = {patch}[q, ({flat}) * {n}:]" if rank > 1 else f"row = {patch}[q, t1 * {n}:]")
    ins = ", ".join(f"i{a + 1}" for a in range(rank))
    if pads:
        inside = " and ".join(f"0 <= i{a + 1} < {limits[a]}" for a in range(rank))
        with w.block(f"if {inside}"):
            w.line(f"v = src[{ins}]")
            with w.block(f"for ch in range({n})"):
                w.line("row[ch] = v[ch]")
        with w.block("else"), w.block(f"for ch in range({n})"):
            w.line("row[ch] = ZERO")
    else:
        w.line(f"v = src[{ins}]")
        with w.block(f"for ch in range({n})"):
            w.line("row[ch] = v[ch]")
    w.close(rank)
