"""CUDA kernels of the core layers: Dense (a tiled GEMM), Activation, Dropout/SpatialDropout and
Reshape (views: nothing runs), Flatten, Permute, RepeatVector, Embedding (one thread per output)."""
from __future__ import annotations

from ..activations import element
from ..errors import masks_unsupported
from shapeproof.analyzer.exprs import product
from ..writer import Writer
from .base import CudaSite, kernel
from .templates import Gemm, gemm, last_axis_pass, pointwise, wrap


def lora_b(site: CudaSite, kernel_var: str, k: str, n: str, scale: str = "") -> str:
    """B[k, n] of a 2-D kernel, with LoRA's low-rank term added when the layer has one. A device
    function would be cleaner; an inline sum keeps the kernel free of calls."""
    rank = site.layer.lora_rank
    if rank is None:
        return f"{kernel_var}[{k}, {n}]"
    terms = " + ".join(f"lora_a[{k}, {r}] * lora_b[{r}, {n}]" for r in range(int(rank)))
    return f"{kernel_var}[{k}, {n}] + {scale}({terms})"


def finish(layer, bias: str | None, n: str, v: str = "v") -> list[str]:
    """Lines turning the sum `v` into the output value: bias, element-wise activation."""
    lines = [f"{v} += {bias}[{n}]"] if bias else []
    expr = element(layer.activation, v)
    if expr not in (v, f"({v})"):
        lines.append(f"{v} = {expr}")
    return lines


def lora_args(site: CudaSite, first: str) -> tuple[list[str], list[str]]:
    """(params, args) of LoRA's two factors, named lora_a and lora_b in the kernel."""
    if site.layer.lora_rank is None:
        return [], []
    return ["lora_a", "lora_b"], [site.weight(f"lora_{first}_a"), site.weight(f"lora_{first}_b")]


@kernel("Dense")
def dense(site: CudaSite, k: Writer, f: Writer):
    layer = site.layer
    n_in, n_out = int(site.x[-1]), int(layer.units)
    m = product(site.x[:-1])
    bias = site.weight("bias") if layer.use_bias else None
    lparams, largs = lora_args(site, "kernel")

    def store(w: Writer, m: str, n: str, v: str):
        for line in finish(layer, "bias" if bias else None, n, v):
            w.line(line)
        w.line(f"out[{m}, {n}] = {v}")

    gemm(site, k, f, Gemm(
        name=site.fn, rows=m, cols=str(n_out), depth=str(n_in),
        params=["x", "kernel", *(["bias"] if bias else []), *lparams, "out"],
        args=[f"{site.ins[0]}.reshape({wrap(m)}, {n_in})", site.weight("kernel"), *([bias] if bias else []),
              *largs, f"{site.outs[0]}.reshape({wrap(m)}, {n_out})"],
        load_a=lambda w, m, kk: f"x[{m}, {kk}]",
        load_b=lambda w, kk, n: lora_b(site, "kernel", kk, n),
        store=store))
    last_axis_pass(site, f, layer.activation, site.outs[0], str(n_out))


@kernel("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Reshape", "reshape",
        allocates=True)
def view(site: CudaSite, k: Writer, f: Writer):
    # Inference: dropout is the identity; Reshape keeps the row-major order: both are views.
    from shapeproof.analyzer.exprs import shape

    f.line(f"{site.outs[0]} = {site.ins[0]}.reshape({shape(site.y)[1:-1]})")


@kernel("Flatten", allocates=True)
def flatten(site: CudaSite, k: Writer, f: Writer):
    from shapeproof.analyzer.exprs import shape

    if site.layer.data_format != "channels_first" or len(site.x) <= 2:
        f.line(f"{site.outs[0]} = {site.ins[0]}.reshape({shape(site.y)[1:-1]})")
        return
    # Keras moves the channel axis (1) last before flattening: out[b, p * C + c] = x[b, c, p].
    f.line(f"{site.outs[0]} = scratch({site.outs[0]!r}, {shape(site.y)})")
    channels, positions = site.xd(1), product(site.x[2:])

    def body(w: Writer, idx: list[str]):
        b, p, c = idx
        w.line(f"out[{b}, {p}, {c}] = x[{b}, {c}, {p}]")

    pointwise(site, k, f, site.fn, ["x", "out"],
              [f"{site.ins[0]}.reshape({site.xd(0)}, {channels}, {positions})",
               f"{site.outs[0]}.reshape({site.xd(0)}, {positions}, {channels})"],
              [site.xd(0), positions, channels], body)


@kernel("Permute", "transpose")
def permute(site: CudaSite, k: Writer, f: Writer):
    dims = site.layer.dims

    def body(w: Writer, idx: list[str]):
        source = [idx[0]] + [idx[dims.index(a) + 1] for a in range(1, len(site.y))]
        w.line(f"out[{', '.join(idx)}] = x[{', '.join(source)}]")

    pointwise(site, k, f, site.fn, ["x", "out"], [site.ins[0], site.outs[0]],
              [site.yd(a) for a in range(len(site.y))], body)


@kernel("RepeatVector")
def repeat_vector(site: CudaSite, k: Writer, f: Writer):
    def body(w: Writer, idx: list[str]):
        w.line(f"out[{idx[0]}, {idx[1]}, {idx[2]}] = x[{idx[0]}, {idx[2]}]")

    pointwise(site, k, f, site.fn, ["x", "out"], [site.ins[0], site.outs[0]],
              [site.yd(0), site.yd(1), site.yd(2)], body)


@kernel("Embedding")
def embedding(site: CudaSite, k: Writer, f: Writer):
    layer = site.layer
    if layer.mask_zero:
        raise masks_unsupported(layer)
    vocab, width = site.arg("input_dim"), site.arg("output_dim")
    n_ids = product(site.x)
    lparams, largs = lora_args(site, "embeddings")

    def body(w: Writer, idx: list[str]):
        i, d = idx
        # Keras casts float ids to int32 (truncating) and ops.take wraps a negative id once; ids still
        # out of range (an error in Keras) are clamped so that no memory outside the table is read.
        w.line(f"t = int(ids[{i}])")
        with w.block("if t < 0"):
            w.line(f"t += {vocab}")
        w.line(f"t = min(max(t, 0), {vocab - 1})")
        w.line(f"v = {lora_b(site, 'table', 't', d)}")
        w.line(f"out[{i}, {d}] = v")

    pointwise(site, k, f, site.fn, ["ids", "table", *lparams, "out"],
              [f"{site.ins[0]}.reshape(-1)", site.weight("embeddings"), *largs,
               f"{site.outs[0]}.reshape({wrap(n_ids)}, {width})"], [n_ids, str(width)], body)
