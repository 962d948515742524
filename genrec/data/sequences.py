"""Each user's training sequence, rebuilt from the training split's rows.

The splits store rows (history, target) with capped histories (10 items under `time_811`, 50 under `loo`), so
no single row holds a user's sequence: it is the history of the user's first training row followed by the
target of every training row, in time order. Sequence-level training (the baselines; SFT's `sequence` mode)
reads it instead of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class UserSequence:
    user: int
    items: list[int]           # oldest first
    first_target: int          # index in `items` of the first training target (the length of the first history)
    rows: pd.DataFrame         # the user's training rows, in time order (row k's target is items[first_target + k])


def user_sequences(train: pd.DataFrame) -> list[UserSequence]:
    """Every user's training sequence, users in id order."""
    ordered = train.sort_values(["user_id", "timestamp"], kind="stable") if "timestamp" in train else train
    out = []
    for user, rows in ordered.groupby("user_id", sort=True):
        history = [int(i) for i in rows["history"].iloc[0]]
        out.append(UserSequence(int(user), history + [int(t) for t in rows["target"]], len(history), rows))
    return out
