"""Plain-text table of metrics files (what `make run` prints at the end)."""

from __future__ import annotations

from genrec.report.data_stats import _table

COLUMNS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "ndcg@20")


def results_table(records: list[dict]) -> str:
    """One row per metrics file, best NDCG@10 first within each dataset and split."""
    rows = sorted(records, key=lambda r: (r["dataset"], r["split"], -r["metrics"].get("ndcg@10", 0.0)))
    body = []
    for r in rows:
        low, high = r.get("ci95", {}).get("ndcg@10", (None, None))
        body.append([r["dataset"], r["split"], r.get("tokenizer") or "-", r.get("backbone") or "-", r["stage"],
                     f"{r.get('n_rows', r['n_users']):,}", f"{r['n_users']:,}", *(f"{r['metrics'].get(c, float('nan')):.4f}" for c in COLUMNS),
                     f"[{low:.4f}, {high:.4f}]" if low is not None else "-",
                     str(r.get("invalid_generations", 0)),
                     f"{sum(r.get('wall_seconds', {}).values()):.0f}"])
    header = ["dataset", "split", "tokenizer", "backbone", "stage", "rows", "users", *COLUMNS, "ndcg@10 95% CI",
              "invalid", "seconds"]
    return "\n".join(_table(header, body))
