"""Every layer kind shapeproof knows, one family per module, registered by name in REGISTRY."""
from . import conv, core, merging, normalization, pooling, recurrent, reshaping, wrappers  # noqa: F401  (registers)
from .base import (ACTIVATIONS, REGISTRY, Constraint, Layer, Weight, build_layer, format_shape,
                   to_snake_case)

__all__ = ["ACTIVATIONS", "REGISTRY", "Constraint", "Layer", "Weight", "build_layer", "format_shape", "to_snake_case"]
