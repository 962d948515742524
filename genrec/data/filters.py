"""The filters between raw reviews and the canonical interaction table, in MiniOneRec's order:
title filter, time window, iterative k-core; the window moves one year earlier while too few items survive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from genrec.data.cleaning import clean_title


def month_start_utc(year: int, month: int) -> int:
    """First second of a month as Unix time, in UTC.

    MiniOneRec uses the machine's local time zone, so its window edges shift by the host's UTC offset;
    UTC makes the split the same on every machine.
    """
    return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp())


@dataclass(frozen=True)
class TimeWindow:
    start_year: int
    start_month: int
    end_year: int
    end_month: int

    @property
    def bounds(self) -> tuple[int, int]:
        return month_start_utc(self.start_year, self.start_month), month_start_utc(self.end_year, self.end_month)

    def one_year_earlier(self) -> TimeWindow:
        return TimeWindow(self.start_year - 1, self.start_month, self.end_year, self.end_month)

    def __str__(self) -> str:
        return f"{self.start_year}-{self.start_month:02d} .. {self.end_year}-{self.end_month:02d}"

    @classmethod
    def parse(cls, start: str, end: str) -> TimeWindow:
        (sy, sm), (ey, em) = (map(int, str(start).split("-")), map(int, str(end).split("-")))
        return cls(sy, sm, ey, em)


def titled_items(meta: pd.DataFrame, apply_rule: bool) -> pd.Series:
    """Map source item id -> cleaned title for the items that survive the title rule.

    As in the original, when an id appears on several meta lines the last surviving title wins.
    With `apply_rule` off every item with meta keeps its title as given (pre-cleaned layouts).
    """
    if apply_rule:
        titles = meta["title"].map(clean_title)
    else:
        titles = meta["title"].map(lambda t: "" if t is None or (isinstance(t, float)) else str(t))
    kept = pd.Series(titles.values, index=meta["item"].values).dropna()
    return kept[~kept.index.duplicated(keep="last")]


def in_window(reviews: pd.DataFrame, window: TimeWindow) -> pd.DataFrame:
    """Keep reviews with start <= time <= end (the original drops `< start` and `> end`)."""
    start, end = window.bounds
    return reviews[(reviews["timestamp"] >= start) & (reviews["timestamp"] <= end)]


def keep_earliest(reviews: pd.DataFrame) -> pd.DataFrame:
    """Drop repeated (user, item) interactions, keeping the earliest (LC-Rec / CollisionGenRec style).

    The stable sort keeps file order among equal times, so the surviving row is deterministic.
    """
    earliest = reviews.sort_values("timestamp", kind="stable").drop_duplicates(["user", "item"], keep="first")
    return reviews.loc[reviews.index.isin(earliest.index)]


@dataclass
class KCoreResult:
    reviews: pd.DataFrame
    iterations: int


def k_core(reviews: pd.DataFrame, k: int) -> KCoreResult:
    """Iteratively drop users and items with fewer than k interactions until none remain.

    Each pass counts over the surviving rows and removes every user and item below k at once (as the
    original does); the result is the unique largest sub-table in which all users and items have >= k
    rows, repeated interactions counting each time.
    """
    current = reviews
    iterations = 0
    while True:
        iterations += 1
        user_counts = current["user"].value_counts()
        item_counts = current["item"].value_counts()
        weak_users = user_counts.index[user_counts < k]
        weak_items = item_counts.index[item_counts < k]
        if len(weak_users) == 0 and len(weak_items) == 0:
            return KCoreResult(current, iterations)
        current = current[~current["user"].isin(weak_users) & ~current["item"].isin(weak_items)]
