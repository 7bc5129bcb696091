"""Keras's default initializers, by weight name: the weights a freshly built Keras model would have.

`shapeproof run` without --weights uses these, so that a model's outputs look like a new Keras
model's (a softmax that is not saturated, BatchNormalization the identity) instead of N(0, 0.5)
whatever the fan-in. Values are drawn from the same distributions as Keras's, not the same numbers.
"""
from __future__ import annotations

import numpy as np

GLOROT = ("kernel", "depthwise_kernel", "pointwise_kernel")
ONES = ("gamma", "moving_variance", "moving_stddev", "renorm_stddev")


def fans(shape: tuple) -> tuple[int, int]:
    """Keras's compute_fans: (fan_in, fan_out) of a kernel, convolution taps counted on both sides."""
    if len(shape) < 2:
        size = int(np.prod(shape)) if shape else 1
        return size, size
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return int(shape[-2]) * receptive, int(shape[-1]) * receptive


def initial_weight(name: str, shape: tuple, rng) -> np.ndarray:
    """One weight as Keras initialises it by default (the layer's default initializer for that name)."""
    if name in GLOROT:  # glorot_uniform
        fan_in, fan_out = fans(shape)
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    if name == "recurrent_kernel":  # orthogonal, over the kernel flattened to (rows, units)
        rows, cols = int(np.prod(shape[:-1])), int(shape[-1])
        q, r = np.linalg.qr(rng.normal(size=(max(rows, cols), min(rows, cols))))
        q = q * np.sign(np.diag(r))
        return (q if rows >= cols else q.T).reshape(shape)
    if name == "embeddings":  # RandomUniform(-0.05, 0.05)
        return rng.uniform(-0.05, 0.05, size=shape)
    if name == "lora_kernel_a":  # he_uniform
        limit = np.sqrt(6.0 / fans(shape)[0])
        return rng.uniform(-limit, limit, size=shape)
    if name in ONES:
        return np.ones(shape)
    return np.zeros(shape)  # bias, beta, moving_mean, renorm_mean, lora_kernel_b


def initial_weights(weight_shapes, seed: int = 0) -> list[np.ndarray]:
    """Every weight of (layer, name, shape) triples, in that order, as Keras initialises them."""
    rng = np.random.default_rng(seed)
    return [initial_weight(name, tuple(shape), rng) for _, name, shape in weight_shapes]
