"""Each user's training sequence, rebuilt from the training split's rows.

The splits store rows (history, target) with capped histories (10 items under `time_811`, 50 under `loo`), so
no single row holds a user's sequence: it is the history of the user's first training row followed by the
target of every training row, in time order. Sequence-level training (the baselines; SFT's `sequence` mode)
reads it instead of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from genrec.errors import GenrecError


@dataclass(frozen=True)
class UserSequence:
    user: int
    items: list[int]           # oldest first
    first_target: int          # index in `items` of the first training target (the length of the first history)
    rows: pd.DataFrame         # the user's training rows, in time order (row k's target is items[first_target + k])
    times: list[int] | None = None   # each item's time; None where the split has no history_timestamps


def user_sequences(train: pd.DataFrame) -> list[UserSequence]:
    """Every user's training sequence, users in id order, with its items' times where the split has them."""
    ordered = train.sort_values(["user_id", "timestamp"], kind="stable") if "timestamp" in train else train
    timed = has_history_times(train)
    out = []
    for user, rows in ordered.groupby("user_id", sort=True):
        history = [int(i) for i in rows["history"].iloc[0]]
        times = None
        if timed:
            times = [int(t) for t in rows["history_timestamps"].iloc[0]] + [int(t) for t in rows["timestamp"]]
        out.append(UserSequence(int(user), history + [int(t) for t in rows["target"]], len(history), rows, times))
    return out


def has_history_times(split: pd.DataFrame) -> bool:
    """Whether every row of `split` holds its history's times (splits written before the column, and releases of
    rows without times, hold none)."""
    return "history_timestamps" in split and bool(split["history_timestamps"].notna().all())


def require_history_times(split: pd.DataFrame) -> None:
    """Refuse a split without its history's times, for a model that reads them."""
    if not has_history_times(split):
        raise GenrecError("the split holds no history_timestamps, which a time-aware model reads",
                          key="history_timestamps", fix="re-run the dataset's preprocess rule (splits written before "
                          "the column lack it); a dataset without real timestamps trains without the time bias")


def query_times(split: pd.DataFrame) -> list[list[int]]:
    """Per row, its history's times followed by the target's: the time the next item is asked for."""
    require_history_times(split)
    return [[int(t) for t in times] + [int(target_time)]
            for times, target_time in zip(split["history_timestamps"], split["timestamp"])]
