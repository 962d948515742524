"""Every metrics file of a results tree -> one leaderboard table (DESIGN.md: `leaderboard.csv` + `.parquet`).

One row per metrics file with its identity, every HR@K / NDCG@K, the bootstrap intervals the file carries, its
provenance (config hash, code version, date) and, for an RL stage, its NDCG@10 gain over its SFT starting point
on the same rows with a paired bootstrap interval. A file that is not valid JSON or not a metrics file (it
fails genrec/schemas/metrics.schema.yaml) becomes a row with `source = error` and the reason, so that a
broken run is listed, never silently dropped and never fatal to the table.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from genrec.errors import GenrecError
from genrec.grid import TASK_SUFFIXES, reward_of
from genrec.io import atomic_outputs, read_json
from genrec.report.compare import VS_SFT, rl_versus_sft

IDENTITY = ("dataset", "split", "method", "tokenizer", "backbone", "stage", "reward")
PROVENANCE = ("n_rows", "n_users", "mask_history", "precision", "invalid_generations", "num_beams", "seed",
              "config_hash", "code_version", "created_at", "wall_seconds")
COLUMNS = ("run", "source", *IDENTITY, *PROVENANCE, "data_vs_paper", *VS_SFT, "error")


@cache
def metrics_validator() -> jsonschema.protocols.Validator:
    schema = yaml.safe_load(resources.files("genrec.schemas").joinpath("metrics.schema.yaml").read_text())
    return jsonschema.validators.validator_for(schema)(schema)    # checked once, reused for every file


def metrics_row(record: dict, run: str) -> dict:
    """A valid metrics record as one leaderboard row (metric columns `hr@10`, CI columns `ndcg@10 ci_low`...)."""
    row = {"run": run, "source": "reproduced", **{key: record.get(key) for key in IDENTITY if key != "reward"},
           "reward": reward_of(record["stage"]), **{key: record.get(key) for key in PROVENANCE}, "error": ""}
    row["wall_seconds"] = round(sum(record.get("wall_seconds", {}).values()), 1)
    row.update(record["metrics"])
    for metric, (low, high) in record.get("ci95", {}).items():
        row[f"{metric} ci_low"], row[f"{metric} ci_high"] = low, high
    return row


def read_metrics_row(path: Path, results: Path) -> dict:
    """One file as a row: its metrics, or `source = error` with what is wrong with it."""
    run = path.relative_to(results).as_posix()
    try:
        record = read_json(path)
        metrics_validator().validate(record)
    except GenrecError as error:
        return {"run": run, "source": "error", "error": str(error)}
    except jsonschema.ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        return {"run": run, "source": "error",
                "error": f"{path}: not a genrec metrics file: {error.message} (at {where}); "
                         "re-run the stage that wrote it, or move the file out of metrics/"}
    return metrics_row(record, run)


def metrics_files(results: str | Path) -> list[Path]:
    """Every metrics file under `results`: `metrics/**/*.json` but the other tasks' files beside them (general-text
    perplexity, item understanding, query-conditioned recommendation)."""
    metrics = Path(results) / "metrics"
    return sorted(path for path in metrics.rglob("*.json") if not path.name.endswith(TASK_SUFFIXES)) \
        if metrics.exists() else []


def collect_leaderboard(results: str | Path) -> pd.DataFrame:
    """Every metrics file under `results`, one row each, sorted by dataset, split, best NDCG@10 first."""
    results = Path(results)
    rows = [read_metrics_row(path, results) for path in metrics_files(results)]
    table = pd.DataFrame(rows)
    if "stage" in table:
        table = rl_versus_sft(results, table)
    if "dataset" in table:
        by_dataset = {dataset: data_vs_paper(results, dataset) for dataset in table["dataset"].unique()}
        table["data_vs_paper"] = table["dataset"].map(by_dataset)
    for column in COLUMNS:
        if column not in table:
            table[column] = pd.Series(dtype="object")
    metric_columns = sorted((c for c in table.columns if c not in COLUMNS), key=metric_order)
    table = table[[*COLUMNS, *metric_columns]]
    order = table["ndcg@10"] if "ndcg@10" in table else pd.Series(0.0, index=table.index)
    return (table.assign(_order=-order.fillna(-1.0))
            .sort_values(["dataset", "split", "_order", "run"], na_position="last", kind="stable")
            .drop(columns="_order").reset_index(drop=True))


def data_vs_paper(results: Path, dataset) -> str:
    """Whether a dataset as preprocessed is the data a paper's table of datasets describes: "" where no paper
    states its statistics (or it is not preprocessed), else "matches <source>" or what differs."""
    stats_path = results / "data" / str(dataset) / "stats.json"
    if not isinstance(dataset, str) or not stats_path.exists():
        return ""
    stats = read_json(stats_path)
    if "vs_published" not in stats:
        return ""
    source = stats["published"]["source"]
    if stats["matches_published"]:
        return f"matches {source}"
    return f"differs from {source}: " + ", ".join(f"{key} {diff:+,}" for key, diff in stats["vs_published"].items()
                                                   if diff)


def metric_order(column: str) -> tuple:
    """hr@1, hr@3, ... ndcg@1, ..., then their CI columns: the order people read them in."""
    name, _, rest = column.partition("@")
    k, _, suffix = rest.partition(" ")
    return (suffix != "", name, int(k) if k.isdigit() else 0, suffix != "ci_low")


def write_leaderboard(table: pd.DataFrame, csv_path: str | Path, parquet_path: str | Path) -> None:
    """Both files or neither."""
    with atomic_outputs(csv_path, parquet_path) as (tmp_csv, tmp_parquet):
        table.to_csv(tmp_csv, index=False)
        # object columns mix None and text in error rows: parquet wants one type per column
        table.astype({c: "string" for c in table.columns if table[c].dtype == object}).to_parquet(tmp_parquet,
                                                                                                   index=False)


def leaderboard_summary(table: pd.DataFrame) -> str:
    """The lines `genrec leaderboard` logs: counts, and every error row in full."""
    errors = table[table["source"] == "error"]
    lines = [f"{len(table) - len(errors)} runs, {len(errors)} unreadable metrics file(s)"]
    lines += [f"  error: {row.run}: {row.error}" for row in errors.itertuples()]
    return "\n".join(lines)
