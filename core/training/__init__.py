"""Training at scale: data parallelism (`ddp`: ring all-reduce, DDP's buckets, real gloo runs)."""
