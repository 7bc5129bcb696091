"""Attention layers: MultiHeadAttention, with Keras 3's weights, call arguments and masking; Attention,
AdditiveAttention (a list [query, value(, key)], call options, mask=[query_mask, value_mask]) and Dot
(batch_dot).

Note: the call. `MultiHeadAttention(4, 16)(q, v)` (cross-attention), `(x, x)` (self-attention),
`(q, v, k)`, and keyword call arguments: `attention_mask=m` (a tensor (batch, T_q, T_k), nonzero =
attend), `use_causal_mask=True` (query i attends to keys j <= i), `return_attention_scores=True`
(a second output, the softmax weights (batch, heads, T_q, T_k)). analyzer/graph.py hands the tensors
in as a list of shapes in the order `call_inputs` names them (see Layer.bind_call).

Keras's forward (keras/src/layers/attention/multi_head_attention.py), per head h:
Q = q·Wq + bq scaled by 1/sqrt(key_dim), K = k·Wk + bk, V = v·Wv + bv, scores = Q·Kᵀ, masked
positions set to -1e9 before the softmax over keys and to 0 after it (a row with no key left is all
zeros), then Σ_h (P·V)·Wo + bo.
"""
from __future__ import annotations

import math

import sympy

from ..errors import ShapeproofError
from ..lazy import np
from .base import Anything, Bool, CallSignature, Float, Ignored, Int, Kind, Layer, OptionalInt, Weight, alias, layer
from .merging import require_equal


class OutputShape(Kind):
    """MultiHeadAttention's `output_shape`: None (the query's features), an integer or a one-item tuple
    (the output's last axis). Stored as `output_dim`: `output_shape` is a method of every layer."""

    describe = "None, a positive integer or a tuple of one"
    attribute = "output_dim"

    def __init__(self):
        super().__init__(None)

    def convert(self, value):
        if value is None or value == 0:
            return None
        if isinstance(value, (tuple, list)):
            if len(value) != 1:
                raise ShapeproofError(f"an output_shape of {len(value)} axes is not supported: only the last "
                                      "axis (one integer)", hint="e.g. output_shape=64")
            value = value[0]
        return Int().convert(value)


@layer("MultiHeadAttention", num_heads=Int(), key_dim=Int(), value_dim=OptionalInt(), dropout=Float(0.0),
       use_bias=Bool(True), output_shape=OutputShape(), attention_axes=Anything(None),
       sliding_window=Anything(None), flash_attention=Ignored(), kernel_initializer=Ignored(),
       bias_initializer=Ignored(), kernel_regularizer=Ignored(), bias_regularizer=Ignored(),
       activity_regularizer=Ignored(), kernel_constraint=Ignored(), bias_constraint=Ignored(),
       use_gate=Bool(False), seed=Ignored())
