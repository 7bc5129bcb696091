"""CUDA kernels of MultiHeadAttention: the four projections (one thread per output element), and the
attention core fused with an online softmax, one thread per (batch, head, query row).

Note: the same algorithm as the CPU kernel (codegen/cpu/attention.py): a thread walks the keys in
blocks of KEY_BLOCK scores kept in registers, with its row's running max, sum and value accumulators,
so the T_q x T_k score matrix is never stored (O(T) memory per head: the projections); causal
masking stops at the row's own position. A first version: the keys and values are read from global
memory by every thread of a block, not staged in shared-memory tiles.

Attention, AdditiveAttention and Dot: direct kernels, at the end.
"""
from __future__ import annotations

import math

from shapeproof.analyzer.exprs import shape

from ..lowering import attention_score
from ..writer import Writer
from .base import CudaSite, kernel
from .templates import pointwise, wrap

KEY_BLOCK = 32  # scores held per thread between two updates of its running max and sum


def _project(site: CudaSite, k: Writer, f: Writer, name: str, x: str, d_in: int, weight: str, bias: str | None,
             width: int, out: str, rows: str, scale: float | None = None):
    """out (rows, width) = x (rows, d_in) @ weight (d_in, width) + bias [· scale], one thread per element."""

    def body(w: Writer, idx: list[str]):
        r, o = idx
        w.line("acc = " + (f"bias[{o}]" if bias else "ZERO"))
        with w.block(f"for c in range({d_in})"):
            w.line(f"acc += x[{r}, c] * w[c, {o}]")
        w.line(f"out[{r}, {o}] = acc" + (f" * DT({scale!r})" if scale is not None else ""))

    params = ["x", "w", *(["bias"] if bias else []), "out"]
    args = [f"{x}.reshape({rows}, {d_in})", f"{weight}.reshape({d_in}, {width})",
            *([f"{bias}.reshape({width})"] if bias else []), f"{out}.reshape({rows}, {width})"]
    pointwise(site, k, f, name, params, args, [rows, str(width)], body)


