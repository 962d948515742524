"""A plain-text table of the data stage's statistics (what `make run` prints)."""

from __future__ import annotations


def stats_table(all_stats: list[dict]) -> str:
    header = ["dataset", "protocol", "users", "items", "interactions", "density", "train", "valid", "test",
              "hist mean (test)"]
    rows = []
    for s in all_stats:
        splits = s["splits"]
        rows.append([s["dataset"], s["protocol"], f"{s['users']:,}", f"{s['items']:,}", f"{s['interactions']:,}",
                     f"{s['density']:.5f}", f"{splits['train']['rows']:,}", f"{splits['valid']['rows']:,}",
                     f"{splits['test']['rows']:,}", f"{splits['test'].get('history_length', {}).get('mean', 0):.2f}"])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]
    for s in all_stats:
        out.append("")
        out.append(f"{s['dataset']} filters: " + " -> ".join(
            f"{f['step']} {f['users']:,}u/{f['items']:,}i/{f['interactions']:,}r" for f in s["filters"]))
    return "\n".join(out)
