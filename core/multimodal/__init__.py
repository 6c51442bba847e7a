"""Multimodal pretraining: contrastive image–text losses and a toy world to train them on."""
