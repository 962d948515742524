"""The Streamlit leaderboard on the metrics files of a real pipeline run (AppTest), one end-to-end load in
headless Chromium, and its file-access rule."""

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import PIPELINE_TIMEOUT, ROOT
from slurm_cluster import free_port
from streamlit.testing.v1 import AppTest
from websockets.sync.client import connect

from genrec.report import board as lb
from genrec.report.reported import load_reported

APP = str(ROOT / "dashboard" / "app.py")
REQUIRED = os.environ.get("GENREC_REQUIRE_SYSTEM_DEPS") == "1"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def app(results, page: str = "Leaderboard") -> AppTest:
    os.environ["GENREC_RESULTS"] = str(results)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page != "Leaderboard":
        at.sidebar.radio(key="page").set_value(page).run()
    return at


@pytest.fixture
def results(pipeline):
    workdir, run = pipeline
    assert run.returncode == 0, run.stderr[-3000:]
    assert (workdir / "results/leaderboard.csv").exists()
    return workdir / "results"


@PIPELINE_TIMEOUT
@pytest.mark.parametrize("page", ["Leaderboard", "Run detail", "Compare", "Pipeline"])
def test_each_page_renders_on_real_metrics_files(results, page):
    at = app(results, page)
    assert not at.exception, [e.message for e in at.exception]
    assert at.header[0].value == page


@PIPELINE_TIMEOUT
def test_leaderboard_lists_every_run_and_filters_change_it(results):
    at = app(results)
    runs = len(lb.metrics_files(results))          # ndcg@10 is in every metrics file (not the perplexities beside them)
    published = len(load_reported(ROOT / "config/reported_results.yaml"))
    assert len(at.dataframe[0].value) == runs + published
    at.multiselect(key="filter-method").set_value(["sasrec", "mostpop"]).run()
    assert set(at.dataframe[0].value["method"]) == {"mostpop", "sasrec"}
    at.multiselect(key="filter-dataset").set_value(["sample_dated"]).run()
    shown = at.dataframe[0].value
    assert set(shown["dataset"]) == {"sample_dated"}
    # MostPop on test, and on valid as the floor of RL's valid comparison
    assert sorted(zip(shown["method"], shown["split"])) == [("mostpop", "test"), ("mostpop", "valid"), ("sasrec", "test")]


@PIPELINE_TIMEOUT
def test_run_detail_shows_curves_and_users_of_an_rl_run(results):
    at = app(results, "Run detail")
    at.selectbox(key="detail-run").set_value("metrics/sample/rqkmeans/tiny/rl-ranking.json").run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Semantic IDs", "Training", "RL", "Sample users"]
    assert len(at.expander) == 1 + 5                     # the configuration, then five users


@PIPELINE_TIMEOUT
def test_run_detail_of_an_openonerec_run_plots_every_stages_perplexity(results):
    """An OpenOneRec run's detail shows the general-text perplexity of its whole chain, base model to GRPO, in
    training order, each the value of its perplexity file."""
    from genrec.grid import OPENONEREC_CHAIN

    run = "metrics/sample/openonerec_rqkmeans/tiny_chat/openonerec-distill.json"
    stages = lb.stage_perplexities(results, lb.read_run(results, run))
    assert stages["stage"].tolist() == list(OPENONEREC_CHAIN)
    base = json.loads((results / "metrics/sample/general/tiny_chat/openonerec-base.perplexity.json").read_text())
    assert stages["perplexity"].iloc[0] == base["perplexity"]
    assert (stages["ci_low"] <= stages["perplexity"]).all() and (stages["perplexity"] <= stages["ci_high"]).all()
    assert lb.stage_perplexities(results, lb.read_run(results, "metrics/sample/rqkmeans/tiny/rl-ranking.json")).empty
    at = app(results, "Run detail")
    at.selectbox(key="detail-run").set_value(run).run()
    assert not at.exception
    assert "General text" in [s.value for s in at.subheader]


@PIPELINE_TIMEOUT
def test_a_malformed_or_foreign_file_is_an_error_row(results, tmp_path):
    shutil.copytree(results / "metrics", tmp_path / "metrics")
    (tmp_path / "metrics/sample/truncated.json").write_text('{"dataset": "sample", "metr')
    (tmp_path / "metrics/sample/foreign.json").write_text('{"accuracy": 0.9}')
    at = app(tmp_path)
    assert not at.exception
    assert "2 metrics file(s) could not be read" in at.error[0].value
    errors = at.dataframe[-1].value
    assert sorted(errors["run"]) == ["metrics/sample/foreign.json", "metrics/sample/truncated.json"]


