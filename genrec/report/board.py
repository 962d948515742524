"""What the dashboard shows, as plain functions over a results directory (dashboard/app.py only draws them).

Reads only; every path it opens comes from `inside(results, relative)`, which refuses anything that
resolves outside the results directory, so nothing from a URL or a widget reaches the rest of the disk.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from genrec.errors import GenrecError
from genrec.grid import (LLM_METHODS, OPENONEREC, OPENONEREC_BASE, OPENONEREC_CHAIN, OPENONEREC_GENERAL,
                         PERPLEXITY_SUFFIX, TIGER_METHODS, grid_runs, method_of, method_tokenizers)
from genrec.models.baselines.settings import MODEL_CONFIGS
from genrec.report.compare import across_seeds, paired_runs, predictions_of
from genrec.report.leaderboard import COLUMNS, IDENTITY, collect_leaderboard, metrics_files

METRIC = re.compile(r"^(hr|ndcg)@(\d+)$")
FILTERS = ("dataset", "method", "tokenizer", "reward", "backbone", "split")


def inside(results: str | Path, relative: str | Path) -> Path:
    """`results/relative`, refused if it resolves (symlinks and `..` included) outside `results`."""
    root = Path(results).resolve()
    path = (root / relative).resolve()
    if path != root and root not in path.parents:
        raise PermissionError(f"{relative} is outside the results directory {root}")
    return path


def current_leaderboard(results: str | Path) -> pd.DataFrame:
    """The pipeline's leaderboard.parquet while it is current (no metrics file newer, none added or removed),
    else every metrics file read and checked again (a tree written by hand, or one mid-run)."""
    results = Path(results)
    saved = results / "leaderboard.parquet"
    files = metrics_files(results)
    if saved.exists():
        written = saved.stat().st_mtime
        table = pd.read_parquet(saved)
        runs = {f.relative_to(results).as_posix() for f in files}
        # a parquet written by an older genrec lacks columns this one shows: read the files again
        if (set(COLUMNS) <= set(table.columns) and set(table["run"]) == runs
                and all(f.stat().st_mtime <= written for f in files)):
            return table.astype(object).where(table.notna(), None).infer_objects()
    return collect_leaderboard(results)


def board_with_reported(results: str | Path, reported: pd.DataFrame | None) -> pd.DataFrame:
    """The leaderboard of `results` (every metrics file, error rows included) plus the published rows."""
    board = current_leaderboard(results)
    if reported is not None and len(reported):
        board = pd.concat([board, reported], ignore_index=True)
    return board


def metric_names(board: pd.DataFrame) -> list[str]:
    return sorted({m.group(1) for c in board.columns if (m := METRIC.match(c))})


def metric_ks(board: pd.DataFrame) -> list[int]:
    return sorted({int(m.group(2)) for c in board.columns if (m := METRIC.match(c))})


def filter_board(board: pd.DataFrame, chosen: dict[str, list]) -> pd.DataFrame:
    """Rows whose value in each filtered column is among the chosen ones (an empty choice keeps all)."""
    keep = pd.Series(True, index=board.index)
    for column, values in chosen.items():
        if values:
            keep &= board[column].fillna("-").isin(values)
    return board[keep]


RUN_KEY = ("dataset", "method", "tokenizer", "backbone", "stage")


def ranked(board: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows with `metric`, best first within each dataset and split. `best` marks, per dataset, the reproduced run
    with the best *valid* `metric`, on its valid and its test row: picking the best run on test would select on
    the very numbers being reported. A dataset with no valid-split run has no mark."""
    scored = board[board[metric].notna()] if metric in board else board.iloc[0:0]
    scored = scored.sort_values(["dataset", "split", metric], ascending=[True, True, False], kind="stable")
    key = scored[list(RUN_KEY)].fillna("-").astype(str).agg("/".join, axis=1)
    valid = scored[(scored["split"] == "valid") & (scored["source"] == "reproduced")]
    chosen = set(key[valid.groupby("dataset")[metric].idxmax()]) if len(valid) else set()
    return scored.assign(best=key.isin(chosen) & (scored["source"] == "reproduced"))


