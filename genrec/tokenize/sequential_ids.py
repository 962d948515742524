"""SID: sequential indexing (Hua et al., "How to Index Item IDs for Recommendation Foundation Models",
SIGIR-AP 2023; code Wenyueh/LLM-RecSys-ID @ 2200ad9).

Items are numbered in the order they first appear in the training data, users in id order and each user's
items in time order (data/sequential_generation.py:6-43), so items that co-occur early in many histories get
neighbouring numbers; the numbers start at 1001 (data.py:165-169, `str(int(id) + 1000)`). The original writes
`item_1001` and lets T5's SentencePiece split the digits (`100`, `1`), so that neighbouring numbers share
leading tokens. Without that vocabulary we write the number's decimal digits, one level per digit, zero-padded
to a fixed width so that no SID is a prefix of another: `1001` -> `<a_1><b_0><c_0><d_1>`. docs/fidelity.md
names both differences.
"""

from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Sequence

import numpy as np

from genrec.tokenize.quantized import Quantized


@dataclass(frozen=True)
class SequentialParams:
    """`tokenizers.<name>.params` of method `sequential`."""

    start: int = 1001      # the first item's number (the original's +1000 offset on ids from 1)
    base: int = 10         # digits per level: decimal, as the original's numbers are written


def first_appearance_order(sequences: Sequence[Sequence[int]], n_items: int) -> tuple[np.ndarray, int]:
    """rank[item]: the item's position in the order of first appearance over the users' training sequences
    (`sequences`: users in id order, items oldest first; genrec.data.sequences). Items that never occur in training come after, in id order: the original
    numbers them by their appearance in the held-out part of the sequences, which would read validation and
    test; ours reads the training split only. Also returns how many items occur in training."""
    rank = np.full(n_items, -1, dtype=np.int64)
    seen = 0
    for sequence in sequences:
        for item in sequence:
            if rank[item] < 0:
                rank[item] = seen
                seen += 1
    unseen = np.flatnonzero(rank < 0)
    rank[unseen] = np.arange(seen, seen + len(unseen))
    return rank, seen


def digits(numbers: np.ndarray, base: int) -> np.ndarray:
    """Fixed-width base-`base` digits of each number, most significant first (items x width)."""
    width = 1
    while base ** width <= numbers.max():
        width += 1
    powers = base ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (numbers[:, None] // powers[None, :]) % base


def sequential_ids(sequences: Sequence[Sequence[int]], n_items: int, params: SequentialParams) -> Quantized:
    """Each item's sequential number, written as digit codes (one level per digit)."""
    rank, in_training = first_appearance_order(sequences, n_items)
    numbers = rank + params.start
    codes = digits(numbers, params.base)
    return Quantized(codes, None, {
        "numbers": [int(numbers.min()), int(numbers.max())], "digits": int(codes.shape[1]),
        "items_in_training": in_training})
