"""CPU kernels of MultiHeadAttention: projections as GEMM loops, then the attention core fused with an
online softmax.

Note: the fused core. One task per (batch, head, block of QUERY_BLOCK query rows) walks the keys in
blocks of KEY_BLOCK: scores of the block (masked ones -inf), the block's maximum, the running sum and
the weighted values rescaled by exp(old max - new max), then the block's exp(score - max) added in
(FlashAttention's online softmax). A task holds its rows' running max, sum and value accumulators
and one block of scores: memory is O(T) per head (the projections), never the T_q x T_k score
matrix, and every sum is taken relative to the row's maximum, so long rows lose no accuracy. With
use_causal_mask, key blocks wholly after the task's last query row are never visited. A row that
attends to no key (a mask of zeros) is zeros, as Keras's masked softmax makes it. With
return_attention_scores the softmax weights are written in a second pass from the final max and sum.

Attention, AdditiveAttention and Dot: direct loops, at the end.
"""
from __future__ import annotations

import hashlib
import math

from ..lowering import attention_score, online_softmax_step
from ..writer import Writer
from .base import Site, kernel

QUERY_BLOCK = 16  # query rows per task: they share each loaded key and value row
KEY_BLOCK = 64  # keys per step of the online softmax


def _projection(w: Writer, x: str, rows: str, d_in: int, kernel: str, bias: str | None, width: int, out: str,
                scale: float | None = None):
    """out (rows, width) = x (rows, d_in) @ kernel (d_in, width) + bias [· scale]: one task per row,
    the inner loop over contiguous outputs."""
    with w.block(f"for r in prange({rows})"):
        with w.block(f"for o in range({width})"):
            w.line(f"{out}[r, o] = {bias}[o]" if bias else f"{out}[r, o] = ZERO")
        with w.block(f"for c in range({d_in})"):
            w.line(f"v = {x}[r, c]")
            with w.block(f"for o in range({width})"):
                w.line(f"{out}[r, o] += v * {kernel}[c, o]")
        if scale is not None:
            with w.block(f"for o in range({width})"):
                w.line(f"{out}[r, o] *= DT({scale!r})")


@kernel("MultiHeadAttention", "GroupQueryAttention")
def multi_head_attention(site: Site, w: Writer):
    layer = site.layer
    names = list(layer.call_inputs)
    arrays = {name: "x" if len(names) == 1 else f"x{i}" for i, name in enumerate(names)}
    arrays.setdefault("key", arrays["value"])
    index = {name: i for i, name in enumerate(names)}
    index.setdefault("key", index["value"])
    heads, kd, vd, kv = int(layer.num_heads), int(layer.key_dim), int(layer.head_value_dim), int(layer.kv_heads)
    d_q, d_k, d_v = (int(site.inputs[index[n]][2]) for n in ("query", "key", "value"))
    d_out = int(site.y[2])
    batch = site.xd(0, index["query"])
    t_q, t_k = site.xd(1, index["query"]), site.xd(1, index["key"])
    bias = layer.use_bias
    out = "out0" if len(site.outputs) > 1 else "out"
    w.line(f"n_q = {batch} * {t_q}")
    w.line(f"n_k = {batch} * {t_k}")
    for name, d_in, width, rows, scale in (("query", d_q, heads * kd, "n_q", 1.0 / math.sqrt(kd)),
                                          ("key", d_k, kv * kd, "n_k", None),
                                          ("value", d_v, kv * vd, "n_k", None)):
        short = name[0]
        w.line(f"# {name} projection, (rows, {d_in}) @ ({d_in}, heads x head size = {width})"
               + (" + bias" if bias else "") + (", scaled by 1/sqrt(key_dim)" if scale else ""))
        w.line(f"{short}p = np.empty(({rows}, {width}), dtype=DT)")
        w.line(f"{short}w = {name}_kernel.reshape({d_in}, {width})")
        if bias:
            w.line(f"{short}b = {name}_bias.reshape({width})")
        w.line(f"{short}x = {arrays[name]}.reshape({rows}, {d_in})")
        _projection(w, f"{short}x", rows, d_in, f"{short}w", f"{short}b" if bias else None, width, f"{short}p", scale)
    w.line(f"qp3 = qp.reshape({batch}, {t_q}, {heads * kd})")
    w.line(f"kp3 = kp.reshape({batch}, {t_k}, {kv * kd})")
    w.line(f"vp3 = vp.reshape({batch}, {t_k}, {kv * vd})")
    w.line(f"ctx = np.empty(({batch}, {t_q}, {heads * vd}), dtype=DT)")
    core = _core(layer, "attention_mask" in arrays, bool(layer.return_attention_scores))
    if core not in site.helpers:
        site.helpers.append(core)
    args = ["qp3", "kp3", "vp3", *([arrays["attention_mask"]] if "attention_mask" in arrays else []), "ctx",
            *(["out1"] if layer.return_attention_scores else [])]
    w.line(f"{core_name(core)}({', '.join(args)})  # the fused core: online softmax over key blocks")
    w.line(f"# output projection, (rows, {heads} * {vd}) @ ({heads * vd}, {d_out})" + (" + bias" if bias else ""))
    w.line(f"ow = attention_output_kernel.reshape({heads * vd}, {d_out})")
    w.line(f"cx = ctx.reshape(n_q, {heads * vd})")
    w.line(f"yr = {out}.reshape(n_q, {d_out})")
    _projection(w, "cx", "n_q", heads * vd, "ow", "attention_output_bias" if bias else None, d_out, "yr")


