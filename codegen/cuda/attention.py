"""CUDA kernels of MultiHeadAttention and GroupQueryAttention: the four projections (one thread per
output element), and the attention core fused with an online softmax (FlashAttention-style).

Note: the core. One block of QUERY_TILE (64) threads per (batch, head, tile of 64 query rows), one
thread per row, which keeps its projected query row, its running max and sum and its value
accumulators (local arrays). The block walks the keys in tiles of key_tile() rows: all its threads
load the tile's K and V rows of the head into shared memory together (consecutive threads on
consecutive features), syncthreads, then each thread scores its row against the tile, rescales its
sum and accumulators by exp(old max - new max) and adds the tile's exp(score - max) in, and a second
syncthreads guards the tile until every thread is done with it: the T_q x T_k score matrix is never
stored, and each K and V element is read from global memory once per 64 query rows. The tile is 64
keys when 64·(key_dim + value_dim) float32 values fit in 48 KB of shared memory, else 32 or 16
(a float64 model stages half as many rows in the same bytes). With use_causal_mask or a
sliding_window the block visits only the keys some row of its tile may attend (bounds from the
tile's first and last rows, so every thread runs the same loop and reaches the same barriers;
threads past the last query row load and wait but compute nothing); the remaining per-key masks
(causal, |i - j| >= sliding_window, attention_mask == 0) give a score of -inf. A row that attends
no key is zeros, as Keras's masked softmax makes it. return_attention_scores: a second sweep over
all key tiles (K only) writes the softmax weights from each row's final max and sum; tiles outside
the block's bounds are written as zeros without loading. Heads too wide even for 16-key tiles
(key_dim + value_dim > 768) take the global-memory core: one thread per (batch, head, query row)
reading every key and value row from global memory.

GroupQueryAttention: the key and value projections have kv_heads heads (kv_heads · key_dim wide),
and query head h reads key/value head h // (num_heads // kv_heads), as Keras's ops.repeat does.

Attention, AdditiveAttention and Dot: direct kernels, at the end.
"""
from __future__ import annotations

import math

from shapeproof.analyzer.exprs import shape

from ..lowering import attention_score, online_softmax_step
from ..writer import Writer
from .base import CudaSite, kernel
from .templates import header, pointwise, wrap

QUERY_TILE = 64  # query rows per block of the tiled core, one thread each
KEY_TILES = (64, 32, 16)  # keys per shared-memory tile, the largest whose K and V rows fit SHARED_BYTES
SHARED_BYTES = 48 * 1024  # static shared memory a block may declare
KEY_BLOCK = 32  # global-memory core (wide heads): scores held per thread between two softmax updates


def key_tile(kd: int, vd: int) -> int | None:
    """Keys per shared-memory tile for heads of kd key and vd value features (float32 rows; float64
    models take half as many), or None when even the smallest tile does not fit: the global-memory core."""
    return next((t for t in KEY_TILES if t * (kd + vd) * 4 <= SHARED_BYTES), None)


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


@kernel("MultiHeadAttention", "GroupQueryAttention")
def multi_head_attention(site: CudaSite, k: Writer, f: Writer):
    layer = site.layer
    names = list(layer.call_inputs)
    index = {name: i for i, name in enumerate(names)}
    index.setdefault("key", index["value"])
    heads, kv_heads = int(layer.num_heads), int(layer.kv_heads)
    kd, vd = int(layer.key_dim), int(layer.head_value_dim)
    batch, t_q, t_k = site.xd(0, index["query"]), site.xd(1, index["query"]), site.xd(1, index["key"])
    rows_q, rows_k = f"{wrap(batch)} * {wrap(t_q)}", f"{wrap(batch)} * {wrap(t_k)}"
    key = site.scratch_key
    bias = layer.use_bias
    projected = {}
    for name, width, rows, scale in (("query", heads * kd, rows_q, 1.0 / math.sqrt(kd)),
                                     ("key", kv_heads * kd, rows_k, None), ("value", kv_heads * vd, rows_k, None)):
        var = projected[name] = f"{key}_{name[0]}p"
        f.line(f"{var} = scratch({var!r}, {shape((site.inputs[index[name]][0], site.inputs[index[name]][1], width))})")
        _project(site, k, f, f"{site.fn}_{name}", site.ins[index[name]], int(site.inputs[index[name]][2]),
                 site.weight(f"{name}_kernel"), site.weight(f"{name}_bias") if bias else None, width, var, rows, scale)
    ctx = f"{key}_ctx"
    f.line(f"{ctx} = scratch({ctx!r}, {shape((site.x[0], site.inputs[index['query']][1], heads * vd))})")
    mask = "attention_mask" in index
    scores = layer.return_attention_scores
    params = ["qp", "kp", "vp", *(["mask"] if mask else []), "ctx", *(["att"] if scores else [])]
    args = [projected["query"], projected["key"], projected["value"],
            *([site.ins[index["attention_mask"]]] if mask else []), ctx, *([site.outs[1]] if scores else [])]
    tile = key_tile(kd, vd)
    if tile is None:
        _global_core(site, k, f, params, args, batch, t_q, t_k)
    else:
        _tiled_core(site, k, f, params, args, batch, t_q, t_k, tile)
    _project(site, k, f, f"{site.fn}_output", ctx, heads * vd, site.weight("attention_output_kernel"),
             site.weight("attention_output_bias") if bias else None, int(site.y[2]), site.outs[0], rows_q)


