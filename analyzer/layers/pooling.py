"""pooling layers (being written)."""
