"""The whole data stage: MiniOneRec's order of filters and id assignment on hand-checked raw files,
and the bundled real sample through the leave-one-out protocol."""

import pytest
from conftest import ROOT, meta18, review18, write_lines

from genrec.data.filters import TimeWindow, month_start_utc
from genrec.data.prepared import read_prepared, write_prepared
from genrec.data.preprocess import preprocess
from genrec.data.spec import DatasetSpec, WindowSpec, load_datasets

DAY = 86_400
T0 = month_start_utc(2017, 1)


def toy_spec(**overrides) -> DatasetSpec:
    settings = dict(name="toy", source="amazon18", raw={}, protocol="time_811", split_history=10, title_filter=True,
                    window=WindowSpec(TimeWindow.parse("2017-01", "2017-03"), min_items=0, earliest_start_year=1996),
                    kcore=2, dedup=False, description="")
    settings.update(overrides)
    return DatasetSpec(**settings)


TOY_REVIEWS = [
    review18("u1", "A", T0 + 5 * DAY), review18("u1", "B", T0 + 3 * DAY), review18("u2", "A", T0 + 1 * DAY),
    review18("u2", "C", T0 + 2 * DAY), review18("u1", "E", T0 + 4 * DAY),   # E: HTML title
    review18("u3", "A", T0 + 6 * DAY), review18("u3", "B", T0 + 7 * DAY), review18("u2", "B", T0 + 9 * DAY),
    review18("u4", "D", T0 + 2 * DAY),                                       # D: one review -> k-core
    review18("u3", "F", T0 - 1),                                             # before the window
    review18("u3", "C", T0 + 8 * DAY), review18("u4", "A", T0 + 10 * DAY),  # u4 falls out after D
    review18("u5", "G", T0 + 3 * DAY),                                       # G: no meta at all
    review18("u1", "F", month_start_utc(2016, 6)),                           # only inside a wider window
]
TOY_META = [meta18("A", "Alpha &amp; Co"), meta18("B", '"Bravo"'), meta18("C", "Charlie"), meta18("D", "Delta"),
            meta18("E", '<span id="e">Echo</span>'), meta18("F", "Foxtrot")]


def toy_files(directory, extra_reviews=()):
    return {"reviews": write_lines(directory / "toy_5.json.gz", TOY_REVIEWS + list(extra_reviews)),
            "meta": write_lines(directory / "meta_toy.json.gz", TOY_META)}


@pytest.fixture
def toy_raw(tmp_path):
    return toy_files(tmp_path)


def test_minionerec_filters_ids_and_time_811_rows(toy_raw):
    prepared = preprocess(toy_spec(), toy_raw)
    steps = {s["step"]: (s["users"], s["items"], s["interactions"]) for s in prepared.stats["filters"]}
    assert steps == {"raw": (5, 7, 14), "title": (4, 5, 12), "window": (4, 4, 10), "kcore": (3, 3, 8)}
    assert prepared.stats["filters"][-1]["iterations"] == 3
    # users by first review in file order (u1, u2, u3); items by first appearance in time-sorted histories
    assert prepared.items[["item_id", "source_id", "title"]].values.tolist() == [
        [0, "B", "Bravo"], [1, "A", "Alpha & Co"], [2, "C", "Charlie"]]
    assert prepared.interactions[["user_id", "item_id"]].values.tolist() == [
        [0, 0], [0, 1], [1, 1], [1, 2], [1, 0], [2, 1], [2, 0], [2, 2]]
    rows = lambda f: [(r.user_id, list(r.history), r.target, r.timestamp) for r in f.itertuples()]
    assert rows(prepared.splits["train"]) == [
        (1, [1], 2, T0 + 2 * DAY), (0, [0], 1, T0 + 5 * DAY), (2, [1], 0, T0 + 7 * DAY), (2, [1, 0], 2, T0 + 8 * DAY)]
    assert rows(prepared.splits["valid"]) == []
    assert rows(prepared.splits["test"]) == [(1, [1, 2], 0, T0 + 9 * DAY)]


def test_window_start_moves_a_year_earlier_while_too_few_items(toy_raw):
    spec = toy_spec(window=WindowSpec(TimeWindow.parse("2017-01", "2017-03"), min_items=4, earliest_start_year=2014))
    prepared = preprocess(spec, toy_raw)
    windows = [s for s in prepared.stats["filters"] if s["step"] == "window"]
    assert "start moved one year earlier" in windows[0]["retried"]
    assert windows[-1]["window"] == "2016-01 .. 2017-03 (UTC)"
    assert sorted(prepared.items["source_id"]) == ["A", "B", "C", "F"]


def test_window_widening_stops_at_the_earliest_start_year(toy_raw):
    spec = toy_spec(window=WindowSpec(TimeWindow.parse("2017-01", "2017-03"), min_items=99, earliest_start_year=2015))
    prepared = preprocess(spec, toy_raw)
    assert prepared.stats["filters"][-2]["window"] == "2015-01 .. 2017-03 (UTC)"


def test_repeated_interactions_kept_unless_dedup(tmp_path):
    files = toy_files(tmp_path, extra_reviews=[review18("u1", "A", T0 + 11 * DAY)])
    kept = preprocess(toy_spec(), files)
    deduped = preprocess(toy_spec(dedup=True), files)
    assert kept.interactions[["user_id", "item_id"]].duplicated().sum() == 1
    assert len(kept.interactions) == len(deduped.interactions) + 1
    assert not deduped.interactions[["user_id", "item_id"]].duplicated().any()


def test_bundled_sample_loo_exact_counts_and_last_item_targets():
    spec = load_datasets(ROOT / "config" / "datasets.yaml")["sample"]
    files = {role: ROOT / raw.path for role, raw in spec.raw.items()}
    prepared = preprocess(spec, files)
    stats = prepared.stats
    assert (stats["users"], stats["items"], stats["interactions"]) == (8_317, 4_344, 58_492)
    # LC-Rec ids are kept, so SID indexes keyed by them stay valid
    assert (prepared.items["item_id"] == prepared.items["source_id"].astype(int)).all()
    sequences = prepared.interactions.groupby("user_id")["item_id"].agg(list)
    test, valid, train = prepared.splits["test"], prepared.splits["valid"], prepared.splits["train"]
    assert len(test) == 8_317 and test["user_id"].is_unique
    assert (test["target"].to_numpy() == sequences.loc[test["user_id"]].map(lambda s: s[-1]).to_numpy()).all()
    assert (valid["target"].to_numpy() == sequences.loc[valid["user_id"]].map(lambda s: s[-2]).to_numpy()).all()
    assert all(h == sequences[u][:-1][-50:] for u, h in zip(test["user_id"], test["history"]))
    assert len(train) == 58_492 - 2 * 8_317 - 8_317  # every prefix except the first item and the last two


def test_tables_round_trip_through_parquet(toy_raw, tmp_path):
    prepared = preprocess(toy_spec(), toy_raw)
    write_prepared(prepared, tmp_path / "out")
    back = read_prepared(tmp_path / "out")
    assert back.items.equals(prepared.items)
    assert back.interactions.equals(prepared.interactions.astype({"rating": "float32"}))
    for name, split in prepared.splits.items():
        assert back.splits[name]["history"].tolist() == split["history"].tolist()
        assert back.splits[name]["target"].tolist() == split["target"].tolist()
    assert back.stats == prepared.stats
