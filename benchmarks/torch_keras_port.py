"""A plain PyTorch eager port of a Keras functional image model, built by walking its graph.

    port = from_keras(keras_model)          # weights copied, eval mode
    logits = port(x_nchw)                   # same numbers as keras_model.predict(x_nhwc)

What a PyTorch user writes when they port a Keras model layer by layer: every Keras layer becomes a small
torch.nn module calling torch.nn.functional (F.conv2d, F.batch_norm with the moving statistics in eval
mode, F.relu6, ...) on NCHW tensors, and the model's forward runs them in the graph's order over named
tensors. No torch.compile, no BatchNormalization folded into the convolution before it, no fusion: the
eager baseline benchmarks/real_models.py times against the generated kernels (ResNet50 keeps its
hand-written port, benchmarks/torch_resnet50.py, whose numbers this port's match).

Layout: every 4-D tensor is NCHW (Keras's are NHWC); tensors of other ranks are as Keras has them. So a
Keras kernel (kh, kw, in, out) becomes (out, in, kh, kw), a depthwise kernel (kh, kw, C, m) becomes
(C·m, 1, kh, kw) with groups=C, a channel axis -1 becomes dim 1, and Flatten and Reshape of a 4-D tensor
go through NHWC so their element order is Keras's. Padding "same" is Keras's (TensorFlow's): the total
max((ceil(n/s) - 1)·s + k - n, 0), half before and the odd pixel after (bottom/right), by F.pad when the
two sides differ.

Supported layer kinds: the keys of LAYERS (Keras 3 operation nodes, e.g. `x + y` on Keras tensors: the
keys of OPERATIONS); any other raises UnsupportedLayer naming the layer and its kind. One model input,
one model output. Checked against model.predict on MobileNetV2, EfficientNetB0, DenseNet121 and ResNet50:

    KERAS_BACKEND=torch .venv/bin/python benchmarks/torch_keras_port.py [--side 64] [--models ...]
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class UnsupportedLayer(NotImplementedError):
    pass


# ---------------------------------------------------------------------------------------------------
# Layout and padding helpers


def torch_dim(axis: int, rank: int) -> int:
    """The NCHW dim of Keras's axis `axis` of a rank-`rank` tensor (only 4-D tensors are transposed)."""
    axis %= rank
    return (0, 2, 3, 1)[axis] if rank == 4 else axis


def to_keras_layout(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1) if x.dim() == 4 else x


def from_keras_layout(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2) if x.dim() == 4 else x


def constant(value, rank: int) -> torch.Tensor:
    """A float32 constant that broadcasts against a Keras rank-`rank` tensor, made to broadcast against
    the port's layout of it (a per-channel (C,) or (1, 1, 1, C) becomes (1, C, 1, 1) for 4-D)."""
    a = np.asarray(value, dtype=np.float32)
    if rank == 4 and a.ndim >= 1:
        a = a.reshape((1,) * (4 - a.ndim) + a.shape).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(a))


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Keras's "same" padding of one spatial dimension: (before, after), the odd pixel after."""
    extent = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


class Padding:
    """A layer's spatial padding: "valid", or "same" resolved per input size. Returns the (maybe F.pad'ed)
    input and the symmetric padding to give the torch op. With stride 1 the amounts do not depend on the
    size, so they are computed once."""

    def __init__(self, mode: str, kernel, stride, dilation=(1, 1), fill: float = 0.0):
        if mode not in ("valid", "same"):
            raise UnsupportedLayer(f"padding {mode!r}")
        self.mode, self.kernel, self.stride, self.dilation, self.fill = mode, kernel, stride, dilation, fill
        self.fixed = self.resolve(0, 0) if mode == "valid" or tuple(stride) == (1, 1) else None

    def resolve(self, height: int, width: int):
        """((top, bottom), (left, right)) for an input of that size."""
        if self.mode == "valid":
            return (0, 0), (0, 0)
        return tuple(same_padding(n, k, s, d) for n, k, s, d in
                     zip((height, width), self.kernel, self.stride, self.dilation))

    def __call__(self, x: torch.Tensor):
        (top, bottom), (left, right) = self.fixed or self.resolve(x.shape[2], x.shape[3])
        if top == bottom and left == right:
            return x, (top, left)
        return F.pad(x, (left, right, top, bottom), value=self.fill), (0, 0)


