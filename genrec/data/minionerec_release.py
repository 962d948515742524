"""MiniOneRec's released data layout: already split CSVs with titles and SIDs, `.item.json`,
`.index.json` and the `info` text file. Importing it lets a user start from the authors' own splits.

CSV columns: user_id, history_item_title, item_title, history_item_id, item_id, history_item_sid,
item_sid; the list columns hold Python list literals. `info` lines are `sid \\t title \\t item_id`.
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from genrec.data.cleaning import clean_brand, clean_categories, clean_text, unwrap_list_literal
from genrec.data.prepared import Prepared, dataset_stats
from genrec.data.spec import DatasetSpec
from genrec.data.splits import SPLITS
from genrec.errors import GenrecError
from genrec.io import open_text, read_json
from genrec.progress import progress
from genrec.tokenize.index import parse_sid, read_index

CSV_COLUMNS = ("user_id", "history_item_title", "item_title", "history_item_id", "item_id",
               "history_item_sid", "item_sid")


@dataclass
class MiniOneRecRelease:
    items: pd.DataFrame
    splits: dict[str, pd.DataFrame]  # the splits present in the release, with a `user` (source id) column
    index: dict[int, list[str]] | None


def _literal_list(text: str, path: Path, line: int, column: str) -> list:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise GenrecError(f"column '{column}' is not a Python list literal: {text[:80]!r}",
                          path=path, line=line, key=column) from None
    if not isinstance(value, list):
        raise GenrecError(f"column '{column}' should be a list, got {type(value).__name__}",
                          path=path, line=line, key=column)
    return value


def read_split_csv(path: Path) -> pd.DataFrame:
    """Read one split; check every row's ids, and that its SIDs agree with its item ids in length."""
    rows = []
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise GenrecError(f"missing CSV columns {missing} (found {reader.fieldnames})", path=path, line=1,
                              fix="is this a MiniOneRec train/valid/test CSV?")
        for row in progress(reader, desc=f"read {path.name}", unit=" rows"):
            line = reader.line_num
            history = _literal_list(row["history_item_id"], path, line, "history_item_id")
            history_sids = _literal_list(row["history_item_sid"], path, line, "history_item_sid")
            try:
                target = int(row["item_id"])
                history = [int(i) for i in history]
                parse_sid(row["item_sid"])
            except (TypeError, ValueError) as exc:
                raise GenrecError(f"bad item id or SID ({exc})", path=path, line=line) from None
            if len(history_sids) != len(history):
                raise GenrecError(f"{len(history)} history ids but {len(history_sids)} history SIDs",
                                  path=path, line=line, key="history_item_sid")
            rows.append({"user": row["user_id"], "history": history, "target": target,
                         "target_sid": row["item_sid"]})
    return pd.DataFrame(rows, columns=["user", "history", "target", "target_sid"])


def read_release_items(path: Path) -> pd.DataFrame:
    features = read_json(path)
    if not isinstance(features, dict):
        raise GenrecError("expected a JSON object item_id -> fields", path=path)
    rows = []
    for key, fields in features.items():
        if not str(key).isdigit() or not isinstance(fields, dict):
            raise GenrecError("expected integer item ids mapping to objects of text fields", path=path, key=str(key))
        rows.append({
            "item_id": int(key),
            "source_id": str(key),
            "title": str(fields.get("title") or ""),
            "description": unwrap_list_literal(clean_text(fields.get("description"))),
            "brand": clean_brand(fields.get("brand")),
            "categories": clean_categories(fields.get("categories")),
        })
    return pd.DataFrame(rows).sort_values("item_id").reset_index(drop=True)


