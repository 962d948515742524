"""The in-memory form every raw loader produces, before cleaning and filtering.

Loaders stream their files line by line into these two tables; everything after (title filter,
time window, k-core, id assignment) is shared and source-independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

REVIEW_COLUMNS = ["user", "item", "rating", "timestamp"]
META_COLUMNS = ["item", "title", "description", "brand", "categories"]


@dataclass
class RawDataset:
    """Reviews in file order and item metadata, keyed by the source's own ids.

    reviews: user (str), item (str), rating (float, NaN when the source has none), timestamp (int,
        Unix seconds; a per-user position when the source has no times).
    meta: item (str), title (raw, None when absent), description (str), brand (str), categories (list).
    id_order: how canonical ids are assigned. "first_seen" follows MiniOneRec (users in order of first
        review, items in order of first appearance in the users' time-sorted histories); "numeric" keeps
        the order of already-numeric source ids (LC-Rec / MiniOneRec layouts, whose SID indexes are
        keyed by those ids).
    """

    reviews: pd.DataFrame
    meta: pd.DataFrame
    has_timestamps: bool
    id_order: Literal["first_seen", "numeric"]
    source_files: dict[str, str]


def reviews_frame(users: list[str], items: list[str], ratings: list[float], timestamps: list[int]) -> pd.DataFrame:
    """Build the reviews table with compact dtypes (categoricals keep 10M-row files in memory)."""
    return pd.DataFrame(
        {
            "user": pd.Series(users, dtype="string"),
            "item": pd.Series(items, dtype="string"),
            "rating": pd.Series(ratings, dtype="float32"),
            "timestamp": pd.Series(timestamps, dtype="int64"),
        }
    )


def meta_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=META_COLUMNS)
    frame["item"] = frame["item"].astype("string")
    return frame
