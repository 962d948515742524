"""Statistics of a SID index: collisions before/after, code usage and usage entropy per level."""

from __future__ import annotations

import numpy as np

from genrec.tokenize.collisions import collision_summary


def level_usage(codes: np.ndarray, codebook_sizes: list[int] | None = None) -> list[dict]:
    """Per level: codes used, share of the codebook used, usage entropy (bits, and / log2 K)."""
    levels = []
    for level in range(codes.shape[1]):
        counts = np.bincount(codes[:, level][codes[:, level] >= 0])      # -1: a shorter SID has no such level
        counts = counts[counts > 0]
        p = counts / counts.sum()
        entropy = float(-(p * np.log2(p)).sum())
        size = codebook_sizes[level] if codebook_sizes and level < len(codebook_sizes) else len(np.bincount(codes[:, level][codes[:, level] >= 0]))
        levels.append({"level": level, "codebook_size": int(size), "codes_used": int(len(counts)),
                       "usage": round(len(counts) / size, 4), "entropy_bits": round(entropy, 4),
                       "entropy_normalised": round(entropy / np.log2(size), 4) if size > 1 else 1.0,
                       "largest_cluster": int(counts.max())})
    return levels


def index_stats(before: np.ndarray, after: np.ndarray, codebook_sizes: list[int] | None = None) -> dict:
    """`before`: codes as the tokenizer produced them; `after`: after collision handling."""
    pre, post = collision_summary(before), collision_summary(after)
    usage = level_usage(before, codebook_sizes)
    return {
        "items": int(len(before)),
        "levels": int(after.shape[1]),
        "sid_lengths": {str(n): int(c) for n, c in zip(*np.unique((after >= 0).sum(axis=1), return_counts=True))},
        "codebook_sizes": codebook_sizes,
        "collision_rate_before": round(pre["collision_rate"], 6),
        "duplicate_rate_before": round(pre["duplicate_rate"], 6),
        "items_in_collisions_before": pre["items_in_collisions"],
        "largest_group_before": pre["largest_group"],
        "collision_rate_after": round(post["collision_rate"], 6),
        "largest_group_after": post["largest_group"],
        "usage": usage,
        "usage_entropy_normalised_mean": round(float(np.mean([u["entropy_normalised"] for u in usage])), 4),
    }
