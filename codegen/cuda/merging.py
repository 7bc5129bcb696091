"""CUDA kernels of the merging layers (being written)."""
