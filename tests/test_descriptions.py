"""Item descriptions from Amazon 2018 meta: genrec against MiniOneRec's `data/amazon18_data_process.py`
(AkaliKong/MiniOneRec, commit 81b4ba9811cfb152cf161f1c486fe516510d081e).

MiniOneRec hands the meta `description` list to `clean_text`, whose `str(text)` turns it into the Python
repr of the list; its `item.json` stores that repr. genrec stores the same cleaned text with the list
unwrapped (docs/data.md says why). These tests pin both strings for the same record and that the
release importer's unwrapping of MiniOneRec's string gives genrec's, so a raw rebuild and a release
import agree.
"""

from __future__ import annotations

import html
import re

import pandas as pd
from conftest import meta18, review18, write_lines

from genrec.data.cleaning import unwrap_list_literal
from genrec.data.filters import titled_items
from genrec.data.loaders import load_amazon18
from genrec.data.preprocess import item_table


# --- MiniOneRec's code, verbatim but for comments (lines 15-27 and 397-401 at the commit above) -----

def _minionerec_clean_text(text):
    if not text:
        return ""
    text = re.sub(r'<[^>]+>', '', str(text))
    text = html.unescape(text)
    text = text.replace("&quot;", "\"").replace("&amp;", "&")
    text = re.sub(r'\s+', ' ', text)
    return text.strip()


def _minionerec_description(meta: dict) -> str:
    descriptions = meta.get("description", "")
    if descriptions:
        descriptions = _minionerec_clean_text(descriptions)
    else:
        descriptions = ""
    return descriptions


# A record shaped like the real Industrial_and_Scientific meta: an entity, an empty element, tags and a
# newline inside an element.
STAPLES = meta18("B000FK6AQY", "Stanley TRA708T Sharpshooter 1/2-Inch Staples", description=[
    "Heavy-duty staples are ideal for insulation, carpet underlaying &amp; roofing felt.",
    "",
    "<b>Fits:</b> Stanley TR100,\nTR200 and Arrow T-50.<br>",
])
# What MiniOneRec's item.json holds: the list's repr, the newline kept as the two characters `\n`.
STAPLES_MINIONEREC = (r"['Heavy-duty staples are ideal for insulation, carpet underlaying & roofing felt.', '', "
                      r"'Fits: Stanley TR100,\nTR200 and Arrow T-50.']")
STAPLES_GENREC = ("Heavy-duty staples are ideal for insulation, carpet underlaying & roofing felt. "
                  "Fits: Stanley TR100, TR200 and Arrow T-50.")


def _genrec_meta(tmp_path, records: list[dict]) -> pd.DataFrame:
    reviews = write_lines(tmp_path / "r.json", [review18("U1", records[0]["asin"], 1_500_000_000)])
    return load_amazon18(reviews, write_lines(tmp_path / "m.json", records)).meta


def test_minionerec_stores_the_repr_of_the_list():
    assert _minionerec_description(STAPLES) == STAPLES_MINIONEREC


def test_genrec_stores_the_same_text_unwrapped(tmp_path):
    assert _genrec_meta(tmp_path, [STAPLES]).loc[0, "description"] == STAPLES_GENREC
    # the release importer's unwrapping of MiniOneRec's string lands on the same text
    assert unwrap_list_literal(STAPLES_MINIONEREC) == STAPLES_GENREC


def test_entity_decoded_to_a_quote_breaks_minionerecs_repr(tmp_path):
    # MiniOneRec decodes entities after taking the repr, so `&#39;` lands inside a '-quoted literal:
    # the string is no longer a Python literal and the release importer has to keep it as it is.
    record = meta18("B01", "Stanley staples", description=["Stanley&#39;s staples.", "Don't overload."])
    minionerec = _minionerec_description(record)
    assert minionerec == """['Stanley's staples.', "Don't overload."]"""
    assert unwrap_list_literal(minionerec) == minionerec
    assert _genrec_meta(tmp_path, [record]).loc[0, "description"] == "Stanley's staples. Don't overload."


def test_empty_or_missing_description_is_empty_in_both(tmp_path):
    empty = meta18("B01", "Drill", description=[])
    missing = meta18("B02", "Saw")
    del missing["description"]
    assert _minionerec_description(empty) == _minionerec_description(missing) == ""
    assert _genrec_meta(tmp_path, [empty, missing])["description"].tolist() == ["", ""]


def test_description_comes_from_the_last_meta_line_even_when_its_title_fails(tmp_path):
    # MiniOneRec's asin -> meta map keeps the last line (lines 387-389) whatever its title, while the
    # title comes from the last line whose title passed the filter.
    first = meta18("B01", "Drill", description=["Old text."])
    last = meta18("B01", "X", description=["New text."])
    meta = _genrec_meta(tmp_path, [first, last])
    indexed = pd.DataFrame({"item_id": [0], "item": ["B01"]})
    items = item_table(indexed, titled_items(meta, apply_rule=True), meta)
    assert items.loc[0, "title"] == "Drill"
    assert items.loc[0, "description"] == "New text."
