"""Ranking metrics on hand-made rankings."""

import math

import numpy as np
import pytest

from genrec.evaluate.metrics import (bootstrap_interval, first_hit_rank, paired_difference, per_row_metrics,
                                    ranking_metrics)


def test_hand_made_rankings():
    ranked = np.array([[5, 7, 9], [7, 5, 9], [1, 2, 3], [9, 9, -1]])
    targets = np.array([5, 5, 7, 9])
    assert first_hit_rank(ranked, targets).tolist() == [0, 1, -1, 0]
    m = ranking_metrics(ranked, targets, ks=(1, 3))
    assert m["hr@1"] == pytest.approx(2 / 4)
    assert m["hr@3"] == pytest.approx(3 / 4)
    assert m["ndcg@1"] == pytest.approx(2 / 4)
    assert m["ndcg@3"] == pytest.approx((1 + 1 / math.log2(3) + 0 + 1) / 4)


def test_rank_beyond_k_counts_nothing():
    m = ranking_metrics(np.array([[1, 2, 3, 4]]), np.array([4]), ks=(3, 4))
    assert m["hr@3"] == 0 and m["ndcg@3"] == 0
    assert m["hr@4"] == 1 and m["ndcg@4"] == pytest.approx(1 / math.log2(5))


def test_collision_corrected_weights():
    # the target's SID is shared by 2 items (weight 1/2) for user 0, unique for user 1
    values = per_row_metrics(np.array([0, 2]), ks=(1, 3), weights=np.array([0.5, 1.0]))
    assert values["hr@1"].tolist() == [0.5, 0.0]
    assert values["ndcg@3"].tolist() == pytest.approx([0.5, 1 / math.log2(4)])


def test_lists_shorter_than_k_are_refused():
    with pytest.raises(ValueError, match="ask for K = 10"):
        ranking_metrics(np.zeros((2, 5), dtype=int), np.array([1, 2]), ks=(5, 10))


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_users():
    rng = np.random.default_rng(1)
    small, large = ((rng.random(n) < 0.1).astype(float) for n in (200, 20_000))
    lo_s, hi_s = bootstrap_interval(small)
    lo_l, hi_l = bootstrap_interval(large)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3


def test_bootstrap_resamples_users_with_all_their_rows():
    """One row per user: the same draw as resampling rows. Users with many correlated rows: a wider interval than
    rows treated as independent (the time_811 case)."""
    rng = np.random.default_rng(2)
    values = (rng.random(500) < 0.2).astype(float)
    assert bootstrap_interval(values, np.arange(500)) == bootstrap_interval(values)
    users = np.repeat(np.arange(100), 5)
    clustered = np.repeat((rng.random(100) < 0.2).astype(float), 5)      # a user hits on all rows or none
    low_c, high_c = bootstrap_interval(clustered, users)
    low_r, high_r = bootstrap_interval(clustered)
    assert low_c <= clustered.mean() <= high_c and high_c - low_c > 1.8 * (high_r - low_r)


def test_paired_difference_finds_a_small_consistent_gain():
    rng = np.random.default_rng(3)
    base = rng.random(2000)
    better = base + 0.01
    paired = paired_difference(better, base)
    assert paired["difference"] == pytest.approx(0.01) and paired["ci_low"] > 0 and paired["n_rows"] == 2000
    low, high = bootstrap_interval(better)
    assert low < base.mean()                # unpaired intervals overlap: the gain would not show
    with pytest.raises(ValueError, match="same rows"):
        paired_difference(better[:10], base)


def test_seeds_bootstrap_widens_with_the_spread_between_seeds():
    """Three seeds on the same 2,000 rows: identical seeds give the users-only interval's width; seeds that hit
    more or fewer rows than each other give a wider interval around the mean over seeds."""
    from genrec.evaluate.metrics import bootstrap_interval, seeds_bootstrap_interval

    rng = np.random.default_rng(0)
    one = rng.binomial(1, 0.1, size=2000).astype(float)
    users = np.arange(2000)
    same = seeds_bootstrap_interval(np.stack([one, one, one]), users)
    alone = bootstrap_interval(one, users)
    assert abs((same[1] - same[0]) - (alone[1] - alone[0])) < 0.01
    more = np.maximum(one, rng.binomial(1, 0.04, 2000))           # a seed with extra hits
    fewer = one * rng.binomial(1, 0.6, 2000)                       # a seed that loses 40 % of the hits
    spread = np.stack([one, more, fewer])
    low, high = seeds_bootstrap_interval(spread, users)
    means = spread.mean(axis=1)
    assert high - low > (same[1] - same[0]) * 1.5 and low < means.mean() < high