def core_name(text: str) -> str:
    """The name of a core helper's function (its first definition)."""
    return text.split("def ", 1)[1].split("(", 1)[0]


def _core(layer, mask: bool, scores: bool) -> str:
    """The fused attention core as a module-level function of (qp3, kp3, vp3[, mask], ctx[, att]),
    its sizes read from the arrays: one compiled function per head configuration, whatever the
    sequence lengths (and benchmarks/attention.py times it alone). One task per (batch, head,
    block of QUERY_BLOCK query rows)."""
    heads, kd, vd, kv = int(layer.num_heads), int(layer.key_dim), int(layer.head_value_dim), int(layer.kv_heads)
    window = None if layer.sliding_window is None else int(layer.sliding_window)
    w = Writer()
    w.level = 1
    w.line("batch, t_q, t_k = qp3.shape[0], qp3.shape[1], kp3.shape[1]")
    w.line(f"n_qb = (t_q + {QUERY_BLOCK - 1}) // {QUERY_BLOCK}")
    with w.block(f"for task in prange(batch * {heads} * n_qb)"):
        w.line(f"b = task // ({heads} * n_qb)")
        w.line(f"hd = (task // n_qb) % {heads}")
        w.line(f"i0 = (task % n_qb) * {QUERY_BLOCK}")
        w.line(f"i1 = min(i0 + {QUERY_BLOCK}, t_q)")
        # GroupQueryAttention: query head hd reads key/value head hd // (heads // kv_heads)
        w.line(f"kh = hd // {heads // kv}" if kv != heads else "kh = hd")
        w.line(f"mx = np.empty({QUERY_BLOCK}, dtype=DT)")
        w.line(f"total = np.zeros({QUERY_BLOCK}, dtype=DT)")
        w.line(f"acc = np.zeros(({QUERY_BLOCK}, {vd}), dtype=DT)")
        w.line(f"s = np.empty({KEY_BLOCK}, dtype=DT)")
        with w.block(f"for a in range({QUERY_BLOCK})"):
            w.line("mx[a] = -np.inf")
        # causal: keys j <= i < i1 only, so the blocks from i1 on are never visited; a sliding window
        # of w: keys |i - j| < w only, so neither are those before i0 - w + 1 or from i1 + w - 1 on
        ends = ([] if not layer.use_causal_mask else ["i1"]) + ([] if window is None else [f"i1 + {window - 1}"])
        w.line(f"j_end = min(t_k, {', '.join(ends)})" if ends else "j_end = t_k")
        w.line(f"j_begin = max(0, i0 - {window - 1})" if window is not None else "j_begin = 0")
        with w.block(f"for j0 in range(j_begin, j_end, {KEY_BLOCK})"):
            w.line(f"j1 = min(j0 + {KEY_BLOCK}, j_end)")
            with w.block("for a in range(i1 - i0)"):
                w.line("i = i0 + a")
                online_softmax_step(w, "for j in range(j0, j1)", "s[j - j0]",
                                    lambda slot: _score(w, layer, mask, kd, slot),
                                    ("mx[a]", "total[a]", lambda c: f"acc[a, {c}]"),
                                    lambda c: f"vp3[b, j, kh * {vd} + {c}]", vd, "-np.inf")
        with w.block("for a in range(i1 - i0)"):
            w.line("inv = ONE / total[a] if total[a] > ZERO else ZERO  # no key attended: zeros, as Keras")
            with w.block(f"for c in range({vd})"):
                w.line(f"ctx[b, i0 + a, hd * {vd} + c] = acc[a, c] * inv")
        if scores:
            w.line("# the softmax weights, from each row's final max and sum")
            with w.block("for a in range(i1 - i0)"):
                w.line("i = i0 + a")
                w.line("inv = ONE / total[a] if total[a] > ZERO else ZERO")
                with w.block("for j in range(t_k)"):
                    _score(w, layer, mask, kd, "sc")
                    w.line("att[b, hd, i, j] = math.exp(sc - mx[a]) * inv if sc != -np.inf else ZERO")
    params = ["qp3", "kp3", "vp3", *(["mask"] if mask else []), "ctx", *(["att"] if scores else [])]
    body = "\n".join(w.lines)
    name = "attention_core_" + hashlib.sha1(body.encode()).hexdigest()[:10]
    doc = f"Fused attention: {heads} heads ({kv} key/value heads), key_dim {kd}, value_dim {vd}."
    return (f"@njit(cache=True, parallel=PARALLEL, fastmath=FASTMATH)\ndef {name}({', '.join(params)}):\n"
            f'    """{doc}"""\n{body}')


