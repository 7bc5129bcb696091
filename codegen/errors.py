"""The code generator's error: a model shapeproof can analyse but not (yet) turn into kernels."""


class CodegenError(Exception):
    """Raised with a message saying what is not supported and how to get around it."""
