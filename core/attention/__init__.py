"""Attention: the naive baseline, tiled FlashAttention in PyTorch, the Triton kernel, the IO model."""