def _score(w: Writer, layer, mask: bool, kd: int, target: str):
    """`target` = the scaled score of query row i and key j for head hd, or -inf where masked (a mask
    axis of size 1 is broadcast)."""
    conditions = ["j > i"] if layer.use_causal_mask else []
    if layer.sliding_window is not None:
        conditions.append(f"abs(i - j) >= {int(layer.sliding_window)}")
    if mask:
        conditions.append("mask[b if mask.shape[0] > 1 else 0, i if mask.shape[1] > 1 else 0, "
                          "j if mask.shape[2] > 1 else 0] == 0")
    if conditions:
        w.open(f"if {' or '.join(conditions)}")
        w.line(f"{target} = -np.inf")
        w.close()
        w.open("else")
    w.line("dot = ZERO")
    with w.block(f"for c in range({kd})"):
        w.line(f"dot += qp3[b, i, hd * {kd} + c] * kp3[b, j, kh * {kd} + c]")
    w.line(f"{target} = dot")
    if conditions:
        w.close()


def _list_scores(w: Writer, layer, d: int, target: str, q: str = "x0", k: str = "kx", vmask: str | None = None):
    """`target` = the score of query row i and key j of batch b (Attention, AdditiveAttention); `vmask`
    the value mask's array, if given."""
    attention_score(w, layer, d, target, lambda c: f"{q}[b, i, {c}]", lambda c: f"{k}[b, j, {c}]",
                    lambda c: "sv" if c is None else f"scale[{c}]", "cw", "j > i",
                    f"{vmask}[b, j] == 0" if vmask else None)


