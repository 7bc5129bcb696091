"""CUDA kernels of the recurrent layers (being written)."""
