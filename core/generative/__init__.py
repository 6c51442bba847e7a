"""Generative models: normalizing flows, flow matching, Stable Diffusion 3's training choices."""
