"""CUDA kernels of the recurrent layers: SimpleRNN, GRU, LSTM and ConvLSTM1D/2D/3D.

Note: the shape of a recurrence. The input projection of every step runs first, as one tiled GEMM
over (batch * T) rows (ConvLSTM: an implicit-GEMM convolution with time folded into the batch),
bias included, into a scratch buffer `xp`. Then `forward` loops over the steps on the host; a step
is the recurrent GEMM of the previous h (ConvLSTM: its "same", stride-1 convolution) into `z`, then
one fused gate kernel, one thread per state element (sample, [position,] unit), that adds the
step's input projection to z, applies the activations, updates h (and c) in place and writes the
output sequence. Step 0 starts from zero states: it skips the recurrent GEMM and the gate kernel
reads no z, h or c (so nothing needs zeroing). The recurrent GEMM's store writes its bare product
and the gate kernel adds xp, rather than the store adding it: step 0 then reads xp through the same
code, and GRU's reset_after keeps the recurrent candidate apart (r multiplies it alone). GRU
without reset_after needs r before its candidate's product, (r * h) @ recurrent_kernel[:, 2u:]: a
small kernel writes r * h between two GEMMs.

Note: the persistent recurrence. At batch 1 that host loop is launch-bound: 2 to 4 launches per
step. When the gate axis (gates * units) fits one block (PERSISTENT_WIDTH), SimpleRNN, GRU and LSTM
instead run the whole loop in ONE launch after the input projection: one block per sample, one
thread per gate column, h (and c) in shared memory. Per step each thread computes its column of
h @ recurrent_kernel (consecutive threads read consecutive columns), syncthreads, and the first
`units` threads run the same gate lines as the per-step kernel (the bodies below index the state
through `Recurrence.slot`), syncthreads. ConvLSTMs keep the per-step loop.

Every kind follows its NumPy reference (analyzer/layers/recurrent.py): Keras's gate orders
(LSTM i, f, c, o; GRU z, r, h), and with go_backwards the output sequence in processing order
(output step 0 reads the last input step). The last step also writes the final h (the output
without return_sequences) and the returned states.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..activations import check_recurrent, element
from shapeproof.analyzer.exprs import product, shape
from ..writer import Writer
from .base import CudaSite, kernel
from .conv import conv_gemm, window
from .templates import Gemm, gemm, header, pointwise, wrap

GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}  # weight blocks side by side on the gate axis
PERSISTENT_WIDTH = 1024  # widest gate axis run by the one-launch kernel: one thread per column, one block
WARP = 32  # the persistent kernel's threads: whole warps
LSTM_GATES = (("vi", 0), ("vf", 1), ("vc", 2), ("vo", 3))  # Keras's order: i, f, c, o


def activate(w: Writer, name: str | None, out: str, v: str):
    """`out = name(v)` (v a variable: the expression may repeat it)."""
    w.line(f"{out} = {element(name, v)}")


@dataclass
class Recurrence:
    """One recurrence as the step kernels see it, every size as source. State arrays are 2-D,
    (batch * positions, units); the projection xp is (batch * T * positions, gates * units), row
    (b * T + t) * positions + p; the output sequence is (batch, T, positions, units) (positions
    axis left out when there are none)."""

    site: CudaSite
    batch: str
    steps: str
    positions: str  # "1" for SimpleRNN/GRU/LSTM
    units: int
    xp: str  # forward variables of the scratch buffers
    z: str
    h: str
    c: str | None
    slot: str = "q"  # the row of the state arrays h, c, z in a kernel: "0" for the persistent one's shared rows

    @property
    def layer(self):
        return self.site.layer

    @property
    def spatial(self) -> bool:
        return self.positions != "1"

    def dims(self) -> list[str]:
        """One thread per state element: (batch, [positions,] units)."""
        return [self.batch, *([self.positions] if self.spatial else []), str(self.units)]

    @property
    def sample(self) -> str:
        """The row of the final outputs and of the flat sequence: q (b for plain recurrences)."""
        return "q" if self.spatial else "b"

    def locate(self, w: Writer, idx: list[str]):
        """From a thread's index: b, k, the state row q, the input step tt and the xp row."""
        w.line(f"b = {idx[0]}")
        w.line(f"k = {idx[-1]}")
        if self.spatial:
            w.line(f"p = {idx[1]}")
            w.line(f"q = b * {wrap(self.positions)} + p")
        else:
            w.line("q = b")
        self.step_row(w)

    def step_row(self, w: Writer):
        """Step s's input step tt and xp row (from b, and p when spatial)."""
        # go_backwards: processing step s reads input step T - 1 - s.
        w.line(f"tt = {wrap(self.steps)} - 1 - s" if self.layer.go_backwards else "tt = s")
        row = f"b * {wrap(self.steps)} + tt"
        w.line(f"row = ({row}) * {wrap(self.positions)} + p" if self.spatial else f"row = {row}")

    def state_rows(self) -> str:
        """Rows of the state arrays: batch x positions."""
        return f"{wrap(self.batch)} * {wrap(self.positions)}" if self.spatial else self.batch

    def outputs(self) -> tuple[list[str], list[str]]:
        """(params, args) of the layer's outputs, viewed as the gate kernel indexes them."""
        site, seq = self.site, bool(self.layer.return_sequences)
        rows, u = self.state_rows(), self.units
        if seq:
            lead = [self.batch, self.steps, *([self.positions] if self.spatial else [])]
            args = [f"{site.outs[0]}.reshape({', '.join(lead)}, {u})"]
        else:
            args = [f"{site.outs[0]}.reshape({rows}, {u})"]
        params = ["y"]
        for name, var in zip(("h_out", "c_out"), site.outs[1:]):
            params.append(name)
            args.append(f"{var}.reshape({rows}, {u})")
        return params, args

    def store(self, w: Writer, c_new: str | None):
        """Write the new h (`hn`) to the state and the sequence; at the last step, the final outputs."""
        seq, q = bool(self.layer.return_sequences), self.sample
        w.line(f"h[{self.slot}, k] = hn")
        if seq:
            w.line(f"y[b, s, {'p, ' if self.spatial else ''}k] = hn")
        finals = ([] if seq else [f"y[{q}, k] = hn"])
        if len(self.site.outs) > 1:
            finals.append(f"h_out[{q}, k] = hn")
        if len(self.site.outs) > 2:
            finals.append(f"c_out[{q}, k] = {c_new}")
        if finals:
            with w.block(f"if s == {wrap(self.steps)} - 1"):
                for line in finals:
                    w.line(line)


