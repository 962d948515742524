"""Preprocessing throughput on the bundled real sample (interactions/s), by phase.

Two paths are timed on the same 58,492 real interactions:
- `lcrec`: the bundled files as shipped (LC-Rec layout, one JSON document per file);
- `amazon18-jsonl`: the same interactions re-encoded as Amazon-2018 review/meta JSON lines (.gz), the
  format the paper datasets are downloaded in, so the line-by-line loader is measured too.

Run: .venv/bin/python benchmarks/bench_preprocess.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from genrec.data.filters import month_start_utc
from genrec.data.loaders import load_raw
from genrec.data.prepared import Prepared, dataset_stats
from genrec.data.preprocess import assign_ids, filter_reviews, item_table
from genrec.data.spec import load_datasets
from genrec.data.splits import make_splits
from genrec.io import read_json

ROOT = Path(__file__).resolve().parents[1]


def as_amazon18(spec, directory: Path) -> dict[str, Path]:
    """Re-encode the sample as Amazon 2018 JSON lines; a user's k-th item gets a time k days in."""
    sequences = read_json(ROOT / spec.raw["inter"].path)
    items = read_json(ROOT / spec.raw["item"].path)
    t0 = month_start_utc(2017, 1)
    reviews, meta = directory / "reviews_5.json.gz", directory / "meta.json.gz"
    with gzip.open(reviews, "wt") as handle:
        for user, seq in sequences.items():
            for k, item in enumerate(seq):
                handle.write(json.dumps({"overall": 5.0, "verified": True, "reviewerID": f"U{user}",
                                         "asin": f"B{item:09d}", "unixReviewTime": t0 + 86_400 * k,
                                         "reviewText": "", "summary": ""}) + "\n")
    with gzip.open(meta, "wt") as handle:
        for item, fields in items.items():
            handle.write(json.dumps({"asin": f"B{int(item):09d}", "title": fields["title"],
                                     "description": [fields["description"]], "brand": fields["brand"],
                                     "category": fields["categories"].split(",")}) + "\n")
    return {"reviews": reviews, "meta": meta}


def timed(spec, files) -> dict[str, float]:
    phases = {}
    start = time.perf_counter()
    raw = load_raw(spec.source, files)
    phases["load"] = time.perf_counter() - start
    mark = time.perf_counter()
    reviews, titles, steps = filter_reviews(raw, spec)
    phases["filter"] = time.perf_counter() - mark
    mark = time.perf_counter()
    indexed = assign_ids(reviews, raw.id_order)
    interactions = indexed[["user_id", "item_id", "rating", "timestamp"]]
    prepared = Prepared(item_table(indexed, titles, raw.meta), interactions,
                        make_splits(interactions, spec.protocol, spec.split_history))
    dataset_stats(spec, prepared, steps, raw.has_timestamps)
    phases["ids+split+stats"] = time.perf_counter() - mark
    phases["total"] = time.perf_counter() - start
    phases["n"] = len(raw.reviews)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sample = load_datasets(ROOT / "config" / "datasets.yaml")["sample"]
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "lcrec (bundled files)": (sample, {r: ROOT / f.path for r, f in sample.raw.items()}),
            "amazon18-jsonl (.gz lines)": (replace(sample, source="amazon18", protocol="time_811", split_history=10),
                                           as_amazon18(sample, Path(tmp))),
        }
        print(f"{'path':28} {'interactions':>12} {'load s':>8} {'filter s':>9} {'split s':>8} {'total s':>8} "
              f"{'interactions/s':>15}")
        for name, (spec, files) in cases.items():
            runs = [timed(spec, files) for _ in range(args.repeat)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"{name:28} {int(med['n']):>12,} {med['load']:>8.2f} {med['filter']:>9.2f} "
                  f"{med['ids+split+stats']:>8.2f} {med['total']:>8.2f} {med['n'] / med['total']:>15,.0f}")
    print(f"(median of {args.repeat} runs; load = parse raw files, filter = title/window/k-core, "
          "split = ids + protocol rows + stats)")


if __name__ == "__main__":
    main()
