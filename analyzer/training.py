"""Training memory, symbolic: what one training step holds, as torchinfo's "Estimated Total Size".

Parameters (float32), a gradient per trainable parameter, the optimizer's state per trainable
parameter (Keras's defaults: SGD without momentum keeps none, Adam and AdamW two moments, RMSprop
and Adagrad one accumulator), and the activations the backward pass needs: the inputs and every
layer's outputs, kept from the forward pass, plus their gradients of the same size (as torchinfo's
"forward/backward pass size"). An estimate of what must be resident, not of an allocator's peak.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy

from .graph import DTYPE_BYTES, Model

OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "rmsprop": 1, "adagrad": 1, "adam": 2, "adamw": 2}


@dataclass
class TrainingMemory:
    optimizer: str
    parameters: sympy.Expr
    gradients: sympy.Expr
    optimizer_state: sympy.Expr
    activations: sympy.Expr

    @property
    def total(self) -> sympy.Expr:
        return self.parameters + self.gradients + self.optimizer_state + self.activations


def training_memory(model: Model, optimizer: str) -> TrainingMemory:
    """Bytes one training step of `model` with `optimizer` (a key of OPTIMIZER_SLOTS) keeps resident."""
    weight = DTYPE_BYTES["float32"]
    trainable = model.trainable_params * weight
    kept = sum((sympy.Mul(*i.shape) * DTYPE_BYTES[i.dtype] for i in model.inputs), sympy.Integer(0)) + \
        sum((n.bytes for n in model.nodes), sympy.Integer(0))
    return TrainingMemory(optimizer, model.total_params * weight, trainable, OPTIMIZER_SLOTS[optimizer] * trainable,
                          2 * kept)
