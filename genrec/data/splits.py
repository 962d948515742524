"""Split protocols: every row is (user_id, history = previous items oldest first, target, timestamp,
history_timestamps = the history items' times), so a model that reads time (HSTU's time bias) has every
interaction's time, and the target's time is the time its recommendation is asked for.

- `time_811` (MiniOneRec): one row per position i >= 1 of each user's time-ordered sequence, history the
  previous <= max_history items; all rows sorted by target time (stable, so ties keep user then position
  order) and cut 80/10/10 with int(0.8 n), int(0.9 n) as the original does.
- `loo` (TIGER, LC-Rec, ETEGRec): a user's last item is the test target, the second last the valid
  target, every earlier prefix a train row; history capped at max_history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genrec.errors import GenrecError

SPLITS = ("train", "valid", "test")
SPLIT_COLUMNS = ["user_id", "history", "target", "timestamp", "history_timestamps"]


def _rows(interactions: pd.DataFrame, max_history: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Every (user, position >= 1) row, in user then position order, with the position and sequence length.

    `interactions` must be sorted by user_id, then time (the canonical table is).
    """
    users = interactions["user_id"].to_numpy()
    items = interactions["item_id"].to_numpy()
    times = interactions["timestamp"].to_numpy()
    if len(users) and np.any(np.diff(users) < 0):
        raise GenrecError("interactions are not grouped by user_id in ascending order", key="interactions")
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    lengths = np.diff(np.r_[starts, len(users)])
    first_of_row = np.repeat(starts, lengths)
    position = np.arange(len(users)) - first_of_row
    rows_at = np.flatnonzero(position >= 1)
    item_list = items.tolist()
    time_list = times.tolist()
    histories = [item_list[max(first_of_row[j], j - max_history): j] for j in rows_at]
    history_times = [time_list[max(first_of_row[j], j - max_history): j] for j in rows_at]
    frame = pd.DataFrame({
        "user_id": users[rows_at].astype("int64"),
        "history": histories,
        "target": items[rows_at].astype("int64"),
        "timestamp": times[rows_at].astype("int64"),
        "history_timestamps": history_times,
    })
    return frame, position[rows_at], np.repeat(lengths, lengths)[rows_at]


def split_time_811(interactions: pd.DataFrame, max_history: int,
                   ratios: tuple[float, float] = (0.8, 0.9)) -> dict[str, pd.DataFrame]:
    rows, _, _ = _rows(interactions, max_history)
    rows = rows.sort_values("timestamp", kind="stable").reset_index(drop=True)
    n = len(rows)
    train_end, valid_end = int(n * ratios[0]), int(n * ratios[1])
    return {
        "train": rows.iloc[:train_end].reset_index(drop=True),
        "valid": rows.iloc[train_end:valid_end].reset_index(drop=True),
        "test": rows.iloc[valid_end:].reset_index(drop=True),
    }


def split_loo(interactions: pd.DataFrame, max_history: int) -> dict[str, pd.DataFrame]:
    rows, position, length = _rows(interactions, max_history)
    from_end = length - position  # 1 for the last item, 2 for the second last
    return {
        "train": rows[from_end > 2].reset_index(drop=True),
        "valid": rows[from_end == 2].reset_index(drop=True),
        "test": rows[from_end == 1].reset_index(drop=True),
    }


PROTOCOLS = {"time_811": split_time_811, "loo": split_loo}


def make_splits(interactions: pd.DataFrame, protocol: str, max_history: int) -> dict[str, pd.DataFrame]:
    if protocol not in PROTOCOLS:
        raise GenrecError(f"unknown split protocol '{protocol}'", key="split.protocol",
                          fix=f"use one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[protocol](interactions, max_history=max_history)
