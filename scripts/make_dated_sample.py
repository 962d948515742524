#!/usr/bin/env python3
"""Build data/sample_dated/: a time-stamped test dataset in the Amazon 2018 layout, from the bundled sample.

THE TIMESTAMPS ARE SYNTHETIC. The items (titles, descriptions, brands, categories) and every user's item
order are real - they come from the bundled sample data/sample/ (Amazon 2018 Industrial_and_Scientific
5-core, LC-Rec layout) - but that layout has no times, so this script invents the dates. The ratings are
a placeholder too (`overall` is 5.0 everywhere). The dataset exists only so that the `time_811` split
protocol (MiniOneRec's: rows sorted by target time, cut 80/10/10, history <= 10) can be exercised end to
end in tests. Nothing computed on it is a result to report.

What it does (deterministic: fixed seed, byte-identical output on every run):

1. Users. The `--users` (5,200) of the sample's 8,317 users whose items are the most popular: ranked by
   the median (upper, for even lengths), over a user's items, of how many sample users have that item.
   (A random subset would not do: 5-core filtering of a random half of a sparse 5-core collapses to about
   a thousand interactions.) Each kept user's WHOLE sequence is written, in the sample's order, also the
   items that MiniOneRec's title rule or the 5-core will drop: after genrec's preprocessing (title,
   window, 5-core) 15,970 interactions of 2,407 users and 1,186 items remain.
2. Dates (synthetic). Each user gets gaps of 1..`--max-gap` whole days between consecutive interactions
   and a start day drawn uniformly so that the whole sequence lies inside 2016-10-01 .. 2018-10-31 (UTC,
   MiniOneRec's window 2016-10 .. 2018-11). Users are thus spread over the whole period while each user's
   own interactions lie close together, so users active late have several rows in the global last 10 %
   (test) and in the 10 % before it (valid). Times are midnight UTC, as `unixReviewTime` is in the real
   files; a user's days strictly increase, so the item order survives the loader's time sort.
3. Files, in the real Amazon 2018 layout (what genrec's `amazon18` loader reads):
   - reviews.json.gz: one JSON object per line (reviewerID, asin, overall, unixReviewTime, reviewTime,
     verified), grouped by asin as in the real files; no review text (the sample has none).
   - meta.json.gz: one line per item the kept users touch (asin, title, description as a list of
     strings, brand, category as a list), the sample's text unchanged.
   Ids are made up but stable: asin = "S%09d" % item id, reviewerID = "U%09d" % user id of the sample.

Usage:  python scripts/make_dated_sample.py [--users 5200] [--max-gap 7] [--seed 2016]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import io
import json
import random
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = ROOT / "data" / "sample"
OUT = ROOT / "data" / "sample_dated"
FIRST_DAY = dt.date(2016, 10, 1)   # MiniOneRec's window starts 2016-10 ...
LAST_DAY = dt.date(2018, 10, 31)   # ... and ends at the first second of 2018-11


def read_sample() -> tuple[dict[str, list[int]], dict[str, dict]]:
    with gzip.open(SAMPLE / "Scientific.inter.json.gz", "rt", encoding="utf-8") as handle:
        inter = json.load(handle)
    with gzip.open(SAMPLE / "Scientific.item.json.gz", "rt", encoding="utf-8") as handle:
        items = json.load(handle)
    return inter, items


def choose_users(inter: dict[str, list[int]], n_users: int) -> list[str]:
    """The `n_users` users whose items are the most popular: ranked by the median, over a user's items, of
    the number of sample users who have that item (ties: smaller user id first)."""
    popularity = Counter(i for seq in inter.values() for i in seq)

    def median_popularity(user: str) -> int:
        counts = sorted(popularity[i] for i in inter[user])
        return counts[len(counts) // 2]

    ranked = sorted(inter, key=lambda u: (-median_popularity(u), int(u)))
    return sorted(ranked[:n_users], key=int)


def date_users(users: list[str], inter: dict[str, list[int]], max_gap: int, seed: int) -> dict[str, list[dt.date]]:
    rng = random.Random(seed)
    period = (LAST_DAY - FIRST_DAY).days
    dates = {}
    for user in users:
        n = len(inter[user])
        gaps = [rng.randint(1, max_gap) for _ in range(n - 1)]
        if sum(gaps) > period:          # never happens with the sample's lengths (<= 78); kept for safety
            gaps = [1] * (n - 1)
        start = rng.randint(0, period - sum(gaps))
        days, day = [], start
        for gap in [0, *gaps]:
            day += gap
            days.append(FIRST_DAY + dt.timedelta(days=day))
        dates[user] = days
    return dates


def unix(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def asin(item_id) -> str:
    return "S%09d" % int(item_id)


def reviewer(user_id) -> str:
    return "U%09d" % int(user_id)


def write_gz(path: Path, lines: list[str]) -> None:
    """gzip with no name and mtime 0 in the header, so the bytes depend on the content only."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write("".join(line + "\n" for line in lines).encode("utf-8"))
    path.write_bytes(buffer.getvalue())


def build(n_users: int, max_gap: int, seed: int, out: Path) -> dict:
    inter, items = read_sample()
    users = choose_users(inter, n_users)
    dates = date_users(users, inter, max_gap, seed)
    reviews = []
    for user in users:
        for item_id, day in zip(inter[user], dates[user]):
            reviews.append((int(item_id), unix(day), int(user), {
                "overall": 5.0, "verified": True,
                "reviewTime": f"{day.month:02d} {day.day}, {day.year}",
                "reviewerID": reviewer(user), "asin": asin(item_id), "unixReviewTime": unix(day),
            }))
    reviews.sort(key=lambda r: r[:3])   # grouped by asin like the real files; then time, user
    used = sorted({r[0] for r in reviews})
    meta = []
    for item_id in used:
        fields = items[str(item_id)]
        description = fields.get("description") or ""
        categories = fields.get("categories") or ""
        meta.append({
            "asin": asin(item_id),
            "title": fields.get("title"),
            "description": [description] if description else [],
            "brand": fields.get("brand") or "",
            "category": [c for c in categories.split(",") if c] if categories else [],
        })
    out.mkdir(parents=True, exist_ok=True)
    write_gz(out / "reviews.json.gz", [json.dumps(r[3], ensure_ascii=False) for r in reviews])
    write_gz(out / "meta.json.gz", [json.dumps(m, ensure_ascii=False) for m in meta])
    return {"users": len(users), "reviews": len(reviews), "items": len(used),
            "first": min(min(d) for d in dates.values()).isoformat(),
            "last": max(max(d) for d in dates.values()).isoformat()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5200, help="how many of the sample's users to keep")
    parser.add_argument("--max-gap", type=int, default=7, help="largest gap in days between a user's interactions")
    parser.add_argument("--seed", type=int, default=2016)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    summary = build(args.users, args.max_gap, args.seed, args.out)
    print(json.dumps(summary))
    for name in ("reviews.json.gz", "meta.json.gz"):
        print(f"{args.out / name}: {(args.out / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