def beside_reported(board: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Each reproduced row with the published number of the same dataset, method and stage, and the gap."""
    ours = board[board["source"] == "reported"].rename(columns={metric: "reported"})
    keys = ["dataset", "split", "method", "stage"]
    theirs = ours[keys + ["reported", "run"]].rename(columns={"run": "reported in"})
    mine = board[board["source"] == "reproduced"][["run", *keys, "tokenizer", "backbone", metric,
                                                  *[c for c in (f"{metric} ci_low", f"{metric} ci_high")
                                                    if c in board]]]
    paired = mine.merge(theirs, on=keys, how="inner")
    return paired.assign(difference=paired[metric] - paired["reported"])


# --- Paper tables ---------------------------------------------------------------------------------------------
# A cell's colour: the published value inside the reproduced run's 95 % interval, outside it, or no run yet.
COVERAGE_COLOURS = {"inside": "#c8e6c9", "outside": "#ffcdd2", "not reproduced": "#eeeeee"}
SEEDED_BASELINES = tuple(MODEL_CONFIGS)       # the sequential baselines, each trained once per seed of `seeds`
BASELINE_METHODS = ("mostpop", *SEEDED_BASELINES)


def published_tables(board: pd.DataFrame) -> list[tuple[str, str]]:
    """(paper, table) of every published table on the board, in the order of config/reported_results.yaml."""
    reported = board[board["source"] == "reported"] if "paper" in board else board.iloc[0:0]
    return list(dict.fromkeys(zip(reported["paper"], reported["table"])))



def metrics_paths_of(dataset: str, method: str, stage: str, config: dict) -> list[str]:
    """Where the pipeline under `config` writes the runs of `method` on `dataset` (one per seed of `seeds` for a
    trained baseline; the config's first tokenizer and backbone for a generative method); [] for a method the
    pipeline does not have."""
    if method in BASELINE_METHODS:
        seeds = config["seeds"] if method in SEEDED_BASELINES else []
        return [f"metrics/{dataset}/baselines/{method}{f'.seed{seed}' if seeds else ''}.json"
                for seed in (seeds or [None])]
    if method in TIGER_METHODS:     # TIGER on the config's first tokenizer of that row's kind
        tokenizers = [t for t in config["tiger"]["tokenizers"]
                      if method_of("tiger", config["tokenizers"].get(t), config["encoders"]) == method]
        return [f"metrics/{dataset}/{tokenizers[0]}/{config['tiger']['backbone']}/tiger.json"] if tokenizers else []
    if method == "etegrec":         # the variant (stage) on the config's first ETEGRec tokenizer
        tokenizers = config["etegrec"]["tokenizers"]
        return [f"metrics/{dataset}/{tokenizers[0]}/{config['etegrec']['backbone']}/{stage}.json"] if tokenizers else []
    if method in LLM_METHODS:       # an LLM method (LC-Rec, D3, BIGRec) on its first tokenizer (or titles) and backbone
        names, backbones = method_tokenizers(config, method), config[method]["backbones"]
        return [f"metrics/{dataset}/{names[0]}/{backbones[0]}/{method}.json"] if names and backbones else []
    if method == OPENONEREC:        # the stage on the config's first OpenOneRec tokenizer and backbone
        tokenizers, backbones = config[OPENONEREC]["tokenizers"], config[OPENONEREC]["backbones"]
        return [f"metrics/{dataset}/{tokenizers[0]}/{backbones[0]}/{stage}.json"] if tokenizers and backbones else []
    if method == "minionerec" and config["sid_tokenizers"] and config["sft_backbones"]:
        return [f"metrics/{dataset}/{config['sid_tokenizers'][0]}/{config['sft_backbones'][0]}/{stage}.json"]
    return []


def reproduce_command(dataset: str, method: str, stage: str, config: dict, results_arg: str,
                      experiment: str | None = None) -> str:
    """The `snakemake` command that makes a row's runs: under its experiment config where the source names one."""
    paths = metrics_paths_of(dataset, method, stage, config)
    if not paths:
        return "not in the pipeline yet"
    targets = " ".join(f"{results_arg}/{path}" for path in paths)
    # targets before --configfile, which takes every argument after it as a config file
    return f"snakemake {targets} --cores all" + (f" --configfile {experiment}" if experiment else "")


def paper_table(board: pd.DataFrame, paper: str, table: str, config: dict, results: str | Path,
                results_arg: str = "results", experiments: dict[str, tuple[str, dict]] | None = None) -> pd.DataFrame:
    """One published table, cell by cell: per row (dataset, the paper's label) and metric, the reported value, the
    reproduced one (the test split of runs with the same dataset, method and stage), Δ = reproduced - reported,
    whether the reported value lies inside the reproduced 95 % interval, and, for a row not yet reproduced, the
    command that makes it (under `experiments[dataset]` = (experiment file, its loaded config) where the source
    names one, else under `config`). Runs that differ only in their seed (`seeds`) are combined: the mean over seeds, and an
    interval that resamples seeds and users; one run's interval resamples users only (test sampling)."""
    reported = board[(board["source"] == "reported") & (board["paper"] == paper) & (board["table"] == table)]
    runs = board[(board["source"] == "reproduced") & (board["split"] == "test")]
    cells = []
    for row in reported.to_dict("records"):
        matches = runs[(runs["dataset"] == row["dataset"]) & (runs["method"] == row["method"])
                       & (runs["stage"] == row["stage"])].sort_values("run", kind="stable")
        if len(matches):        # one configuration: the first tokenizer / backbone, all of its seeds
            same = matches[["tokenizer", "backbone"]].astype(object).fillna("-").astype(str)
            matches = matches[(same == same.iloc[0]).all(axis=1)]
        experiment, row_config = (experiments or {}).get(row["dataset"], (None, config))
        command = "" if len(matches) else reproduce_command(row["dataset"], row["method"], row["stage"], row_config,
                                                            results_arg, experiment)
        metrics = [m for m in metric_columns(board) if pd.notna(row.get(m))]
        reproduced = reproduced_values(results, matches, metrics)
        for metric in metrics:
            ours = reproduced[metric]
            if ours is None:
                coverage = "not reproduced"
            elif ours["ci_low"] is not None:
                coverage = "inside" if ours["ci_low"] <= row[metric] <= ours["ci_high"] else "outside"
            else:
                coverage = "inside" if ours["mean"] == row[metric] else "outside"
            cells.append({"dataset": row["dataset"], "label": row["label"], "method": row["method"],
                          "stage": row["stage"], "metric": metric, "reported": row[metric],
                          "reproduced": None if ours is None else ours["mean"],
                          "difference": None if ours is None else ours["mean"] - row[metric],
                          "ci_low": None if ours is None else ours["ci_low"],
                          "ci_high": None if ours is None else ours["ci_high"], "coverage": coverage,
                          "seeds": 0 if ours is None else ours["seeds"],
                          "interval": "" if ours is None else ours["interval"],
                          "runs": ", ".join(matches["run"]), "to reproduce": command})
    return pd.DataFrame(cells)


def reproduced_values(results: str | Path, matches: pd.DataFrame, metrics: list[str]) -> dict[str, dict | None]:
    """Each reproduced metric of runs differing only in seed (None where they lack it): from their predictions
    files, the mean and the interval that resamples seeds and users (users only for one seed), for every metric;
    without predictions, one run's value and the interval its metrics file holds (where it holds one)."""
    present = [m for m in metrics if len(matches) and m in matches and matches[m].notna().all()]
    values: dict[str, dict | None] = {metric: None for metric in metrics}
    files = [inside(results, predictions_of(run)) for run in matches["run"]]
    if len(matches) and all(f.exists() for f in files):
        combined = across_seeds(files, present) if present else {}
        resampled = "seeds × users" if len(files) > 1 else "users"
        return values | {metric: {**value, "interval": resampled} for metric, value in combined.items()}
    for metric in present:
        first = matches.iloc[0]
        low, high = first.get(f"{metric} ci_low"), first.get(f"{metric} ci_high")
        known = low is not None and high is not None and pd.notna(low) and pd.notna(high)
        values[metric] = {"mean": float(first[metric]), "ci_low": float(low) if known else None,
                          "ci_high": float(high) if known else None, "seeds": 1, "interval": "users" if known else ""}
    return values


def metric_columns(board: pd.DataFrame) -> list[str]:
    """The board's HR@K and NDCG@K columns, HR first, by K."""
    return sorted((c for c in board.columns if METRIC.fullmatch(c)), key=lambda c: (c.split("@")[0] != "hr",
                                                                                      int(c.split("@")[1])))


def paper_table_grid(cells: pd.DataFrame, dataset: str, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's layout for one dataset: its rows x its metric columns, each cell "reported / reproduced (Δ)",
    and the matching grid of coverage (what colours the cell)."""
    part = cells[cells["dataset"] == dataset]
    labels = list(dict.fromkeys(part["label"]))

    def text(cell) -> str:
        if cell["reproduced"] is None or pd.isna(cell["reproduced"]):
            return f"{cell['reported']:.4f}"
        seeds = f" ×{cell['seeds']} seeds" if cell["seeds"] > 1 else ""
        return f"{cell['reported']:.4f} / {cell['reproduced']:.4f} ({cell['difference']:+.4f}){seeds}"

    shown = pd.DataFrame("", index=labels, columns=columns)
    coverage = pd.DataFrame("not reproduced", index=labels, columns=columns)
    for cell in part.to_dict("records"):
        if cell["metric"] in columns:
            shown.loc[cell["label"], cell["metric"]] = text(cell)
            coverage.loc[cell["label"], cell["metric"]] = cell["coverage"]
    return shown, coverage


def paper_table_report(cells: pd.DataFrame, columns: list[str]) -> str:
    """The reproduced rows of a paper table as Markdown: per row and metric the reported value, the reproduced
    mean with its 95 % interval (and what it resamples), and whether the reported value lies inside."""
    done = cells[cells["coverage"] != "not reproduced"]
    lines = ["| dataset | row | metric | reported | reproduced | 95 % interval | resamples | reported inside |",
             "|---|---|---|---|---|---|---|---|"]
    order = {metric: i for i, metric in enumerate(columns)}
    for cell in sorted(done.to_dict("records"), key=lambda c: (c["dataset"], c["label"], order.get(c["metric"], 99))):
        interval = (f"[{cell['ci_low']:.4f}, {cell['ci_high']:.4f}]" if cell["ci_low"] is not None
                    and pd.notna(cell["ci_low"]) else "—")
        lines.append(f"| {cell['dataset']} | {cell['label']} | {cell['metric']} | {cell['reported']:.4f} | "
                     f"{cell['reproduced']:.4f} | {interval} | {cell['interval'] or '—'} "
                     f"({cell['seeds']} seed{'s' if cell['seeds'] != 1 else ''}) | "
                     f"{'yes' if cell['coverage'] == 'inside' else 'no'} |")
    return "\n".join(lines)


def paired_table(results: str | Path, reference: str, runs: list[str], metric: str) -> pd.DataFrame:
    """Each run's `metric` minus the reference run's on the same rows, with the paired 95 % interval; a run whose
    predictions are missing or cover other rows says so in `note` instead."""
    rows = []
    base = inside(results, predictions_of(reference)) if reference.startswith("metrics/") else None
    for run in runs:
        entry = {"run": run, "reference": reference, f"Δ {metric}": None, "ci_low": None, "ci_high": None,
                 "rows": None, "note": ""}
        mine = inside(results, predictions_of(run)) if run.startswith("metrics/") else None
        if base is None or mine is None or not base.exists() or not mine.exists():
            entry["note"] = "no predictions file (a reported row, or predictions not built)"
        else:
            try:
                paired = paired_runs(mine, base, metric)
                entry.update({f"Δ {metric}": paired["difference"], "ci_low": paired["ci_low"],
                              "ci_high": paired["ci_high"], "rows": paired["n_rows"]})
            except GenrecError:
                entry["note"] = "not the same rows (another dataset or split)"
        rows.append(entry)
    return pd.DataFrame(rows)


def heat_map(board: pd.DataFrame, dataset: str, metric: str) -> pd.DataFrame:
    """Tokenizer x reward grid of `metric` on one dataset's test split (best over backbones)."""
    rows = board[(board["dataset"] == dataset) & (board["split"] == "test") & (board["source"] == "reproduced")
                 & board["tokenizer"].notna() & (board["method"] == "minionerec")]
    if rows.empty or metric not in rows:
        return pd.DataFrame()
    return rows.pivot_table(index="tokenizer", columns="reward", values=metric, aggfunc="max")


def metric_curves(board: pd.DataFrame, runs: list[str], metric: str) -> pd.DataFrame:
    """Long table (run, K, value) of metric@K for the chosen runs."""
    rows = []
    for _, row in board[board["run"].isin(runs)].iterrows():
        for k in metric_ks(board):
            value = row.get(f"{metric}@{k}")
            if value is not None and not pd.isna(value):
                rows.append({"run": row["run"], "K": k, metric: value})
    return pd.DataFrame(rows, columns=["run", "K", metric])


# --- Run detail ---------------------------------------------------------------------------------------------
def read_run(results: str | Path, run: str) -> dict:
    """The metrics file of a leaderboard row (its `run` is the path relative to the results directory)."""
    return json.loads(inside(results, run).read_text())


def run_artifacts(record: dict) -> dict[str, str]:
    """Where the run's upstream artifacts live, relative to the results directory (DESIGN.md contracts)."""
    dataset, tokenizer, backbone, stage = (record.get(k) for k in ("dataset", "tokenizer", "backbone", "stage"))
    split_suffix = "" if record.get("split", "test") == "test" else f".{record['split']}"
    if tokenizer is None:       # a baseline ranking all items (MostPop has no model)
        return {"data": f"data/{dataset}",
                **({} if stage == "mostpop" else {"model": f"models/{dataset}/baselines/{stage}"}),
                "predictions": f"predictions/{dataset}/baselines/{stage}{split_suffix}.jsonl"}
    return {"data": f"data/{dataset}", "sid": f"sid/{dataset}/{tokenizer}/stats.json",
            "model": f"models/{dataset}/{tokenizer}/{backbone}/{stage}",
            "predictions": f"predictions/{dataset}/{tokenizer}/{backbone}/{stage}{split_suffix}.jsonl"}


def read_if_there(results: str | Path, relative: str | None) -> Path | None:
    if relative is None:
        return None
    path = inside(results, relative)
    return path if path.exists() else None


def stage_perplexities(results: str | Path, record: dict) -> pd.DataFrame:
    """The general-text perplexity (with its interval) of every stage of an OpenOneRec run's chain that has one, in
    training order: what each stage costs or wins back of the base model's language. Empty for other methods."""
    if method_of(record.get("stage") or "") != OPENONEREC:
        return pd.DataFrame()
    rows = []
    for stage in OPENONEREC_CHAIN:
        tokenizer = OPENONEREC_GENERAL if stage == OPENONEREC_BASE else record["tokenizer"]
        path = read_if_there(results, f"metrics/{record['dataset']}/{tokenizer}/{record['backbone']}/{stage}"
                                      f"{PERPLEXITY_SUFFIX}")
        if path is not None:
            scored = json.loads(path.read_text())
            low, high = scored["perplexity_ci95"]
            rows.append({"stage": stage, "perplexity": scored["perplexity"], "ci_low": low, "ci_high": high,
                         "tokens": scored["tokens"]})
    return pd.DataFrame(rows)


def code_usage(sid_stats: dict) -> pd.DataFrame:
    """Per SID level: codes used of the codebook and the normalised usage entropy (from sid stats.json)."""
    usage = sid_stats.get("usage", [])
    return pd.DataFrame(usage)[["level", "codebook_size", "codes_used", "usage", "entropy_normalised"]] \
        if usage else pd.DataFrame()


def training_curves(model_dir: Path) -> dict[str, pd.DataFrame]:
    """SFT / baseline loss per step (training.json's log history), ETEGRec's losses and valid NDCG@10 per epoch of
    each phase (its `history`; `epoch` counts on across phases, `phase_epoch` within one) and RL per-step statistics
    (rl_steps.jsonl)."""
    curves = {}
    training = model_dir / "training.json"
    if training.exists():
        record = json.loads(training.read_text())
        history = record.get("log_history", [])
        if isinstance(history, list) and history:
            curves["training"] = pd.DataFrame(history)
        if record.get("method") == "etegrec" and record.get("history"):
            epochs = pd.DataFrame(record["history"]).rename(columns={"epoch": "phase_epoch"})
            epochs.insert(0, "epoch", range(1, len(epochs) + 1))
            curves["etegrec"] = epochs
    steps = model_dir / "rl_steps.jsonl"
    if steps.exists():
        curves["rl"] = pd.DataFrame([json.loads(line) for line in steps.read_text().splitlines() if line.strip()])
    return curves


def sample_users(predictions: Path, items: Path, n: int = 5, seed: int = 0) -> list[dict]:
    """`n` users of a predictions file: history titles, the top-10 recommended titles, the true next item."""
    lines = predictions.read_text().splitlines()
    picks = np.random.default_rng(seed).choice(len(lines), size=min(n, len(lines)), replace=False)
    titles = pd.read_parquet(items, columns=["title"])["title"].fillna("").tolist()
    users = []
    for i in sorted(picks):
        record = json.loads(lines[i])
        recommended = record.get("titles") or [titles[item] for item in record.get("items", [])[:10]]
        users.append({"user_id": record["user_id"], "history": [titles[item] for item in record.get("history", [])],
                      "recommended": recommended[:10], "target": titles[record["target"]],
                      "hit_rank": (record.get("items", []).index(record["target"]) + 1
                                   if record["target"] in record.get("items", []) else None)})
    return users


# --- Pipeline status ----------------------------------------------------------------------------------------
def pipeline_status(results: str | Path, config: dict, results_arg: str = "results") -> pd.DataFrame:
    """Per expected run: which of its artifacts exist, and the command that builds what is missing."""
    rows = []
    for run in grid_runs(config):
        artifacts = run_artifacts(run)
        present = {name: inside(results, path).exists() for name, path in artifacts.items()}
        done = inside(results, run["metrics"]).exists()
        rows.append({**{k: run[k] for k in IDENTITY if k in run}, **present, "metrics": done,
                     "build": "" if done else f"snakemake --cores all {results_arg}/{run['metrics']}"})
    return pd.DataFrame(rows)