@PIPELINE_TIMEOUT
def test_best_run_is_chosen_on_valid_never_on_test(results):
    """The ✓ goes to the run with the best valid NDCG@10, on its valid and test rows, even when another run has the
    higher test number; runs scored only on test are never marked."""
    board = lb.collect_leaderboard(results)
    sample = board[board["dataset"] == "sample"]
    valid = sample[sample["split"] == "valid"]
    winner = valid.loc[valid["ndcg@10"].idxmax(), "stage"]
    marked = lb.ranked(sample, "ndcg@10")
    chosen = marked[marked["best"]]
    assert set(chosen["stage"]) == {winner} and set(chosen["split"]) == {"valid", "test"}
    flipped = sample.copy()
    test_rows = (flipped["split"] == "test") & (flipped["stage"] != winner)
    flipped.loc[test_rows, "ndcg@10"] = 0.99                 # every other run now "wins" on test
    again = lb.ranked(flipped, "ndcg@10")
    assert set(again[again["best"]]["stage"]) == {winner}
    assert not lb.ranked(sample[sample["split"] == "test"], "ndcg@10")["best"].any()


@PIPELINE_TIMEOUT
def test_rl_rows_carry_their_paired_gain_over_sft(results):
    from genrec.report.compare import VS_SFT, paired_runs

    board = lb.collect_leaderboard(results)
    rl = board[board["stage"].fillna("").str.startswith("rl-")]
    assert len(rl) and rl[list(VS_SFT)].notna().all().all()
    assert board[~board["stage"].fillna("").str.startswith("rl-")][VS_SFT[0]].isna().all()
    row = rl.iloc[0]
    assert row[VS_SFT[1]] <= row[VS_SFT[0]] <= row[VS_SFT[2]]
    predictions = results / "predictions" / row["run"][len("metrics/"):]
    same = paired_runs(predictions.with_suffix(".jsonl"), predictions.with_suffix(".jsonl"))
    assert (same["difference"], same["ci_low"], same["ci_high"]) == (0.0, 0.0, 0.0)


@PIPELINE_TIMEOUT
def test_compare_page_pairs_runs_with_a_reference(results):
    runs = ["metrics/sample/rqkmeans/tiny/sft.json", "metrics/sample/rqkmeans/tiny/rl-ranking.json",
            "metrics/sample/baselines/sasrec.json"]
    table = lb.paired_table(results, runs[0], runs[1:], "ndcg@10")
    assert table["rows"].tolist() == [8_317, 8_317] and table["note"].eq("").all()
    assert (table["ci_low"] <= table["Δ ndcg@10"]).all() and (table["Δ ndcg@10"] <= table["ci_high"]).all()
    other = lb.paired_table(results, runs[0], ["metrics/sample_dated/baselines/mostpop.json"], "ndcg@10")
    assert other["note"].tolist() == ["not the same rows (another dataset or split)"]
    at = app(results, "Compare")
    at.multiselect(key="compare-runs").set_value(runs).run()
    assert not at.exception and "Against a reference run (paired)" in [s.value for s in at.subheader]


def test_reported_rows_sit_beside_reproduced_ones_with_the_difference(tmp_path):
    reported = load_reported(ROOT / "config/reported_results.yaml")
    reported = reported[reported["table"] == "Table 1"]       # ETEGRec's Tables 3 and 4 both print ETEGRec's row
    ours = reported.assign(source="reproduced", run="ours", **{"ndcg@10": reported["ndcg@10"] + 0.001})
    board = pd.concat([reported, ours])
    paired = lb.beside_reported(board, "ndcg@10")
    assert len(paired) == len(reported)
    assert paired["difference"].round(6).eq(0.001).all()


def test_paths_outside_the_results_directory_are_refused(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "results/link").symlink_to(tmp_path / "secret.txt")
    for escape in ("../secret.txt", "link", "/etc/passwd"):
        with pytest.raises(PermissionError):
            lb.inside(tmp_path / "results", escape)
    assert lb.inside(tmp_path / "results", "metrics/a.json") == (tmp_path / "results/metrics/a.json").resolve()


