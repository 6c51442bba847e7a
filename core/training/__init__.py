"""Training mechanics: what backprop stores (checkpointing), what low-precision formats hold,
and data parallelism (`ddp`: ring all-reduce, DDP's buckets, real gloo runs)."""
