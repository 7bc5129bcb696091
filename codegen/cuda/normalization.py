"""CUDA kernels of the normalization layers (being written)."""
