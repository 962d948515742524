"""Collisions (several items, one SID): measure them, then make every SID unique.

Two remedies, selectable per tokenizer:
- `dedup_level`: append one level; the items of a collision group get <d_0>, <d_1>, ... by item id, every
  other item <d_0>, so all codes keep one length (only when there is a collision at all).
- `reassign_last`: move colliding items to the nearest *free* code of the last level under the same prefix
  (the item nearest the shared code keeps it), so SIDs keep their length and every code stays a real
  centroid. A prefix with more items than codes cannot be resolved this way: that is an error that says so.
"""

from __future__ import annotations

import numpy as np

from genrec.errors import GenrecError

METHODS = ("dedup_level", "reassign_last", "none")


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


def append_dedup_level(codes: np.ndarray) -> np.ndarray:
    groups = group_ids(codes)
    if len(np.unique(groups)) == len(codes):
        return codes
    # rank of each item inside its group, by item id (stable sort keeps id order)
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(order)) - first
    return np.column_stack([codes, rank])


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
    if method == "reassign_last":
        if last_distances is None:
            raise GenrecError("this tokenizer gives no last-level distances; use collision: dedup_level")
        return reassign_last_level(codes, last_distances)
    if method == "none":
        return codes
    raise GenrecError(f"unknown collision method '{method}'", key="collision", fix=f"use one of {METHODS}")
