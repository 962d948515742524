"""Both split protocols on hand-checked examples (exact rows)."""

import pandas as pd

from genrec.data.sequences import query_times, user_sequences
from genrec.data.splits import split_loo, split_time_811


def interactions(seqs: dict[int, list[tuple[int, int]]]) -> pd.DataFrame:
    rows = [(u, item, t) for u, seq in sorted(seqs.items()) for item, t in seq]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).assign(rating=5.0)


def rows(frame):
    return [(r.user_id, list(r.history), r.target, r.timestamp) for r in frame.itertuples()]


def test_time_811_sliding_window_global_sort_and_cut():
    # 3 users, 13 interactions -> 10 rows; ties at t=50 keep user order (user 0 before user 2).
    data = interactions({
        0: [(10, 1), (11, 20), (12, 50), (13, 90)],
        1: [(11, 5), (14, 30), (10, 40), (12, 100)],
        2: [(13, 2), (10, 3), (14, 50), (11, 60), (15, 70)],
    })
    splits = split_time_811(data, max_history=2)
    assert rows(splits["train"]) == [
        (2, [13], 10, 3),
        (0, [10], 11, 20),
        (1, [11], 14, 30),
        (1, [11, 14], 10, 40),
        (0, [10, 11], 12, 50),   # history capped at the last 2 items
        (2, [13, 10], 14, 50),
        (2, [10, 14], 11, 60),
        (2, [14, 11], 15, 70),
    ]
    assert rows(splits["valid"]) == [(0, [11, 12], 13, 90)]
    assert rows(splits["test"]) == [(1, [14, 10], 12, 100)]


def test_time_811_uses_int_cuts_like_the_original():
    data = interactions({0: [(i, i) for i in range(6)]})  # 5 rows: int(4.0)=4, int(4.5)=4
    splits = split_time_811(data, max_history=10)
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [4, 0, 1]


def test_loo_last_to_test_second_last_to_valid_prefixes_to_train():
    data = interactions({0: [(10, 1), (11, 2), (12, 3), (13, 4)], 1: [(20, 1), (21, 2), (22, 3)]})
    splits = split_loo(data, max_history=2)
    assert rows(splits["train"]) == [(0, [10], 11, 2)]
    assert rows(splits["valid"]) == [(0, [10, 11], 12, 3), (1, [20], 21, 2)]
    assert rows(splits["test"]) == [(0, [11, 12], 13, 4), (1, [20, 21], 22, 3)]


def test_every_row_keeps_its_historys_times_and_a_users_sequence_its_items_times():
    """HSTU's time bias reads each history item's time and the target's (the time the next item is asked for)."""
    data = interactions({0: [(10, 1), (11, 20), (12, 50), (13, 90)], 1: [(20, 5), (21, 7), (22, 9)]})
    splits = split_loo(data, max_history=2)
    assert [list(t) for t in splits["test"]["history_timestamps"]] == [[20, 50], [5, 7]]
    assert query_times(splits["test"]) == [[20, 50, 90], [5, 7, 9]]
    assert [list(t) for t in split_time_811(data, max_history=2)["train"]["history_timestamps"]] == \
        [[5], [5, 7], [1], [1, 20]]         # rows in target-time order: 7, 9 (user 1), 20, 50 (user 0)
    (sequence,) = user_sequences(splits["train"])
    assert sequence.items == [10, 11] and sequence.times == [1, 20]