@kernel("Attention", "AdditiveAttention")
def list_attention(site: Site, w: Writer):
    """One task per (batch, query row): the row of scores (causal or value mask: minus 1e9 at the masked
    keys, as Keras), its softmax, then the weighted sum of the value rows (zeros where the query mask is
    zero; the scores output keeps the softmax)."""
    layer = site.layer
    n = len(site.inputs) - len(layer.call_inputs)  # [query, value(, key)], then the masks given
    masks = {name: f"x{n + i}" for i, name in enumerate(layer.call_inputs)}
    k = "x2" if n == 3 else "x1"
    batch, t_q, t_k = site.xd(0, 0), site.xd(1, 0), site.xd(1, 1)
    d, dv = int(site.inputs[0][2]), int(site.inputs[1][2])
    out = "out0" if len(site.outputs) > 1 else "out"
    w.line(f"kx = {k}")
    if layer.kind == "Attention" and layer.use_scale:
        w.line("sv = scale[()]")
    if layer.kind == "Attention" and layer.score_mode == "concat":
        w.line("cw = concat_score_weight[()]")
    with w.block(f"for task in prange({batch} * {t_q})"):
        w.line(f"b = task // {t_q}")
        w.line(f"i = task % {t_q}")
        w.line(f"s = np.empty({t_k}, dtype=DT)")
        w.line("top = -np.inf")
        with w.block(f"for j in range({t_k})"):
            _list_scores(w, layer, d, "s[j]", vmask=masks.get("value_mask"))
            w.line("top = max(top, s[j])")
        w.line("total = ZERO")
        with w.block(f"for j in range({t_k})"):
            w.line("s[j] = math.exp(s[j] - top)")
            w.line("total += s[j]")
        w.line("inv = ONE / total")
        with w.block(f"for c in range({dv})"):
            w.line(f"{out}[b, i, c] = ZERO")
        with w.block(f"for j in range({t_k})"):
            w.line("p = s[j] * inv")
            if len(site.outputs) > 1:
                w.line("out1[b, i, j] = p")
            with w.block(f"for c in range({dv})"):
                w.line(f"{out}[b, i, c] += p * x1[b, j, c]")
        if "query_mask" in masks:
            with w.block(f"if {masks['query_mask']}[b, i] == 0"):
                with w.block(f"for c in range({dv})"):
                    w.line(f"{out}[b, i, c] = ZERO")


@kernel("Dot")
def dot(site: Site, w: Writer):
    """One task per batch row: every output element is a sum over the dotted axis (normalize: each
    input's L2 norms along that axis first, x·min(1/‖x‖, 1e7) as keras.ops.normalize)."""
    layer = site.layer
    a0, a1 = layer.resolved(site.inputs)
    r0, r1 = len(site.inputs[0]), len(site.inputs[1])
    n = site.xd(a0, 0)
    batch = site.xd(0, 0)
    # the other axes of each input: loop variables u0 (input 0) and u1 (input 1), size 1 when absent
    o0 = site.xd(3 - a0, 0) if r0 == 3 else "1"
    o1 = site.xd(3 - a1, 1) if r1 == 3 else "1"

    def at(name: str, rank: int, axis: int, other: str) -> str:
        idx = ["b", "k", other] if axis == 1 else ["b", other, "k"]
        return f"{name}[{', '.join(idx[:rank])}]"

    out_idx = ["b"] + (["u0"] if r0 == 3 else []) + (["u1"] if r1 == 3 else [])
    if len(out_idx) == 1:
        out_idx.append("0")
    with w.block(f"for b in prange({batch})"):
        if layer.normalize:
            for name, rank, axis, other, size in (("x0", r0, a0, "u0", o0), ("x1", r1, a1, "u1", o1)):
                w.line(f"inv_{name} = np.empty({size}, dtype=DT)")
                with w.block(f"for {other} in range({size})"):
                    w.line("ss = ZERO")
                    with w.block(f"for k in range({n})"):
                        w.line(f"v = {at(name, rank, axis, other)}")
                        w.line("ss += v * v")
                    w.line(f"inv_{name}[{other}] = min(ONE / math.sqrt(ss), DT(1e7)) if ss > ZERO else DT(1e7)")
        with w.block(f"for u0 in range({o0})"):
            with w.block(f"for u1 in range({o1})"):
                w.line("acc = ZERO")
                with w.block(f"for k in range({n})"):
                    w.line(f"acc += {at('x0', r0, a0, 'u0')} * {at('x1', r1, a1, 'u1')}")
                if layer.normalize:
                    w.line("acc *= inv_x0[u0] * inv_x1[u1]")
                w.line(f"out[{', '.join(out_idx)}] = acc")
