"""MiniOneRec's `time_811` protocol end to end on `sample_dated`: real items and per-user orders from the bundled
sample, written in the Amazon 2018 layout with SYNTHETIC dates by scripts/make_dated_sample.py (tests only)."""

from __future__ import annotations

import time

import pytest

from conftest import ROOT
from genrec.data.filters import month_start_utc
from genrec.data.preprocess import run_preprocess
from genrec.data.spec import dataset_spec
from genrec.io import read_table

SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    """`sample_dated` preprocessed as the CLI does (raw paths in datasets.yaml are relative to the project root)."""
    spec = dataset_spec("sample_dated", ROOT / "config" / "datasets.yaml")
    files = {role: ROOT / raw.path for role, raw in spec.raw.items()}
    out = tmp_path_factory.mktemp("prepared") / "sample_dated"
    started = time.perf_counter()
    stats = run_preprocess(spec, files, out)
    seconds = time.perf_counter() - started
    tables = {name: read_table(out / f"{name}.parquet") for name in ("interactions", *SPLITS)}
    return spec, stats, tables, seconds


def test_spec_is_time_811_and_labelled_synthetic(dated):
    spec, stats, _, _ = dated
    assert spec.source == "amazon18" and spec.protocol == "time_811" and spec.split_history == 10
    assert spec.title_filter and spec.kcore == 5 and str(spec.window.window) == "2016-10 .. 2018-11"
    assert "synthetic" in spec.description.lower()
    assert stats["protocol"] == "time_811" and stats["timestamps"].startswith("unix seconds")
    for name in ("reviews.json.gz", "meta.json.gz", "README.md"):
        assert (ROOT / "data" / "sample_dated" / name).exists()
    assert "synthetic" in (ROOT / "data" / "sample_dated" / "README.md").read_text().lower()


def test_filters_leave_a_mid_sized_dataset(dated):
    _, stats, tables, _ = dated
    steps = {step["step"]: step for step in stats["filters"]}
    assert steps["title"]["items"] < steps["raw"]["items"]            # MiniOneRec's title rule drops some ...
    assert steps["title"]["items"] > 0.8 * steps["raw"]["items"]      # ... but not most
    assert steps["kcore"]["interactions"] == len(tables["interactions"])
    assert 12_000 <= stats["interactions"] <= 20_000


def test_cut_is_80_10_10_by_time(dated):
    _, _, tables, _ = dated
    train, valid, test = (tables[s] for s in SPLITS)
    n = len(train) + len(valid) + len(test)
    assert (len(train), len(train) + len(valid)) == (int(0.8 * n), int(0.9 * n))
    for split in (train, valid, test):
        assert split["timestamp"].is_monotonic_increasing
        assert split["history"].map(len).between(1, 10).all()
    # valid rows are not earlier than train rows, test rows not earlier than valid rows
    assert train["timestamp"].max() <= valid["timestamp"].min()
    assert valid["timestamp"].max() <= test["timestamp"].min()
    start, end = month_start_utc(2016, 10), month_start_utc(2018, 11)
    assert train["timestamp"].min() >= start and test["timestamp"].max() <= end


def test_rows_follow_each_users_sequence(dated):
    """Every row's history is the user's previous <= 10 items, and a user's rows keep time order across splits."""
    _, _, tables, _ = dated
    inter = tables["interactions"]
    sequences = inter.groupby("user_id", sort=False)["item_id"].apply(list).to_dict()
    times = inter.groupby("user_id", sort=False)["timestamp"].apply(list).to_dict()
    # the generator gives each user strictly increasing days, so a row's time pins its position
    assert all(stamps == sorted(set(stamps)) for stamps in times.values())
    last_seen = {}
    for split in SPLITS:
        for user, history, target, stamp in tables[split][["user_id", "history", "target", "timestamp"]].itertuples(
                index=False):
            position = times[user].index(stamp)
            assert position >= 1 and sequences[user][position] == target
            assert list(history) == sequences[user][max(0, position - 10):position]
            assert stamp > last_seen.get(user, -1)
            last_seen[user] = stamp
    assert sum(len(s) - 1 for s in sequences.values()) == sum(len(tables[s]) for s in SPLITS)


def test_late_users_have_several_test_and_valid_rows(dated):
    _, _, tables, _ = dated
    test_rows = tables["test"].groupby("user_id").size()
    valid_rows = tables["valid"].groupby("user_id").size()
    assert (test_rows >= 2).sum() >= 100
    assert (valid_rows >= 2).sum() >= 100
    assert len(tables["test"]) != tables["test"]["user_id"].nunique()
    assert len(tables["test"]) > 1.5 * tables["test"]["user_id"].nunique()


def test_preprocessing_is_fast(dated):
    assert dated[3] < 30