class MultiHeadAttention(Layer):
    """MultiHeadAttention(num_heads, key_dim)(query, value[, key]): (batch, T_q, d_q), (batch, T_k, d_v)
    -> (batch, T_q, output_shape or d_q); scaled dot-product attention per head, softmax over keys."""

    inputs = "many"
    return_attention_scores = use_causal_mask = False  # call options, set by bind_call
    call_signature = CallSignature(("query", "value", "key"), 2, ("attention_mask",),
                                   {"return_attention_scores": Bool(False), "use_causal_mask": Bool(False)})

    def validate(self):
        if not 0 <= self.dropout <= 1:
            raise self.error(f"dropout must be between 0 and 1, got {self.dropout}", "dropout")
        axes = self.attention_axes
        axes = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,) if axes is not None else None
        if axes is not None and tuple(int(a) if isinstance(a, sympy.Integer) else a for a in axes) not in ((1,), (-2,)):
            raise self.error(f"attention_axes={self.attention_axes!r} is not supported: shapeproof attends over "
                             "axis 1 of rank-3 inputs (batch, T, features), Keras's default", "attention_axes",
                             "leave attention_axes out, or Reshape the axes to attend over into one first")
        window = self.sliding_window
        if window is not None and (not isinstance(window, (int, sympy.Integer)) or isinstance(window, bool)
                                   or window <= 0):
            raise self.error(f"sliding_window must be None or a positive integer, got {window!r}", "sliding_window")
        if self.use_gate:
            raise self.error("use_gate=True is not supported yet", "use_gate")

    @property
    def head_value_dim(self):
        return self.value_dim if self.value_dim is not None else self.key_dim

    @property
    def kv_heads(self):
        """Heads of the key and value projections (GroupQueryAttention shares each among query heads)."""
        return self.num_heads

    def parts(self, x) -> dict:
        """{call argument: its shape (or array)}: `key` is `value` when not given."""
        given = dict(zip(self.call_inputs, x))
        given.setdefault("key", given["value"])
        return given

    def check_input(self, x):
        for name, shape in zip(self.call_inputs, x):
            if len(shape) != 3:
                raise self.error(f"{self.kind} takes rank-3 {name} (batch, T, features) here, got rank {len(shape)}",
                                 hint="attention over several axes (attention_axes) is not supported: "
                                      "Reshape them into one sequence axis first")

    def output_dims(self, x):
        p = self.parts(x)
        return p["query"][1], p["value"][1], (self.output_dim if self.output_dim is not None else p["query"][2])

    def output_shape(self, x):
        p = self.parts(x)
        t_q, t_k, d_out = self.output_dims(x)
        y = (p["query"][0], t_q, d_out)
        if self.return_attention_scores:
            return [y, (p["query"][0], self.num_heads, t_q, t_k)]
        return y

    def constraints(self, x):
        p = self.parts(x)
        out, hint = [], "query, key, value and attention_mask share the batch axis; key and value the sequence axis"
        for name in ("value", "key", "attention_mask"):
            if name in p:
                require_equal(self, p["query"][0], p[name][0], [p["query"], p[name]], 0, out, hint)
        require_equal(self, p["value"][1], p["key"][1], [p["value"], p["key"]], 1, out, hint)
        if "attention_mask" in p:
            t_q, t_k, _ = self.output_dims(x)
            for axis, want in ((1, t_q), (2, t_k)):
                got = p["attention_mask"][axis]
                if got != 1:
                    require_equal(self, want, got, [p["query"], p["attention_mask"]], axis, out,
                                  "attention_mask is (batch, T_q, T_k), an axis of size 1 broadcast")
        return out

    def weights(self, x):
        p = self.parts(x)
        h, k, v, g = self.num_heads, self.key_dim, self.head_value_dim, self.kv_heads
        d_out = self.output_dims(x)[2]
        out = []
        for name, d_in, heads, width in (("query", p["query"][2], h, k), ("key", p["key"][2], g, k),
                                         ("value", p["value"][2], g, v)):
            out.append(Weight(f"{name}_kernel", (d_in, heads, width)))
            if self.use_bias:
                out.append(Weight(f"{name}_bias", (heads, width)))
        out.append(Weight("attention_output_kernel", (h, v, d_out)))
        if self.use_bias:
            out.append(Weight("attention_output_bias", (d_out,)))
        return out

    def macs(self, x):
        """Projections (q, k, v, output) plus the two T_q·T_k products per head: scores and weighted sum."""
        p = self.parts(x)
        h, k, v, g = self.num_heads, self.key_dim, self.head_value_dim, self.kv_heads
        batch, (t_q, t_k, d_out) = p["query"][0], self.output_dims(x)
        projections = t_q * p["query"][2] * h * k + t_k * p["key"][2] * g * k + t_k * p["value"][2] * g * v
        return batch * (projections + h * t_q * t_k * (k + v) + t_q * h * v * d_out)

    def intermediate_shapes(self, x):
        """Keras's einsum path: the projections Q, K, V, the scores and their softmax (batch, heads,
        T_q, T_k) each, and the attention output per head before the output projection."""
        p = self.parts(x)
        (t_q, t_k, _), batch = self.output_dims(x), p["query"][0]
        h, k, v, g = self.num_heads, self.key_dim, self.head_value_dim, self.kv_heads
        scores = (batch, h, t_q, t_k)
        return [(batch, t_q, h, k), (batch, t_k, g, k), (batch, t_k, g, v), scores, scores, (batch, t_q, h, v)]

    def fused_intermediate_shapes(self, x):
        """The fused kernels: the projections and the attention output per head, O(T); the online
        softmax keeps only a block of scores per task (a few KiB, left out), never the T_q x T_k tensor."""
        q, k, v, _scores, _weights, context = self.intermediate_shapes(x)
        return [q, k, v, context]

    def merge_receptive_fields(self, x, states):
        """An output row reads its query row (features mixed) and every key and value position."""
        from ..receptive import RF

        merged = []
        for name, shape, rf in zip(self.call_inputs, x, states):
            merged.append(rf.mix(2) if name == "query" else rf.mix(2).reduce({1, 2}))
        return RF.merge(merged)

    def element(self, x, w, idx, output=0):
        """out[b, t, o] = Σ_h Σ_v Σ_s P[b, h, t, s]·V[b, s, h', v]·Wo[h, v, o] + bo[o], with
        P = exp(S[s]) / Σ_s' exp(S[s']), S[s] = Σ_c Q[b, t, h, c]·K[b, s, h', c], Q the query
        projection scaled by 1/sqrt(key_dim), K and V the key and value projections, h' = h // (heads //
        kv_heads); the second output (return_attention_scores) is P. Masks have no formula here."""
        from .. import indexing as ix

        if self.use_causal_mask or self.sliding_window is not None or "attention_mask" in self.call_inputs:
            raise ix.NoElement("masked attention (causal, sliding window or attention_mask) has no formula here")
        given = self.parts(x)
        query, key, value = given["query"], given["key"], given["value"]
        weights = list(w)
        if self.use_bias:
            wq, bq, wk, bk, wv, bv, wo, bo = weights
        else:
            (wq, wk, wv, wo), (bq, bk, bv, bo) = weights, (None,) * 4
        repeats = int(self.num_heads) // int(self.kv_heads)
        scale = sympy.Float(1.0 / math.sqrt(float(self.key_dim)))  # Keras's Python float, as `x * 0.25` is

        def project(operand, kernel, bias, b, t, head, c):
            d = operand.index("d")
            total = ix.Sum(operand(b, t, d) * kernel[d, head, c], (d, 0, operand.shape[2] - 1))
            return total + bias[head, c] if bias is not None else total

        def kv_head(h):
            return h if repeats == 1 else sympy.floor(h / repeats)

        def score(b, t, s, h):
            c = query.index("c")
            q = project(query, wq, bq, b, t, h, c) * scale
            return ix.Sum(q * project(key, wk, bk, b, s, kv_head(h), c), (c, 0, self.key_dim - 1))

        def probability(b, t, s, h):
            r = query.index("s")
            return sympy.exp(score(b, t, s, h)) / ix.Sum(sympy.exp(score(b, t, r, h)), (r, 0, key.shape[1] - 1))

        if output == 1:
            b, h, t, s = idx
            return probability(b, t, s, h)
        b, t, o = idx
        h, v, s = query.index("h"), query.index("v"), query.index("s")
        attended = ix.Sum(probability(b, t, s, h) * project(value, wv, bv, b, s, kv_head(h), v),
                          (s, 0, key.shape[1] - 1))
        total = ix.Sum(attended * wo[h, v, o], (h, 0, self.num_heads - 1), (v, 0, self.head_value_dim - 1))
        return total + bo[o] if bo is not None else total

    def allowed(self, t_q: int, t_k: int, mask=None):
        """The (batch or 1, 1, T_q, T_k) boolean mask of attended positions, or None."""
        allowed = None
        if mask is not None:
            allowed = (np.asarray(mask) != 0)[:, None]
        if self.use_causal_mask:
            causal = np.tril(np.ones((t_q, t_k), dtype=bool))[None, None]
            allowed = causal if allowed is None else allowed & causal
        if self.sliding_window is not None:
            i, j = np.arange(t_q)[:, None], np.arange(t_k)[None, :]
            band = (np.abs(i - j) < int(self.sliding_window))[None, None]
            allowed = band if allowed is None else allowed & band
        return allowed

    def reference(self, x, w):
        p = self.parts(x)
        weights = list(w)
        if not self.use_bias:
            zeros = [np.zeros(a.shape[1:], a.dtype) for a in weights[:3]] + [np.zeros(weights[3].shape[-1], w[0].dtype)]
            weights = [weights[0], zeros[0], weights[1], zeros[1], weights[2], zeros[2], weights[3], zeros[3]]
        wq, bq, wk, bk, wv, bv, wo, bo = weights
        dtype = p["query"].dtype.type
        q = (np.einsum("btd,dhk->bthk", p["query"], wq) + bq) * dtype(1.0 / math.sqrt(float(self.key_dim)))
        # a key/value head serves num_heads // kv_heads query heads in turn (Keras: ops.repeat on axis 2)
        repeats = int(self.num_heads) // int(self.kv_heads)
        k = np.repeat(np.einsum("bsd,dhk->bshk", p["key"], wk) + bk, repeats, axis=2)
        v = np.repeat(np.einsum("bsd,dhv->bshv", p["value"], wv) + bv, repeats, axis=2)
        scores = np.einsum("bshk,bthk->bhts", k, q)
        allowed = self.allowed(scores.shape[2], scores.shape[3], p.get("attention_mask"))
        if allowed is not None:
            scores = np.where(allowed, scores, dtype(-1e9))
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = (e / e.sum(axis=-1, keepdims=True)).astype(dtype)
        if allowed is not None:
            probs = np.where(allowed, probs, dtype(0)).astype(dtype)
        context = np.einsum("bhts,bshv->bthv", probs, v)
        y = (np.einsum("bthv,hvo->bto", context, wo) + bo).astype(dtype)
        return [y, probs] if self.return_attention_scores else y