def _tiled_core(site: CudaSite, k: Writer, f: Writer, params: list[str], args: list[str], batch: str, t_q: str,
                t_k: str, tile: int):
    """The attention core: one block of QUERY_TILE threads per (batch, head, tile of query rows), one
    thread per row; the block stages `tile` key and value rows at a time in shared memory."""
    layer = site.layer
    heads, kd, vd = int(layer.num_heads), int(layer.key_dim), int(layer.head_value_dim)
    group = heads // int(layer.kv_heads)  # query heads per key/value head
    window = None if layer.sliding_window is None else int(layer.sliding_window)
    qt = QUERY_TILE
    keys = f"key_tile_{site.fn}"  # a module constant: Numba reads it as a compile-time size
    name = f"{site.fn}_core"
    k.line()
    k.line()
    k.line(f"# keys per shared-memory tile: {tile} float32 K and V rows, {tile * (kd + vd) * 4} bytes")
    k.line(f"{keys} = {tile} // (np.dtype(DT).itemsize // 4)")
    header(k, site, name, params)
    k.level += 1
    k.line(f"ks = cuda.shared.array(({keys}, {kd}), DT)")
    k.line(f"vs = cuda.shared.array(({keys}, {vd}), DT)")
    k.line(f"qr = cuda.local.array({kd}, DT)")
    k.line(f"acc = cuda.local.array({vd}, DT)")
    k.line(f"s = cuda.local.array({keys}, DT)")
    k.line("t = cuda.threadIdx.x")
    k.line(f"n_qt = ({t_q} + {qt - 1}) // {qt}")
    k.line("blk = cuda.blockIdx.x")  # (batch, head, query tile), the query tile fastest: neighbours share K, V
    k.line(f"b = blk // ({heads} * n_qt)")
    k.line(f"hd = (blk // n_qt) % {heads}")
    k.line(f"kvh = hd // {group}" if group > 1 else "kvh = hd")
    k.line(f"i0 = (blk % n_qt) * {qt}")
    k.line(f"i1 = min(i0 + {qt}, {t_q})")
    k.line("i = i0 + t")
    k.line("live = i < i1  # threads past the last row still load tiles and wait at the barriers")
    with k.block("if live"):
        with k.block(f"for c in range({kd})"):
            k.line(f"qr[c] = qp[b, i, hd * {kd} + c]")
    with k.block(f"for c in range({vd})"):
        k.line("acc[c] = ZERO")
    k.line("mx = NEG_INF")
    k.line("total = ZERO")
    # The keys any row of the tile may attend, the same for the whole block (the loop bounds of its barriers).
    k.line("j_lo = 0" if window is None else f"j_lo = max(0, i0 - {window - 1})")
    # (causal: keys up to the last row; a window alone: up to the last row + window - 1)
    hi = [t_k] + (["i1"] if layer.use_causal_mask else [f"i1 + {window - 1}"] if window else [])
    k.line(f"j_hi = {_min(hi)}")

    def load(values: bool):
        """The block's rows j0 .. j0 + n of K (and V) into shared memory, consecutive threads on
        consecutive features."""
        for array, src, width in (("ks", "kp", kd), *((("vs", "vp", vd),) if values else ())):
            with k.block(f"for e in range(t, n * {width}, {qt})"):
                k.line(f"r = e // {width}")
                k.line(f"c = e % {width}")
                k.line(f"{array}[r, c] = {src}[b, j0 + r, kvh * {width} + c]")
        k.line("cuda.syncthreads()")

    masked = layer.use_causal_mask or window is not None or "attention_mask" in layer.call_inputs

    def score(target: str):
        if masked:  # the conditions read the key's position
            k.line("j = j0 + jj")
        _score(k, site, layer, "b", "i", "j", target, lambda c: f"qr[{c}]", lambda c: f"ks[jj, {c}]")

    with k.block(f"for j0 in range(j_lo, j_hi, {keys})"):
        k.line(f"n = min({keys}, j_hi - j0)")
        load(True)
        with k.block("if live"):
            online_softmax_step(k, "for jj in range(n)", "s[jj]", score, ("mx", "total", lambda c: f"acc[{c}]"),
                                lambda c: f"vs[jj, {c}]", vd, "NEG_INF")
        k.line("cuda.syncthreads()  # the tile is read by all before the next one overwrites it")
    k.line("inv = ONE / total if total > ZERO else ZERO  # no key attended: zeros, as Keras")
    with k.block("if live"):
        with k.block(f"for c in range({vd})"):
            k.line(f"ctx[b, i, hd * {vd} + c] = acc[c] * inv")
    if layer.return_attention_scores:
        # A second sweep over every key for the softmax weights, from each row's final max and sum;
        # the tiles outside j_lo .. j_hi are masked for the whole block and written as zeros unloaded.
        with k.block(f"for j0 in range(0, {t_k}, {keys})"):
            k.line(f"n = min({keys}, {t_k} - j0)")
            with k.block("if j0 < j_hi and j0 + n > j_lo"):  # the same for the whole block
                load(False)
                with k.block("if live"):
                    with k.block("for jj in range(n)"):
                        score("sc")
                        k.line("att[b, hd, i, j0 + jj] = math.exp(sc - mx) * inv if sc != NEG_INF else ZERO")
                k.line("cuda.syncthreads()")
            with k.block("elif live"):
                with k.block("for jj in range(n)"):
                    k.line("att[b, hd, i, j0 + jj] = ZERO")
    k.level -= 1
    f.line(f"{name}[{wrap(batch)} * {heads} * blocks({t_q}, {qt}), {qt}]({site.sizes()}{', '.join(args)})")


