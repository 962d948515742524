"""genrec leaderboard: every result of a results directory beside what the papers report.

    streamlit run dashboard/app.py                      (results/ of this checkout)
    GENREC_RESULTS=/path/to/results streamlit run dashboard/app.py
    make dashboard RESULTS=/path/to/results

Read-only. Files are opened through genrec.report.board.inside(), which refuses paths outside the results
directory, and the only paths it gets come from the leaderboard's own rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from genrec.config import load_config
from genrec.report import board as lb
from genrec.report.compare import VS_SFT
from genrec.report.reported import load_reported, reported_columns, reported_experiments

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(os.environ.get("GENREC_RESULTS", ROOT / "results"))
REPORTED = Path(os.environ.get("GENREC_REPORTED", ROOT / "config" / "reported_results.yaml"))
CONFIG = Path(os.environ.get("GENREC_CONFIG", ROOT / "config" / "config.yaml"))
PAGES = ("Leaderboard", "Paper tables", "Run detail", "Compare", "Pipeline")


def fingerprint(results: Path) -> tuple:
    """Changes whenever a metrics file is added, removed or rewritten: the cache key of the board."""
    files = lb.metrics_files(results)
    return len(files), max((f.stat().st_mtime_ns for f in files), default=0)


@st.cache_data(show_spinner="Reading metrics files...")
def load_board(results: str, reported: str, _key: tuple) -> pd.DataFrame:
    published = load_reported(reported) if Path(reported).exists() else None
    return lb.board_with_reported(results, published)


def pick_metric(board: pd.DataFrame, key: str) -> str:
    names, ks = lb.metric_names(board) or ["ndcg"], lb.metric_ks(board) or [10]
    left, right = st.columns(2)
    name = left.selectbox("Metric", names, index=names.index("ndcg") if "ndcg" in names else 0, key=f"{key}-m")
    k = right.selectbox("K", ks, index=ks.index(10) if 10 in ks else 0, key=f"{key}-k")
    return f"{name}@{k}"


def leaderboard_page(board: pd.DataFrame) -> None:
    st.header("Leaderboard")
    errors = board[board["source"] == "error"]
    if len(errors):
        st.error(f"{len(errors)} metrics file(s) could not be read; they are listed below the table.")
    runs = board[board["source"] != "error"]
    chosen = {}
    columns = st.columns(len(lb.FILTERS))
    for column, widget in zip(lb.FILTERS, columns):
        options = sorted(runs[column].fillna("-").astype(str).unique())
        chosen[column] = widget.multiselect(column, options, key=f"filter-{column}")
    metric = pick_metric(runs, "board")
    table = lb.ranked(lb.filter_board(runs, chosen), metric)
    interval = [c for c in (f"{metric} ci_low", f"{metric} ci_high") if c in table]
    gain = [c for c in VS_SFT if c in table and table[c].notna().any()]
    shown = table[["dataset", "split", "source", "method", "tokenizer", "backbone", "stage", metric, *interval,
                   *gain, "n_rows", "n_users", "mask_history", "data_vs_paper", "best", "run"]]
    st.caption(f"{len(shown)} rows, best {metric} per dataset and split first. ✓ marks, per dataset, the run with "
               f"the best valid {metric} (chosen on valid, never on test; runs scored only on test cannot be "
               "marked). The interval is the 95 % bootstrap recorded in the metrics file, resampling users with all "
               "their rows; Δ vs sft is an RL stage's NDCG@10 gain over its SFT model on the same rows (paired). "
               "data_vs_paper says whether the dataset as preprocessed has the users / items / interactions of the "
               "paper's table of datasets (blank: no paper describes it).")
    # a published row records no mask_history: as text, so the column holds one type (Arrow refuses bool + "")
    shown = shown.assign(mask_history=shown["mask_history"].map({True: "yes", False: "no"}))
    text = [c for c in shown.columns if shown[c].dtype == object]
    shown = shown.assign(**{c: shown[c].where(shown[c].notna(), "") for c in text})     # blank, not "None"
    st.dataframe(shown, hide_index=True, width="stretch",
                 column_config={"best": st.column_config.CheckboxColumn("best"),
                                "n_rows": st.column_config.NumberColumn(format="%d"),
                                "n_users": st.column_config.NumberColumn(format="%d"),
                                **{c: st.column_config.NumberColumn(format="%.4f") for c in (metric, *interval, *gain)}})
    if len(interval) == 2 and len(table):
        chart = table.assign(label=table["method"].astype(str) + " " + table["tokenizer"].fillna("").astype(str) + " "
                             + table["stage"].astype(str) + " (" + table["split"].astype(str) + ")")
        figure = px.bar(chart, x="label", y=metric, color="source", facet_col="dataset", barmode="group",
                        error_y=chart[interval[1]] - chart[metric], error_y_minus=chart[metric] - chart[interval[0]],
                        title=f"{metric} of every run per dataset, with its 95 % interval (reported rows have none)")
        st.plotly_chart(figure.update_xaxes(matches=None, title=None), width="stretch")
    st.subheader("Reproduced vs reported")
    paired = lb.beside_reported(lb.filter_board(board, chosen), metric)
    if paired.empty:
        st.info(f"No reproduced run matches a published {metric} (same dataset, split, method and stage).")
    else:
        st.dataframe(paired, hide_index=True, width="stretch")
    if len(errors):
        st.subheader("Unreadable metrics files")
        st.dataframe(errors[["run", "error"]], hide_index=True, width="stretch")


def run_detail_page(board: pd.DataFrame) -> None:
    st.header("Run detail")
    runs = board[board["source"] == "reproduced"]["run"].tolist()
    if not runs:
        st.info("No reproduced runs in this results directory yet.")
        return
    run = st.selectbox("Run", runs, key="detail-run")
    record = lb.read_run(RESULTS, run)
    artifacts = lb.run_artifacts(record)
    st.write({k: record.get(k) for k in ("dataset", "split", "method", "tokenizer", "backbone", "stage", "n_rows",
                                         "n_users", "mask_history", "precision", "config_hash", "code_version",
                                         "created_at")})
    with st.expander("Resolved configuration"):
        st.json(record.get("config", {}))
    sid = lb.read_if_there(RESULTS, artifacts.get("sid"))
    if sid is not None:
        stats = json.loads(sid.read_text())
        st.subheader("Semantic IDs")
        st.write(f"collision rate before dedup {stats.get('collision_rate_before', float('nan')):.3f}, after "
                 f"{stats.get('collision_rate_after', float('nan')):.3f}; largest group {stats.get('largest_group_before')}")
        usage = lb.code_usage(stats)
        if not usage.empty:
            st.plotly_chart(px.bar(usage, x="level", y="usage", hover_data=list(usage.columns),
                                   title="Share of each level's codebook in use"), width="stretch")
    model = lb.read_if_there(RESULTS, artifacts.get("model"))
    curves = lb.training_curves(model) if model is not None else {}
    if "training" in curves and "loss" in curves["training"]:
        st.subheader("Training")
        history = curves["training"]
        x = "step" if "step" in history else "epoch"       # the Trainer logs steps, the baselines epochs
        st.plotly_chart(px.line(history[history["loss"].notna()], x=x, y="loss", title="Training loss"),
                        width="stretch")
    if "etegrec" in curves:
        st.subheader("ETEGRec training")
        epochs = curves["etegrec"]
        losses = [c for c in ("code", "tokenizer", "sia", "psa") if c in epochs]
        st.plotly_chart(px.line(epochs.melt(id_vars=["epoch", "phase"], value_vars=losses), x="epoch", y="value",
                                color="phase", facet_row="variable", markers=True, height=150 * len(losses),
                                title="Losses per epoch (alternating: tokenizer and recommender epochs)")
                        .update_yaxes(matches=None), width="stretch")
        if "valid_ndcg@10" in epochs:
            scored = epochs[epochs["valid_ndcg@10"].notna()]
            st.plotly_chart(px.line(scored, x="epoch", y="valid_ndcg@10", color="phase", markers=True,
                                    title="Valid NDCG@10 (model selection)"), width="stretch")
    if "rl" in curves:
        st.subheader("RL")
        steps = curves["rl"]
        shown = [c for c in ("reward", "group_hit_rate", "kl", "loss", "entropy", "grad_norm") if c in steps]
        st.plotly_chart(px.line(steps.melt(id_vars="step", value_vars=shown), x="step", y="value",
                                facet_row="variable", height=160 * len(shown)).update_yaxes(matches=None),
                        width="stretch")
    perplexities = lb.stage_perplexities(RESULTS, record)
    if not perplexities.empty:
        st.subheader("General text")
        bars = perplexities.assign(above=perplexities["ci_high"] - perplexities["perplexity"],
                                   below=perplexities["perplexity"] - perplexities["ci_low"])
        st.plotly_chart(px.bar(bars, x="stage", y="perplexity", error_y="above", error_y_minus="below",
                               hover_data=["tokens"], title="Held-out general-text perplexity after each stage "
                               "(95 % interval; lower keeps more of the base model's language)"), width="stretch")
    predictions = lb.read_if_there(RESULTS, artifacts.get("predictions"))
    items = lb.read_if_there(RESULTS, f"{artifacts['data']}/items.parquet")
    if predictions is not None and items is not None:
        st.subheader("Sample users")
        for user in lb.sample_users(predictions, items, n=5):
            rank = f"hit at rank {user['hit_rank']}" if user["hit_rank"] else "not in the top list"
            with st.expander(f"user {user['user_id']}: next item {user['target']!r} ({rank})"):
                st.markdown("**History** (oldest first)\n" + "\n".join(f"1. {t}" for t in user["history"]))
                st.markdown("**Top-10 recommended**\n" + "\n".join(f"1. {t}" for t in user["recommended"]))


def compare_page(board: pd.DataFrame) -> None:
    st.header("Compare")
    runs = board[board["source"] != "error"]
    name = st.selectbox("Metric", lb.metric_names(runs) or ["ndcg"], key="compare-metric")
    chosen = st.multiselect("Runs", runs["run"].tolist(), default=runs["run"].tolist()[:4], key="compare-runs")
    paired_page_section(runs, chosen)
    curves = lb.metric_curves(runs, chosen, name)
    if not curves.empty:
        st.plotly_chart(px.line(curves, x="K", y=name, color="run", markers=True, title=f"{name}@K"),
                        width="stretch")
    st.subheader("Tokenizer x reward")
    metric = pick_metric(runs, "heat")
    for dataset in sorted(runs["dataset"].dropna().unique()):
        grid = lb.heat_map(runs, dataset, metric)
        if not grid.empty:
            st.plotly_chart(px.imshow(grid, text_auto=".4f", aspect="auto", title=f"{dataset}: {metric} (test)"),
                            width="stretch")


def paired_page_section(runs: pd.DataFrame, chosen: list[str]) -> None:
    """Each chosen run against a reference run, row by row (paired bootstrap): what differs beyond noise."""
    st.subheader("Against a reference run (paired)")
    if len(chosen) < 2:
        st.info("Choose two or more runs to compare them with a reference run on the same rows.")
        return
    reference = st.selectbox("Reference run", chosen, key="compare-reference")
    metric = pick_metric(runs, "paired")
    table = lb.paired_table(RESULTS, reference, [r for r in chosen if r != reference], metric)
    st.caption(f"Mean {metric} of each run minus the reference's over the rows both answered, with a 95 % paired "
               "bootstrap interval (users resampled with all their rows). An interval that excludes 0 is a "
               "difference beyond resampling noise.")
    st.dataframe(table, hide_index=True, width="stretch")


def paper_tables_page(board: pd.DataFrame) -> None:
    st.header("Paper tables")
    tables = lb.published_tables(board)
    if not tables:
        st.info(f"No published table in {REPORTED.name}.")
        return
    names = [f"{paper}: {table}" for paper, table in tables]
    paper, table = tables[names.index(st.selectbox("Table", names, key="paper-table"))]
    config = load_config(*([CONFIG] if CONFIG.exists() else []))
    experiments = {dataset: (path, load_config(*([CONFIG] if CONFIG.exists() else []), ROOT / path))
                   for dataset, path in reported_experiments(REPORTED).get(paper, {}).items()}
    cells = lb.paper_table(board, paper, table, config, RESULTS, results_arg=str(RESULTS), experiments=experiments)
    order = reported_columns(REPORTED).get(paper) or lb.metric_columns(board)
    columns = [m for m in order if m in set(cells["metric"])]
    reproduced = int((cells["coverage"] != "not reproduced").sum())
    citation = board[(board["source"] == "reported") & (board["paper"] == paper) & (board["table"] == table)]["run"]
    st.caption(f"{citation.iloc[0]}, laid out as the paper does. A cell is reported / reproduced (Δ = reproduced − reported): "
               f"green where the published value lies inside the reproduced run's 95 % interval, red where it does "
               f"not, grey where no run exists yet ({reproduced} of {len(cells)} cells reproduced). A row run with "
               "several seeds (`seeds:` in the grid; '×N seeds' in the cell) shows their mean and an interval that "
               "resamples seeds and test users; a row run once has an interval over test users only, which covers "
               "test sampling, not training noise.")
    for dataset in dict.fromkeys(cells["dataset"]):
        st.subheader(dataset)
        shown, coverage = lb.paper_table_grid(cells, dataset, columns)
        colours = coverage.map(lambda c: f"background-color: {lb.COVERAGE_COLOURS[c]}")
        st.table(shown.style.apply(lambda _: colours, axis=None))
        todo = cells[(cells["dataset"] == dataset) & (cells["to reproduce"] != "")][["label", "to reproduce"]]
        if len(todo):
            with st.expander(f"Rows not reproduced yet ({todo['label'].nunique()})"):
                st.dataframe(todo.drop_duplicates(), hide_index=True, width="stretch")


def pipeline_page() -> None:
    st.header("Pipeline")
    config = load_config(*([CONFIG] if CONFIG.exists() else []))
    st.caption(f"The grid of {CONFIG.name}: which artifacts exist under {RESULTS}, and how to build the rest.")
    status = lb.pipeline_status(RESULTS, config, results_arg=str(RESULTS))
    if status.empty:
        st.info("The config's grid is empty.")
        return
    missing = status[status["build"] != ""]
    st.metric("Metrics files present", f"{len(status) - len(missing)} / {len(status)}")
    st.dataframe(status, hide_index=True, width="stretch")


def main() -> None:
    st.set_page_config(page_title="genrec leaderboard", layout="wide")
    # ?page=Paper+tables opens that page (a link to a table, and how the headless-browser test gets there)
    asked = st.query_params.get("page")
    page = st.sidebar.radio("Page", PAGES, index=PAGES.index(asked) if asked in PAGES else 0, key="page")
    st.sidebar.caption(f"Results: {RESULTS}")
    board = load_board(str(RESULTS), str(REPORTED), fingerprint(RESULTS))
    {"Leaderboard": leaderboard_page, "Paper tables": paper_tables_page, "Run detail": run_detail_page,
     "Compare": compare_page}.get(
        page, lambda _: pipeline_page())(board)


main()