@kernel("MultiHeadAttention")
def multi_head_attention(site: CudaSite, k: Writer, f: Writer):
    layer = site.layer
    names = list(layer.call_inputs)
    index = {name: i for i, name in enumerate(names)}
    index.setdefault("key", index["value"])
    heads, kd, vd = int(layer.num_heads), int(layer.key_dim), int(layer.head_value_dim)
    batch, t_q, t_k = site.xd(0, index["query"]), site.xd(1, index["query"]), site.xd(1, index["key"])
    rows_q, rows_k = f"{wrap(batch)} * {wrap(t_q)}", f"{wrap(batch)} * {wrap(t_k)}"
    key = site.scratch_key
    bias = layer.use_bias
    projected = {}
    for name, width, rows, scale in (("query", heads * kd, rows_q, 1.0 / math.sqrt(kd)),
                                     ("key", heads * kd, rows_k, None), ("value", heads * vd, rows_k, None)):
        var = projected[name] = f"{key}_{name[0]}p"
        f.line(f"{var} = scratch({var!r}, {shape((site.inputs[index[name]][0], site.inputs[index[name]][1], width))})")
        _project(site, k, f, f"{site.fn}_{name}", site.ins[index[name]], int(site.inputs[index[name]][2]),
                 site.weight(f"{name}_kernel"), site.weight(f"{name}_bias") if bias else None, width, var, rows, scale)
    ctx = f"{key}_ctx"
    f.line(f"{ctx} = scratch({ctx!r}, {shape((site.x[0], site.inputs[index['query']][1], heads * vd))})")
    mask = "attention_mask" in index
    scores = layer.return_attention_scores

    def core(w: Writer, idx: list[str]):
        b, hd, row = idx
        w.line(f"s = cuda.local.array({KEY_BLOCK}, DT)")
        w.line(f"acc = cuda.local.array({vd}, DT)")
        with w.block(f"for c in range({vd})"):
            w.line("acc[c] = ZERO")
        w.line("mx = NEG_INF")
        w.line("total = ZERO")
        w.line(f"j_end = min({t_k}, {row} + 1)" if layer.use_causal_mask else f"j_end = {t_k}")
        with w.block(f"for j0 in range(0, j_end, {KEY_BLOCK})"):
            w.line(f"j1 = min(j0 + {KEY_BLOCK}, j_end)")
            w.line("top = mx")
            with w.block("for j in range(j0, j1)"):
                _score(w, site, layer, index, kd, b, hd, row, "s[j - j0]")
                w.line("top = max(top, s[j - j0])")
            with w.block("if top != NEG_INF"):  # else every key of the block is masked for this row
                w.line("fix = math.exp(mx - top)")
                w.line("mx = top")
                w.line("total *= fix")
                with w.block(f"for c in range({vd})"):
                    w.line("acc[c] *= fix")
                with w.block("for j in range(j0, j1)"):
                    w.line("p = math.exp(s[j - j0] - top)")
                    w.line("total += p")
                    with w.block(f"for c in range({vd})"):
                        w.line(f"acc[c] += p * vp[{b}, j, {hd} * {vd} + c]")
        w.line("inv = ONE / total if total > ZERO else ZERO  # no key attended: zeros, as Keras")
        with w.block(f"for c in range({vd})"):
            w.line(f"ctx[{b}, {row}, {hd} * {vd} + c] = acc[c] * inv")
        if scores:
            with w.block(f"for j in range({t_k})"):
                _score(w, site, layer, index, kd, b, hd, row, "sc")
                w.line(f"att[{b}, {hd}, {row}, j] = math.exp(sc - mx) * inv if sc != NEG_INF else ZERO")

    params = ["qp", "kp", "vp", *(["mask"] if mask else []), "ctx", *(["att"] if scores else [])]
    args = [projected["query"], projected["key"], projected["value"],
            *([site.ins[index["attention_mask"]]] if mask else []), ctx, *([site.outs[1]] if scores else [])]
    pointwise(site, k, f, f"{site.fn}_core", params, args, [batch, str(heads), t_q], core)
    _project(site, k, f, f"{site.fn}_output", ctx, heads * vd, site.weight("attention_output_kernel"),
             site.weight("attention_output_bias") if bias else None, int(site.y[2]), site.outs[0], rows_q)


def _score(w: Writer, site: CudaSite, layer, index: dict, kd: int, b: str, hd: str, row: str, target: str):
    """`target` = the scaled score of query `row` and key j for head `hd`, or NEG_INF where masked."""
    conditions = [f"j > {row}"] if layer.use_causal_mask else []
    if "attention_mask" in index:
        i = index["attention_mask"]
        at = [("0" if site.xd(axis, i) == "1" else var) for axis, var in ((0, b), (1, row), (2, "j"))]
        conditions.append(f"mask[{', '.join(at)}] == 0")
    if conditions:
        w.open(f"if {' or '.join(conditions)}")
        w.line(f"{target} = NEG_INF")
        w.close()
        w.open("else")
    w.line("dot = ZERO")
    with w.block(f"for c in range({kd})"):
        w.line(f"dot += qp[{b}, {row}, {hd} * {kd} + c] * kp[{b}, j, {hd} * {kd} + c]")
    w.line(f"{target} = dot")
    if conditions:
        w.close()


def _list_score(w: Writer, layer, d: int, b: str, i: str, target: str):
    """`target` = the score of query row i and key j of batch b (Attention, AdditiveAttention); the
    scalar weights come in as one-element arrays."""
    attention_score(w, layer, d, target, lambda c: f"q[{b}, {i}, {c}]", lambda c: f"kk[{b}, j, {c}]",
                    lambda c: "scale[0]" if c is None else f"scale[{c}]", "cw[0]", f"j > {i}")


