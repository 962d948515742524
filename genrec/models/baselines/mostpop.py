"""MostPop: every user gets the items most often bought in the training split (targets of its rows),
ties broken by item id. History items are not masked (the split's repeat-consumption convention)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def popularity(train: pd.DataFrame, n_items: int) -> np.ndarray:
    return np.bincount(train["target"].to_numpy(), minlength=n_items)


def most_popular(train: pd.DataFrame, n_items: int, k: int) -> np.ndarray:
    """The k most popular item ids, most popular first."""
    counts = popularity(train, n_items)
    return np.lexsort((np.arange(n_items), -counts))[:k]
