"""Large-language-model building blocks: the LLaMA decoder block, Mixture-of-Experts, Medusa."""
