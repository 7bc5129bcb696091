"""The benchmark models as idiomatic PyTorch eager code, from the same Keras-layout weights.

A hand port of a Keras model to PyTorch keeps spatial tensors channels-first (what cuDNN/oneDNN
kernels want), converts each weight once, and calls torch.nn.functional per layer. This module does
that for the layer kinds the benchmarks use, by walking the analysed model; `TorchNet(model,
weights)(x)` returns what the Keras model returns. Numerics are checked against the NumPy reference
by the benchmark before anything is timed.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from shapeproof.analyzer.layers.conv import same_padding

ACTIVATIONS = {None: lambda x: x, "linear": lambda x: x, "relu": F.relu, "tanh": torch.tanh,
               "sigmoid": torch.sigmoid, "softmax": lambda x: torch.softmax(x, -1), "gelu": F.gelu}


class Value:
    """A tensor and whether its channel axis has been moved to position 1 (channels-first)."""

    def __init__(self, tensor: torch.Tensor, channels_first: bool = False):
        self.t, self.cf = tensor, channels_first

    def last(self) -> torch.Tensor:
        """Channels-last (Keras layout)."""
        if not self.cf:
            return self.t
        return self.t.movedim(1, -1)

    def first(self) -> torch.Tensor:
        """Channels-first (PyTorch layout)."""
        return self.t if self.cf else self.t.movedim(-1, 1)


class TorchNet:
    """PyTorch eager forward of an analysed model (a subset of kinds), weights in Keras order."""

    def __init__(self, model, weights: list[np.ndarray], device: str = "cpu"):
        self.model = model
        self.device = torch.device(device)
        self.params: dict[str, list[torch.Tensor]] = {}
        i = 0
        for node in model.nodes:
            n = len(node.weights)
            params = self._convert(node.layer, [np.asarray(w, np.float32) for w in weights[i:i + n]])
            self.params[node.name] = [p.to(self.device) for p in params]
            i += n

    def _convert(self, layer, w):
        kind = layer.kind
        if kind == "Dense":
            return [torch.from_numpy(w[0].T.copy())] + [torch.from_numpy(b) for b in w[1:]]
        if kind in ("Conv1D", "Conv2D"):
            rank = len(w[0].shape) - 2
            kernel = np.ascontiguousarray(np.moveaxis(w[0], (rank, rank + 1), (1, 0)))  # (F, C, *k)
            return [torch.from_numpy(kernel)] + [torch.from_numpy(b) for b in w[1:]]
        if kind == "TimeDistributed":
            return self._convert(layer.layer, w)
        if kind == "LSTM":
            lstm = torch.nn.LSTM(w[0].shape[0], w[1].shape[0], batch_first=True)
            with torch.no_grad():
                lstm.weight_ih_l0.copy_(torch.from_numpy(w[0].T))
                lstm.weight_hh_l0.copy_(torch.from_numpy(w[1].T))
                lstm.bias_ih_l0.copy_(torch.from_numpy(w[2]))
                lstm.bias_hh_l0.zero_()
            return [lstm]
        if kind == "ConvLSTM2D":
            to = lambda k: torch.from_numpy(np.ascontiguousarray(np.moveaxis(k, (2, 3), (1, 0))))  # noqa: E731
            return [to(w[0]), to(w[1]), torch.from_numpy(w[2])]
        return [torch.from_numpy(a) for a in w]

    def __call__(self, *inputs):
        """NumPy in, NumPy out."""
        result = self.tensors(*(torch.from_numpy(x).to(self.device) for x in inputs))
        result = [t.cpu().numpy() for t in (result if isinstance(result, tuple) else (result,))]
        return result[0] if len(result) == 1 else tuple(result)

    @torch.inference_mode()
    def tensors(self, *inputs):
        """Tensors (on the net's device) in, contiguous channels-last tensors out."""
        values = {}
        for spec, x in zip(self.model.inputs, inputs):
            values[(spec.name, 0)] = Value(x)
        for node in self.model.nodes:
            given = [values[ref] for ref in node.input_refs]
            out = self._layer(node.layer, given if node.layer.inputs == "many" else given[0], self.params[node.name])
            values[(node.name, 0)] = out
        result = [values[ref].last().contiguous() for ref in self.model.output_refs]
        return result[0] if len(result) == 1 else tuple(result)

    def _layer(self, layer, x, p) -> Value:
        kind = layer.kind
        act = ACTIVATIONS[getattr(layer, "activation", None)]
        if kind == "Dense":
            return Value(act(F.linear(x.last(), p[0], p[1] if len(p) > 1 else None)))
        if kind in ("Conv1D", "Conv2D"):
            t = x.first()
            k, s, d = (tuple(int(v) for v in getattr(layer, a)) for a in ("kernel_size", "strides", "dilation_rate"))
            if layer.padding == "same":
                pads = [same_padding(t.shape[2 + i], k[i], s[i], d[i]) for i in range(len(k))]
                if all(a == b for a, b in pads):
                    padding = tuple(a for a, _ in pads)
                else:
                    t = F.pad(t, [v for a, b in reversed(pads) for v in (a, b)])
                    padding = 0
            else:
                padding = 0
            conv = F.conv1d if len(k) == 1 else F.conv2d
            y = conv(t, p[0], p[1] if len(p) > 1 else None, s, padding, d, int(layer.groups))
            return Value(act(y), channels_first=True)
        if kind == "MaxPooling1D":
            return Value(F.max_pool1d(x.first(), int(layer.pool_size[0]), int(layer.strides[0])), True)
        if kind == "MaxPooling2D":
            return Value(F.max_pool2d(x.first(), tuple(int(v) for v in layer.pool_size),
                                      tuple(int(v) for v in layer.strides)), True)
        if kind == "GlobalAveragePooling2D":
            return Value(x.first().mean(dim=(2, 3)))
        if kind == "GlobalMaxPooling1D":
            return Value(x.first().amax(dim=2))
        if kind == "Flatten":
            t = x.last()
            return Value(t.reshape(t.shape[0], -1))
        if kind == "Dropout":
            return x
        if kind == "Activation":
            return Value(act(x.t), x.cf) if layer.activation != "softmax" else Value(act(x.last()))
        if kind == "BatchNormalization":
            gamma, beta, mean, var = p
            return Value(F.batch_norm(x.first(), mean, var, gamma, beta, False, 0.0, float(layer.epsilon)), True)
        if kind == "Add":
            return Value(sum(v.first() for v in x), True) if x[0].cf else Value(sum(v.last() for v in x))
        if kind == "Concatenate":
            return Value(torch.cat([v.last() for v in x], dim=int(layer.axis)))
        if kind == "Embedding":
            return Value(F.embedding(x.t.long(), p[0]))
        if kind == "LSTM":
            out, _ = p[0](x.last())
            return Value(out if layer.return_sequences else out[:, -1])
        if kind == "TimeDistributed":
            t = x.last()
            b, steps = t.shape[:2]
            inner = self._layer(layer.layer, Value(t.reshape(b * steps, *t.shape[2:])), p).last()
            return Value(inner.reshape(b, steps, *inner.shape[1:]))
        if kind == "ConvLSTM2D":
            return self._conv_lstm(layer, x.last(), p)
        raise NotImplementedError(f"no PyTorch port of {kind} in the benchmark peer")

    def _conv_lstm(self, layer, x, p):
        kx, kh, bias = p
        b, steps, h, w, c = x.shape
        pad = int(layer.kernel_size[0]) // 2
        # The input convolution for every step at once, then the recurrence.
        xs = F.conv2d(x.reshape(b * steps, h, w, c).movedim(-1, 1), kx, bias, padding=pad)
        xs = xs.reshape(b, steps, *xs.shape[1:])
        f = kh.shape[1]
        state_h = torch.zeros(b, f, h, w, device=x.device)
        state_c = torch.zeros(b, f, h, w, device=x.device)
        for t in range(steps):
            z = xs[:, t] + F.conv2d(state_h, kh, padding=pad)
            i, fg, g, o = torch.split(z, f, dim=1)
            state_c = torch.sigmoid(fg) * state_c + torch.sigmoid(i) * torch.tanh(g)
            state_h = torch.sigmoid(o) * torch.tanh(state_c)
        return Value(state_h, channels_first=True)
