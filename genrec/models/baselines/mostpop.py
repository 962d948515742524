"""MostPop: every row gets the items most often bought in the training split (targets of its rows),
ties broken by item id. History items stay in the list unless the run masks them (`evaluate.mask_history`),
the rule every model of a run follows."""

from __future__ import annotations

import numpy as np
import pandas as pd


def popularity(train: pd.DataFrame, n_items: int) -> np.ndarray:
    return np.bincount(train["target"].to_numpy(), minlength=n_items)


def most_popular(train: pd.DataFrame, n_items: int, k: int) -> np.ndarray:
    """The k most popular item ids, most popular first."""
    counts = popularity(train, n_items)
    return np.lexsort((np.arange(n_items), -counts))[:k]


def most_popular_per_row(train: pd.DataFrame, n_items: int, k: int, histories: list[list[int]],
                         mask_history: bool) -> np.ndarray:
    """rows x k: the k most popular items for each row, less the row's history items when masking."""
    if not mask_history:
        return np.tile(most_popular(train, n_items, k), (len(histories), 1))
    longest = max((len(set(h)) for h in histories), default=0)
    ranked = most_popular(train, n_items, min(n_items, k + longest))
    out = np.empty((len(histories), k), dtype=np.int64)
    for row, history in enumerate(histories):
        seen = set(history)
        out[row] = [item for item in ranked if item not in seen][:k]
    return out
