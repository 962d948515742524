"""The published tables (config/reported_results.yaml) against their transcriptions in ../shared/reported, and the
datasets' published statistics against what preprocessing the shipped files gives."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
import yaml

from genrec.data.preprocess import run_preprocess
from genrec.data.spec import dataset_spec, load_datasets
from genrec.report.reported import load_reported

ROOT = Path(__file__).resolve().parents[1]
REPORTED = ROOT / "config" / "reported_results.yaml"
SHARED = ROOT.parent / "shared" / "reported"
TABLES = {("tiger", "Table 1"): "tiger.yaml", ("etegrec", "Table 3"): "etegrec.yaml",
          ("etegrec", "Table 4"): "etegrec_table4_ablation.yaml"}


def transcribed() -> dict[tuple, float]:
    """(source, table, paper's dataset name, paper's method name, metric) -> value, from ../shared/reported."""
    values = {}
    for (source, table), name in TABLES.items():
        for row in yaml.safe_load((SHARED / name).read_text())["rows"]:
            for metric, value in row["metrics"].items():
                values[(source, table, row["dataset"], row["method"], metric.replace("recall@", "hr@"))] = value
    minionerec = yaml.safe_load((SHARED / "minionerec.yaml").read_text())
    for dataset, rows in minionerec["rows"].items():
        for method, numbers in rows.items():
            for metric, value in zip(minionerec["columns"], numbers):
                values[("minionerec", "main results", dataset, method, metric)] = value
    return values


PAPER_DATASET = {"Beauty": "Beauty", "Toys": "Toys and Games", "Sports_and_Outdoors-2014": "Sports and Outdoors",
                 "Musical_Instruments-2023": "Instrument", "Industrial_and_Scientific-2023-loo": "Scientific",
                 "Video_Games-2023": "Game", "Industrial_and_Scientific": "Industrial_and_Scientific",
                 "Office_Products": "Office_Products"}


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reported (the transcriptions) is not beside this clone")
def test_every_published_row_is_there_and_ten_random_values_match_the_transcription():
    source = transcribed()
    shipped = {}
    for row in yaml.safe_load(REPORTED.read_text())["results"]:
        for metric, value in row["metrics"].items():
            shipped[(row["source"], row["table"], PAPER_DATASET[row["dataset"]], row["label"], metric)] = value
    assert set(shipped) == set(source)                      # every row and metric of the three tables, no other
    for key in random.Random(16).sample(sorted(source), 10):
        assert shipped[key] == source[key], key
    assert len(load_reported(REPORTED)) == 27 + 42 + 18 + 20


def test_every_reported_dataset_is_one_the_pipeline_knows():
    datasets = load_datasets(ROOT / "config" / "datasets.yaml")
    assert {row["dataset"] for row in yaml.safe_load(REPORTED.read_text())["results"]} <= set(datasets)


def test_preprocess_reports_the_data_against_the_papers_statistics(tmp_path):
    """TIGER's Beauty as shipped is the paper's (Table 6: 22,363 users, 12,101 items); a wrong count is flagged."""
    spec = dataset_spec("Beauty", ROOT / "config" / "datasets.yaml")
    files = {role: ROOT / raw.path for role, raw in spec.raw.items()}
    stats = run_preprocess(spec, files, tmp_path / "beauty")
    assert (stats["users"], stats["items"], stats["interactions"]) == (22_363, 12_101, 198_502)
    assert stats["vs_published"] == {"users": 0, "items": 0} and stats["matches_published"]
    other = dataclasses.replace(spec, published={"source": "a typo", "users": 22_364, "items": 12_101})
    stats = run_preprocess(other, files, tmp_path / "other")
    assert stats["vs_published"] == {"users": -1, "items": 0} and not stats["matches_published"]


def test_a_row_run_with_several_seeds_is_their_mean_with_an_interval_over_seeds_and_users(tmp_path):
    """Three seeds of one SASRec on a hand-made test split: the Paper-tables cell is the mean over seeds, its
    interval resamples seeds and users, and a reported value inside it is green; one seed alone keeps its
    metrics file's users-only interval."""
    import numpy as np
    import pandas as pd

    from genrec.config import load_config
    from genrec.evaluate.scoring import item_ranking_records, score, write_predictions
    from genrec.report import board as lb

    rng = np.random.default_rng(0)
    split = pd.DataFrame({"user_id": range(400), "history": [[1, 2]] * 400, "target": rng.integers(0, 30, 400)})
    rows = []
    for seed in (1, 2, 3):
        ranked = np.stack([rng.permutation(30)[:20] for _ in range(400)])
        records = item_ranking_records(split, ranked, None, [f"t{i}" for i in range(30)], None)
        run = f"metrics/toy/baselines/sasrec.seed{seed}.json"
        (tmp_path / lb.predictions_of(run)).parent.mkdir(parents=True, exist_ok=True)
        write_predictions(records, tmp_path / lb.predictions_of(run))
        scored = score(records, np.ones(30, dtype=int), (10,))
        rows.append({"run": run, "source": "reproduced", "dataset": "toy", "split": "test", "method": "sasrec",
                     "stage": "sasrec", "tokenizer": None, "backbone": None, **scored["metrics"],
                     "ndcg@10 ci_low": scored["ci95"]["ndcg@10"][0], "ndcg@10 ci_high": scored["ci95"]["ndcg@10"][1]})
    mean = float(np.mean([r["ndcg@10"] for r in rows]))
    reported = {"run": "A paper, Table 9", "source": "reported", "paper": "a", "table": "Table 9", "label": "SASRec",
                "dataset": "toy", "split": "test", "method": "sasrec", "stage": "sasrec", "ndcg@10": round(mean, 4)}
    config = load_config(ROOT / "config" / "config.yaml")
    cells = lb.paper_table(pd.DataFrame([*rows, reported]), "a", "Table 9", config, tmp_path)
    cell = cells.iloc[0]
    assert cell["seeds"] == 3 and cell["interval"] == "seeds × users" and cell["coverage"] == "inside"
    assert cell["reproduced"] == pytest.approx(mean) and cell["ci_low"] < mean < cell["ci_high"]
    # one seed: the user bootstrap from its predictions, every metric; without them, its metrics file's interval
    alone = lb.paper_table(pd.DataFrame([rows[0], reported]), "a", "Table 9", config, tmp_path).iloc[0]
    assert alone["seeds"] == 1 and alone["interval"] == "users"
    assert alone["ci_low"] == pytest.approx(rows[0]["ndcg@10 ci_low"], abs=0.01)
    (tmp_path / lb.predictions_of(rows[0]["run"])).unlink()
    alone = lb.paper_table(pd.DataFrame([rows[0], reported]), "a", "Table 9", config, tmp_path).iloc[0]
    assert alone["ci_low"] == rows[0]["ndcg@10 ci_low"]
    report = lb.paper_table_report(cells, ["ndcg@10"]).splitlines()
    assert len(report) == 3 and report[2].startswith("| toy | SASRec | ndcg@10 |") and report[2].endswith("| yes |")
    assert "seeds × users (3 seeds)" in report[2]


