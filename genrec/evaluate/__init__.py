"""Evaluation: ranking metrics (constrained beam search and sharded prediction arrive with the SFT stage)."""
