"""Published numbers (config/reported_results.yaml) as leaderboard rows with `source = reported`."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from genrec.errors import GenrecError


@cache
def reported_schema() -> dict:
    return yaml.safe_load(resources.files("genrec.schemas").joinpath("reported_results.schema.yaml").read_text())


def load_reported(path: str | Path) -> pd.DataFrame:
    """One row per published result: identity, metrics, and `run` = "paper table" (the citation)."""
    with open(path) as handle:
        document = yaml.safe_load(handle)
    try:
        jsonschema.validate(document, reported_schema())
    except jsonschema.ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise GenrecError(error.message, path=path, key=where, fix="see genrec/schemas/reported_results.schema.yaml") \
            from None
    rows = []
    for i, entry in enumerate(document["results"]):
        if entry["source"] not in document["sources"]:
            raise GenrecError(f"unknown source '{entry['source']}'", path=path, key=f"results/{i}/source",
                              fix=f"use one of {sorted(document['sources'])} or add it under `sources`")
        rows.append({"run": f"{document['sources'][entry['source']]['paper']}, {entry['table']}",
                     "source": "reported", "dataset": entry["dataset"], "split": entry.get("split", "test"),
                     "method": entry["method"], "tokenizer": entry.get("tokenizer"), "backbone": entry.get("backbone"),
                     "stage": entry.get("stage", entry["method"]), "reward": "none", "error": "",
                     **entry["metrics"]})
    return pd.DataFrame(rows)
