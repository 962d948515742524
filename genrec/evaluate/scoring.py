"""Merged predictions -> metrics: HR@K / NDCG@K on the generated SIDs, and item-level collision-corrected
metrics when SIDs of the index still collide (a SID shared by G items counts each of them 1/G).

A prediction record is keyed by its split row: `row` (the row's index in the split file) and `user_id`. Under
`time_811` a user has several rows, so a user id alone does not identify what was predicted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from genrec.errors import GenrecError
from genrec.evaluate.metrics import bootstrap_interval, per_row_metrics
from genrec.io import atomic_outputs, iter_lines, parse_json_line, read_json

TITLES_SHOWN = 10    # recommended titles kept per user in a predictions file (for reading, not scoring)


def _records_of(paths: list[str | Path]) -> Iterator[tuple[str, dict]]:
    """(file, record) for every line of every predictions file; a record without its row key is an error."""
    for path in paths:
        for lineno, line in iter_lines(path):
            record = parse_json_line(path, lineno, line)
            if "row" not in record or "user_id" not in record:
                raise GenrecError("a prediction record has no `row` / `user_id` key (written by an older genrec?)",
                                  path=f"{path}:{lineno}", fix="delete the predictions and re-run the predict jobs")
            yield str(path), record


def read_predictions(paths: list[str | Path]) -> list[dict]:
    """Records of every file, sorted by split row."""
    return sorted((record for _, record in _records_of(paths)), key=lambda r: r["row"])


def merge_shards(paths: list[str | Path], split: pd.DataFrame, split_name: str) -> list[dict]:
    """The shards' records, one per row of `split` in row order. A row predicted twice, a row no shard holds,
    or a record whose user is not the row's user is an error that names the row."""
    users = split["user_id"].to_numpy()
    seen: dict[int, str] = {}
    records = []
    for where, record in _records_of(paths):
        row = int(record["row"])
        if row in seen:
            raise GenrecError(f"row {row} of the {split_name} split (user {record['user_id']}) is predicted twice, "
                              f"in {seen[row]} and {where}", path=where,
                              fix="the shards come from different runs or shard counts: delete this stage's "
                                  "*.shard*.jsonl files and re-run its predict_shard jobs")
        if not 0 <= row < len(users) or int(users[row]) != int(record["user_id"]):
            expected = f"user {int(users[row])}" if 0 <= row < len(users) else f"only rows 0..{len(users) - 1}"
            raise GenrecError(f"row {row} of {where} is for user {record['user_id']}, but the {split_name} split has "
                              f"{expected} there: the predictions were made on another split", path=where,
                              fix="re-run the predict_shard jobs on the current split")
        seen[row] = where
        records.append(record)
    missing = np.setdiff1d(np.arange(len(users)), np.fromiter(seen, dtype=np.int64, count=len(seen)))
    if len(missing):
        named = ", ".join(f"row {r} (user {int(users[r])})" for r in missing[:5])
        raise GenrecError(f"{len(missing)} of the {len(users)} rows of the {split_name} split have no prediction: "
                          f"{named}{', ...' if len(missing) > 5 else ''}", path=str(paths[0]),
                          fix="a shard is missing or was cut short: re-run every predict_shard job of this stage")
    return sorted(records, key=lambda r: r["row"])


def write_predictions(records: list[dict], path: str | Path) -> None:
    with open(path, "w") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_evaluation(records: list[dict], metrics: dict, predictions_path: str | Path, metrics_path: str | Path) -> None:
    """Predictions JSONL and metrics JSON, both or neither (atomic)."""
    with atomic_outputs(predictions_path, metrics_path) as (tmp_predictions, tmp_metrics):
        write_predictions(records, tmp_predictions)
        tmp_metrics.write_text(json.dumps(metrics, indent=2) + "\n")


def item_ranking_records(split: pd.DataFrame, top_items: np.ndarray, top_scores: np.ndarray | None,
                         titles: list[str], history_shown: int | None) -> list[dict]:
    """Prediction records of a model that ranks item ids (the baselines): an item is its own SID here. A record
    shows the latest `history_shown` history items (what the model read; None: the whole split history)."""
    records = []
    for row, (user, history, target) in enumerate(zip(split["user_id"], split["history"], split["target"])):
        items = [int(i) for i in top_items[row]]
        target = int(target)
        records.append({
            "row": row, "user_id": int(user), "target": target, "target_sid": str(target), "sids": [str(i) for i in items],
            "items": items, "scores": [] if top_scores is None else [round(float(x), 5) for x in top_scores[row]],
            "invalid": 0, "history": [int(i) for i in list(history)[-(history_shown or len(history)):]],
            "target_title": titles[target], "titles": [titles[i] for i in items[:TITLES_SHOWN]],
        })
    return records