@layer("GroupQueryAttention", head_dim=Int(), num_query_heads=Int(), num_key_value_heads=Int(), dropout=Float(0.0),
       use_bias=Bool(True), sliding_window=Anything(None), flash_attention=Ignored(), kernel_initializer=Ignored(),
       bias_initializer=Ignored(), kernel_regularizer=Ignored(), bias_regularizer=Ignored(),
       activity_regularizer=Ignored(), kernel_constraint=Ignored(), bias_constraint=Ignored(),
       use_gate=Bool(False), seed=Ignored())
class GroupQueryAttention(MultiHeadAttention):
    """GroupQueryAttention(head_dim, num_query_heads, num_key_value_heads)(query, value[, key]):
    MultiHeadAttention whose key and value projections have num_key_value_heads heads, each shared
    by num_query_heads // num_key_value_heads consecutive query heads; the output has the query's
    features. Keras's class is GroupedQueryAttention, exported under both names."""

    keras_class = "GroupedQueryAttention"
    attention_axes = output_dim = value_dim = None  # MultiHeadAttention's arguments this layer lacks

    def validate(self):
        super().validate()
        if self.num_query_heads % self.num_key_value_heads:
            raise self.error(f"num_query_heads ({self.num_query_heads}) must be divisible by num_key_value_heads "
                             f"({self.num_key_value_heads})", "num_key_value_heads",
                             "each key/value head serves the same number of query heads")

    def constraints(self, x):
        p = self.parts(x)
        out = super().constraints(x)
        require_equal(self, p["query"][2], p["value"][2], [p["query"], p["value"]], 2, out,
                      "Keras's GroupedQueryAttention takes query and value of the same feature size")
        return out

    @property
    def num_heads(self):
        return self.num_query_heads

    @property
    def key_dim(self):
        return self.head_dim

    @property
    def kv_heads(self):
        return self.num_key_value_heads