def test_an_unreproduced_rows_command_runs_its_sources_experiment():
    """TIGER's Beauty rows name config/experiments/tiger-beauty.yaml: the command builds that experiment's runs of
    the row (each seed of a trained baseline); a method the pipeline lacks says so."""
    from genrec.config import load_config
    from genrec.report import board as lb
    from genrec.report.reported import reported_experiments

    path = REPORTED
    experiment = reported_experiments(path)["tiger"]["Beauty"]
    config = load_config(ROOT / "config" / "config.yaml")
    experiments = {"Beauty": (experiment, load_config(ROOT / "config" / "config.yaml", ROOT / experiment))}
    cells = lb.paper_table(load_reported(path), "tiger", "Table 1", config, "results", experiments=experiments)
    command = cells.drop_duplicates(["dataset", "label"]).set_index(["dataset", "label"])["to reproduce"]
    suffix = " --cores all --configfile config/experiments/tiger-beauty.yaml"
    assert command["Beauty", "SASRec"] == "snakemake " + " ".join(
        f"results/metrics/Beauty/baselines/sasrec.seed{seed}.json" for seed in (1, 2, 3)) + suffix
    assert command["Beauty", "TIGER"] == "snakemake results/metrics/Beauty/rqvae_tiger/tiger_paper/tiger.json" + suffix
    assert command["Beauty", "HGN"] == "snakemake " + " ".join(
        f"results/metrics/Beauty/baselines/hgn.seed{seed}.json" for seed in (1, 2, 3)) + suffix
    assert command["Beauty", "P5"] == "not in the pipeline yet"
    # a dataset the source names no experiment for: the dashboard's own config
    assert command["Sports_and_Outdoors-2014", "SASRec"] == (
        "snakemake results/metrics/Sports_and_Outdoors-2014/baselines/sasrec.json --cores all")


def test_paper_table_command_prints_the_reproduced_rows(tmp_path):
    import subprocess
    import sys

    (tmp_path / "metrics").mkdir()
    printed = subprocess.run([sys.executable, "-m", "genrec", "paper-table", "--results", str(tmp_path), "--paper",
                              "tiger", "--table", "Table 1", "--dataset", "Beauty"], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert printed.stdout.splitlines()[0].startswith("| dataset | row | metric | reported | reproduced |")
    assert len(printed.stdout.splitlines()) == 2          # nothing reproduced in an empty tree


def test_etegrec_tokenizer_rows_name_the_tiger_run_on_those_ids():
    """ETEGRec's LETTER, TIGER-SAS, SID and CID rows are TIGER's recommender on those item IDs: each row's command
    builds TIGER on a tokenizer of that kind (config/experiments/cpu-full.yaml lists one of each), and the plain
    TIGER row stays on text SIDs."""
    from genrec.config import load_config
    from genrec.grid import method_of
    from genrec.report import board as lb

    config = load_config(ROOT / "config" / "config.yaml", ROOT / "config" / "experiments" / "cpu-full.yaml")
    assert [method_of("tiger", config["tokenizers"][t], config["encoders"])
            for t in ("rqvae", "tiger_sas", "letter", "sid", "cid")] == [
        "tiger", "tiger-sas", "letter", "tiger-sid", "tiger-cid"]
    assert method_of("sft", config["tokenizers"]["letter"]) == "minionerec"
    cells = lb.paper_table(load_reported(REPORTED), "etegrec", "Table 3", config, "results")
    command = cells.drop_duplicates(["dataset", "label"]).set_index(["dataset", "label"])["to reproduce"]
    for label, tokenizer in (("TIGER", "rqkmeans"), ("TIGER-SAS", "tiger_sas"), ("LETTER", "letter"),
                             ("SID", "sid"), ("CID", "cid")):
        assert command["Video_Games-2023", label] == (
            f"snakemake results/metrics/Video_Games-2023/{tokenizer}/tiger/tiger.json --cores all"), label
