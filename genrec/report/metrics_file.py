"""The metrics JSON of DESIGN.md: one file per (dataset, tokenizer, backbone, stage, split), with provenance."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def config_hash(config: dict) -> str:
    """Stable hash of the resolved configuration (key order does not matter)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_version() -> str:
    """The git commit of the code that ran (`-dirty` when it had uncommitted changes), else the package version."""
    root = Path(__file__).resolve().parents[2]      # the checkout holding genrec/
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        try:                                # not a git checkout: the installed package's version
            return f"genrec-{version('genrec')}"
        except PackageNotFoundError:        # a copied tree that was never installed
            return "genrec-unknown"


def metrics_record(*, dataset: str, tokenizer: str | None, backbone: str | None, method: str, stage: str,
                   split: str, scored: dict, num_beams: int | None, config: dict, seed: int,
                   wall_seconds: dict[str, float], mask_history: bool, precision: str) -> dict:
    """Assemble a metrics file from scored predictions and the resolved configuration. `n_rows` is what the
    means are over (the split's rows), `n_users` how many distinct users those rows belong to."""
    return {
        "dataset": dataset, "tokenizer": tokenizer, "backbone": backbone, "method": method, "stage": stage,
        "split": split, "n_rows": scored["n_rows"], "n_users": scored["n_users"], "metrics": scored["metrics"],
        **{k: scored[k] for k in ("metrics_collision_corrected", "ci95") if k in scored},
        "invalid_generations": scored.get("invalid_generations", 0), "num_beams": num_beams,
        "mask_history": mask_history, "precision": precision,
        "config": config, "config_hash": config_hash(config), "code_version": code_version(), "seed": seed,
        "wall_seconds": {k: round(float(v), 1) for k, v in wall_seconds.items()},
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
