"""Merged predictions -> metrics: HR@K / NDCG@K on the generated SIDs, and item-level collision-corrected
metrics when SIDs of the index still collide (a SID shared by G items counts each of them 1/G)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from genrec.errors import GenrecError
from genrec.evaluate.metrics import bootstrap_interval, per_user_metrics
from genrec.io import atomic_outputs, iter_lines, parse_json_line

TITLES_SHOWN = 10    # recommended titles kept per user in a predictions file (for reading, not scoring)


def read_predictions(paths: list[str | Path]) -> list[dict]:
    """Records of every shard, sorted by user; a user predicted twice is an error."""
    records = []
    for path in paths:
        records += [parse_json_line(path, lineno, line) for lineno, line in iter_lines(path)]
    records.sort(key=lambda r: r["user_id"])
    users = [r["user_id"] for r in records]
    if len(set(users)) != len(users):
        raise GenrecError("a user appears in more than one prediction shard", path=str(paths[0]),
                          fix="re-run the shards with the same `evaluate.shards`")
    return records


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
                         titles: list[str], max_history: int) -> list[dict]:
    """Prediction records of a model that ranks item ids (the baselines): an item is its own SID here."""
    records = []
    for row, (user, history, target) in enumerate(zip(split["user_id"], split["history"], split["target"])):
        items = [int(i) for i in top_items[row]]
        target = int(target)
        records.append({
            "user_id": int(user), "target": target, "target_sid": str(target), "sids": [str(i) for i in items],
            "items": items, "scores": [] if top_scores is None else [round(float(x), 5) for x in top_scores[row]],
            "invalid": 0, "history": [int(i) for i in list(history)[-max_history:]],
            "target_title": titles[target], "titles": [titles[i] for i in items[:TITLES_SHOWN]],
        })
    return records


def sid_ranks(records: list[dict]) -> np.ndarray:
    """0-based rank of the target's SID among each user's generated SIDs (-1 = not generated)."""
    ranks = np.full(len(records), -1)
    for i, record in enumerate(records):
        if record["target_sid"] in record["sids"]:
            ranks[i] = record["sids"].index(record["target_sid"])
    return ranks


def score(records: list[dict], group_size: np.ndarray, ks: tuple[int, ...]) -> dict:
    """Metrics of merged predictions; `group_size[i]` = number of items sharing item i's SID."""
    if not records:
        raise GenrecError("no predictions to score")
    ranks = sid_ranks(records)
    per_user = per_user_metrics(ranks, ks)
    out = {
        "n_users": len(records),
        "metrics": {name: round(float(v.mean()), 6) for name, v in per_user.items()},
        "ci95": {name: [round(x, 6) for x in bootstrap_interval(per_user[name])] for name in ("hr@10", "ndcg@10")
                 if name in per_user},
        "invalid_generations": int(sum(r["invalid"] for r in records)),
    }
    targets = np.array([r["target"] for r in records])
    if (group_size > 1).any():
        corrected = per_user_metrics(ranks, ks, weights=1.0 / group_size[targets])
        out["metrics_collision_corrected"] = {name: round(float(v.mean()), 6) for name, v in corrected.items()}
    return out
