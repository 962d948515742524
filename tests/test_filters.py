"""Time window (UTC), dedup, and k-core to a fixed point."""

import pandas as pd

from genrec.data.filters import TimeWindow, in_window, k_core, keep_earliest, month_start_utc, titled_items
from genrec.data.raw import reviews_frame


def frame(rows):
    users, items, times = zip(*rows)
    return reviews_frame(list(users), list(items), [5.0] * len(rows), list(times))


def test_month_start_is_utc():
    assert month_start_utc(2016, 10) == 1_475_280_000  # 2016-10-01T00:00:00Z
    assert month_start_utc(2018, 11) == 1_541_030_400  # 2018-11-01T00:00:00Z


def test_window_keeps_both_edges_and_drops_outside():
    w = TimeWindow.parse("2016-10", "2018-11")
    start, end = w.bounds
    kept = in_window(frame([("u", "a", start - 1), ("u", "b", start), ("u", "c", end), ("u", "d", end + 1)]), w)
    assert kept["item"].tolist() == ["b", "c"]


def test_window_moves_one_year_earlier():
    assert str(TimeWindow.parse("2016-10", "2018-11").one_year_earlier()) == "2015-10 .. 2018-11"


def test_kcore_cascades_to_a_fixed_point():
    # d has one review -> dropped; then u4 keeps only a -> dropped; then a falls to 2 -> still >= 2.
    rows = [("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 3), ("u2", "b", 4), ("u3", "b", 5), ("u3", "c", 6),
            ("u4", "a", 7), ("u4", "d", 8), ("u5", "c", 9), ("u5", "b", 10)]
    result = k_core(frame(rows), k=2)
    assert result.iterations == 3
    assert sorted(result.reviews["user"].unique()) == ["u1", "u2", "u3", "u5"]
    assert sorted(result.reviews["item"].unique()) == ["a", "b", "c"]
    again = k_core(result.reviews, k=2)  # a fixed point: nothing more to remove
    assert again.iterations == 1 and len(again.reviews) == len(result.reviews)
    counts_u = again.reviews["user"].value_counts()
    counts_i = again.reviews["item"].value_counts()
    assert counts_u.min() >= 2 and counts_i.min() >= 2


def test_kcore_counts_repeated_interactions():
    rows = [("u1", "a", 1), ("u1", "a", 2), ("u2", "a", 3), ("u2", "b", 4), ("u1", "b", 5)]
    assert len(k_core(frame(rows), k=2).reviews) == 5


def test_dedup_keeps_the_earliest_repeat():
    rows = [("u1", "a", 5), ("u1", "b", 2), ("u1", "a", 1), ("u2", "a", 7)]
    kept = keep_earliest(frame(rows))
    assert kept[["user", "item", "timestamp"]].values.tolist() == [["u1", "b", 2], ["u1", "a", 1], ["u2", "a", 7]]


def test_titled_items_last_valid_title_wins_and_rule_can_be_off():
    meta = pd.DataFrame({"item": ["a", "b", "a", "c"], "title": ["Old a", None, "New a", "X"]})
    assert titled_items(meta, apply_rule=True).to_dict() == {"a": "New a"}
    assert titled_items(meta, apply_rule=False).to_dict() == {"a": "New a", "b": "", "c": "X"}
