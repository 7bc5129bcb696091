"""Attention: the generated CPU kernels vs PyTorch CPU in the same run, same weights, same threads.

    .venv/bin/python benchmarks/attention.py [--repeat 10] [--lengths 128,512,2048] [--batches 1,8]

d_model 256, 4 heads of 64, for each sequence length T, batch and causal/not:
- core: the fused attention core alone (the generated `attention_core_*` function on projected
  q, k, v) vs torch.nn.functional.scaled_dot_product_attention on the same tensors;
- layer: the whole MultiHeadAttention (projections, core, output projection) vs
  torch.nn.MultiheadAttention (need_weights=False: its fused fast path), weights copied from ours;
- block: a post-norm encoder block (attention, residual, LayerNormalization, Dense 1024 relu,
  Dense 256, residual, LayerNormalization) vs the same block written in PyTorch.
First the growth of the process's peak RSS while the core runs at each T (before anything else).
Each row: median milliseconds of REPEAT calls, ours / PyTorch (below 1: faster), the largest error
relative to the output's magnitude. Then the causal speed-up (unmasked / causal core time).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import shapeproof  # noqa: E402

D, HEADS, FF = 256, 4, 1024
HEAD = D // HEADS

SPEC = """
model Layer(batch, T):
    x = input (batch, T, {d})
    output MultiHeadAttention({heads}, {head})(x, x, use_causal_mask={causal})

model Block(batch, T):
    x = input (batch, T, {d})
    a = MultiHeadAttention({heads}, {head})(x, x, use_causal_mask={causal})
    h = LayerNormalization(epsilon=1e-5)(x + a)
    f = Dense({ff}, activation="relu")(h)
    f = Dense({d})(f)
    output LayerNormalization(epsilon=1e-5)(h + f)
"""


def median_ms(fn, repeat: int) -> float:
    fn()  # warm: compilation, caches, thread pools
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def relative_error(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def torch_mha(weights: list) -> torch.nn.MultiheadAttention:
    """nn.MultiheadAttention with Keras's MultiHeadAttention weights (kernels (d, heads, head) etc.)."""
    wq, bq, wk, bk, wv, bv, wo, bo = (torch.from_numpy(np.ascontiguousarray(w)) for w in weights)
    mha = torch.nn.MultiheadAttention(D, HEADS, batch_first=True).eval()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([w.reshape(D, D).T for w in (wq, wk, wv)]))
        mha.in_proj_bias.copy_(torch.cat([b.reshape(D) for b in (bq, bk, bv)]))
        mha.out_proj.weight.copy_(wo.reshape(D, D).T)
        mha.out_proj.bias.copy_(bo)
    return mha


class TorchBlock(torch.nn.Module):
    """The encoder block of SPEC in PyTorch, with the same weights."""

    def __init__(self, weights: list):
        super().__init__()
        self.mha = torch_mha(weights[:8])
        g1, b1, k1, c1, k2, c2, g2, b2 = (torch.from_numpy(np.ascontiguousarray(w)) for w in weights[8:])
        self.n1, self.n2 = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
        self.f1, self.f2 = torch.nn.Linear(D, FF), torch.nn.Linear(FF, D)
        with torch.no_grad():
            for module, weight, bias in ((self.n1, g1, b1), (self.f1, k1.T, c1), (self.f2, k2.T, c2), (self.n2, g2, b2)):
                module.weight.copy_(weight)
                module.bias.copy_(bias)
        self.eval()

    def forward(self, x, mask):
        a = self.mha(x, x, x, need_weights=False, attn_mask=mask, is_causal=mask is not None)[0]
        h = self.n1(x + a)
        return self.n2(h + self.f2(torch.relu(self.f1(h))))


def core_function(net):
    """The generated module's fused attention core (codegen/cpu/attention.py)."""
    names = [n for n in dir(net.module) if n.startswith("attention_core_")]
    assert len(names) == 1, names
    return getattr(net.module, names[0])


def causal_mask(t: int):
    return torch.triu(torch.full((t, t), float("-inf")), diagonal=1)