alias("GroupedQueryAttention", "GroupQueryAttention")


# --- Attention, AdditiveAttention: Luong- and Bahdanau-style attention over a list [query, value(, key)] ---

_CALL = CallSignature((), 0, ("mask",), {"return_attention_scores": Bool(False), "use_causal_mask": Bool(False)},
                      {"mask": ("query_mask", "value_mask")})


class _ListAttention(Layer):
    """Shared by Attention and AdditiveAttention (Keras's AdditiveAttention subclasses Attention):
    `([query, value])` or `([query, value, key])`, rank 3 each, softmax over the keys of the scores,
    then the weighted sum of the value rows.

    Note: masks, as Keras 3 (keras/src/layers/attention/attention.py). `mask=[query_mask, value_mask]`
    (either may be None): tensors (batch, T_q) and (batch, T_k) of any dtype, nonzero = keep, handed in
    after the list, in the order `call_inputs` names them. A key is masked when value_mask is zero at
    it or, with use_causal_mask, when j > i: its score becomes score - 1e9 (once, in float32: a row
    with every key masked is then a softmax over equally shifted scores, near uniform, not zeros);
    softmax; weighted sum; then output rows whose query_mask is zero are zeros. The scores output
    (return_attention_scores) is the softmax weights, query_mask not applied. Keras's compute_mask
    also gives the output the query mask as its implicit Keras mask: the .nn language has no
    implicit masks, and `shapeproof import` refuses a model where a later layer consumes that mask."""

    inputs = "many"
    return_attention_scores = use_causal_mask = False  # call options, set by bind_call
    call_signature = _CALL

    def validate(self):
        if not 0 <= self.dropout <= 1:
            raise self.error(f"dropout must be between 0 and 1, got {self.dropout}", "dropout")

    def parts(self, x) -> dict:
        """{query, value, key, and the masks given: their shapes (or arrays)}: `key` is `value` when not given."""
        n = len(x) - len(self.call_inputs)
        listed = list(x[:n])
        p = dict(zip(("query", "value", "key"), [*listed, listed[1]] if n == 2 else listed))
        p.update(zip(self.call_inputs, x[n:]))
        return p

    def check_input(self, x):
        n = len(x) - len(self.call_inputs)
        if n not in (2, 3):
            raise self.error(f"{self.kind} takes a list of 2 or 3 inputs, [query, value] or [query, value, key], "
                             f"got {n}", hint=f"write `{self.kind}()([q, v])`")
        for name, shape in zip(("query", "value", "key"), x[:n]):
            if len(shape) != 3:
                raise self.error(f"{self.kind} takes rank-3 {name} (batch, T, features) here, got rank {len(shape)}")
        for name, shape in zip(self.call_inputs, x[n:]):
            if len(shape) != 2:
                t = "T_q" if name == "query_mask" else "T_k"
                raise self.error(f"{self.kind}'s {name} is (batch, {t}), got rank {len(shape)}",
                                 hint=f"one flag per {'query' if name == 'query_mask' else 'key'} position, "
                                      "nonzero = keep")

    def output_shape(self, x):
        p = self.parts(x)
        y = (p["query"][0], p["query"][1], p["value"][2])
        return [y, (p["query"][0], p["query"][1], p["key"][1])] if self.return_attention_scores else y

    def constraints(self, x):
        p = self.parts(x)
        out, hint = [], ("query, value and key share the batch axis; value and key the sequence axis; "
                         "query and key the features")
        for name in ("value", "key"):
            require_equal(self, p["query"][0], p[name][0], [p["query"], p[name]], 0, out, hint)
        require_equal(self, p["value"][1], p["key"][1], [p["value"], p["key"]], 1, out, hint)
        require_equal(self, p["query"][2], p["key"][2], [p["query"], p["key"]], 2, out, hint)
        for name, of in (("query_mask", "query"), ("value_mask", "value")):
            if name in p:
                t = "T_q" if of == "query" else "T_k"
                mask_hint = f"{name} is (batch, {t}): the {of}'s batch and sequence axes"
                for axis in (0, 1):
                    require_equal(self, p[of][axis], p[name][axis], [p[of], p[name]], axis, out, mask_hint)
        return out

    def macs(self, x):
        """Scores (one product per feature of each query-key pair) and the weighted sum of values."""
        p = self.parts(x)
        return p["query"][0] * p["query"][1] * p["key"][1] * (p["query"][2] + p["value"][2])

    def intermediate_shapes(self, x):
        """Keras: the scores and their softmax, (batch, T_q, T_k) each (AdditiveAttention also the
        tanh(q + k) tensor (batch, T_q, T_k, d) its scores sum)."""
        p = self.parts(x)
        scores = (p["query"][0], p["query"][1], p["key"][1])
        pairs = [(*scores, p["query"][2])] if self.kind == "AdditiveAttention" or self.score_mode == "concat" else []
        return [scores, scores, *pairs]

    def fused_intermediate_shapes(self, x):
        """The generated kernels: one row of T_k scores per task (per query row)."""
        return [(self.parts(x)["key"][1],)]

    def merge_receptive_fields(self, x, states):
        """An output row reads its query row (features mixed) and every key and value position; the
        query mask at its own position, the whole value mask row."""
        from ..receptive import RF

        n = len(x) - len(self.call_inputs)
        names = [*(("query", "value", "key")[:n]), *self.call_inputs]
        merged = []
        for name, rf in zip(names, states):
            if name == "query":
                merged.append(rf.mix(2))
            elif name == "query_mask":
                merged.append(rf)
            elif name == "value_mask":
                merged.append(rf.reduce({1}))
            else:
                merged.append(rf.mix(2).reduce({1, 2}))
        return RF.merge(merged)

    def scores(self, q, k, w):
        """(batch, T_q, T_k) scores before masking."""
        raise NotImplementedError

    def score_element(self, query, key, w, b, t, s):
        """The score of query row t and key s of batch b, as a formula."""
        raise NotImplementedError

    def element(self, x, w, idx, output=0):
        """out[b, t, c] = Σ_s P[b, t, s]·value[b, s, c], P = exp(S[s]) / Σ_s' exp(S[s']) with the
        kind's score S; the scores output is P. Masks (mask=, use_causal_mask) have no formula here."""
        from .. import indexing as ix

        if self.call_inputs or self.use_causal_mask:
            raise ix.NoElement("masked attention (mask= or use_causal_mask) has no formula here")
        p = self.parts(x)
        query, key, value = p["query"], p["key"], p["value"]

        def probability(b, t, s):
            r = query.index("s")
            total = ix.Sum(sympy.exp(self.score_element(query, key, w, b, t, r)), (r, 0, key.shape[1] - 1))
            return sympy.exp(self.score_element(query, key, w, b, t, s)) / total

        if output == 1:
            return probability(*idx)
        b, t, c = idx
        s = query.index("s")
        return ix.Sum(probability(b, t, s) * value(b, s, c), (s, 0, key.shape[1] - 1))

    def reference(self, x, w):
        p = self.parts(x)
        dtype = p["query"].dtype.type
        scores = self.scores(p["query"], p["key"], w).astype(dtype)
        t_q, t_k = scores.shape[1:]
        allowed = None  # Keras's scores_mask: the value mask (batch, 1, T_k) and the causal mask (1, T_q, T_k)
        if "value_mask" in p:
            allowed = (np.asarray(p["value_mask"]) != 0)[:, None, :]
        if self.use_causal_mask:
            causal = np.tril(np.ones((t_q, t_k), dtype=bool))[None]
            allowed = causal if allowed is None else allowed & causal
        if allowed is not None:
            scores = np.where(allowed, scores, scores - dtype(1e9)).astype(dtype)
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = (e / e.sum(axis=-1, keepdims=True)).astype(dtype)
        y = np.einsum("bts,bsd->btd", probs, p["value"]).astype(dtype)
        if "query_mask" in p:
            y = np.where((np.asarray(p["query_mask"]) != 0)[:, :, None], y, dtype(0)).astype(dtype)
        return [y, probs] if self.return_attention_scores else y


