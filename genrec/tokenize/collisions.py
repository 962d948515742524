"""Collisions (several items, one SID): measure them, then make every SID unique.

Remedies, selectable per tokenizer:
- `dedup_level`: append one level; the items of a collision group get <d_0>, <d_1>, ... by item id, every
  other item <d_0>, so all codes keep one length (only when there is a collision at all; TIGER's).
- `extra_token`: only the members of a collision group get a 4th token, <d_1>, <d_2>, ... by item id; every
  other SID keeps its length, so SIDs differ in length but none is a prefix of another (MiniOneRec's
  `rqkmeans_constrained.py` / `generate_indices_plus.py`, its polars dedup).
- `sinkhorn_last`: re-code each collision group's last level by a Sinkhorn assignment over the group's
  distances (epsilon 0.003, 50 iterations), up to 20 rounds; groups still colliding then keep their shared SID
  (MiniOneRec's `generate_indices.py`: the released index has 31 such items).
- `reassign_last`: move colliding items to the nearest *free* code of the last level under the same prefix
  (the item nearest the shared code keeps it), so SIDs keep their length and every code stays a real
  centroid. A prefix with more items than codes cannot be resolved this way: that is an error that says so.
"""

from __future__ import annotations

import numpy as np

from genrec.errors import GenrecError

METHODS = ("dedup_level", "extra_token", "sinkhorn_last", "reassign_last", "none")
# MiniOneRec's generate_indices.py @ 81b4ba9: epsilon of the last level when training used none (:108-110), the
# checkpoint's sk_iters (rqvae.sh's default), and the rounds (:112-116)
SINKHORN_EPSILON, SINKHORN_ITERS, SINKHORN_ROUNDS = 0.003, 50, 20
# collision handling that may leave items sharing a SID, by design
KEEPS_COLLISIONS = ("sinkhorn_last", "none")


def group_ids(codes: np.ndarray) -> np.ndarray:
    """Per item, the index of its distinct SID (items sharing a SID share the id)."""
    _, inverse = np.unique(codes, axis=0, return_inverse=True)
    return inverse.reshape(-1)


def collision_summary(codes: np.ndarray) -> dict:
    """collision_rate: share of items whose SID is shared with another item (the stricter, usual reading);
    duplicate_rate: 1 - distinct SIDs / items (LC-Rec's `collision rate`); and the largest group."""
    groups = group_ids(codes)
    sizes = np.bincount(groups)
    n = len(codes)
    in_collisions = int(sizes[sizes > 1].sum())
    return {
        "collision_rate": in_collisions / n if n else 0.0,
        "duplicate_rate": float(1.0 - len(sizes) / n) if n else 0.0,
        "items_in_collisions": in_collisions,
        "largest_group": int(sizes.max()) if n else 0,
        "distinct_sids": int(len(sizes)),
    }


def rank_in_group(groups: np.ndarray) -> np.ndarray:
    """Each item's 0-based rank among the items of its group, by item id."""
    order = np.argsort(groups, kind="stable")          # a stable sort keeps id order inside a group
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty(len(groups), dtype=np.int64)
    rank[order] = np.arange(len(order)) - first
    return rank


def append_dedup_level(codes: np.ndarray) -> np.ndarray:
    groups = group_ids(codes)
    if len(np.unique(groups)) == len(codes):
        return codes
    return np.column_stack([codes, rank_in_group(groups)])


def append_extra_token(codes: np.ndarray) -> np.ndarray:
    """The members of each collision group get one more code, 1, 2, ... by item id; the others none (-1)."""
    groups = group_ids(codes)
    colliding = np.bincount(groups)[groups] > 1
    if not colliding.any():
        return codes
    return np.column_stack([codes, np.where(colliding, rank_in_group(groups) + 1, -1)])


def sinkhorn_last_level(codes: np.ndarray, last_distances: np.ndarray) -> np.ndarray:
    """Each round, every collision group's last codes become its Sinkhorn assignment over the group's own
    distances to the last codebook; after `SINKHORN_ROUNDS` rounds what still collides stays shared."""
    from genrec.tokenize.rqvae import sinkhorn_assign
    import torch

    codes = codes.copy()
    for _ in range(SINKHORN_ROUNDS):
        groups = group_ids(codes)
        sizes = np.bincount(groups)
        if (sizes <= 1).all():
            break
        for group in np.flatnonzero(sizes > 1):
            members = np.flatnonzero(groups == group)
            distances = torch.from_numpy(last_distances[members])
            codes[members, -1] = sinkhorn_assign(distances, SINKHORN_EPSILON, SINKHORN_ITERS).numpy()
    return codes


def reassign_last_level(codes: np.ndarray, last_distances: np.ndarray) -> np.ndarray:
    """`last_distances[i, k]`: distance of item i's last-level residual to code k of the last codebook."""
    codes = codes.copy()
    codebook_size = last_distances.shape[1]
    taken: dict[tuple, set[int]] = {}
    for row in codes:
        taken.setdefault(tuple(row[:-1]), set()).add(int(row[-1]))
    groups = group_ids(codes)
    sizes = np.bincount(groups)
    for group in np.flatnonzero(sizes > 1):
        members = np.flatnonzero(groups == group)
        prefix = tuple(codes[members[0], :-1])
        shared = codes[members[0], -1]
        # the member closest to the shared code keeps it; the others move, closest first
        members = members[np.argsort(last_distances[members, shared], kind="stable")]
        for item in members[1:]:
            free = [k for k in np.argsort(last_distances[item], kind="stable") if int(k) not in taken[prefix]]
            if not free:
                raise GenrecError(
                    f"prefix {[int(c) for c in prefix]} holds more items than the {codebook_size} codes of the last level",
                    key="collision", fix="use collision: dedup_level, or a larger last codebook")
            codes[item, -1] = free[0]
            taken[prefix].add(int(free[0]))
    return codes


def resolve(codes: np.ndarray, method: str, last_distances: np.ndarray | None = None) -> np.ndarray:
    if method == "dedup_level":
        return append_dedup_level(codes)
    if method == "extra_token":
        return append_extra_token(codes)
    if method == "sinkhorn_last":
        if last_distances is None:
            raise GenrecError("this tokenizer gives no last-level distances; use collision: extra_token")
        return sinkhorn_last_level(codes, last_distances)
    if method == "reassign_last":
        if last_distances is None:
            raise GenrecError("this tokenizer gives no last-level distances; use collision: dedup_level")
        return reassign_last_level(codes, last_distances)
    if method == "none":
        return codes
    raise GenrecError(f"unknown collision method '{method}'", key="collision", fix=f"use one of {METHODS}")