def rows(t: int, batch: int, causal: bool, repeat: int, rng) -> list[tuple]:
    program = shapeproof.loads(SPEC.format(d=D, heads=HEADS, head=HEAD, ff=FF, causal=causal),
                               set={"T": t, "batch": batch})
    out = []
    # the core alone, on projected q (already scaled, as the kernel's query projection leaves it), k, v
    layer_net = shapeproof.build(program.models["Layer"], target="cpu")
    core = core_function(layer_net)
    q, k, v = (rng.standard_normal((batch, t, D)).astype(np.float32) for _ in range(3))
    ctx = np.empty_like(q)
    tq, tk, tv = (torch.from_numpy(a).reshape(batch, t, HEADS, HEAD).transpose(1, 2) for a in (q, k, v))
    # SDPA scales by 1/sqrt(head) itself: hand it the unscaled query
    tq = tq * np.sqrt(HEAD)
    ours = median_ms(lambda: core(q, k, v, ctx), repeat)
    with torch.inference_mode():
        theirs_out = F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
        theirs = median_ms(lambda: F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal), repeat)
    err = relative_error(ctx, theirs_out.transpose(1, 2).reshape(batch, t, D).numpy())
    out.append(("core", ours, theirs, err))
    # the whole layer
    weights = [rng.standard_normal(tuple(int(d) for d in w.shape)).astype(np.float32) * 0.1
               for node in program.models["Layer"].nodes for w in node.weights]
    layer_net.set_weights(weights)
    x = rng.standard_normal((batch, t, D)).astype(np.float32)
    xt = torch.from_numpy(x)
    mha, mask = torch_mha(weights), causal_mask(t) if causal else None
    ours = median_ms(lambda: layer_net(x), repeat)
    with torch.inference_mode():
        ref = mha(xt, xt, xt, need_weights=False, attn_mask=mask, is_causal=causal)[0].numpy()
        theirs = median_ms(lambda: mha(xt, xt, xt, need_weights=False, attn_mask=mask, is_causal=causal), repeat)
    out.append(("layer", ours, theirs, relative_error(layer_net(x), ref)))
    # the encoder block
    block_net = shapeproof.build(program.models["Block"], target="cpu")
    block_weights = weights + [np.ones(D, np.float32), np.zeros(D, np.float32),
                               rng.standard_normal((D, FF)).astype(np.float32) * 0.05, np.zeros(FF, np.float32),
                               rng.standard_normal((FF, D)).astype(np.float32) * 0.05, np.zeros(D, np.float32),
                               np.ones(D, np.float32), np.zeros(D, np.float32)]
    block_net.set_weights(block_weights)
    block = TorchBlock(block_weights)
    ours = median_ms(lambda: block_net(x), repeat)
    with torch.inference_mode():
        ref = block(xt, mask).numpy()
        theirs = median_ms(lambda: block(xt, mask), repeat)
    out.append(("block", ours, theirs, relative_error(block_net(x), ref)))
    return out


def memory_growth(lengths: list[int], rng):
    """The growth of this process's peak RSS while the core runs at each T, batch 1, in increasing T
    and before anything else (the peak only rises): a T x T score matrix would show."""
    print("peak RSS growth while the fused core runs (batch 1, first thing in this process):")
    for t in sorted(lengths):
        program = shapeproof.loads(SPEC.format(d=D, heads=HEADS, head=HEAD, ff=FF, causal=False),
                                   set={"T": t, "batch": 1})
        core = core_function(shapeproof.build(program.models["Layer"], target="cpu"))
        q = rng.standard_normal((1, t, D)).astype(np.float32)
        ctx = np.empty_like(q)
        core(q[:, :1], q[:, :1], q[:, :1], ctx[:, :1])  # compiled and its thread pool up before measuring
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        core(q, q, q, ctx)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(f"  T={t:>5}: +{grown} KiB (the {HEADS} heads' T x T float32 scores would be "
              f"{HEADS * 4 * t * t // 1024} KiB)")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--lengths", default="128,512,2048")
    parser.add_argument("--batches", default="1,8")
    args = parser.parse_args()
    threads = numba.get_num_threads()
    torch.set_num_threads(threads)
    print(f"threads: {threads} (Numba {numba.__version__}, PyTorch {torch.__version__}); d_model {D}, "
          f"{HEADS} heads of {HEAD}; median of {args.repeat} calls")
    rng = np.random.default_rng(0)
    memory_growth([int(v) for v in args.lengths.split(",")], rng)
    print(f"{'T':>5} {'batch':>5} {'causal':>6} {'part':>6} {'ours ms':>9} {'torch ms':>9} {'ratio':>6} {'error':>8}")
    cores: dict = {}
    for t in (int(v) for v in args.lengths.split(",")):
        for batch in (int(v) for v in args.batches.split(",")):
            for causal in (False, True):
                for part, ours, theirs, err in rows(t, batch, causal, args.repeat, rng):
                    print(f"{t:>5} {batch:>5} {str(causal):>6} {part:>6} {ours:>9.2f} {theirs:>9.2f} "
                          f"{ours / theirs:>6.2f} {err:>8.1e}", flush=True)
                    if part == "core":
                        cores[t, batch, causal] = ours
    print("\ncausal speed-up of the fused core (unmasked ms / causal ms):")
    for (t, batch, causal), ms in cores.items():
        if causal:
            print(f"  T={t:>5} batch={batch}: {cores[t, batch, False] / ms:.2f}x")


if __name__ == "__main__":
    main()
