"""The canonical tables of a dataset (DESIGN.md's data contracts): items, interactions, the three splits and
their statistics, written all together or not at all, and read back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from genrec.data.spec import DatasetSpec
from genrec.errors import GenrecError
from genrec.data.splits import SPLITS
from genrec.io import atomic_outputs, read_table

TABLE_FILES = ("items", "interactions", *SPLITS)


@dataclass
class Prepared:
    items: pd.DataFrame
    interactions: pd.DataFrame
    splits: dict[str, pd.DataFrame]
    stats: dict = field(default_factory=dict)


def history_stats(split: pd.DataFrame) -> dict:
    lengths = split["history"].map(len)
    if lengths.empty:
        return {"rows": 0, "users": 0}
    histogram = lengths.value_counts().sort_index()
    return {
        "rows": int(len(split)),
        "users": int(split["user_id"].nunique()),
        "history_length": {"mean": round(float(lengths.mean()), 3), "min": int(lengths.min()),
                           "max": int(lengths.max()),
                           "histogram": {str(k): int(v) for k, v in histogram.items()}},
    }


def dataset_stats(spec: DatasetSpec, prepared: Prepared, steps: list[dict], has_timestamps: bool) -> dict:
    inter = prepared.interactions
    n_users, n_items = int(inter["user_id"].nunique()), int(len(prepared.items))
    per_user = inter.groupby("user_id").size()
    return {
        "dataset": spec.name,
        "source": spec.source,
        "protocol": spec.protocol,
        "max_history": spec.split_history,
        "prompt_category": spec.prompt_category,
        "timestamps": REAL_TIMESTAMPS if has_timestamps else "ordinal: the source gives order only",
        "users": n_users,
        "items": n_items,
        "interactions": int(len(inter)),
        "density": len(inter) / (n_users * n_items) if n_users and n_items else 0.0,
        "interactions_per_user": {"min": int(per_user.min()), "median": float(per_user.median()),
                                  "mean": round(float(per_user.mean()), 3), "max": int(per_user.max())},
        "filters": steps,
        "splits": {name: history_stats(frame) for name, frame in prepared.splits.items()},
        **published_difference(spec.published, {"users": n_users, "items": n_items, "interactions": int(len(inter))}),
    }


def published_difference(published: dict | None, ours: dict[str, int]) -> dict:
    """The paper's statistics of this data and ours minus theirs, for every count the paper states; nothing for a
    dataset no paper describes. A nonzero difference means a reproduced row is not on the paper's data."""
    if not published:
        return {}
    counts = {key: published[key] for key in ("users", "items", "interactions") if key in published}
    return {"published": published, "vs_published": {key: ours[key] - value for key, value in counts.items()},
            "matches_published": all(ours[key] == value for key, value in counts.items())}


REAL_TIMESTAMPS = "unix seconds (UTC)"
SCHEMAS = {
    "items": pa.schema([("item_id", pa.int64()), ("source_id", pa.string()), ("title", pa.string()),
                        ("description", pa.string()), ("brand", pa.string()), ("categories", pa.list_(pa.string()))]),
    "interactions": pa.schema([("user_id", pa.int64()), ("item_id", pa.int64()), ("rating", pa.float32()),
                               ("timestamp", pa.int64())]),
    # history_timestamps is null where the source gives no per-interaction time (a release of rows)
    "split": pa.schema([("user_id", pa.int64()), ("history", pa.list_(pa.int64())), ("target", pa.int64()),
                        ("timestamp", pa.int64()), ("history_timestamps", pa.list_(pa.int64()))]),
}


def write_prepared(prepared: Prepared, out_dir: str | Path) -> dict[str, Path]:
    """Write every table and stats.json together: all of them appear, or none does."""
    out_dir = Path(out_dir)
    frames = {"items": prepared.items, "interactions": prepared.interactions, **prepared.splits}
    targets = {name: out_dir / f"{name}.parquet" for name in TABLE_FILES} | {"stats": out_dir / "stats.json"}
    with atomic_outputs(*targets.values()) as temps:
        tmp_for = dict(zip(targets, temps))
        for name, frame in frames.items():
            schema = SCHEMAS.get(name, SCHEMAS["split"])
            table = pa.Table.from_pandas(frame.reset_index(drop=True), schema=schema, preserve_index=False)
            pq.write_table(table, tmp_for[name])
        tmp_for["stats"].write_text(json.dumps(prepared.stats, indent=2) + "\n")
    return targets


def has_real_timestamps(data_dir: str | Path) -> bool:
    """Whether the dataset's timestamps are times (Unix seconds), not the ordinals of an order-only source."""
    stats = json.loads((Path(data_dir) / "stats.json").read_text())
    return stats.get("timestamps") == REAL_TIMESTAMPS


def prompt_category(data_dir: str | Path) -> str | None:
    """What the dataset's items are called in prompts ({category}; `prompt_category` in config/datasets.yaml)."""
    stats = json.loads((Path(data_dir) / "stats.json").read_text())
    if "prompt_category" not in stats:
        raise GenrecError("stats.json predates `prompt_category`", path=Path(data_dir) / "stats.json",
                          fix="re-run the dataset's preprocess rule")
    return stats["prompt_category"]


def read_prepared(data_dir: str | Path) -> Prepared:
    data_dir = Path(data_dir)
    tables = {name: read_table(data_dir / f"{name}.parquet") for name in TABLE_FILES}
    stats = json.loads((data_dir / "stats.json").read_text())
    return Prepared(tables["items"], tables["interactions"], {s: tables[s] for s in SPLITS}, stats)