@layer("Attention", use_scale=Bool(False), score_mode=Anything("dot"), dropout=Float(0.0), seed=Ignored())
class Attention(_ListAttention):
    """Attention(use_scale=False, score_mode="dot")([query, value(, key)]): (batch, T_q, d), (batch, T_k, d_v)
    -> (batch, T_q, d_v); scores q·kᵀ (times `scale`), or with score_mode="concat"
    concat_score_weight·Σ tanh(scale·(q + k)); softmax over keys."""

    def validate(self):
        super().validate()
        if self.score_mode not in ("dot", "concat"):
            raise self.error(f"score_mode must be 'dot' or 'concat', got {self.score_mode!r}", "score_mode")

    def weights(self, x):
        return ([Weight("scale", ())] if self.use_scale else []) + \
            ([Weight("concat_score_weight", ())] if self.score_mode == "concat" else [])

    def scores(self, q, k, w):
        w = list(w)
        scale = w.pop(0) if self.use_scale else None
        if self.score_mode == "dot":
            s = np.einsum("btd,bsd->bts", q, k)
            return s * scale if scale is not None else s
        pair = q[:, :, None, :] + k[:, None, :, :]
        return w[0] * np.tanh(scale * pair if scale is not None else pair).sum(axis=-1)

    def score_element(self, query, key, w, b, t, s):
        """Σ_c q[b, t, c]·k[b, s, c] (dot scores without a scale: the scalar weights have no formula)."""
        from .. import indexing as ix

        if self.use_scale or self.score_mode != "dot":
            raise ix.NoElement("Attention's scalar scale weights (use_scale, score_mode='concat') have no formula here")
        c = query.index("c")
        return ix.Sum(query(b, t, c) * key(b, s, c), (c, 0, query.shape[2] - 1))


