"""The SID index format: round trip, validation, and the real indexes bundled with the sample."""

import gzip
import json

import numpy as np
import pytest
from conftest import RELEASE, SAMPLE, SAMPLE_INDEX, requires_shared

from genrec.errors import GenrecError
from genrec.tokenize.collisions import append_dedup_level, collision_summary, reassign_last_level
from genrec.tokenize.index import codes_to_index, index_json, index_to_codes, parse_sid, read_index
from genrec.tokenize.stats import index_stats


def test_codes_round_trip_through_the_minionerec_format(tmp_path):
    codes = np.array([[3, 0, 7], [3, 1, 7], [0, 0, 0]])
    index = codes_to_index(codes)
    assert index[1] == ["<a_3>", "<b_1>", "<c_7>"]
    path = tmp_path / "index.json"
    path.write_text(json.dumps({str(k): v for k, v in index.items()}))
    assert (index_to_codes(read_index(path, n_items=3)) == codes).all()
    assert parse_sid("<a_3><b_1><c_7>") == ["<a_3>", "<b_1>", "<c_7>"]


@pytest.mark.parametrize("content, message", [
    ({"0": ["<a_1>", "<b_2>"], "1": ["<a_1>"]}, "item 0's SID <a_1><b_2> starts with another item's whole SID"),
    ({"0": ["<a_1>", "<b_2>"], "2": ["<a_1>", "<b_3>"]}, "1 missing (first [1]), 1 unknown (first [2])"),
    ({"0": ["<a_1>", "<c_2>"], "1": ["<a_1>", "<b_3>"]}, "should look like <b_N>"),
    ({"x": ["<a_1>"]}, "not an integer id"),
])
def test_bad_indexes_are_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "index.json"
    path.write_text(json.dumps(content))
    with pytest.raises(GenrecError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        read_index(path, n_items=2)


def test_collision_rates_on_a_hand_made_index():
    codes = np.array([[1, 1], [1, 1], [1, 1], [2, 2], [2, 2], [3, 3]])
    summary = collision_summary(codes)
    assert summary["collision_rate"] == pytest.approx(5 / 6)          # items sharing their SID
    assert summary["duplicate_rate"] == pytest.approx(1 - 3 / 6)      # LC-Rec's definition
    assert summary["largest_group"] == 3


def test_dedup_level_makes_every_sid_unique_and_keeps_one_length():
    codes = np.array([[1, 1], [2, 2], [1, 1], [1, 1], [3, 3]])
    deduped = append_dedup_level(codes)
    assert deduped[:, 2].tolist() == [0, 0, 1, 2, 0]   # by item id inside each group
    assert collision_summary(deduped)["distinct_sids"] == 5
    unique = np.array([[1, 1], [2, 2]])
    assert append_dedup_level(unique) is unique        # no collision, no extra level


def test_reassign_last_moves_all_but_the_nearest_to_the_nearest_free_code():
    codes = np.array([[0, 1], [0, 1], [0, 2], [1, 1]])
    distances = np.array([[5, 0.2, 1, 3], [5, 0.1, 0.3, 0.4], [9, 9, 0, 9], [9, 0, 9, 9]], dtype=float)
    fixed = reassign_last_level(codes, distances)
    # item 1 is nearer code 1 and keeps it; item 0 moves to its nearest code not taken under prefix 0 (3)
    assert fixed.tolist() == [[0, 3], [0, 1], [0, 2], [1, 1]]


def test_reassign_last_refuses_an_overfull_prefix():
    codes = np.zeros((3, 2), dtype=int)
    with pytest.raises(GenrecError, match="more items than the 2 codes"):
        reassign_last_level(codes, np.ones((3, 2)))


@pytest.mark.parametrize("name, rate, largest", [("rqvae_native", 0.2042, 22), ("rkmeans_native", 0.3052, 26)])
def test_bundled_real_indexes_load_and_report_their_collisions(name, rate, largest):
    index = read_index(SAMPLE / "indexes" / f"{name}.index.json.gz", n_items=4_344)
    codes = index_to_codes(index)
    stats = index_stats(codes, append_dedup_level(codes))
    assert stats["collision_rate_before"] == pytest.approx(rate, abs=1e-4)
    assert stats["largest_group_before"] == largest
    assert stats["collision_rate_after"] == 0.0 and stats["levels"] == 5


@requires_shared
def test_minionerec_release_index_loads():
    index = read_index(RELEASE / "Industrial_and_Scientific.index.json", n_items=3_686)
    assert collision_summary(index_to_codes(index))["items_in_collisions"] == 31


def test_gzip_index_with_bad_json_names_the_file(tmp_path):
    path = tmp_path / "index.json.gz"
    with gzip.open(path, "wt") as handle:
        handle.write('{"0": ["<a_1>"],')
    with pytest.raises(GenrecError, match="malformed JSON"):
        read_index(path)


def test_minionerecs_collision_handling_extra_token_and_sinkhorn(tmp_path):
    """extra_token: only the members of a collision group get a 4th token (1, 2, ... by item id), so SIDs differ
    in length, none a prefix of another, and the index reads back. sinkhorn_last: groups are re-coded on the
    last level; a group of identical items cannot be split and keeps its shared SID."""
    from genrec.tokenize.collisions import resolve

    codes = np.array([[1, 2, 3], [1, 2, 3], [1, 2, 4], [5, 6, 7], [1, 2, 3], [5, 6, 7]])
    extra = resolve(codes, "extra_token")
    index = codes_to_index(extra)
    assert index[0] == ["<a_1>", "<b_2>", "<c_3>", "<d_1>"] and index[4][-1] == "<d_3>" and index[5][-1] == "<d_2>"
    assert index[2] == ["<a_1>", "<b_2>", "<c_4>"]                          # not in a collision: 3 tokens
    path = tmp_path / "index.json"
    path.write_text(index_json(index))
    assert read_index(path, n_items=6) == index
    assert collision_summary(index_to_codes(index))["items_in_collisions"] == 0

    rng = np.random.default_rng(0)
    distances = rng.random((6, 8))
    distances[5] = distances[3]                                             # items 3 and 5 are identical
    sinkhorn = resolve(codes, "sinkhorn_last", distances)
    assert (sinkhorn[:, :2] == codes[:, :2]).all()                         # only the last level moves
    assert len({tuple(r) for r in sinkhorn[[0, 1, 4]].tolist()}) == 3       # the triple is split
    assert (sinkhorn[3] == sinkhorn[5]).all()                               # identical items stay together


def test_a_released_index_is_imported_only_where_its_item_ids_are_ours(prepared_sample, tmp_path):
    from genrec.io import read_json, read_table
    from genrec.tokenize.imported import ImportedParams, import_index

    items = read_table(prepared_sample / "items.parquet")
    params = ImportedParams(files={"sample": str(SAMPLE_INDEX)},
                            item_files={"sample": str(SAMPLE / "Scientific.item.json.gz")})
    index, stats = import_index(params, "sample", items, "tokenizers.native")
    assert index == read_index(SAMPLE_INDEX) and stats["titles_checked"] == len(items) == 4_344
    with pytest.raises(GenrecError, match="no file for dataset 'other'"):
        import_index(params, "other", items, "tokenizers.native")
    released = read_json(SAMPLE / "Scientific.item.json.gz")
    released["10"], released["500"] = released["500"], released["10"]       # two ids swapped in the release
    swapped = tmp_path / "swapped.item.json"
    swapped.write_text(json.dumps(released))
    with pytest.raises(GenrecError, match=r"2 of 4344 item ids name another item in the release \(item 10: "):
        import_index(ImportedParams(files=params.files, item_files={"sample": str(swapped)}), "sample", items, "t")