def sid_ranks(records: list[dict]) -> np.ndarray:
    """0-based rank of the target's SID among each row's generated SIDs (-1 = not generated)."""
    ranks = np.full(len(records), -1)
    for i, record in enumerate(records):
        if record["target_sid"] in record["sids"]:
            ranks[i] = record["sids"].index(record["target_sid"])
    return ranks


def score(records: list[dict], group_size: np.ndarray, ks: tuple[int, ...]) -> dict:
    """Metrics of merged predictions (a mean over rows; intervals resample users with their rows);
    `group_size[i]` = number of items sharing item i's SID."""
    if not records:
        raise GenrecError("no predictions to score")
    ranks = sid_ranks(records)
    per_row = per_row_metrics(ranks, ks)
    users = np.array([r["user_id"] for r in records])
    out = {
        "n_rows": len(records),
        "n_users": len(np.unique(users)),
        "metrics": {name: round(float(v.mean()), 6) for name, v in per_row.items()},
        "ci95": {name: [round(x, 6) for x in bootstrap_interval(per_row[name], users)]
                 for name in ("hr@10", "ndcg@10") if name in per_row},
        "invalid_generations": int(sum(r["invalid"] for r in records)),
    }
    targets = np.array([r["target"] for r in records])
    if (group_size > 1).any():
        corrected = per_row_metrics(ranks, ks, weights=1.0 / group_size[targets])
        out["metrics_collision_corrected"] = {name: round(float(v.mean()), 6) for name, v in corrected.items()}
    return out


def per_row_values(records: list[dict], metric: str) -> np.ndarray:
    """`metric` (e.g. `ndcg@10`) of every record, in record order."""
    k = metric.partition("@")[2]
    return per_row_metrics(sid_ranks(records), (int(k),))[metric]


def name_group_sizes(names: list[str]) -> np.ndarray:
    """For each item, how many items share its name (its SID, or a title method's title; 1 for a unique one):
    the collision correction of `score`."""
    _, inverse, counts = np.unique(np.asarray(names, dtype=object).astype(str), return_inverse=True,
                                   return_counts=True)
    return counts[inverse]


def shard_timings(prediction_paths: list[str | Path]) -> list[dict]:
    """The timing file (`.json`, written beside each shard's `.jsonl`) of every prediction shard."""
    return [read_json(Path(p).with_suffix(".json")) for p in prediction_paths]


def wall_seconds(training: dict, shards: list[dict]) -> dict[str, float]:
    """The run's wall time per stage: training (SFT, and RL or S-DPO after it; ETEGRec's joint
    training) and the shards' prediction time summed (the CPU-seconds of evaluation, whatever the shards ran on)."""
    evaluation = sum(shard["seconds"] for shard in shards)
    if "reward" in training:                      # an RL checkpoint: its SFT came first
        return {"sft": training["sft_seconds"], "rl": training["seconds"], "eval": evaluation}
    if training.get("stage") == "sdpo":          # S-DPO: its title SFT came first
        return {"sft": training["sft_seconds"], "sdpo": training["seconds"], "eval": evaluation}
    if training.get("method") == "etegrec":
        return {"etegrec": training["seconds"], "eval": evaluation}
    return {"sft": training["seconds"], "eval": evaluation}


def shards_precision(shards: list[dict]) -> str:
    """The precision the shards decoded in (`a+b` if they differed, e.g. GPU and CPU shards)."""
    return "+".join(sorted({shard["precision"] for shard in shards}))


def score_shards(paths: list[str | Path], split: pd.DataFrame, split_name: str, names: list[str],
                 ks: tuple[int, ...]) -> tuple[list[dict], dict]:
    """A generative model's split: its prediction shards merged (every row exactly once) and scored, a hit on a
    name (SID or title, `names` by item) several items share counted as in `score`."""
    records = merge_shards(paths, split, split_name)
    return records, score(records, name_group_sizes(names), ks)


def score_item_ranking(split: pd.DataFrame, items: pd.DataFrame, top_items: np.ndarray, top_scores: np.ndarray | None,
                       ks: tuple[int, ...], history_shown: int | None) -> tuple[list[dict], dict]:
    """A model that ranks item ids (MostPop, the sequential baselines): its records and scores (an item is its own
    SID, so no hit is shared)."""
    titles = items["title"].fillna("").astype(str).tolist()
    records = item_ranking_records(split, top_items, top_scores, titles, history_shown)
    return records, score(records, np.ones(len(items), dtype=int), ks)
