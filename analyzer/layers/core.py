"""Core layers: Dense, Activation, Dropout, SpatialDropout1D/2D, Flatten, Reshape, Permute,
RepeatVector, Embedding."""
from __future__ import annotations

import sympy

from .base import Activation, Bool, Ignored, Int, Layer, Weight, layer

INITIALIZER_ARGS = {name: Ignored() for name in (
    "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
    "activity_regularizer", "kernel_constraint", "bias_constraint", "lora_rank", "lora_alpha",
    "quantization_config")}


@layer("Dense", units=Int(), activation=Activation(), use_bias=Bool(True), **INITIALIZER_ARGS)
class Dense(Layer):
    """Dense(units): (batch, ..., C) -> (batch, ..., units); acts on the last axis only."""

    def check_input(self, x):
        if len(x) < 2:
            raise self.error("Dense needs an input of rank 2 or more")

    def output_shape(self, x):
        return (*x[:-1], self.units)

    def weights(self, x):
        return [Weight("kernel", (x[-1], self.units))] + ([Weight("bias", (self.units,))] if self.use_bias else [])

    def macs(self, x):
        return sympy.Mul(*x[:-1]) * x[-1] * self.units

    def receptive_field(self, x, rf):
        return rf.mix_features()
