"""The data stage through Snakemake, in a scratch copy of the workflow (so tests never touch results/)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


@pytest.fixture
def workdir(tmp_path) -> Path:
    for part in ("Snakefile", "rules", "config", "genrec/schemas", "data/sample"):
        src, dst = ROOT / part, tmp_path / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    return tmp_path


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, "--cores", "2", *args], cwd=workdir, capture_output=True, text=True,
                          timeout=600)


def test_bundled_sample_through_snakemake(workdir):
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    stats = json.loads((workdir / "results/data/sample/stats.json").read_text())
    assert (stats["users"], stats["items"], stats["interactions"]) == (8_317, 4_344, 58_492)
    for name in ("items", "interactions", "train", "valid", "test"):
        assert (workdir / f"results/data/sample/{name}.parquet").stat().st_size > 0
    assert "8317 users" in (workdir / "results/logs/preprocess/sample.log").read_text()
    assert (workdir / "results/benchmarks/preprocess/sample.tsv").read_text().startswith("s\t")
    again = snakemake(workdir, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_paper_dataset_plans_downloads_then_preprocess(workdir):
    plan = snakemake(workdir, "-n", "--config", "datasets=[Industrial_and_Scientific]")
    assert plan.returncode == 0, plan.stderr[-3000:]
    out = plan.stdout + plan.stderr
    assert "rule download" in out and "rule preprocess" in out
    assert "results/data/raw/Industrial_and_Scientific/meta_Industrial_and_Scientific.json.gz" in out


def test_unknown_dataset_fails_before_any_job(workdir):
    plan = snakemake(workdir, "-n", "--config", "datasets=[Nope]")
    assert plan.returncode != 0
    assert "unknown dataset(s) ['Nope']" in plan.stdout + plan.stderr
    assert not (workdir / "results").exists()


def test_config_schema_rejects_a_wrong_key(workdir):
    plan = snakemake(workdir, "-n", "--config", "resluts=x")
    assert plan.returncode != 0
    assert "resluts" in plan.stdout + plan.stderr
