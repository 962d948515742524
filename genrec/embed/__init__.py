"""Embedding stage: item text -> one float32 vector per item (row i = item_id i)."""