def gate_kernel(cell: Recurrence, k: Writer, f: Writer, params: list[str], args: list[str],
                body):
    """The fused gate kernel of one step: one thread per state element; body(w) computes `hn` (and
    updates c) after `locate`."""
    out_params, out_args = cell.outputs()

    def write(w: Writer, idx: list[str]):
        cell.locate(w, idx)
        c_new = body(w)
        cell.store(w, c_new)

    pointwise(cell.site, k, f, cell.site.fn + "_gates", [*params, *out_params, "s"], [*args, *out_args, "s"],
              cell.dims(), write)


def lstm_body(cell: Recurrence, w: Writer) -> str:
    """The LSTM cell (i, f, c, o blocks): c updated in place, `hn` the new h; returns c's variable."""
    layer, u, q = cell.layer, cell.units, cell.slot
    for var, gate in LSTM_GATES:
        w.line(f"{var} = xp[row, {f'{gate * u} + ' if gate else ''}k]")
    w.line("cp = ZERO")
    with w.block("if s > 0"):
        for var, gate in LSTM_GATES:
            w.line(f"{var} += z[{q}, {f'{gate * u} + ' if gate else ''}k]")
        w.line(f"cp = c[{q}, k]")
    ra, a = layer.recurrent_activation, layer.activation
    activate(w, ra, "ig", "vi")
    activate(w, ra, "fg", "vf")
    activate(w, a, "cg", "vc")
    activate(w, ra, "og", "vo")
    w.line("cn = fg * cp + ig * cg")
    w.line(f"c[{q}, k] = cn")
    activate(w, a, "ct", "cn")
    w.line("hn = og * ct")
    return "cn"


def recurrent_gemm(site: CudaSite, k: Writer, f: Writer, name: str, state: str, rows: str, u: int,
                   rk: str, cols: int, offset: int, z: str):
    """z[:, offset:offset + cols] = state @ recurrent_kernel[:, offset:offset + cols] (state (rows, u))."""
    at = f"{offset} + " if offset else ""

    def store(w: Writer, m: str, n: str, v: str):
        w.line(f"z[{m}, {at}{n}] = {v}")

    gemm(site, k, f, Gemm(
        name=name, rows=rows, cols=str(cols), depth=str(u),
        params=["h", "rk", "z"], args=[state, rk, z],
        load_a=lambda w, m, kk: f"h[{m}, {kk}]",
        load_b=lambda w, kk, n: f"rk[{kk}, {at}{n}]",
        store=store))


