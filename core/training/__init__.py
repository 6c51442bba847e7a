"""Training mechanics: what backprop stores (checkpointing), what low-precision formats hold."""