# ---------------------------------------------------------------------------------------------------
# Activations (Keras's definitions; channel-axis softmax)


def channel_softmax(x):
    return F.softmax(x, dim=1 if x.dim() == 4 else -1)


def channel_log_softmax(x):
    return F.log_softmax(x, dim=1 if x.dim() == 4 else -1)


ACTIVATIONS = {
    "linear": None,
    "relu": F.relu,
    "relu6": F.relu6,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "silu": F.silu,  # also "swish"
    "hard_sigmoid": F.hardsigmoid,  # Keras 3: relu6(x + 3) / 6
    "hard_silu": F.hardswish,  # also "hard_swish": x · relu6(x + 3) / 6
    "gelu": F.gelu,  # Keras's default approximate=False
    "softmax": channel_softmax,
    "log_softmax": channel_log_softmax,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "exponential": torch.exp,
    "leaky_relu": functools.partial(F.leaky_relu, negative_slope=0.2),
    "mish": F.mish,
}
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}


def activation(fn, where: str):
    """The torch function for a Keras activation (a function or its name); None for linear."""
    name = fn if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))
    name = ALIASES.get(name, name)
    if name not in ACTIVATIONS:
        raise UnsupportedLayer(f"{where}: activation {name!r} (supported: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]


# ---------------------------------------------------------------------------------------------------
# Modules the layers become


def parameter(array) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)), requires_grad=False)


class Function(nn.Module):
    """A parameterless layer: fn(*inputs)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)

    def extra_repr(self):
        return getattr(self.fn, "__name__", repr(self.fn))


class Conv(nn.Module):
    """F.conv2d (Conv2D, DepthwiseConv2D: groups=C) with Keras's padding, then the activation."""

    def __init__(self, weight, bias, stride, dilation, groups, padding: Padding, act):
        super().__init__()
        self.weight = parameter(weight)
        self.bias = parameter(bias) if bias is not None else None
        self.stride, self.dilation, self.groups, self.padding, self.act = stride, dilation, groups, padding, act

    def forward(self, x):
        x, padding = self.padding(x)
        x = F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)
        return x if self.act is None else self.act(x)


class SeparableConv(nn.Module):
    """SeparableConv2D: a depthwise F.conv2d (Keras's padding, no bias), a pointwise 1×1 one (the bias),
    then the activation."""

    def __init__(self, depthwise: Conv, pointwise, bias, act):
        super().__init__()
        self.depthwise = depthwise
        self.pointwise = parameter(pointwise)
        self.bias = parameter(bias) if bias is not None else None
        self.act = act

    def forward(self, x):
        x = F.conv2d(self.depthwise(x), self.pointwise, self.bias)
        return x if self.act is None else self.act(x)


class BatchNorm(nn.Module):
    """F.batch_norm in inference mode with Keras's moving statistics and epsilon."""

    def __init__(self, mean, variance, gamma, beta, epsilon):
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(np.asarray(mean, np.float32)))
        self.register_buffer("variance", torch.from_numpy(np.asarray(variance, np.float32)))
        self.gamma = parameter(gamma) if gamma is not None else None
        self.beta = parameter(beta) if beta is not None else None
        self.epsilon = epsilon

    def forward(self, x):
        return F.batch_norm(x, self.mean, self.variance, self.gamma, self.beta, False, 0.0, self.epsilon)


class Dense(nn.Module):
    """F.linear over the last Keras axis (channels: dim 1 of a 4-D tensor), then the activation."""

    def __init__(self, kernel, bias, act):
        super().__init__()
        self.weight = parameter(np.asarray(kernel).T)
        self.bias = parameter(bias) if bias is not None else None
        self.act = act

    def forward(self, x):
        if x.dim() == 4:
            x = F.linear(x.movedim(1, -1), self.weight, self.bias).movedim(-1, 1)
        else:
            x = F.linear(x, self.weight, self.bias)
        return x if self.act is None else self.act(x)


