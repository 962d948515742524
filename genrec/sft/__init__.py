"""Supervised fine-tuning: task datasets built from the splits, prompt templates, and the training entry point."""