def _global_core(site: CudaSite, k: Writer, f: Writer, params: list[str], args: list[str], batch: str, t_q: str,
                 t_k: str):
    """The attention core for heads too wide for a shared-memory tile of key_tile(): one thread per
    (batch, head, query row), every thread reading its key and value rows from global memory."""
    layer = site.layer
    heads, kd, vd = int(layer.num_heads), int(layer.key_dim), int(layer.head_value_dim)
    group = heads // int(layer.kv_heads)
    window = None if layer.sliding_window is None else int(layer.sliding_window)

    def core(w: Writer, idx: list[str]):
        b, hd, row = idx
        w.line(f"kvh = {hd} // {group}" if group > 1 else f"kvh = {hd}")
        w.line(f"s = cuda.local.array({KEY_BLOCK}, DT)")
        w.line(f"acc = cuda.local.array({vd}, DT)")
        with w.block(f"for c in range({vd})"):
            w.line("acc[c] = ZERO")
        w.line("mx = NEG_INF")
        w.line("total = ZERO")
        w.line("j_lo = 0" if window is None else f"j_lo = max(0, {row} - {window - 1})")
        hi = [t_k] + ([f"{row} + 1"] if layer.use_causal_mask else [f"{row} + {window}"] if window else [])
        w.line(f"j_end = {_min(hi)}")

        def score(target: str):
            _score(w, site, layer, b, row, "j", target, lambda c: f"qp[{b}, {row}, {hd} * {kd} + {c}]",
                   lambda c: f"kp[{b}, j, kvh * {kd} + {c}]")

        with w.block(f"for j0 in range(j_lo, j_end, {KEY_BLOCK})"):
            w.line(f"j1 = min(j0 + {KEY_BLOCK}, j_end)")
            online_softmax_step(w, "for j in range(j0, j1)", "s[j - j0]", score,
                                ("mx", "total", lambda c: f"acc[{c}]"), lambda c: f"vp[{b}, j, kvh * {vd} + {c}]",
                                vd, "NEG_INF")
        w.line("inv = ONE / total if total > ZERO else ZERO  # no key attended: zeros, as Keras")
        with w.block(f"for c in range({vd})"):
            w.line(f"ctx[{b}, {row}, {hd} * {vd} + c] = acc[c] * inv")
        if layer.return_attention_scores:
            with w.block(f"for j in range({t_k})"):
                score("sc")
                w.line(f"att[{b}, {hd}, {row}, j] = math.exp(sc - mx) * inv if sc != NEG_INF else ZERO")

    pointwise(site, k, f, f"{site.fn}_core", params, args, [batch, str(heads), t_q], core)