class Pool(nn.Module):
    """MaxPooling2D / AveragePooling2D. Keras's "same" pooling ignores the padding: max pads with -inf,
    average divides by the number of real pixels in each window (TF's, JAX's and Keras's definition, as
    analyzer/layers/pooling.py; Keras 3.15's torch backend instead repeats the edge where the padding is
    uneven and counts the copies, so a strided "same" AveragePooling2D on an even size differs from its
    model.predict there)."""

    def __init__(self, kind: str, pool_size, strides, padding: str):
        super().__init__()
        self.kind, self.kernel, self.stride = kind, tuple(pool_size), tuple(strides)
        self.padding = Padding(padding, self.kernel, self.stride, fill=-float("inf") if kind == "max" else 0.0)

    def forward(self, x):
        if self.kind == "max":
            x, padding = self.padding(x)
            return F.max_pool2d(x, self.kernel, self.stride, padding)
        padded, padding = self.padding(x)
        if padded is x:  # symmetric (or no) padding: torch leaves it out of the count
            return F.avg_pool2d(x, self.kernel, self.stride, padding, count_include_pad=False)
        ones = self.padding(torch.ones_like(x[:1, :1]))[0]  # asymmetric: sum of values / count of pixels
        return F.avg_pool2d(padded, self.kernel, self.stride) / F.avg_pool2d(ones, self.kernel, self.stride)


class Affine(nn.Module):
    """Rescaling (x·scale + offset) and Normalization ((x - mean) / max(√variance, ε), or its inverse)."""

    def __init__(self, scale: torch.Tensor, offset: torch.Tensor, subtract_first: bool):
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("offset", offset)
        self.subtract_first = subtract_first

    def forward(self, x):
        if self.subtract_first:
            return (x - self.offset) / self.scale
        return x * self.scale + self.offset


class Elementwise(nn.Module):
    """A Keras operation node fn(a, b) whose arguments are the step's inputs or constants."""

    def __init__(self, fn, arguments: list):
        super().__init__()
        self.fn, self.slots = fn, []
        for i, a in enumerate(arguments):  # None: the next input tensor
            if a is not None:
                self.register_buffer(f"constant{i}", a)
            self.slots.append(None if a is None else f"constant{i}")

    def forward(self, *xs):
        inputs = iter(xs)
        return self.fn(*(next(inputs) if s is None else getattr(self, s) for s in self.slots))


# ---------------------------------------------------------------------------------------------------
# One converter per Keras layer kind: (layer, node) -> nn.Module taking the node's input tensors


def weights(layer) -> dict:
    """layer.get_weights() by variable name: kernel, bias, gamma, moving_mean, depthwise_kernel, ..."""
    return {v.name: np.asarray(w, dtype=np.float32) for v, w in zip(layer.weights, layer.get_weights(), strict=True)}


def rank(node) -> int:
    """The rank of the node's first input (Keras's shape, batch included)."""
    return len(node.arguments.keras_tensors[0].shape)


