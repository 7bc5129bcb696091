"""wrappers layers (being written)."""