def _score(w: Writer, site: CudaSite, layer, b: str, row: str, j: str, target: str, q, kk):
    """`target` = the scaled score of query `row` and key `j` (q(c), kk(c): their projected features
    for the head), or NEG_INF where masked: causal, sliding window, attention_mask (all must allow)."""
    conditions = [f"{j} > {row}"] if layer.use_causal_mask else []
    if layer.sliding_window is not None:
        conditions.append(f"abs({row} - {j}) >= {int(layer.sliding_window)}")
    if "attention_mask" in layer.call_inputs:
        i = layer.call_inputs.index("attention_mask")
        at = [("0" if site.xd(axis, i) == "1" else var) for axis, var in ((0, b), (1, row), (2, j))]
        conditions.append(f"mask[{', '.join(at)}] == 0")
    if conditions:
        w.open(f"if {' or '.join(conditions)}")
        w.line(f"{target} = NEG_INF")
        w.close()
        w.open("else")
    w.line("dot = ZERO")
    with w.block(f"for c in range({int(layer.key_dim)})"):
        w.line(f"dot += {q('c')} * {kk('c')}")
    w.line(f"{target} = dot")
    if conditions:
        w.close()


def _min(terms: list[str]) -> str:
    """min of the terms as source, nested two at a time."""
    text = terms[0]
    for term in terms[1:]:
        text = f"min({text}, {term})"
    return text


def _list_score(w: Writer, layer, d: int, b: str, i: str, target: str):
    """`target` = the score of query row i and key j of batch b (Attention, AdditiveAttention); the
    scalar weights come in as one-element arrays, the value mask (if given) as `vm`."""
    attention_score(w, layer, d, target, lambda c: f"q[{b}, {i}, {c}]", lambda c: f"kk[{b}, j, {c}]",
                    lambda c: "scale[0]" if c is None else f"scale[{c}]", "cw[0]", f"j > {i}",
                    f"vm[{b}, j] == 0" if "value_mask" in layer.call_inputs else None)


@kernel("Attention", "AdditiveAttention")
def list_attention(site: CudaSite, k: Writer, f: Writer):
    """One thread per (batch, query row), three passes over the keys recomputing the scores: their
    maximum, the softmax's sum, then the weighted value rows (and the scores output). A direct first
    version: no score row is stored, the value rows are read from global memory. Masks: the value mask
    `vm` subtracts 1e9 from its keys' scores, the query mask `qm` zeros the output row afterwards."""
    layer = site.layer
    batch, t_q, t_k = site.xd(0, 0), site.xd(1, 0), site.xd(1, 1)
    d, dv = int(site.inputs[0][2]), int(site.inputs[1][2])
    scores = len(site.outputs) > 1
    n = len(site.ins) - len(layer.call_inputs)  # [query, value(, key)], then the masks given
    masks = {"query_mask": "qm", "value_mask": "vm"}
    names = [w.name for w in site.weights]
    params = ["q", "v", "kk", *(masks[m] for m in layer.call_inputs), *(["scale"] if "scale" in names else []),
              *(["cw"] if "concat_score_weight" in names else []), "out", *(["att"] if scores else [])]
    weights = [site.weight(n) if n != "scale" or layer.kind == "AdditiveAttention" else f"{site.weight(n)}.reshape(1)"
               for n in names]
    weights = [f"{a}.reshape(1)" if n == "concat_score_weight" else a for a, n in zip(weights, names)]
    args = [site.ins[0], site.ins[1], site.ins[2 if n == 3 else 1], *site.ins[n:], *weights, *site.outs]

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
        if "query_mask" in layer.call_inputs:
            with w.block(f"if qm[{b}, {i}] == 0"):
                with w.block(f"for c in range({dv})"):
                    w.line(f"out[{b}, {i}, c] = ZERO")

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
