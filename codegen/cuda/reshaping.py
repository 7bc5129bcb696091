"""CUDA kernels of the reshaping layers (being written)."""
