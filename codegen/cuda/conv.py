"""CUDA kernels of the conv layers (being written)."""