def devtools(socket, method: str, **params) -> dict:
    """One Chrome DevTools Protocol call: send, then skip events until its answer."""
    devtools.calls = getattr(devtools, "calls", 0) + 1
    socket.send(json.dumps({"id": devtools.calls, "method": method, "params": params}))
    while True:
        message = json.loads(socket.recv())
        if message.get("id") == devtools.calls:
            return message["result"]


def wait_for(probe, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} within {timeout:.0f} s")


def render_in_chromium(url: str, screenshot, profile_dir, selector: str) -> str:
    """Open `url` in headless Chromium, wait until `selector` is on the page (the app draws over a websocket, so
    a one-shot --dump-dom would see an empty shell), save a screenshot, return the page's HTML."""
    port = free_port()
    browser = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                f"--remote-debugging-port={port}", "--remote-allow-origins=*",
                                f"--user-data-dir={profile_dir}", "--window-size=1600,1200", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pages = wait_for(lambda: [t for t in json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/json/list", timeout=2).read()) if t["type"] == "page"], 60, "Chromium's page")
        with connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as socket:
            devtools(socket, "Page.navigate", url=url)
            found = f"document.querySelector({json.dumps(selector)}) !== null"
            wait_for(lambda: devtools(socket, "Runtime.evaluate", expression=found, returnByValue=True)
                     ["result"]["value"], 90, f"{selector} on {url}")
            html = devtools(socket, "Runtime.evaluate", expression="document.documentElement.outerHTML",
                            returnByValue=True)["result"]["value"]
            screenshot.write_bytes(base64.b64decode(devtools(socket, "Page.captureScreenshot", format="png")["data"]))
    finally:
        browser.terminate()
        browser.wait(timeout=30)
    return html


@contextlib.contextmanager
def served(results: Path, **env: str):
    """The app under `streamlit run` on a free port of localhost, on `results`; yields its URL."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", APP, "--server.headless", "true",
                               "--server.address", "127.0.0.1", "--server.port", str(port),
                               "--browser.gatherUsageStats", "false"],
                              env={**os.environ, "GENREC_RESULTS": str(results), **env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200,
                 60, "the Streamlit server")
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=30)


@PIPELINE_TIMEOUT
@pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason="Debian's chromium is not installed (make system-deps)")
def test_served_page_shows_the_leaderboard_in_headless_chromium(results, tmp_path):
    shot = tmp_path / "leaderboard.png"
    with served(results) as url:
        html = render_in_chromium(url, shot, tmp_path / "chromium", '[data-testid="stDataFrame"]')
    assert "Leaderboard" in html
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000          # a drawn page, not a blank one


@PIPELINE_TIMEOUT
@pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason="Debian's chromium is not installed (make system-deps)")
def test_paper_tables_page_shows_a_reproduced_cell_in_its_colour_in_headless_chromium(results, tmp_path):
    """No paper reports on the bundled sample: a fixture table holds one published row for the sample's SASRec,
    its NDCG@10 rounded as a paper prints it, which lies inside the run's interval (green); HR@10 set far off
    lies outside it (red)."""
    sasrec = json.loads((results / "metrics/sample/baselines/sasrec.json").read_text())
    ndcg, hr = sasrec["metrics"]["ndcg@10"], sasrec["metrics"]["hr@10"]
    reported = {"sources": {"fixture": {"paper": "A fixture table on the bundled sample", "url": "-",
                                        "columns": ["hr@10", "ndcg@10"]}},
                "results": [{"source": "fixture", "table": "Table 0", "dataset": "sample", "method": "sasrec",
                             "label": "SASRec", "metrics": {"hr@10": round(hr + 0.05, 4), "ndcg@10": round(ndcg, 4)}}]}
    path = tmp_path / "reported.yaml"
    path.write_text(yaml.safe_dump(reported))
    shot = tmp_path / "paper.png"
    with served(results, GENREC_REPORTED=str(path)) as url:
        html = render_in_chromium(url + "?page=Paper+tables", shot, tmp_path / "chromium", "table")
    inside = f"{round(ndcg, 4):.4f} / {ndcg:.4f} ({ndcg - round(ndcg, 4):+.4f})"
    outside = f"{round(hr + 0.05, 4):.4f} / {hr:.4f} ({hr - round(hr + 0.05, 4):+.4f})"
    assert inside in html and outside in html
    for colour in (lb.COVERAGE_COLOURS["inside"], lb.COVERAGE_COLOURS["outside"]):
        assert colour in html.lower()