def allocate(cell: Recurrence, f: Writer, rows: str, width: int, states: bool = True):
    """The scratch buffers of a recurrence: xp (rows, width), and unless `states` is False (the
    persistent kernel keeps them in shared memory) the states and z."""
    key = cell.site.scratch_key
    f.line(f"{cell.xp} = scratch({key + '_xp'!r}, ({rows}, {width}))")
    if not states:
        return
    states = cell.state_rows()
    f.line(f"{cell.h} = scratch({key + '_h'!r}, ({states}, {cell.units}))")
    if cell.c:
        f.line(f"{cell.c} = scratch({key + '_c'!r}, ({states}, {cell.units}))")
    f.line(f"{cell.z} = scratch({key + '_z'!r}, ({states}, {width}))")


def input_store(bias: str | None, row: str = ""):
    """The input projection's store: xp = the sum + bias (GRU reset_after: its input row, `0, `)."""

    def store(w: Writer, m: str, n: str, v: str):
        if bias:
            w.line(f"{v} += bias[{row}{n}]")
        w.line(f"xp[{m}, {n}] = {v}")

    return store


def steps(cell: Recurrence, k: Writer, f: Writer, recurrent, params: list[str], args: list[str], body):
    """The host loop over the steps: from step 1 recurrent(k, f) writes z from h, then the gates."""
    with f.block(f"for s in range({cell.steps})"):
        with f.block("if s > 0"):
            recurrent(k, f)
        gate_kernel(cell, k, f, params, args, lambda w: body(cell, w))


@kernel("SimpleRNN", "GRU", "LSTM")
def recurrence(site: CudaSite, k: Writer, f: Writer):
    layer = site.layer
    check_recurrent(site.layer, "CUDA")
    kind, u = layer.kind, int(layer.units)
    width = GATES[kind] * u
    channels = int(site.x[-1])
    batch = site.xd(0)
    rows = product(site.x[:2])
    reset_after = kind == "GRU" and bool(layer.reset_after)
    bias = site.weight("bias") if layer.use_bias else None
    key = site.scratch_key
    cell = Recurrence(site, batch, site.xd(1), "1", u, f"{key}_xp", f"{key}_z", f"{key}_h",
                      f"{key}_c" if kind == "LSTM" else None)
    one_launch = width <= PERSISTENT_WIDTH
    allocate(cell, f, rows, width, states=not one_launch)

    # 1. The input projection of every step, bias included.
    gemm(site, k, f, Gemm(
        name=site.fn + "_input", rows=rows, cols=str(width), depth=str(channels),
        params=["x", "kernel", *(["bias"] if bias else []), "xp"],
        args=[f"{site.ins[0]}.reshape({wrap(rows)}, {channels})", site.weight("kernel"), *([bias] if bias else []),
              cell.xp],
        load_a=lambda w, m, kk: f"x[{m}, {kk}]",
        load_b=lambda w, kk, n: f"kernel[{kk}, {n}]",
        store=input_store(bias, "0, " if reset_after else "")))

    body = {"LSTM": lstm_body, "SimpleRNN": simple_rnn_body,
            "GRU": gru_after_body if reset_after else gru_before_body}[kind]
    rk = site.weight("recurrent_kernel")
    if one_launch:
        # 2. Every step in one launch.
        params, args = ["xp", "rk"], [cell.xp, rk]
        if reset_after and bias:  # the recurrent bias row
            params, args = [*params, "bias"], [*args, bias]
        persistent(cell, k, f, width, params, args, body)
        return

    # 2. The steps: the recurrent GEMM, then the gates.
    if kind == "GRU" and not reset_after:
        f.line(f"{key}_rh = scratch({key + '_rh'!r}, ({batch}, {u}))")

    def recurrent(k: Writer, f: Writer):
        if kind == "GRU" and not reset_after:
            # The z and r blocks from h; r * h; the candidate's block from r * h.
            recurrent_gemm(site, k, f, site.fn + "_recurrent", cell.h, batch, u, rk, 2 * u, 0, cell.z)
            reset_kernel(cell, k, f)
            recurrent_gemm(site, k, f, site.fn + "_candidate", f"{key}_rh", batch, u, rk, u, 2 * u, cell.z)
        else:
            recurrent_gemm(site, k, f, site.fn + "_recurrent", cell.h, batch, u, rk, width, 0, cell.z)

    params, args = ["xp", "z", "h"], [cell.xp, cell.z, cell.h]
    if cell.c:
        params, args = [*params, "c"], [*args, cell.c]
    if reset_after and bias:
        params, args = [*params, "bias"], [*args, bias]
    steps(cell, k, f, recurrent, params, args, body)