@kernel("Attention", "AdditiveAttention")
def list_attention(site: CudaSite, k: Writer, f: Writer):
    """One thread per (batch, query row), three passes over the keys recomputing the scores: their
    maximum, the softmax's sum, then the weighted value rows (and the scores output). A direct first
    version: no score row is stored, the value rows are read from global memory."""
    layer = site.layer
    batch, t_q, t_k = site.xd(0, 0), site.xd(1, 0), site.xd(1, 1)
    d, dv = int(site.inputs[0][2]), int(site.inputs[1][2])
    scores = len(site.outputs) > 1
    names = [w.name for w in site.weights]
    params = ["q", "v", "kk", *(["scale"] if "scale" in names else []),
              *(["cw"] if "concat_score_weight" in names else []), "out", *(["att"] if scores else [])]
    weights = [site.weight(n) if n != "scale" or layer.kind == "AdditiveAttention" else f"{site.weight(n)}.reshape(1)"
               for n in names]
    weights = [f"{a}.reshape(1)" if n == "concat_score_weight" else a for a, n in zip(weights, names)]
    args = [site.ins[0], site.ins[1], site.ins[len(site.ins) - 1 if len(site.ins) == 3 else 1], *weights, *site.outs]

    def body(w: Writer, idx: list[str]):
        b, i = idx
        w.line("top = NEG_INF")
        with w.block(f"for j in range({t_k})"):
            _list_score(w, layer, d, b, i, "s")
            w.line("top = max(top, s)")
        w.line("total = ZERO")
        with w.block(f"for j in range({t_k})"):
            _list_score(w, layer, d, b, i, "s")
            w.line("total += math.exp(s - top)")
        w.line("inv = ONE / total")
        with w.block(f"for c in range({dv})"):
            w.line(f"out[{b}, {i}, c] = ZERO")
        with w.block(f"for j in range({t_k})"):
            _list_score(w, layer, d, b, i, "s")
            w.line("p = math.exp(s - top) * inv")
            if scores:
                w.line(f"att[{b}, {i}, j] = p")
            with w.block(f"for c in range({dv})"):
                w.line(f"out[{b}, {i}, c] += p * v[{b}, j, c]")

    pointwise(site, k, f, site.fn, params, args, [batch, t_q], body)


@kernel("Dot")
def dot(site: CudaSite, k: Writer, f: Writer):
    """One thread per output element: the sum over the dotted axis (normalize: each side's L2 norm
    along that axis too, x·min(1/‖x‖, 1e7) as keras.ops.normalize)."""
    layer = site.layer
    a0, a1 = layer.resolved(site.inputs)
    r0, r1 = len(site.inputs[0]), len(site.inputs[1])
    n = site.xd(a0, 0)
    dims = [site.yd(a) for a in range(len(site.y))]

    def at(name: str, rank: int, axis: int, other: str) -> str:
        idx = ["b", "kk", other] if axis == 1 else ["b", other, "kk"]
        return f"{name}[{', '.join(idx[:rank])}]"

    def body(w: Writer, idx: list[str]):
        w.line(f"b = {idx[0]}")
        rest = idx[1:]
        w.line(f"u0 = {rest[0]}" if r0 == 3 else "u0 = 0")
        w.line(f"u1 = {rest[-1]}" if r1 == 3 else "u1 = 0")
        w.line("acc = ZERO")
        w.line("s0 = ZERO")
        w.line("s1 = ZERO")
        with w.block(f"for kk in range({n})"):
            w.line(f"p0 = {at('a', r0, a0, 'u0')}")
            w.line(f"p1 = {at('c', r1, a1, 'u1')}")
            w.line("acc += p0 * p1")
            if layer.normalize:
                w.line("s0 += p0 * p0")
                w.line("s1 += p1 * p1")
        if layer.normalize:
            for s in ("s0", "s1"):
                w.line(f"acc *= min(ONE / math.sqrt({s}), DT(1e7)) if {s} > ZERO else DT(1e7)")
        w.line(f"out[{', '.join(idx)}] = acc")

    pointwise(site, k, f, site.fn, ["a", "c", "out"], [site.ins[0], site.ins[1], site.outs[0]], dims, body)
