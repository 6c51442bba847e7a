"""Parameter-efficient fine-tuning, written from the papers' equations, with `trace` hooks.

- `shapes`: real model shapes (LLaMA, GPT-3) and the (in, out) of every adapted matrix.
- `lora`: LoRA's low-rank update W + (α/r)BA (Hu et al. 2021), merging, parameter counts,
  Houlsby adapters (Houlsby et al. 2019), the subspace similarity φ, and a live toy fine-tune.
- `prompt_tuning`: prefix attention (Li & Liang 2021), prompt tuning (Lester et al. 2021),
  P-tuning (Liu et al. 2021), deep prompts (P-Tuning v2), counts, and a tiny causal LM.
"""
