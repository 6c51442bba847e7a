"""Sequence models: recurrent cells, state-space models."""
