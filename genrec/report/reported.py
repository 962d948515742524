"""Published numbers (config/reported_results.yaml) as leaderboard rows with `source = reported`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genrec.config import read_yaml, validate
from genrec.errors import GenrecError


def load_reported(path: str | Path) -> pd.DataFrame:
    """One row per published result: identity, metrics, and `run` = "paper table" (the citation)."""
    document = validate(read_yaml(path), "reported_results.schema.yaml", path)     # fills `split: test`
    rows = []
    for i, entry in enumerate(document["results"]):
        if entry["source"] not in document["sources"]:
            raise GenrecError(f"unknown source '{entry['source']}'", path=path, key=f"results.{i}.source",
                              fix=f"use one of {sorted(document['sources'])} or add it under `sources`")
        rows.append({"run": f"{document['sources'][entry['source']]['paper']}, {entry['table']}",
                     "source": "reported", "paper": entry["source"], "table": entry["table"],
                     "label": entry.get("label", entry["method"]), "dataset": entry["dataset"], "split": entry["split"],
                     "method": entry["method"], "tokenizer": entry.get("tokenizer"), "backbone": entry.get("backbone"),
                     "stage": entry.get("stage", entry["method"]), "reward": "none", "error": "",
                     **entry["metrics"]})
    return pd.DataFrame(rows)


def reported_experiments(path: str | Path) -> dict[str, dict[str, str]]:
    """Per source, per dataset: the experiment config that reproduces its rows (`sources.<paper>.experiments`)."""
    document = validate(read_yaml(path), "reported_results.schema.yaml", path)
    return {paper: source.get("experiments", {}) for paper, source in document["sources"].items()}


def reported_columns(path: str | Path) -> dict[str, list[str]]:
    """Each source's metrics in its table's column order (`sources.<paper>.columns`), for laying the table out as
    the paper does."""
    document = validate(read_yaml(path), "reported_results.schema.yaml", path)
    return {paper: source.get("columns", []) for paper, source in document["sources"].items()}
