"""Raw loaders for the layouts researchers actually have on disk, each streaming line by line.

- Amazon 2018 (McAuley lab, `X_5.json.gz` + `meta_X.json.gz`); the 2014 meta layout, whose lines are
  Python literals rather than JSON, is read by the same meta loader.
- Amazon 2023 (`X.jsonl.gz` + `meta_X.jsonl.gz`; timestamps in milliseconds; `parent_asin` ids).
- LC-Rec (`X.inter.json`: user -> chronological item ids; `X.item.json`: id -> text fields).
The MiniOneRec release layout is already split, so it has its own module (`minionerec_release`).
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from genrec.data.cleaning import clean_brand, clean_categories, clean_text
from genrec.data.raw import RawDataset, meta_frame, reviews_frame
from genrec.errors import GenrecError
from genrec.io import iter_lines, parse_json_line, read_json
from genrec.progress import progress


def _records(path: Path, kind: str, parse: Callable[[str], Any] = json.loads) -> Iterator[tuple[int, dict]]:
    for lineno, line in progress(iter_lines(path), desc=f"read {kind} {Path(path).name}", unit=" lines"):
        record = parse_json_line(path, lineno, line, parse)
        if not isinstance(record, dict):
            raise GenrecError(f"expected one JSON object per line for {kind}, got {type(record).__name__}",
                              path=path, line=lineno)
        yield lineno, record


def _require(record: dict, fields: tuple[str, ...], path: Path, lineno: int, kind: str) -> None:
    for field in fields:
        if record.get(field) is None:
            raise GenrecError(
                f"missing required field '{field}' in this {kind} record (fields present: {sorted(record)})",
                path=path, line=lineno, key=field,
                fix=f"is this really a {kind} file? check the dataset's `source` in config/datasets.yaml",
            )


def _number(value: Any, path: Path, lineno: int, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise GenrecError(f"field '{field}' is not a number: {value!r}", path=path, line=lineno, key=field) from None
    if math.isnan(number):
        raise GenrecError(f"field '{field}' is NaN", path=path, line=lineno, key=field)
    return number


def _literal_or_json(line: str) -> Any:
    """2018 meta lines are JSON; 2014 meta lines are Python dict literals (single quotes)."""
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return ast.literal_eval(line)


# --- Amazon 2018 (and 2014) -------------------------------------------------------------------------

AMAZON18_REVIEW_FIELDS = ("reviewerID", "asin", "overall", "unixReviewTime")


def load_amazon18(reviews: Path, meta: Path) -> RawDataset:
    users, items, ratings, times = [], [], [], []
    for lineno, rec in _records(reviews, "Amazon 2018 review"):
        _require(rec, AMAZON18_REVIEW_FIELDS, reviews, lineno, "Amazon 2018 review")
        users.append(str(rec["reviewerID"]))
        items.append(str(rec["asin"]))
        ratings.append(_number(rec["overall"], reviews, lineno, "overall"))
        times.append(int(_number(rec["unixReviewTime"], reviews, lineno, "unixReviewTime")))
    rows = []
    for lineno, rec in _records(meta, "Amazon 2018/2014 meta", parse=_literal_or_json):
        _require(rec, ("asin",), meta, lineno, "Amazon 2018/2014 meta")
        rows.append({
            "item": str(rec["asin"]),
            "title": rec.get("title"),
            "description": clean_text(rec.get("description")),
            "brand": clean_brand(rec.get("brand")),
            # 2018 calls it `category` (a flat list), 2014 `categories` (a list of paths).
            "categories": clean_categories(rec.get("category", rec.get("categories"))),
        })
    return RawDataset(reviews_frame(users, items, ratings, times), meta_frame(rows), has_timestamps=True,
                      id_order="first_seen", source_files={"reviews": str(reviews), "meta": str(meta)})


# --- Amazon 2023 ------------------------------------------------------------------------------------

AMAZON23_REVIEW_FIELDS = ("user_id", "parent_asin", "rating", "timestamp")


def load_amazon23(reviews: Path, meta: Path) -> RawDataset:
    users, items, ratings, times = [], [], [], []
    for lineno, rec in _records(reviews, "Amazon 2023 review"):
        _require(rec, AMAZON23_REVIEW_FIELDS, reviews, lineno, "Amazon 2023 review")
        users.append(str(rec["user_id"]))
        items.append(str(rec["parent_asin"]))
        ratings.append(_number(rec["rating"], reviews, lineno, "rating"))
        # 2023 timestamps are milliseconds; everything downstream is Unix seconds.
        times.append(int(_number(rec["timestamp"], reviews, lineno, "timestamp")) // 1000)
    rows = []
    for lineno, rec in _records(meta, "Amazon 2023 meta"):
        _require(rec, ("parent_asin",), meta, lineno, "Amazon 2023 meta")
        rows.append({
            "item": str(rec["parent_asin"]),
            "title": rec.get("title"),
            "description": clean_text((rec.get("description") or []) + (rec.get("features") or [])),
            "brand": clean_brand(rec.get("store")),
            "categories": clean_categories(rec.get("categories")),
        })
    return RawDataset(reviews_frame(users, items, ratings, times), meta_frame(rows), has_timestamps=True,
                      id_order="first_seen", source_files={"reviews": str(reviews), "meta": str(meta)})


# --- LC-Rec ----------------------------------------------------------------------------------------

def _check_numeric_id(value: Any, path: Path, what: str) -> str:
    text = str(value)
    if not text.isdigit():
        raise GenrecError(f"{what} id {value!r} is not a non-negative integer, as the LC-Rec layout requires",
                          path=path, key=text)
    return text


def load_lcrec(inter: Path, item: Path) -> RawDataset:
    """LC-Rec: one JSON document per file. Sequences are chronological but carry no times or ratings,
    so a user's k-th interaction gets timestamp k (order is kept; time-based protocols are refused)."""
    sequences = read_json(inter)
    features = read_json(item)
    if not isinstance(sequences, dict) or not isinstance(features, dict):
        raise GenrecError("expected a JSON object (user -> item list / item -> fields)", path=inter)
    users, items, times = [], [], []
    for user, seq in progress(sequences.items(), desc="read LC-Rec sequences", total=len(sequences), unit=" users"):
        _check_numeric_id(user, inter, "user")
        if not isinstance(seq, list):
            raise GenrecError(f"user {user}: expected a list of item ids, got {type(seq).__name__}", path=inter, key=user)
        for position, item_id in enumerate(seq):
            users.append(user)
            items.append(_check_numeric_id(item_id, inter, "item"))
            times.append(position)
    rows = []
    for item_id, fields in features.items():
        _check_numeric_id(item_id, item, "item")
        if not isinstance(fields, dict):
            raise GenrecError("expected an object of text fields", path=item, key=item_id)
        rows.append({
            "item": item_id,
            "title": fields.get("title"),
            "description": clean_text(fields.get("description")),
            "brand": clean_brand(fields.get("brand")),
            "categories": clean_categories(fields.get("categories")),
        })
    return RawDataset(reviews_frame(users, items, [math.nan] * len(users), times), meta_frame(rows),
                      has_timestamps=False, id_order="numeric", source_files={"inter": str(inter), "item": str(item)})


LOADERS: dict[str, tuple[Callable[..., RawDataset], tuple[str, ...]]] = {
    "amazon18": (load_amazon18, ("reviews", "meta")),
    "amazon14": (load_amazon18, ("reviews", "meta")),
    "amazon23": (load_amazon23, ("reviews", "meta")),
    "lcrec": (load_lcrec, ("inter", "item")),
}


def load_raw(source: str, files: dict[str, Path]) -> RawDataset:
    """Dispatch on the dataset's `source`; `files` maps each of the source's roles to a path."""
    if source not in LOADERS:
        raise GenrecError(f"unknown source '{source}'", key="source", fix=f"use one of {sorted(LOADERS)}")
    loader, roles = LOADERS[source]
    missing = [r for r in roles if r not in files]
    if missing:
        raise GenrecError(f"source '{source}' needs raw files {list(roles)}; missing {missing}", key="raw")
    return loader(**{role: Path(files[role]) for role in roles})
