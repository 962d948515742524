"""What every tokenizer returns: integer codes, plus what collision handling needs from the last level."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Quantized:
    codes: np.ndarray                 # items x levels, int64; row i = item i
    last_distances: np.ndarray | None  # items x K_last: squared distance of each item's last residual to each code
    info: dict = field(default_factory=dict)  # method-specific facts for stats.json (losses, epochs, ...)
    # a learned tokenizer's model (`genrec.tokenize.rqvae.model_state`): what ETEGRec starts its tokenizer from
    state: dict | None = None


def squared_distances(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """||p - c||^2 for every pair, in float64 so ties and argmins do not depend on summation order."""
    p = points.astype(np.float64)
    c = centroids.astype(np.float64)
    return (p * p).sum(1)[:, None] - 2.0 * p @ c.T + (c * c).sum(1)[None, :]
