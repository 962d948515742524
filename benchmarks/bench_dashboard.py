"""The leaderboard page on a results tree of 2,000 metrics files: time to collect the table and to render.

2,000 metrics files are written into a scratch results directory, copies of a real one (default: the
quickstart's rqkmeans SFT metrics) under 20 datasets x 5 tokenizers x 4 backbones x 5 stages, identities
changed to match their paths. Timed: `collect_leaderboard` alone, and a full AppTest run of the Leaderboard
page (the app's first, uncached run: reading, filtering, ranking, drawing), once from the metrics files alone
and once with the leaderboard.parquet the pipeline's last rule writes. Target: <= 2 s.
Run (after `make run`): .venv/bin/python benchmarks/bench_dashboard.py
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from statistics import median

import streamlit as st
from streamlit.testing.v1 import AppTest

from genrec.report.leaderboard import collect_leaderboard, write_leaderboard

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("sft", "rl-ranking", "rl-rule", "rl-semantic", "rl-cf")


def write_tree(template: dict, root: Path, n: int) -> None:
    count = 0
    for d in range(20):
        for t in range(5):
            for b in range(4):
                for stage in STAGES:
                    if count == n:
                        return
                    record = {**template, "dataset": f"dataset{d}", "tokenizer": f"tok{t}", "backbone": f"bb{b}",
                              "stage": stage}
                    path = root / "metrics" / record["dataset"] / record["tokenizer"] / record["backbone"]
                    path.mkdir(parents=True, exist_ok=True)
                    (path / f"{stage}.json").write_text(json.dumps(record))
                    count += 1


def render_seconds(results: Path, repeats: int) -> tuple[list[float], int]:
    """Wall seconds of the Leaderboard page's first (uncached) run, and the rows it showed."""
    os.environ["GENREC_RESULTS"] = str(results)
    times, shown = [], 0
    for _ in range(repeats):
        at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
        st.cache_data.clear()     # the cache is per process: each repeat reads the tree again
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        if at.exception:
            raise SystemExit(f"the leaderboard page failed: {at.exception[0].message}")
        shown = len(at.dataframe[0].value)     # the files plus the published rows
    return times, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", default=str(ROOT / "results/metrics/sample/rqkmeans/tiny/sft.json"))
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    template = json.loads(Path(args.template).read_text())
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch)
        write_tree(template, results, args.files)
        size = sum(f.stat().st_size for f in results.rglob("*.json")) / 2**20
        start = time.perf_counter()
        table = collect_leaderboard(results)
        collect = time.perf_counter() - start
        cold, shown = render_seconds(results, args.repeats)
        write_leaderboard(table, results / "leaderboard.csv", results / "leaderboard.parquet")   # the last rule's job
        warm, _ = render_seconds(results, args.repeats)
    print(f"{len(table)} metrics files ({size:.1f} MiB), {shown} leaderboard rows; reading + checking them all: "
          f"{collect:.2f} s")
    print(f"leaderboard page, first render (median of {args.repeats}): {median(warm):.2f} s with the pipeline's "
          f"leaderboard.parquet current (target <= 2 s); {median(cold):.2f} s from the metrics files alone")


if __name__ == "__main__":
    main()
