"""Plain-text tables of the pipeline's statistics files (what `make run` prints)."""

from __future__ import annotations


def _table(header: list[str], rows: list[list]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def stats_table(all_stats: list[dict]) -> str:
    """Data-stage stats.json files, then SID stats.json files (told apart by their keys)."""
    data = [s for s in all_stats if "protocol" in s]
    sids = [s for s in all_stats if "tokenizer" in s]
    out: list[str] = []
    if data:
        out += _table(
            ["dataset", "protocol", "users", "items", "interactions", "density", "train", "valid", "test",
             "hist mean (test)"],
            [[s["dataset"], s["protocol"], f"{s['users']:,}", f"{s['items']:,}", f"{s['interactions']:,}",
              f"{s['density']:.5f}", f"{s['splits']['train']['rows']:,}", f"{s['splits']['valid']['rows']:,}",
              f"{s['splits']['test']['rows']:,}",
              f"{s['splits']['test'].get('history_length', {}).get('mean', 0):.2f}"] for s in data])
        for s in data:
            out += ["", f"{s['dataset']} filters: " + " -> ".join(
                f"{f['step']} {f['users']:,}u/{f['items']:,}i/{f['interactions']:,}r" for f in s["filters"])]
    if sids:
        out += [""] + _table(
            ["tokenizer", "method", "items", "levels", "collision rate (before)", "largest group", "usage entropy",
             "fit s"],
            [[s["tokenizer"], s["method"], f"{s['items']:,}", s["levels"], f"{s['collision_rate_before']:.4f}",
              s["largest_group_before"], f"{s['usage_entropy_normalised_mean']:.3f}", f"{s['fit_seconds']:.1f}"]
             for s in sids])
    return "\n".join(out)
