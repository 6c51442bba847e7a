"""Alignment and instruction data, written from the papers.

- `dpo`: the DPO loss (Rafailov et al. 2023), IPO's (Azar et al. 2024), the KL-regularised optimum
  π* ∝ π_ref·exp(r/β), DPO on a table of K responses, and the RLHF route on the same pairs.
- `self_instruct`: ROUGE-L (Lin 2004) one pair and all pairs at once, Self-Instruct's novelty
  filter (Wang et al. 2023) and Alpaca's prompt template (Taori et al. 2023).
"""
