"""CUDA kernels of the wrappers layers (being written)."""
