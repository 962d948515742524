"""Two runs on the same rows, compared row by row: the mean difference of a metric with its paired bootstrap
interval (`genrec.evaluate.metrics.paired_difference`). The leaderboard uses it for every RL stage against its
SFT starting point, the dashboard for any run against a chosen reference run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from genrec.errors import GenrecError
from genrec.evaluate.metrics import paired_difference, seeds_bootstrap_interval
from genrec.evaluate.scoring import per_row_values, read_predictions
from genrec.io import read_json

log = logging.getLogger(__name__)

VS_SFT = ("Δ ndcg@10 vs sft", "Δ vs sft ci_low", "Δ vs sft ci_high")


def predictions_of(run: str) -> str:
    """The predictions file written with a metrics file (`metrics/…/X.json` -> `predictions/…/X.jsonl`)."""
    if not run.startswith("metrics/") or not run.endswith(".json"):
        raise ValueError(f"{run} is not a metrics file path under metrics/")
    return "predictions/" + run[len("metrics/"):] + "l"


def row_scores(path: Path, metric: str) -> pd.DataFrame:
    """row, user_id and `metric` of every record of a predictions file, in row order."""
    records = read_predictions([path])
    return pd.DataFrame({"row": [r["row"] for r in records], "user_id": [r["user_id"] for r in records],
                         metric: per_row_values(records, metric)})


def paired_runs(a: Path, b: Path, metric: str = "ndcg@10") -> dict[str, float]:
    """`metric` of predictions `a` minus that of `b` over their shared rows, with the paired 95 % interval.
    Refused when the two files did not answer the same rows of the same split."""
    left, right = row_scores(a, metric), row_scores(b, metric)
    if len(left) != len(right) or not (left["row"].to_numpy() == right["row"].to_numpy()).all() \
            or not (left["user_id"].to_numpy() == right["user_id"].to_numpy()).all():
        raise GenrecError(f"{a} and {b} do not predict the same rows ({len(left)} vs {len(right)} rows): only runs on "
                          "the same dataset and split can be paired", fix="compare runs of one dataset and split")
    return paired_difference(left[metric].to_numpy(), right[metric].to_numpy(), left["user_id"].to_numpy())


def paired_perplexity(a: Path, b: Path) -> dict[str, float]:
    """Perplexity file `a`'s mean token loss minus `b`'s on the same held-out conversations, with the paired 95 %
    interval (conversations resampled), and the perplexity ratio a / b it implies. Refused unless both scored the
    same tokens: the same held-out text under one tokenizer."""
    left, right = (read_json(path) for path in (a, b))
    for path, run in ((a, left), (b, right)):
        if "text_tokens" not in run:
            raise GenrecError("this perplexity file has no per-conversation losses (it predates them)", path=path,
                              fix="re-run its openonerec_perplexity rule")
    if left["text_tokens"] != right["text_tokens"]:
        differ = sum(x != y for x, y in zip(left["text_tokens"], right["text_tokens"]))
        raise GenrecError(f"{a} and {b} did not score the same tokens ({left['tokens']} vs {right['tokens']} tokens, "
                          f"{len(left['text_tokens'])} vs {len(right['text_tokens'])} conversations, {differ} of them "
                          "tokenised differently): only models that tokenise the same held-out text alike can be "
                          "paired", fix="compare the stages of one dataset, backbone and general corpus")
    tokens = np.asarray(left["text_tokens"])
    # each conversation's loss difference spread over its tokens: the per-token paired draw, without the tokens
    gap = (np.asarray(left["text_nll"]) - np.asarray(right["text_nll"])) / np.maximum(tokens, 1)
    paired = paired_difference(np.repeat(gap, tokens), np.zeros(int(tokens.sum())), np.repeat(np.arange(len(tokens)),
                                                                                              tokens))
    return {**paired, "ratio": float(np.exp(paired["difference"])), "ratio_low": float(np.exp(paired["ci_low"])),
            "ratio_high": float(np.exp(paired["ci_high"]))}


def across_seeds(paths: list[Path], metrics: list[str]) -> dict[str, dict[str, float]]:
    """Each of `metrics` over runs that differ only in their training seed, on the same rows: the mean over seeds
    and rows, and the interval that resamples seeds and users (`seeds_bootstrap_interval`). Each predictions
    file is read once."""
    runs = [read_predictions([path]) for path in paths]
    first = runs[0]
    for other, path in zip(runs[1:], paths[1:]):
        if [r["row"] for r in other] != [r["row"] for r in first]:
            raise GenrecError(f"{path} and {paths[0]} do not predict the same rows: only seeds of one run combine",
                              fix="combine the seeds of one dataset, split, method and stage")
    users = np.array([r["user_id"] for r in first])
    combined = {}
    for metric in metrics:
        values = np.stack([per_row_values(records, metric) for records in runs])
        low, high = seeds_bootstrap_interval(values, users)
        combined[metric] = {"mean": float(values.mean()), "ci_low": low, "ci_high": high, "seeds": len(paths)}
    return combined


def rl_versus_sft(results: Path, table: pd.DataFrame) -> pd.DataFrame:
    """`table` with the VS_SFT columns filled for every RL row whose predictions and SFT's are both there."""
    table = table.copy()
    for column in VS_SFT:
        table[column] = np.nan
    for index, row in table[table["stage"].fillna("").str.startswith("rl-")].iterrows():
        mine = results / predictions_of(row["run"])
        sft = mine.with_name(mine.name.replace(f"{row['stage']}.", "sft.", 1))
        if not (mine.exists() and sft.exists()):
            continue
        try:
            paired = paired_runs(mine, sft)
        except GenrecError as error:        # a stale file must not take the whole board down; the log says which
            log.warning("%s: no comparison with SFT: %s", row["run"], error)
            continue
        table.loc[index, list(VS_SFT)] = [paired["difference"], paired["ci_low"], paired["ci_high"]]
    return table
