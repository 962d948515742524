"""Top-K ranking metrics with one relevant item per evaluation row: HR@K and NDCG@K (IDCG = 1).

Every generative model and baseline is scored by these functions, so their numbers are comparable.
The unit of evaluation is the split's row (user + position): under `time_811` a user has several test rows,
under `loo` exactly one. Per-row values are kept so that confidence intervals can be bootstrapped; the
bootstrap resamples users with all of their rows (rows of one user are not independent draws).

When SIDs still collide, a generated SID stands for G items; `weights` carries 1/G for the target's
group, so a hit on a shared SID counts as the chance of picking the right item among the G
("collision-corrected" metrics).
"""

from __future__ import annotations

import numpy as np

from genrec.evaluate.settings import DEFAULT_KS


def first_hit_rank(ranked: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each user's target in their ranked list, or -1 when it is absent.

    `ranked` is users x L (item ids, best first; -1 pads lists shorter than L); `targets` is users.
    """
    ranked = np.asarray(ranked)
    hits = ranked == np.asarray(targets)[:, None]
    found = hits.any(axis=1)
    return np.where(found, hits.argmax(axis=1), -1)


def per_row_metrics(ranks: np.ndarray, ks: tuple[int, ...] = DEFAULT_KS,
                     weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """hr@K and ndcg@K for every row from the target ranks (-1 = miss)."""
    ranks = np.asarray(ranks)
    weight = np.ones(len(ranks)) if weights is None else np.asarray(weights, dtype=float)
    gain = np.where(ranks >= 0, 1.0 / np.log2(np.maximum(ranks, 0) + 2.0), 0.0)
    out = {}
    for k in ks:
        inside = (ranks >= 0) & (ranks < k)
        out[f"hr@{k}"] = inside * weight
        out[f"ndcg@{k}"] = np.where(inside, gain, 0.0) * weight
    return out


def ranking_metrics(ranked: np.ndarray, targets: np.ndarray, ks: tuple[int, ...] = DEFAULT_KS,
                    weights: np.ndarray | None = None) -> dict[str, float]:
    """Mean hr@K and ndcg@K over rows. Raises if a list is shorter than the largest K asks for."""
    ranked = np.asarray(ranked)
    if ranked.ndim != 2 or len(ranked) != len(targets):
        raise ValueError(f"ranked must be users x L with one row per target; got {ranked.shape} for {len(targets)}")
    if ranked.shape[1] < max(ks):
        raise ValueError(f"lists hold {ranked.shape[1]} items but metrics ask for K = {max(ks)}")
    values = per_row_metrics(first_hit_rank(ranked, targets), ks, weights)
    return {name: float(v.mean()) if len(v) else 0.0 for name, v in values.items()}


def bootstrap_interval(per_row: np.ndarray, users: np.ndarray | None = None, n_resamples: int = 1000,
                       level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over rows, resampling users with replacement and all rows of
    a drawn user together (a cluster bootstrap). `users=None` treats every row as its own user; with one row per
    user (`loo`) both are the same draw."""
    values = np.asarray(per_row, dtype=float)
    if users is None:
        sums, counts = values, np.ones(len(values))
    else:
        _, cluster = np.unique(np.asarray(users), return_inverse=True)
        sums, counts = np.bincount(cluster, weights=values), np.bincount(cluster).astype(float)
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(sums), size=(n_resamples, len(sums)))
    means = sums[drawn].sum(axis=1) / counts[drawn].sum(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def seeds_bootstrap_interval(per_row: np.ndarray, users: np.ndarray | None = None, n_resamples: int = 1000,
                             level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean over seeds and rows when `per_row` (seeds x rows) holds one run per
    training seed on the same rows: each draw resamples the seeds and, as `bootstrap_interval`, the users with
    all their rows. It covers training noise as well as test sampling, which one run's interval cannot."""
    values = np.asarray(per_row, dtype=float)
    if users is None:
        cluster = np.arange(values.shape[1])
    else:
        _, cluster = np.unique(np.asarray(users), return_inverse=True)
    n_users = int(cluster.max()) + 1
    sums = np.stack([np.bincount(cluster, weights=run, minlength=n_users) for run in values])   # seeds x users
    counts = np.bincount(cluster, minlength=n_users).astype(float)
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for b in range(n_resamples):
        seeds = rng.integers(0, len(values), size=len(values))
        drawn = rng.integers(0, n_users, size=n_users)
        means[b] = sums[np.ix_(seeds, drawn)].sum() / (counts[drawn].sum() * len(seeds))
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def paired_difference(a: np.ndarray, b: np.ndarray, users: np.ndarray | None = None, n_resamples: int = 1000,
                      level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Mean of `a - b` over the same rows answered by two runs, with its paired bootstrap interval (users
    resampled with their rows, as `bootstrap_interval`). Pairing removes the between-user variance that two
    separate intervals would carry, so small but consistent differences show."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired runs must score the same rows; got {a.shape} and {b.shape}")
    low, high = bootstrap_interval(a - b, users, n_resamples, level, seed)
    return {"difference": float((a - b).mean()), "ci_low": low, "ci_high": high, "n_rows": int(len(a))}
