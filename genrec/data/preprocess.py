"""Raw files -> canonical tables: items, interactions, train/valid/test splits and their statistics.

The order of operations is MiniOneRec's: drop items without a usable title, keep reviews inside the
time window, k-core users and items to a fixed point, and while fewer than `min_items` items survive
move the window's start one year earlier and filter again from the raw reviews.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from genrec.data.filters import in_window, k_core, keep_earliest, titled_items
from genrec.data.loaders import load_raw
from genrec.data.minionerec_release import release_to_prepared
from genrec.data.prepared import Prepared, dataset_stats, write_prepared
from genrec.data.raw import RawDataset
from genrec.data.spec import DatasetSpec
from genrec.data.splits import make_splits
from genrec.errors import GenrecError

ITEM_COLUMNS = ["item_id", "source_id", "title", "description", "brand", "categories"]
INTERACTION_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


def _counts(step: str, reviews: pd.DataFrame, **extra) -> dict:
    return {"step": step, "users": int(reviews["user"].nunique()), "items": int(reviews["item"].nunique()),
            "interactions": int(len(reviews)), **extra}


def filter_reviews(raw: RawDataset, spec: DatasetSpec) -> tuple[pd.DataFrame, pd.Series, list[dict]]:
    """Apply title filter, dedup, time window and k-core; return surviving reviews, titles, and counts."""
    steps = [_counts("raw", raw.reviews)]
    titles = titled_items(raw.meta, spec.title_filter)
    reviews = raw.reviews[raw.reviews["item"].isin(titles.index)]
    steps.append(_counts("title" if spec.title_filter else "has_meta", reviews))
    if spec.dedup:
        reviews = keep_earliest(reviews)
        steps.append(_counts("dedup", reviews))
    window = spec.window.window if spec.window else None
    while True:
        windowed = in_window(reviews, window) if window else reviews
        core = k_core(windowed, spec.kcore)
        n_items = core.reviews["item"].nunique()
        if window and window.start_year > spec.window.earliest_start_year and n_items < spec.window.min_items:
            steps.append(_counts("window", windowed, window=str(window), retried=f"{n_items} items < "
                                 f"{spec.window.min_items} after k-core: start moved one year earlier"))
            window = window.one_year_earlier()
            continue
        break
    if window:
        steps.append(_counts("window", windowed, window=f"{window} (UTC)"))
    steps.append(_counts("kcore", core.reviews, k=spec.kcore, iterations=core.iterations))
    for step in steps:
        if step["interactions"] == 0:
            raise GenrecError(
                f"dataset '{spec.name}': no interactions left after the '{step['step']}' filter",
                key=f"datasets.{spec.name}.filters",
                fix="loosen the filters (window, kcore, title) or check that the raw files are the right ones",
            )
    return core.reviews, titles, steps


def assign_ids(reviews: pd.DataFrame, id_order: str) -> pd.DataFrame:
    """Give users and items dense ids 0..N-1 and order rows by user, then time (ties keep file order)."""
    frame = reviews.reset_index(drop=True)
    if id_order == "numeric":
        user_keys = np.sort(frame["user"].astype("int64").unique())
        user_ids = pd.Series(np.arange(len(user_keys)), index=user_keys.astype(str))
    else:  # MiniOneRec: users in order of their first review in the file
        user_ids = pd.Series(np.arange(frame["user"].nunique()), index=pd.unique(frame["user"]))
    frame["user_id"] = frame["user"].map(user_ids).astype("int64")
    # Two stable single-key sorts = sort by (user_id, timestamp) keeping file order among equal times.
    frame = frame.sort_values("timestamp", kind="stable").sort_values("user_id", kind="stable")
    if id_order == "numeric":
        item_keys = np.sort(frame["item"].astype("int64").unique())
        item_ids = pd.Series(np.arange(len(item_keys)), index=item_keys.astype(str))
    else:  # MiniOneRec: items in order of first appearance in the users' time-sorted histories
        item_ids = pd.Series(np.arange(frame["item"].nunique()), index=pd.unique(frame["item"]))
    frame["item_id"] = frame["item"].map(item_ids).astype("int64")
    return frame.reset_index(drop=True)


def item_table(indexed: pd.DataFrame, titles: pd.Series, meta: pd.DataFrame) -> pd.DataFrame:
    ids = indexed.drop_duplicates("item_id")[["item_id", "item"]].sort_values("item_id")
    last_meta = meta.drop_duplicates("item", keep="last").set_index("item")
    items = pd.DataFrame({
        "item_id": ids["item_id"].to_numpy(dtype="int64"),
        "source_id": ids["item"].astype(str).to_numpy(),
        "title": titles.reindex(ids["item"]).to_numpy(),
    })
    for column in ("description", "brand", "categories"):
        items[column] = last_meta[column].reindex(ids["item"]).to_numpy()
    return items[ITEM_COLUMNS]


def preprocess(spec: DatasetSpec, files: dict[str, Path]) -> Prepared:
    """Run the whole data stage in memory for one dataset."""
    if spec.source == "minionerec_release":
        return release_to_prepared(spec, files)
    raw = load_raw(spec.source, files)
    if spec.protocol == "time_811" and not raw.has_timestamps:
        raise GenrecError(
            f"dataset '{spec.name}': protocol time_811 cuts by time, but source '{spec.source}' has no timestamps",
            key=f"datasets.{spec.name}.split.protocol", fix="use protocol 'loo' for this source")
    reviews, titles, steps = filter_reviews(raw, spec)
    indexed = assign_ids(reviews, raw.id_order)
    interactions = indexed[INTERACTION_COLUMNS].copy()
    prepared = Prepared(item_table(indexed, titles, raw.meta), interactions,
                        make_splits(interactions, spec.protocol, spec.split_history))
    prepared.stats = dataset_stats(spec, prepared, steps, raw.has_timestamps)
    return prepared


def run_preprocess(spec: DatasetSpec, files: dict[str, Path], out_dir: str | Path) -> dict:
    started = time.perf_counter()
    prepared = preprocess(spec, files)
    prepared.stats["seconds"] = round(time.perf_counter() - started, 3)
    write_prepared(prepared, out_dir)
    return prepared.stats