def channels_last(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise UnsupportedLayer(f"{layer.name}: data_format {layer.data_format!r}")


def conv2d(layer, node):
    channels_last(layer)
    w = weights(layer)
    return Conv(w["kernel"].transpose(3, 2, 0, 1), w.get("bias"), layer.strides, layer.dilation_rate, layer.groups,
                Padding(layer.padding, layer.kernel_size, layer.strides, layer.dilation_rate),
                activation(layer.activation, layer.name))


def depthwise_kernel(kernel: np.ndarray) -> np.ndarray:
    """(kh, kw, C, m) -> (C·m, 1, kh, kw): output channel c·m + j reads channel c, as in Keras."""
    kh, kw, c, m = kernel.shape
    return kernel.reshape(kh, kw, 1, c * m).transpose(3, 2, 0, 1)


def depthwise_conv2d(layer, node):
    channels_last(layer)
    w = weights(layer)
    kernel = w["kernel"]  # (kh, kw, C, depth_multiplier)
    return Conv(depthwise_kernel(kernel), w.get("bias"), layer.strides, layer.dilation_rate, kernel.shape[2],
                Padding(layer.padding, layer.kernel_size, layer.strides, layer.dilation_rate),
                activation(layer.activation, layer.name))


def separable_conv2d(layer, node):
    channels_last(layer)
    w = weights(layer)
    kernel = w["depthwise_kernel"]
    depthwise = Conv(depthwise_kernel(kernel), None, layer.strides, layer.dilation_rate, kernel.shape[2],
                     Padding(layer.padding, layer.kernel_size, layer.strides, layer.dilation_rate), None)
    return SeparableConv(depthwise, w["pointwise_kernel"].transpose(3, 2, 0, 1), w.get("bias"),
                         activation(layer.activation, layer.name))


def batch_normalization(layer, node):
    r = rank(node)
    if torch_dim(layer.axis, r) != 1:
        raise UnsupportedLayer(f"{layer.name}: BatchNormalization over axis {layer.axis} of a rank-{r} tensor")
    w = weights(layer)
    return BatchNorm(w["moving_mean"], w["moving_variance"], w.get("gamma"), w.get("beta"), layer.epsilon)


def activation_layer(layer, node):
    fn = activation(layer.activation, layer.name)
    return Function(fn if fn is not None else torch.nn.Identity())


def relu_layer(layer, node):
    """Keras's ReLU(max_value, negative_slope, threshold), as keras.activations.relu computes it."""
    top, slope, threshold = layer.max_value, float(layer.negative_slope), float(layer.threshold)
    if slope == 0 and threshold == 0:
        if top is None:
            return Function(F.relu)
        if float(top) == 6:
            return Function(F.relu6)
        return Function(functools.partial(torch.clamp, min=0.0, max=float(top)))

    def relu(x):
        y = torch.where(x > threshold, x, 0.0) if threshold else F.relu(x)
        if top is not None:
            y = y.clamp(0.0, float(top))
        return y - slope * F.relu(threshold - x) if slope else y

    return Function(relu)


def zero_padding2d(layer, node):
    channels_last(layer)
    (top, bottom), (left, right) = layer.padding
    return Function(functools.partial(F.pad, pad=(left, right, top, bottom)))


def cropping2d(layer, node):
    channels_last(layer)
    (top, bottom), (left, right) = layer.cropping
    return Function(lambda x: x[:, :, top:x.shape[2] - bottom, left:x.shape[3] - right])


def pooling2d(kind):
    def convert(layer, node):
        channels_last(layer)
        return Pool(kind, layer.pool_size, layer.strides or layer.pool_size, layer.padding)
    return convert


def global_pooling2d(kind):
    def convert(layer, node):
        channels_last(layer)
        keepdims = bool(getattr(layer, "keepdims", False))
        if kind == "average":
            return Function(functools.partial(torch.mean, dim=(2, 3), keepdim=keepdims))
        return Function(functools.partial(torch.amax, dim=(2, 3), keepdim=keepdims))
    return convert


def dense(layer, node):
    w = weights(layer)
    return Dense(w["kernel"], w.get("bias"), activation(layer.activation, layer.name))


def merge(fn):
    def convert(layer, node):
        return Function(fn)
    return convert


def add(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def multiply(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out


def maximum(*xs):
    return functools.reduce(torch.maximum, xs)


def minimum(*xs):
    return functools.reduce(torch.minimum, xs)


def average(*xs):
    return add(*xs) / len(xs)


def concatenate(layer, node):
    dim = torch_dim(layer.axis, rank(node))
    return Function(lambda *xs: torch.cat(xs, dim=dim))


def reshape(layer, node):
    """Keras reshapes NHWC order: to Keras's layout, reshape, back."""
    target = tuple(layer.target_shape)
    return Function(lambda x: from_keras_layout(to_keras_layout(x).reshape(x.shape[0], *target)))


def flatten(layer, node):
    return Function(lambda x: to_keras_layout(x).flatten(1))


def identity(layer, node):
    return Function(torch.nn.Identity())


def rescaling(layer, node):
    r = rank(node)
    return Affine(constant(layer.scale, r), constant(layer.offset, r), subtract_first=False)


def normalization(layer, node):
    """What Keras's call reads: layer.mean and layer.variance (the adapted or set weights, or the
    constructor's values), divided by max(√variance, keras.backend.epsilon())."""
    import keras

    r = rank(node)
    mean = keras.ops.convert_to_numpy(layer.mean)
    scale = np.maximum(np.sqrt(keras.ops.convert_to_numpy(layer.variance)), keras.backend.epsilon())
    if layer.invert:
        return Affine(constant(scale, r), constant(mean, r), subtract_first=False)
    return Affine(constant(scale, r), constant(mean, r), subtract_first=True)


LAYERS = {
    "InputLayer": None,  # the graph's input: no step
    "Conv2D": conv2d,
    "DepthwiseConv2D": depthwise_conv2d,
    "SeparableConv2D": separable_conv2d,
    "BatchNormalization": batch_normalization,
    "Activation": activation_layer,
    "ReLU": relu_layer,
    "ZeroPadding2D": zero_padding2d,
    "Cropping2D": cropping2d,
    "MaxPooling2D": pooling2d("max"),
    "AveragePooling2D": pooling2d("average"),
    "GlobalAveragePooling2D": global_pooling2d("average"),
    "GlobalMaxPooling2D": global_pooling2d("max"),
    "Dense": dense,
    "Add": merge(add),
    "Subtract": merge(torch.sub),
    "Multiply": merge(multiply),
    "Average": merge(average),
    "Maximum": merge(maximum),
    "Minimum": merge(minimum),
    "Concatenate": concatenate,
    "Reshape": reshape,
    "Flatten": flatten,
    "Rescaling": rescaling,
    "Normalization": normalization,
    # Identity at inference:
    "Identity": identity,
    "Dropout": identity,
    "SpatialDropout2D": identity,
    "GaussianDropout": identity,
    "GaussianNoise": identity,
    "AlphaDropout": identity,
    "ActivityRegularization": identity,
}


def elementwise(fn):
    """A Keras operation node fn(x1, x2) (numpy.Add, ...): tensors or constants on either side."""
    def convert(op, node):
        r = max(len(t.shape) for t in node.outputs)
        return Elementwise(fn, [None if is_keras_tensor(a) else constant(a, r) for a in node.arguments.args])
    return convert


def unary(fn):
    def convert(op, node):
        return Function(fn)
    return convert


OPERATIONS = {  # Keras 3 operation nodes that are not layers (keras.ops called on Keras tensors)
    "Add": elementwise(torch.add),
    "Subtract": elementwise(torch.sub),
    "Multiply": elementwise(torch.mul),
    "Divide": elementwise(torch.div),
    "TrueDivide": elementwise(torch.div),
    "Maximum": elementwise(torch.maximum),
    "Minimum": elementwise(torch.minimum),
    "Relu": unary(F.relu),
    "Relu6": unary(F.relu6),
    "Sigmoid": unary(torch.sigmoid),
    "Tanh": unary(torch.tanh),
    "Silu": unary(F.silu),
    "HardSigmoid": unary(F.hardsigmoid),
    "HardSilu": unary(F.hardswish),
}


def is_keras_tensor(x) -> bool:
    import keras

    return isinstance(x, keras.KerasTensor)


# ---------------------------------------------------------------------------------------------------
# The graph walk


def tensor_name(t) -> str:
    """Which node made a Keras tensor: 'layer name:node index:output index'."""
    op, node_index, tensor_index = t._keras_history
    return f"{op.name}:{node_index}:{tensor_index}"


def convert(op, node) -> nn.Module:
    import keras

    kind = type(op).__name__
    table, what = (LAYERS, "layer") if isinstance(op, keras.layers.Layer) else (OPERATIONS, "operation")
    if kind not in table or table[kind] is None:
        raise UnsupportedLayer(f"torch_keras_port: Keras {what} {op.name!r} of kind {kind} is not supported "
                               f"(supported {what}s: {', '.join(k for k, v in table.items() if v)})")
    return table[kind](op, node)


class KerasPort(nn.Module):
    """The steps of a Keras functional graph over named tensors: each step runs one module (a Keras layer
    call) on named inputs, names its outputs, and drops the tensors no later step reads."""

    def __init__(self, name: str, input_name: str, output_name: str, steps: list):
        super().__init__()
        self.name, self.input_name, self.output_name = name, input_name, output_name
        self.layers = nn.ModuleDict({key: module for key, module, _, _ in steps})
        last_read = {n: i for i, (_, _, inputs, _) in enumerate(steps) for n in inputs}
        drops = [[] for _ in steps]
        for n, i in last_read.items():
            if n != output_name:
                drops[i].append(n)
        # (module key, input names, output names, names no later step reads)
        self.steps = [(key, tuple(inputs), tuple(outputs), tuple(drop))
                      for (key, _, inputs, outputs), drop in zip(steps, drops, strict=True)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {self.input_name: x}
        for key, inputs, outputs, drop in self.steps:
            result = self.layers[key](*[values[n] for n in inputs])
            if len(outputs) == 1:
                values[outputs[0]] = result
            else:
                values.update(zip(outputs, result, strict=True))
            for n in drop:
                del values[n]
        return values[self.output_name]

    def extra_repr(self):
        return f"{self.name}: {len(self.steps)} steps"


def from_keras(model) -> KerasPort:
    """A port of a Keras functional model (one input, one output) with its weights, in eval mode."""
    model = getattr(model, "_functional", None) or model  # a built Sequential's graph
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedLayer(f"{model.name}: {len(model.inputs)} inputs, {len(model.outputs)} outputs (one each)")
    available = {tensor_name(model.inputs[0])}
    steps, calls = [], {}
    for depth in sorted(model._nodes_by_depth, reverse=True):  # Keras's own execution order
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            op = node.operation
            inputs = [tensor_name(t) for t in node.arguments.keras_tensors]
            missing = [n for n in inputs if n not in available]
            if missing:
                raise UnsupportedLayer(f"{op.name}: inputs {missing} are not computed before it")
            outputs = [tensor_name(t) for t in node.outputs]
            available.update(outputs)
            key = op.name.replace(".", "_")
            calls[key] = calls.get(key, 0) + 1  # a layer called twice: one module per call (same weights)
            steps.append((key if calls[key] == 1 else f"{key}_call{calls[key]}", convert(op, node), inputs, outputs))
    port = KerasPort(model.name, tensor_name(model.inputs[0]), tensor_name(model.outputs[0]), steps)
    return port.eval()


# ---------------------------------------------------------------------------------------------------
# Check against model.predict


def random_statistics(model, rng):
    """Non-trivial BatchNormalization statistics and Normalization mean/variance, so that every one
    matters: moving means and betas N(0, 0.1), moving variances and gammas U(0.5, 1.5)."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            for v in layer.weights:
                draw = rng.normal(0, 0.1, v.shape) if v.name in ("moving_mean", "beta") else rng.uniform(0.5, 1.5, v.shape)
                v.assign(draw.astype(np.float32))
        elif isinstance(layer, keras.layers.Normalization) and layer.weights:
            layer.adapt_mean.assign(rng.uniform(50, 200, layer.adapt_mean.shape).astype(np.float32))
            layer.adapt_variance.assign(rng.uniform(0.5e3, 5e3, layer.adapt_variance.shape).astype(np.float32))
            layer.finalize_state()
        elif isinstance(layer, keras.layers.Dense) and layer.use_bias:
            layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape).astype(np.float32))


def main():
    import argparse
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    parser = argparse.ArgumentParser(description="Port keras.applications models and compare with model.predict.")
    parser.add_argument("--models", default="MobileNetV2,EfficientNetB0,DenseNet121,ResNet50")
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keras.utils.set_random_seed(0)  # the kernels' initializers
    rng = np.random.default_rng(0)
    worst = 0.0
    for name in args.models.split(","):
        keras.backend.clear_session()
        model = getattr(keras.applications, name)(weights=None, input_shape=(args.side, args.side, 3),
                                                  classifier_activation=None)
        random_statistics(model, rng)
        x = rng.uniform(0, 255, size=(args.batch, args.side, args.side, 3)).astype(np.float32)  # pixels
        expected = model.predict(x, verbose=0)
        port = from_keras(model)
        with torch.no_grad():
            got = port(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
        assert got.shape == expected.shape, (got.shape, expected.shape)
        error = float(np.max(np.abs(got.astype(np.float64) - expected)) / np.max(np.abs(expected)))
        worst = max(worst, error)
        print(f"{name}: {len(port.steps)} steps, max |port - predict| / max |predict| = {error:.2e}", flush=True)
    print("OK" if worst <= 1e-4 else "FAILED: above 1e-4")
    raise SystemExit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
