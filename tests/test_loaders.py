"""Each raw loader on records in the real files' formats."""

import math

from conftest import RELEASE, meta18, requires_shared, review18, write_lines

from genrec.data.loaders import load_amazon18, load_amazon23, load_lcrec
from genrec.data.minionerec_release import load_minionerec_release


def test_amazon18_reviews_and_meta_gz(tmp_path):
    reviews = write_lines(tmp_path / "X_5.json.gz", [review18("U1", "B001", 1510012800, 4.0),
                                                     review18("U2", "B001", 1510099200)])
    meta = write_lines(tmp_path / "meta_X.json.gz", [meta18("B001", "Acme Drill")])
    raw = load_amazon18(reviews, meta)
    assert raw.reviews.to_dict("list") == {"user": ["U1", "U2"], "item": ["B001", "B001"], "rating": [4.0, 5.0],
                                           "timestamp": [1510012800, 1510099200]}
    row = raw.meta.iloc[0]
    assert (row["item"], row["title"], row["brand"]) == ("B001", "Acme Drill", "Acme")
    assert row["description"] == "Heavy duty. Made in USA"
    assert row["categories"] == ["Industrial & Scientific", "Lab & Scientific Products"]
    assert raw.has_timestamps and raw.id_order == "first_seen"


def test_amazon14_meta_is_python_literal_lines(tmp_path):
    meta14 = {"asin": "0000031852", "title": "Girls Ballet Tutu Zebra Hot Pink", "price": 3.17,
              "imUrl": "http://ecx.images-amazon.com/images/I/51fAmVkTbyL.jpg",
              "related": {"also_bought": ["0000031852"]}, "salesRank": {"Toys & Games": 211836},
              "brand": "Coxlist", "categories": [["Sports & Outdoors", "Other Sports", "Dance"]]}
    review14 = {"reviewerID": "A2SUAM1J3GNN3B", "asin": "0000031852", "reviewerName": "J. McDonald",
                "helpful": [2, 3], "reviewText": "Nice.", "overall": 5.0, "summary": "Great",
                "unixReviewTime": 1252800000, "reviewTime": "09 13, 2009"}
    reviews = write_lines(tmp_path / "reviews_Toys_5.json", [review14])
    meta = write_lines(tmp_path / "meta_Toys.json", [meta14], as_python=True)
    raw = load_amazon18(reviews, meta)
    assert raw.meta.iloc[0]["categories"] == ["Sports & Outdoors", "Other Sports", "Dance"]
    assert raw.meta.iloc[0]["title"] == "Girls Ballet Tutu Zebra Hot Pink"
    assert raw.reviews.iloc[0]["timestamp"] == 1252800000


def test_amazon23_uses_parent_asin_and_milliseconds(tmp_path):
    review = {"rating": 5.0, "title": "Such a lovely scent", "text": "Loved it", "images": [],
              "asin": "B00YQ6X8EO", "parent_asin": "B00YQ6X8EO", "user_id": "AGKHLEW2SOWHNMFQIJGBECAF7INQ",
              "timestamp": 1588687728923, "helpful_vote": 0, "verified_purchase": True}
    meta = {"main_category": "All Beauty", "title": "Howard LC0008 Leather Conditioner", "average_rating": 4.8,
            "rating_number": 10, "features": ["Restores leather"], "description": ["Made with beeswax."],
            "price": None, "images": [], "videos": [], "store": "Howard Products", "categories": [],
            "details": {"Brand": "Howard"}, "parent_asin": "B00YQ6X8EO", "bought_together": None}
    raw = load_amazon23(write_lines(tmp_path / "All_Beauty.jsonl", [review]),
                        write_lines(tmp_path / "meta_All_Beauty.jsonl", [meta]))
    assert raw.reviews.iloc[0]["timestamp"] == 1588687728
    assert raw.reviews.iloc[0]["item"] == "B00YQ6X8EO"
    assert raw.meta.iloc[0]["brand"] == "Howard Products"
    assert raw.meta.iloc[0]["description"] == "Made with beeswax. Restores leather"


def test_lcrec_bundled_sample(sample_files):
    raw = load_lcrec(sample_files["inter"], sample_files["item"])
    assert len(raw.reviews) == 58_492
    assert raw.reviews["user"].nunique() == 8_317 and len(raw.meta) == 4_344
    assert not raw.has_timestamps and raw.id_order == "numeric"
    first_user = raw.reviews[raw.reviews["user"] == "0"]
    # order is kept as the per-user position
    assert first_user["timestamp"].tolist() == list(range(len(first_user)))
    assert first_user["item"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7", "8"]
    assert math.isnan(raw.reviews["rating"].iloc[0])
    assert raw.meta.iloc[0]["title"].startswith("SUPCO SPP6 Relay/Capacitor")


@requires_shared
def test_minionerec_release_real_files():
    files = {"valid": RELEASE / "valid.csv", "test": RELEASE / "test.csv",
             "item": RELEASE / "Industrial_and_Scientific.item.json",
             "index": RELEASE / "Industrial_and_Scientific.index.json", "info": RELEASE / "info.txt"}
    release = load_minionerec_release(files)
    assert set(release.splits) == {"valid", "test"}
    assert len(release.splits["valid"]) == 4_532 and len(release.splits["test"]) == 4_533
    assert len(release.items) == 3_686 and len(release.index) == 3_686
    first = release.splits["test"].iloc[0]
    assert first["user"] == "A6948" and first["target"] == 3681
    assert first["history"][:2] == [3466, 2697] and first["target_sid"] == "<a_223><b_80><c_216>"
    assert release.items.iloc[0]["description"].startswith("Relay/CAPACITOR hard start kit")
    assert all(len(h) <= 10 for h in release.splits["test"]["history"])


def test_minionerec_release_inconsistent_info_is_refused(tmp_path):
    import pytest

    from genrec.errors import GenrecError

    (tmp_path / "item.json").write_text('{"0": {"title": "Drill"}, "1": {"title": "Saw"}}')
    (tmp_path / "index.json").write_text('{"0": ["<a_1>", "<b_2>"], "1": ["<a_1>", "<b_3>"]}')
    (tmp_path / "info.txt").write_text("<a_1><b_2>\tDrill\t0\n<a_1><b_9>\tSaw\t1\n")
    (tmp_path / "test.csv").write_text(
        "user_id,history_item_title,item_title,history_item_id,item_id,history_item_sid,item_sid\n"
        "A1,\"['Drill']\",Saw,[0],1,['<a_1><b_2>'],<a_1><b_3>\n")
    files = {"test": tmp_path / "test.csv", "item": tmp_path / "item.json", "index": tmp_path / "index.json",
             "info": tmp_path / "info.txt"}
    with pytest.raises(GenrecError) as err:
        load_minionerec_release(files)
    assert "info.txt" in err.value.message and "1 info SIDs disagree" in err.value.message
    (tmp_path / "info.txt").write_text("<a_1><b_2>\tDrill\t0\n<a_1><b_3>\tSaw\t1\n")
    assert load_minionerec_release(files).splits["test"]["target"].tolist() == [1]