def read_info(path: Path) -> pd.DataFrame:
    """`info` lines: `sid \t title \t item_id` (MiniOneRec's evaluation reads its item universe here)."""
    rows = []
    with open_text(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or not parts[2].strip().isdigit():
                raise GenrecError("expected `sid<TAB>title<TAB>item_id`", path=path, line=line_no)
            try:
                parse_sid(parts[0])
            except ValueError as exc:
                raise GenrecError(str(exc), path=path, line=line_no) from None
            rows.append({"sid": parts[0], "title": parts[1], "item_id": int(parts[2])})
    return pd.DataFrame(rows, columns=["sid", "title", "item_id"])


def load_minionerec_release(files: dict[str, Path]) -> MiniOneRecRelease:
    """Read whichever of train/valid/test are given, plus `item` (required), `index` and `info` (optional),
    checking that they agree with each other."""
    if "item" not in files:
        raise GenrecError("a MiniOneRec release needs its `.item.json` (raw role 'item')", key="raw.item")
    splits = {name: read_split_csv(Path(files[name])) for name in SPLITS if name in files}
    if not splits:
        raise GenrecError("a MiniOneRec release needs at least one of train/valid/test CSV", key="raw")
    items = read_release_items(Path(files["item"]))
    index = read_index(files["index"]) if "index" in files else None
    known = set(items["item_id"])
    for name, frame in splits.items():
        used = set(frame["target"]).union(*frame["history"]) if len(frame) else set()
        unknown = sorted(used - known)
        if unknown:
            raise GenrecError(f"{len(unknown)} item ids of the {name} split are not in the item file "
                              f"(first {unknown[:5]})", path=files[name])
        if index is not None:
            mismatched = [(t, s) for t, s in zip(frame["target"], frame["target_sid"])
                          if "".join(index.get(t, [])) != s]
            if mismatched:
                raise GenrecError(f"{len(mismatched)} target SIDs disagree with the index (first: item "
                                  f"{mismatched[0][0]} is {mismatched[0][1]})", path=files[name])
    if "info" in files:
        info = read_info(Path(files["info"]))
        unknown = sorted(set(info["item_id"]) - known)
        if unknown:
            raise GenrecError(f"{len(unknown)} info items are not in the item file (first {unknown[:5]})",
                              path=files["info"])
        if index is not None:
            disagree = [i for i, sid in zip(info["item_id"], info["sid"]) if "".join(index.get(i, [])) != sid]
            if disagree:
                raise GenrecError(f"{len(disagree)} info SIDs disagree with the index (first item {disagree[0]})",
                                  path=files["info"])
    return MiniOneRecRelease(items, splits, index)


def _user_ids(splits: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Numeric user ids are kept (so our own exports round-trip); others are numbered by first appearance."""
    users = pd.unique(pd.concat([f["user"] for f in splits.values()], ignore_index=True))
    if all(str(u).isdigit() for u in users):
        return {u: int(u) for u in users}
    return {u: i for i, u in enumerate(users)}


def release_to_prepared(spec: DatasetSpec, files: dict[str, Path]):
    """A release as canonical tables. Rows keep the release's order; since the CSVs carry no times,
    `timestamp` is the row's position over train, valid, test (the order the release was cut in)."""
    missing = [s for s in SPLITS if s not in files]
    if missing:
        raise GenrecError(f"dataset '{spec.name}': the release lacks {missing}; training needs all three splits",
                          key=f"datasets.{spec.name}.raw", fix="point raw.train/valid/test at the release's CSVs")
    release = load_minionerec_release(files)
    users = _user_ids(release.splits)
    splits, offset = {}, 0
    for name in SPLITS:
        frame = release.splits[name]
        splits[name] = pd.DataFrame({
            "user_id": frame["user"].map(users).astype("int64"),
            "history": frame["history"],
            "target": frame["target"].astype("int64"),
            "timestamp": pd.RangeIndex(offset, offset + len(frame)).to_numpy(dtype="int64"),
            "history_timestamps": None,
        })
        offset += len(frame)
    rows = pd.concat(splits.values(), ignore_index=True)
    interactions = pd.DataFrame({"user_id": rows["user_id"], "item_id": rows["target"],
                                 "rating": float("nan"), "timestamp": rows["timestamp"]})
    interactions = interactions.sort_values("user_id", kind="stable").reset_index(drop=True)
    prepared = Prepared(release.items, interactions, splits)
    steps = [{"step": "release", "users": len(users), "items": int(len(release.items)),
              "interactions": int(len(interactions)), "note": "interactions = the targets of the released rows"}]
    prepared.stats = dataset_stats(spec, prepared, steps, has_timestamps=False)
    return prepared
