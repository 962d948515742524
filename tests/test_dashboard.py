"""The Streamlit leaderboard on the metrics files of a real pipeline run (AppTest), one end-to-end load in
headless Chromium, and its file-access rule."""

import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest
from conftest import ROOT
from slurm_cluster import free_port
from streamlit.testing.v1 import AppTest

from genrec.report import board as lb

APP = str(ROOT / "dashboard" / "app.py")
PIPELINE_TIMEOUT = pytest.mark.timeout(1500)     # the first test to use `pipeline` runs it (about 12 min)
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
    runs = len(list((results / "metrics").rglob("*.json")))
    assert len(at.dataframe[0].value) == runs            # ndcg@10 is in every metrics file
    at.multiselect(key="filter-method").set_value(["sasrec", "mostpop"]).run()
    assert sorted(at.dataframe[0].value["method"]) == ["mostpop", "sasrec"]


@PIPELINE_TIMEOUT
def test_run_detail_shows_curves_and_users_of_an_rl_run(results):
    at = app(results, "Run detail")
    at.selectbox(key="detail-run").set_value("metrics/sample/rqkmeans/tiny/rl-ranking.json").run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Semantic IDs", "Training", "RL", "Sample users"]
    assert len(at.expander) == 1 + 5                     # the configuration, then five users


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


def test_reported_rows_sit_beside_reproduced_ones_with_the_difference(tmp_path):
    reported = lb.load_reported(ROOT / "config/reported_results.yaml")
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


@PIPELINE_TIMEOUT
@pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason="Debian's chromium is not installed (make system-deps)")
def test_served_page_shows_the_leaderboard_in_headless_chromium(results, tmp_path):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", APP, "--server.headless", "true",
                               "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                              env={**os.environ, "GENREC_RESULTS": str(results)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--window-size=1600,1200", "--virtual-time-budget=30000", f"http://127.0.0.1:{port}/"]
        dom = subprocess.run([*browser[:-1], "--dump-dom", browser[-1]], capture_output=True, text=True, timeout=120)
        shot = tmp_path / "leaderboard.png"
        subprocess.run([*browser[:-1], f"--screenshot={shot}", browser[-1]], capture_output=True, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert 'data-testid="stDataFrame"' in dom.stdout
    assert "Leaderboard" in dom.stdout
    assert shot.stat().st_size > 10_000
