"""Optimisers written from their update equations, with `trace` hooks.

- `stochastic_approximation`: the incremental mean, Robbins–Monro root finding with step-size
  schedules a_k = a/k^p, SGD on least squares as stochastic approximation.
- `adam`: Adam with L2 weight decay (Kingma & Ba 2015) and AdamW's decoupled weight decay
  (Loshchilov & Hutter 2019), step for step as `torch.optim.Adam` / `torch.optim.AdamW`.
"""