@layer("AdditiveAttention", use_scale=Bool(True), dropout=Float(0.0), seed=Ignored())
class AdditiveAttention(_ListAttention):
    """AdditiveAttention(use_scale=True)([query, value(, key)]): (batch, T_q, d), (batch, T_k, d_v)
    -> (batch, T_q, d_v); scores Σ_d scale[d]·tanh(q[d] + k[d]) (Bahdanau), softmax over keys."""

    def weights(self, x):
        return [Weight("scale", (x[0][2],))] if self.use_scale else []

    def scores(self, q, k, w):
        t = np.tanh(q[:, :, None, :] + k[:, None, :, :])
        return (t * w[0] if self.use_scale else t).sum(axis=-1)

    def score_element(self, query, key, w, b, t, s):
        """Σ_c scale[c]·tanh(q[b, t, c] + k[b, s, c])."""
        from .. import indexing as ix

        c = query.index("c")
        term = ix.function("tanh")(query(b, t, c) + key(b, s, c))
        return ix.Sum(term * w[0][c] if self.use_scale else term, (c, 0, query.shape[2] - 1))


# --- Dot: the batched dot product of two tensors along one axis each ---------------------------------


class DotAxes(Kind):
    """Dot's `axes`: an integer, or a pair (one axis of each input); axis 0 (batch) is not allowed."""

    describe = "an integer or a pair of integers"

    def convert(self, value):
        values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
        if len(values) != 2 or not all(isinstance(v, (int, sympy.Integer)) for v in values):
            raise self.wrong(value)
        return tuple(int(v) for v in values)


