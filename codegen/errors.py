"""The code generator's error: a model shapeproof can analyse but not (yet) turn into kernels."""


class CodegenError(Exception):
    """Raised with a message saying what is not supported and how to get around it."""


def masks_unsupported(layer) -> CodegenError:
    """Embedding(mask_zero=True): the mask changes later layers, and no target models masks."""
    return CodegenError(f"{layer.name}: Embedding(mask_zero=True) makes a mask for later layers, and masking "
                        "is not supported by generated kernels (they would use the padded positions); "
                        "use mask_zero=False")
