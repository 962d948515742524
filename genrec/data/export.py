"""Exporters to the original projects' layouts, so their scripts can consume our splits and results
can be cross-checked: MiniOneRec's CSV + info + index + item files, and LC-Rec's inter/item JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from genrec.data.prepared import Prepared
from genrec.data.splits import SPLITS
from genrec.errors import GenrecError
from genrec.io import atomic_outputs
from genrec.tokenize.index import format_sid


def _item_json(items: pd.DataFrame) -> dict:
    return {str(row.item_id): {"title": row.title, "description": row.description, "brand": row.brand,
                               "categories": ",".join(row.categories)}
            for row in items.itertuples(index=False)}


def export_minionerec(prepared: Prepared, index: dict[int, list[str]], out_dir: str | Path, name: str) -> list[Path]:
    """Write train/valid/test.csv, info.txt, {name}.index.json and {name}.item.json (the release layout)."""
    items = prepared.items.set_index("item_id")
    missing = sorted(set(items.index) - set(index))
    if missing:
        raise GenrecError(f"the SID index lacks {len(missing)} of the dataset's items (first {missing[:5]})",
                          fix="export with the index built for this dataset")
    title = items["title"].to_dict()
    sid = {item: format_sid(tokens) for item, tokens in index.items()}
    out_dir = Path(out_dir)
    targets = [out_dir / f"{s}.csv" for s in SPLITS] + [out_dir / "info.txt", out_dir / f"{name}.index.json",
                                                       out_dir / f"{name}.item.json"]
    with atomic_outputs(*targets) as temps:
        for split, tmp in zip(SPLITS, temps):
            with open(tmp, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["user_id", "history_item_title", "item_title", "history_item_id", "item_id",
                                 "history_item_sid", "item_sid"])
                for row in prepared.splits[split].itertuples(index=False):
                    history = [int(i) for i in row.history]
                    writer.writerow([row.user_id, repr([title[i] for i in history]), title[row.target],
                                     repr(history), int(row.target), repr([sid[i] for i in history]),
                                     sid[row.target]])
        with open(temps[3], "w", encoding="utf-8") as handle:
            for item_id in items.index:
                handle.write(f"{sid[item_id]}\t{title[item_id]}\t{item_id}\n")
        temps[4].write_text(json.dumps({str(k): index[k] for k in sorted(index)}))
        temps[5].write_text(json.dumps(_item_json(prepared.items), indent=2, ensure_ascii=False))
    return targets


def export_lcrec(prepared: Prepared, out_dir: str | Path, name: str) -> list[Path]:
    """Write {name}.inter.json (user -> chronological item ids) and {name}.item.json."""
    sequences = prepared.interactions.groupby("user_id", sort=True)["item_id"].agg(list)
    out_dir = Path(out_dir)
    targets = [out_dir / f"{name}.inter.json", out_dir / f"{name}.item.json"]
    with atomic_outputs(*targets) as (inter_tmp, item_tmp):
        inter_tmp.write_text(json.dumps({str(u): [int(i) for i in seq] for u, seq in sequences.items()}))
        item_tmp.write_text(json.dumps(_item_json(prepared.items), indent=2, ensure_ascii=False))
    return targets
