"""Every layer kind shapeproof knows, one family per module, registered by name in REGISTRY."""
from . import activations, attention, conv, core, einsum, merging, normalization, ops, pooling, recurrent, reshaping, wrappers  # noqa: F401  (registers)
from .base import alias

# Keras's own aliases: the same classes under a second name.
for _rank in (1, 2, 3):
    alias(f"MaxPool{_rank}D", f"MaxPooling{_rank}D")
    alias(f"AvgPool{_rank}D", f"AveragePooling{_rank}D")
    alias(f"GlobalMaxPool{_rank}D", f"GlobalMaxPooling{_rank}D")
    alias(f"GlobalAvgPool{_rank}D", f"GlobalAveragePooling{_rank}D")
    alias(f"Convolution{_rank}D", f"Conv{_rank}D")
for _name in ("Conv2DTranspose", "Conv3DTranspose"):
    alias(_name.replace("Conv", "Convolution"), _name)
for _rank in (1, 2):
    alias(f"SeparableConvolution{_rank}D", f"SeparableConv{_rank}D")

from .base import (ACTIVATIONS, REGISTRY, Constraint, Layer, Weight, build_layer, format_shape,
                   to_snake_case)

__all__ = ["ACTIVATIONS", "REGISTRY", "Constraint", "Layer", "Weight", "build_layer", "format_shape", "to_snake_case"]
