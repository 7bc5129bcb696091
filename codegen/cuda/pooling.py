"""CUDA kernels of the pooling layers (being written)."""