def persistent(cell: Recurrence, k: Writer, f: Writer, width: int, params: list[str], args: list[str], body):
    """The whole recurrence in one launch (one instead of 2 to 4 per step): one block per sample b,
    thread k for gate column k (width rounded up to whole warps; the extra threads only reach the
    barriers). h, c and z are shared arrays of one row (slot 0): `body` and `store` index them as the
    per-step gate kernel indexes its scratch arrays. params/args: xp, recurrent_kernel (rk) and what
    body reads besides."""
    cell = replace(cell, slot="0")
    site, u = cell.site, cell.units
    reset_before = cell.layer.kind == "GRU" and not cell.layer.reset_after
    out_params, out_args = cell.outputs()
    name = site.fn + "_persistent"
    header(k, site, name, [*params, *out_params])
    k.level += 1
    k.line(f"z = cuda.shared.array((1, {width}), DT)")
    k.line(f"h = cuda.shared.array((1, {u}), DT)")
    if cell.c:
        k.line(f"c = cuda.shared.array((1, {u}), DT)")
    if reset_before:
        k.line(f"rh = cuda.shared.array((1, {u}), DT)")
    k.line("b = cuda.blockIdx.x")
    k.line("k = cuda.threadIdx.x")

    def columns(state: str, first: int, end: int):
        """z[0, k] = state @ rk[:, k] for first <= k < end, from step 1 (step 0: zero states)."""
        low = f"{first} <= k < {end}" if first else f"k < {end}"
        with k.block(f"if s > 0 and {low}"):
            k.line("zk = ZERO")
            with k.block(f"for j in range({u})"):
                k.line(f"zk += {state}[0, j] * rk[j, k]")
            k.line("z[0, k] = zk")
        k.line("cuda.syncthreads()")

    with k.block(f"for s in range({cell.steps})"):
        cell.step_row(k)
        if reset_before:
            # r needs the z and r blocks first; the candidate's block is (r * h) @ its columns.
            columns("h", 0, 2 * u)
            with k.block(f"if s > 0 and k < {u}"):
                reset_lines(cell, k)
            k.line("cuda.syncthreads()")
            columns("rh", 2 * u, 3 * u)
        else:
            columns("h", 0, width)
        with k.block(f"if k < {u}"):
            cell.store(k, body(cell, k))
        k.line("cuda.syncthreads()")  # h is read whole by the next step's columns
    k.level -= 1
    threads = -(-width // WARP) * WARP
    f.line(f"{name}[{cell.batch}, {threads}]({site.sizes()}{', '.join([*args, *out_args])})")


def simple_rnn_body(cell: Recurrence, w: Writer) -> None:
    w.line("v = xp[row, k]")
    with w.block("if s > 0"):
        w.line(f"v += z[{cell.slot}, k]")
    activate(w, cell.layer.activation, "hn", "v")


def gru_after_body(cell: Recurrence, w: Writer) -> None:
    """GRU with reset_after: the reset gate multiplies the recurrent projection of the candidate's
    block, its bias row (1) included."""
    layer, u, q = cell.layer, cell.units, cell.slot
    for var, offset in (("hz", ""), ("hr", f"{u} + "), ("hh", f"{2 * u} + ")):
        w.line(f"{var} = " + (f"bias[1, {offset}k]" if layer.use_bias else "ZERO"))
    w.line("hp = ZERO")
    with w.block("if s > 0"):
        for var, offset in (("hz", ""), ("hr", f"{u} + "), ("hh", f"{2 * u} + ")):
            w.line(f"{var} += z[{q}, {offset}k]")
        w.line(f"hp = h[{q}, k]")
    ra, a = layer.recurrent_activation, layer.activation
    w.line("vz = xp[row, k] + hz")
    activate(w, ra, "zg", "vz")
    w.line(f"vr = xp[row, {u} + k] + hr")
    activate(w, ra, "rg", "vr")
    w.line(f"vh = xp[row, {2 * u} + k] + rg * hh")
    activate(w, a, "hc", "vh")
    w.line("hn = zg * hp + (ONE - zg) * hc")


def gru_before_body(cell: Recurrence, w: Writer) -> None:
    """GRU without reset_after: z[q, 2u + k] already holds (r * h) @ the candidate's block."""
    layer, u, q = cell.layer, cell.units, cell.slot
    w.line("vz = xp[row, k]")
    w.line(f"vh = xp[row, {2 * u} + k]")
    w.line("hp = ZERO")
    with w.block("if s > 0"):
        w.line(f"vz += z[{q}, k]")
        w.line(f"vh += z[{q}, {2 * u} + k]")
        w.line(f"hp = h[{q}, k]")
    activate(w, layer.recurrent_activation, "zg", "vz")
    activate(w, layer.activation, "hc", "vh")
    w.line("hn = zg * hp + (ONE - zg) * hc")


def reset_kernel(cell: Recurrence, k: Writer, f: Writer):
    """GRU without reset_after, from step 1: rh = r * h, r from the input and recurrent projections."""
    site = cell.site

    def body(w: Writer, idx: list[str]):
        cell.locate(w, idx)
        reset_lines(cell, w)

    pointwise(site, k, f, site.fn + "_reset", ["xp", "z", "h", "rh", "s"],
              [cell.xp, cell.z, cell.h, f"{site.scratch_key}_rh", "s"], cell.dims(), body)


def reset_lines(cell: Recurrence, w: Writer):
    """rh = r * h for state element k (z holds h @ the r block)."""
    u, q = cell.units, cell.slot
    w.line(f"vr = xp[row, {u} + k] + z[{q}, {u} + k]")
    activate(w, cell.layer.recurrent_activation, "rg", "vr")
    w.line(f"rh[{q}, k] = rg * h[{q}, k]")


@kernel("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def conv_lstm(site: CudaSite, k: Writer, f: Writer):
    """The LSTM cell with convolutions (codegen/cuda/conv.py's implicit GEMM): the input convolution
    of every step at once (the layer's strides, dilation and padding; time folded into the batch),
    and per step the recurrent convolution of h ("same" padding, stride 1: the state keeps its
    grid). The state is (batch x positions, filters), a free view of (batch, *grid, filters)."""
    layer = site.layer
    check_recurrent(site.layer, "CUDA")
    rank, filters = int(layer.rank), site.arg("filters")
    width = 4 * filters
    x, seq = site.x, bool(layer.return_sequences)
    grid = site.y[2 if seq else 1:-1]  # the state's spatial sizes
    folded = (x[0] * x[1], *x[2:])  # the input with time folded into the batch
    state = (x[0], *grid, filters)
    bias = site.weight("bias") if layer.use_bias else None
    key = site.scratch_key
    cell = Recurrence(site, site.xd(0), site.xd(1), product(grid), filters, f"{key}_xp", f"{key}_z", f"{key}_h",
                      f"{key}_c")
    win_x = window(layer, folded, (*folded[:1], *grid, width))
    allocate(cell, f, win_x.rows, width)

    # 1. The input convolution of every step, bias included: xp row (b * T + t) * positions + p.
    conv_gemm(site, k, f, site.fn + "_input", win_x, f"{site.ins[0]}.reshape({shape(folded)[1:-1]})",
              site.weight("kernel"), width, input_store(bias), [*(["bias"] if bias else []), "xp"],
              [*([bias] if bias else []), cell.xp])

    # 2. The steps: the recurrent convolution of h into z, then the gates.
    ones = (1,) * rank
    win_h = window(layer, state, (*state[:-1], width), channels=filters, padding="same", strides=ones,
                   dilation=ones)

    def store_z(w: Writer, m: str, n: str, v: str):
        w.line(f"z[{m}, {n}] = {v}")

    def recurrent(k: Writer, f: Writer):
        conv_gemm(site, k, f, site.fn + "_recurrent", win_h, f"{cell.h}.reshape({shape(state)[1:-1]})",
                  site.weight("recurrent_kernel"), width, store_z, ["z"], [cell.z])

    steps(cell, k, f, recurrent, ["xp", "z", "h", "c"], [cell.xp, cell.z, cell.h, cell.c], lstm_body)