@layer("Dot", axes=DotAxes(), normalize=Bool(False))
class Dot(Layer):
    """Dot(axes, normalize=False)([a, b]): Keras's batch_dot of two inputs of rank 2 or 3, summing over
    axis axes[0] of a and axes[1] of b: the output is a's other axes, then b's others but the batch
    (a result of rank 1 becomes (batch, 1)). normalize=True L2-normalises both along those axes first
    (x·min(1/‖x‖, 1e7), as keras.ops.normalize)."""

    inputs = "many"

    def resolved(self, x) -> tuple[int, int]:
        ranks = [len(getattr(s, "shape", s)) for s in x]  # shapes, or arrays (reference)
        return tuple(a % r if a < 0 else a for a, r in zip(self.axes, ranks))

    def check_input(self, x):
        if len(x) != 2:
            raise self.error(f"Dot takes exactly 2 inputs, got {len(x)}", hint="write `Dot(axes=1)([a, b])`")
        for shape in x:
            if len(shape) not in (2, 3):
                raise self.error(f"Dot takes inputs of rank 2 or 3 here, got rank {len(shape)}",
                                 hint="Reshape higher-rank inputs first")
        for a, shape in zip(self.axes, x):
            if not -len(shape) <= a < len(shape) or a % len(shape) == 0:
                raise self.error(f"Dot axis {a} is not a non-batch axis of a rank-{len(shape)} input", "axes")

    def output_shape(self, x):
        a0, a1 = self.resolved(x)
        out = [d for i, d in enumerate(x[0]) if i != a0] + [d for i, d in enumerate(x[1]) if i not in (0, a1)]
        return tuple(out) if len(out) > 1 else (*out, sympy.Integer(1))

    def constraints(self, x):
        a0, a1 = self.resolved(x)
        out, hint = [], "Dot sums over axes[0] of the first input and axes[1] of the second: their sizes must match"
        require_equal(self, x[0][0], x[1][0], x, 0, out, "both inputs share the batch axis")
        require_equal(self, x[0][a0], x[1][a1], x, a0, out, hint)
        return out

    def weights(self, x):
        return []

    def macs(self, x):
        """One product per output element and summed position."""
        a0, a1 = self.resolved(x)
        return sympy.Mul(*x[0]) * sympy.Mul(*(d for i, d in enumerate(x[1]) if i not in (0, a1)))

    def merge_receptive_fields(self, x, states):
        from ..receptive import RF

        return RF.merge([rf.mix(a) for rf, a in zip(states, self.resolved(x))])

    def element(self, x, w, idx, output=0):
        """out[b, i.., j..] = Σ_k a[b, .., k, ..]·b[b, .., k, ..] (normalize: no formula)."""
        from .. import indexing as ix

        if self.normalize:
            raise ix.NoElement("Dot(normalize=True) divides by the norm of a whole row")
        shapes = [a.shape for a in x]
        a0, a1 = self.resolved(shapes)
        k = x[0].index("k")
        batch, rest = idx[0], list(idx[1:])
        r0 = len(shapes[0]) - 2
        if r0 + len(shapes[1]) - 2 == 0:
            rest = []  # (batch, 1): the appended axis
        first, second = rest[:r0], rest[r0:]
        i0 = [batch, *first]
        i0.insert(a0, k)
        i1 = [batch, *second]
        i1.insert(a1, k)
        return ix.Sum(x[0](*i0) * x[1](*i1), (k, 0, shapes[0][a0] - 1))

    def reference(self, x, w):
        a0, a1 = self.resolved(x)
        a, b = x
        dtype = a.dtype.type
        if self.normalize:
            a, b = (v * np.minimum(1 / np.sqrt((v * v).sum(axis=ax, keepdims=True)), dtype(1e7))
                    for v, ax in ((a, a0), (b, a1)))
        letters = "cdefgh"
        sa = ["b"] + [letters[i] for i in range(a.ndim - 1)]
        sb = ["b"] + [letters[a.ndim - 1 + i] for i in range(b.ndim - 1)]
        sa[a0] = sb[a1] = "k"
        out = [c for c in sa if c != "k"] + [c for c in sb[1:] if c != "k"]
        y = np.einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b).astype(dtype)
        return y.reshape(y.shape[0], 1) if y.ndim == 1 else y
