"""A released SID index as a tokenizer (method `imported`): MiniOneRec's or LC-Rec's `{dataset}.index.json`.

The index is read as it is (any length, checked prefix-free by `read_index`) for the dataset it was released
with. It can only stand in for our tokenizers if its item ids are ours: with the release's item file given
(`item_files`), every item's title must equal ours, or the import is refused with the first mismatches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from genrec.errors import GenrecError
from genrec.io import read_json
from genrec.tokenize.index import index_to_codes, read_index
from genrec.tokenize.stats import index_stats


@dataclass(frozen=True)
class ImportedParams:
    """`tokenizers.<name>.params` of method `imported`: per dataset, the index file and (to check the ids) the
    release's item file ({"id": {"title": ...}}); paths relative to the project root."""

    files: dict[str, str] = field(default_factory=dict)
    item_files: dict[str, str] = field(default_factory=dict)

    def index_file(self, dataset: str, key: str) -> str:
        if dataset not in self.files:
            raise GenrecError(f"this imported index has no file for dataset '{dataset}'", key=f"{key}.params.files",
                              fix=f"add `{dataset}: path/to/{dataset}.index.json`, or leave the tokenizer out of "
                                  "this dataset's grid")
        return self.files[dataset]


def clip(text: str | None, other: str | None, width: int = 60) -> str | None:
    """`text` around where it first differs from `other` (titles often differ only at the end)."""
    if text is None or len(text) <= width:
        return text
    start = next((i for i, (a, b) in enumerate(zip(text, other or "")) if a != b), min(len(text), len(other or "")))
    start = max(0, min(start - width // 3, len(text) - width))
    return ("…" if start else "") + text[start:start + width] + ("…" if start + width < len(text) else "")


def check_titles(items: pd.DataFrame, item_file: str | Path) -> int:
    """Refuse an index whose item ids are not ours: every item's title must equal the release's for that id."""
    released = read_json(item_file)
    ours = items["title"].fillna("").astype(str).str.strip().tolist()
    theirs = [str(released.get(str(i), {}).get("title", "")).strip() if isinstance(released.get(str(i)), dict)
              else None for i in range(len(ours))]
    mismatched = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    if mismatched:
        first = "; ".join(f"item {i}: ours {clip(ours[i], theirs[i])!r}, the release's {clip(theirs[i], ours[i])!r}"
                          for i in mismatched[:3])
        raise GenrecError(f"{len(mismatched)} of {len(ours)} item ids name another item in the release ({first})",
                          path=item_file, fix="import the index only for the dataset it was released with, "
                          "preprocessed as the release was (same source files, filters and window)")
    return len(ours)


def import_index(params: ImportedParams, dataset: str, items: pd.DataFrame, key: str) -> tuple[dict, dict]:
    """The released index of `dataset`, checked against our items, and its statistics."""
    path = params.index_file(dataset, key)
    index = read_index(path, n_items=len(items))
    checked = check_titles(items, params.item_files[dataset]) if dataset in params.item_files else 0
    codes = index_to_codes(index)
    stats = index_stats(codes, codes) | {"source": str(path), "titles_checked": checked}
    return index, stats
