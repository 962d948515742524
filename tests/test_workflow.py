"""The data stage through Snakemake, in a scratch copy of the workflow (so tests never touch results/)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from conftest import FAST, PIPELINE_TIMEOUT, copy_workflow, snakemake

from genrec.report.leaderboard import metrics_files
from genrec.settings import SEQUENTIAL_BASELINES
from genrec.tokenize.index import index_to_codes, parse_sid, read_index

DVC = str(Path(sys.executable).with_name("dvc"))
ALL_TOKENIZERS = ["rqkmeans", "rqkmeans_constrained", "rqvae", "rqkmeans_plus"]

@PIPELINE_TIMEOUT   # includes the pipeline run when this is the first test that uses it
def test_bundled_sample_through_snakemake(pipeline):
    """The real sample, raw files -> splits -> MiniLM embeddings -> all four tokenizers -> SFT of a (very) tiny
    model on each -> sharded constrained beam search over all 8,317 test users -> metrics; baselines; RL."""
    workdir, run = pipeline
    assert run.returncode == 0, run.stderr[-3000:]
    stats = json.loads((workdir / "results/data/sample/stats.json").read_text())
    assert (stats["users"], stats["items"], stats["interactions"]) == (8_317, 4_344, 58_492)
    for name in ("items", "interactions", "train", "valid", "test"):
        assert (workdir / f"results/data/sample/{name}.parquet").stat().st_size > 0
    assert "8317 users" in (workdir / "results/logs/preprocess/sample.log").read_text()
    assert (workdir / "results/benchmarks/preprocess/sample.tsv").read_text().startswith("s\t")
    vectors = np.load(workdir / "results/embed/sample/minilm.npy")
    assert vectors.shape == (4_344, 384) and vectors.dtype == np.float32
    for tokenizer in ALL_TOKENIZERS:
        sid = workdir / "results/sid/sample" / tokenizer
        codes = index_to_codes(read_index(sid / "index.json", n_items=4_344))
        assert len(np.unique(codes, axis=0)) == 4_344, tokenizer          # collision-free
        stats = json.loads((sid / "stats.json").read_text())
        assert stats["collision_rate_after"] == 0.0 and stats["method"] == tokenizer
        assert (workdir / f"results/benchmarks/tokenize/sample/{tokenizer}.tsv").exists()
    native = json.loads((workdir / "results/sid/sample/native/stats.json").read_text())   # the released index
    assert (native["method"], native["titles_checked"], native["items"]) == ("imported", 4_344, 4_344)
    assert read_index(workdir / "results/sid/sample/native/index.json") == read_index(
        workdir / "data/sample/indexes/rqvae_native.index.json.gz")
    for tokenizer in [*ALL_TOKENIZERS, "native"]:
        metrics = json.loads((workdir / f"results/metrics/sample/{tokenizer}/tiny/sft.json").read_text())
        assert (metrics["dataset"], metrics["tokenizer"], metrics["backbone"], metrics["stage"]) == \
            ("sample", tokenizer, "tiny", "sft")
        assert metrics["n_users"] == metrics["n_rows"] == 8_317      # loo: one test row per user
        assert metrics["invalid_generations"] == 0 and metrics["num_beams"] == 20
        assert (metrics["mask_history"], metrics["precision"]) == (False, "float32")
        assert set(metrics["metrics"]) >= {f"{m}@{k}" for m in ("hr", "ndcg") for k in (1, 3, 5, 10, 20)}
        assert metrics["config"]["tokenizer"]["method"] == ("imported" if tokenizer == "native" else tokenizer)
        assert metrics["wall_seconds"]["sft"] > 0
        lines = (workdir / f"results/predictions/sample/{tokenizer}/tiny/sft.jsonl").read_text().splitlines()
        assert len(lines) == 8_317 and len(json.loads(lines[0])["sids"]) == 20
        model = workdir / f"results/models/sample/{tokenizer}/tiny/sft"
        assert (model / "config.json").exists() and (model / "tokenizer.json").exists()
        for shard in (0, 1):   # scatter outputs are temporary; their logs and benchmarks stay
            assert (workdir / f"results/logs/predict/sample/{tokenizer}/tiny/sft.test.shard{shard}.log").exists()
            assert not (workdir / f"results/predictions/sample/{tokenizer}/tiny/sft.test.shard{shard}.jsonl").exists()
    mostpop = json.loads((workdir / "results/metrics/sample/baselines/mostpop.json").read_text())
    assert mostpop["n_users"] == mostpop["n_rows"] == 8_317 and 0 < mostpop["metrics"]["ndcg@10"] < 0.05
    floor = json.loads((workdir / "results/metrics/sample/baselines/mostpop.valid.json").read_text())   # RL's valid floor
    assert (floor["split"], floor["n_rows"]) == ("valid", 8_317) and floor["metrics"] != mostpop["metrics"]
    for baseline in SEQUENTIAL_BASELINES:
        metrics = json.loads((workdir / f"results/metrics/sample/baselines/{baseline}.json").read_text())
        assert (metrics["method"], metrics["n_users"], metrics["invalid_generations"]) == (baseline, 8_317, 0)
        assert metrics["metrics"]["ndcg@10"] > 0 and metrics["config"]["training"]["max_epochs"] == 2
        training = json.loads((workdir / f"results/models/sample/baselines/{baseline}/training.json").read_text())
        assert training["epochs_run"] == 2
        assert (workdir / f"results/benchmarks/train_baseline/sample/{baseline}.tsv").exists()
    pretrained = json.loads((workdir / "results/models/sample/baselines/s3rec-pretrained/pretraining.json").read_text())
    assert pretrained["epochs_run"] == 1 and pretrained["instances"] > 33_541     # every prefix, first items too
    assert json.loads((workdir / "results/models/sample/baselines/s3rec/training.json").read_text())["pretrained"]
    assert np.load(workdir / "results/embed/sample/sasrec.npy").shape == (4_344, 16)
    tiger = json.loads((workdir / "results/metrics/sample/rqkmeans/tiger/tiger.json").read_text())
    assert (tiger["method"], tiger["stage"], tiger["backbone"], tiger["n_users"]) == ("tiger", "tiger", "tiger", 8_317)
    assert tiger["invalid_generations"] == 0 and tiger["config"]["backbone"]["kind"] == "t5"
    assert tiger["config"]["sft"]["epochs"] == 0.2
    # TIGER-SAS: TIGER on SIDs quantised from the trained SASRec's item embeddings, provenance naming them
    sas = json.loads((workdir / "results/metrics/sample/tiger_sas/tiger/tiger.json").read_text())
    assert (sas["n_users"], sas["invalid_generations"]) == (8_317, 0) and sas["metrics"]["ndcg@10"] > 0
    assert sas["config"]["encoder"]["collaborative"] == "sasrec" and sas["config"]["encoder"]["model"]["hidden_size"] == 16
    assert json.loads((workdir / "results/sid/sample/tiger_sas/stats.json").read_text())["encoder"] == "sasrec"
    # ETEGRec's Table 3 tokenizers, each under TIGER: LETTER (text RQ-VAE aligned with SASRec), SID and CID (IDs from
    # the training split; SID's are the 4 digits of 1001..5344, CID's differ in length)
    for name, encoder in (("letter", "sasrec"), ("sid", None), ("cid", None)):
        run = json.loads((workdir / f"results/metrics/sample/{name}/tiger/tiger.json").read_text())
        assert (run["n_users"], run["invalid_generations"]) == (8_317, 0) and run["metrics"]["ndcg@10"] > 0
        if encoder:
            assert run["config"]["encoder"]["collaborative_alignment"]["collaborative"] == encoder
        else:
            assert run["config"]["encoder"] == {"interactions": "train split"}
    sid_stats = json.loads((workdir / "results/sid/sample/sid/stats.json").read_text())
    assert sid_stats["sid_lengths"] == {"4": 4_344} and sid_stats["collision_rate_after"] == 0.0
    cid_stats = json.loads((workdir / "results/sid/sample/cid/stats.json").read_text())
    assert len(cid_stats["sid_lengths"]) > 1 and cid_stats["collision_rate_before"] == 0.0
    assert cid_stats["fit"]["items_in_graph"] + cid_stats["fit"]["cold_items"] == 4_344
    # ETEGRec: the pre-trained RQ-VAE on SASRec's embeddings (its model saved beside the index), trained jointly with
    # TIGER's T5; w/o ETE retrains a fresh T5 on the final codes. Both decode through the shared evaluation.
    assert (workdir / "results/sid/sample/etegrec_rqvae/model.pt").stat().st_size > 0
    for stage in ("etegrec", "etegrec-no-ete"):
        run = json.loads((workdir / f"results/metrics/sample/etegrec_rqvae/tiger/{stage}.json").read_text())
        assert (run["method"], run["stage"], run["n_users"], run["invalid_generations"]) == ("etegrec", stage, 8_317, 0)
        assert run["config"]["etegrec"]["end_to_end"] == (stage == "etegrec") and run["wall_seconds"]["etegrec"] > 0
        training = json.loads((workdir / f"results/models/sample/etegrec_rqvae/tiger/{stage}/training.json").read_text())
        assert training["collisions"]["final_with_extra_token"]["collision_rate"] == 0.0
        assert (training["best"]["phase"] == "retrain") == (stage == "etegrec-no-ete")
        codes = index_to_codes(read_index(workdir / f"results/models/sample/etegrec_rqvae/tiger/{stage}/sid_index.json",
                                          n_items=4_344))
        assert len(np.unique(codes, axis=0)) == 4_344
    predictions = workdir / "results/predictions/sample/etegrec_rqvae/tiger"
    compared = subprocess.run([sys.executable, "-m", "genrec", "compare", predictions / "etegrec.jsonl",
                               predictions / "etegrec-no-ete.jsonl"], capture_output=True, text=True, check=True)
    assert compared.stdout.startswith("ndcg@10: ") and "paired bootstrap" in compared.stdout
    # LC-Rec: its 4-level RQ-VAE index (the last level Sinkhorn-balanced, collisions re-coded), SFT on its task mix
    # under its own prompts, decoded by the shared evaluation
    lcrec_stats = json.loads((workdir / "results/sid/sample/lcrec_rqvae/stats.json").read_text())
    # Sinkhorn re-codes colliding groups' last code for up to 20 rounds; what still collides keeps its SID, as in
    # LC-Rec's generate_indices.py (with cpu-full's MiniLM: 12 pairs of identical text; more with 32-token texts here)
    assert lcrec_stats["sid_lengths"] == {"4": 4_344}
    assert lcrec_stats["collision_rate_after"] < lcrec_stats["collision_rate_before"]
    lcrec = json.loads((workdir / "results/metrics/sample/lcrec_rqvae/tiny_text/lcrec.json").read_text())
    assert (lcrec["method"], lcrec["stage"], lcrec["n_users"], lcrec["invalid_generations"]) == ("lcrec", "lcrec", 8_317, 0)
    assert lcrec["config"]["backbone"]["prompts"] == "lcrec" and "Instruction" in lcrec["config"]["prompts"]["sft"]["seq_rec"]["prompt"]
    assert lcrec["config"]["sft"]["tasks"]["titledesc2sid"] > 0 and lcrec["metrics"]["ndcg@10"] >= 0
    trained = json.loads((workdir / "results/models/sample/lcrec_rqvae/tiny_text/lcrec/training.json").read_text())
    assert set(trained["examples"]) == set(lcrec["config"]["sft"]["tasks"]) and min(trained["examples"].values()) > 0
    decoded = {len(parse_sid(sid)) for line in (workdir / "results/predictions/sample/lcrec_rqvae/tiny_text/"
                                                         "lcrec.jsonl").read_text().splitlines()
               for sid in json.loads(line)["sids"]}
    assert decoded == {4}
    # D3: title generation without a SID index, decoded over the items' titles (a shared title ranks once)
    d3 = json.loads((workdir / "results/metrics/sample/titles/tiny_text/d3.json").read_text())
    assert (d3["method"], d3["tokenizer"], d3["n_users"], d3["invalid_generations"]) == ("d3", "titles", 8_317, 0)
    assert d3["config"]["tokenizer"] == {"method": "titles"} and d3["config"]["sft"]["tasks"] == {"title_hist2title": 1.0}
    assert d3["config"]["guidance_scale"] == 0.8          # decoded with its SASRec assistant
    d3_model = workdir / "results/models/sample/titles/tiny_text/d3"
    assert not (d3_model / "sid_index.json").exists()
    assert json.loads((d3_model / "training.json").read_text())["trained_with"]["naming"] == "title"
    titles = set(pd.read_parquet(workdir / "results/data/sample/items.parquet")["title"].str.strip())
    for line in (workdir / "results/predictions/sample/titles/tiny_text/d3.jsonl").read_text().splitlines()[:200]:
        record = json.loads(line)
        assert set(record["sids"]) <= titles and len(set(record["sids"])) == len(record["sids"]) == 20
    # BIGRec: D3's model generates freely; every item ranked by its title's distance, adjusted by SASRec (cf)
    bigrec = json.loads((workdir / "results/metrics/sample/titles/tiny_text/bigrec.json").read_text())
    assert (bigrec["method"], bigrec["stage"], bigrec["n_users"], bigrec["invalid_generations"]) == \
        ("bigrec", "bigrec", 8_317, 0)
    assert bigrec["config"]["grounding"]["adjustment"] == "cf" and bigrec["config"]["sft"] == d3["config"]["sft"]
    assert bigrec["wall_seconds"]["sft"] == d3["wall_seconds"]["sft"]      # the same trained model
    for line in (workdir / "results/predictions/sample/titles/tiny_text/bigrec.jsonl").read_text().splitlines()[:200]:
        record = json.loads(line)
        assert set(record["sids"]) <= titles and len(set(record["sids"])) == len(record["sids"]) == 20
        assert isinstance(record["generated"], str) and len(record["items"]) >= 20
    # S-DPO: D3's model trained further (softmax DPO, 3 negatives), decoded over the titles as D3's
    sdpo = json.loads((workdir / "results/metrics/sample/titles/tiny_text/sdpo.json").read_text())
    assert (sdpo["method"], sdpo["n_users"], sdpo["invalid_generations"]) == ("sdpo", 8_317, 0)
    assert sdpo["config"]["sdpo"]["negatives"] == 3 and sdpo["wall_seconds"]["sdpo"] > 0
    sdpo_training = json.loads((workdir / "results/models/sample/titles/tiny_text/sdpo/training.json").read_text())
    assert sdpo_training["rows"] == 256 and sdpo_training["trained_with"]["naming"] == "title"
    assert any("eval_rewards/accuracy" in entry for entry in sdpo_training["log_history"])
    for stage in ("rl-ranking", "rl-cf"):      # GRPO from the rqkmeans SFT model; cf scores with the SASRec
        metrics = json.loads((workdir / f"results/metrics/sample/rqkmeans/tiny/{stage}.json").read_text())
        assert (metrics["stage"], metrics["split"], metrics["invalid_generations"]) == (stage, "test", 0)
        assert metrics["config"]["rl"]["reward"] == stage[3:] and metrics["wall_seconds"]["rl"] > 0
        steps = (workdir / f"results/models/sample/rqkmeans/tiny/{stage}/rl_steps.jsonl").read_text().splitlines()
        assert len(steps) == 2 and "group_hit_rate" in json.loads(steps[0])
        training = json.loads((workdir / f"results/models/sample/rqkmeans/tiny/{stage}/training.json").read_text())
        assert training["prompts"] == {"seq_rec": 16, "title2sid": 6, "description2sid": 5, "title_hist2sid": 5}
    for stage in ("sft", "rl-ranking", "rl-cf"):
        valid = json.loads((workdir / f"results/metrics/sample/rqkmeans/tiny/{stage}.valid.json").read_text())
        assert (valid["split"], valid["n_users"]) == ("valid", 8_317)
    board = pd.read_csv(workdir / "results/leaderboard.csv")
    assert len(board) == len(metrics_files(workdir / "results"))       # every metrics file, no perplexity
    assert set(board["source"]) == {"reproduced"}
    again = snakemake(workdir, "-n", *FAST)
    assert "Nothing to be done" in again.stdout + again.stderr


@PIPELINE_TIMEOUT
def test_time_811_dataset_through_every_stage(pipeline):
    """MiniOneRec's protocol end to end on `sample_dated` (real items and orders, synthetic dates): raw Amazon 2018
    files -> title filter, window, 5-core -> time_811 rows -> SIDs -> SFT, RL, every baseline -> evaluation keyed
    by row (users hold several test rows) -> leaderboard rows."""
    workdir, run = pipeline
    assert run.returncode == 0, run.stderr[-3000:]
    data = workdir / "results/data/sample_dated"
    stats = json.loads((data / "stats.json").read_text())
    assert stats["protocol"] == "time_811"
    test = pd.read_parquet(data / "test.parquet")
    rows_per_user = test.groupby("user_id").size()
    assert (rows_per_user >= 2).sum() >= 100
    runs = [("rqkmeans_extra/tiny_minionerec", stage) for stage in ("sft", "rl-ranking", "rl-cf")] + \
           [("rqkmeans/tiger", "tiger"), ("rqkmeans_extra/tiny_text", "lcrec"), ("titles/tiny_text", "d3"),
            ("titles/tiny_text", "bigrec"), ("titles/tiny_text", "sdpo")] + \
           [("baselines", b) for b in ("mostpop", *SEQUENTIAL_BASELINES)]
    assert not (workdir / "results/sid/sample_dated/rqvae").exists()      # per_dataset: one tokenizer here
    for where, stage in runs:
        metrics = json.loads((workdir / f"results/metrics/sample_dated/{where}/{stage}.json").read_text())
        assert (metrics["split"], metrics["n_rows"], metrics["n_users"]) == ("test", len(test), len(rows_per_user))
        assert metrics["n_rows"] > metrics["n_users"] and metrics["invalid_generations"] == 0
        records = [json.loads(line) for line in
                   (workdir / f"results/predictions/sample_dated/{where}/{stage}.jsonl").read_text().splitlines()]
        assert [r["row"] for r in records] == list(range(len(test)))
        assert [r["user_id"] for r in records] == test["user_id"].tolist()
        assert [r["target"] for r in records] == test["target"].tolist()
    valid = pd.read_parquet(data / "valid.parquet")
    floor = json.loads((workdir / "results/metrics/sample_dated/baselines/mostpop.valid.json").read_text())
    assert (floor["split"], floor["n_rows"], floor["n_users"]) == ("valid", len(valid), valid["user_id"].nunique())
    # MiniOneRec's recipe: a 4th token on colliding items only, decoded with its "\n" + EOS beam score
    index = read_index(workdir / "results/sid/sample_dated/rqkmeans_extra/index.json")
    assert {len(sid) for sid in index.values()} == {3, 4}
    sft = json.loads((workdir / "results/metrics/sample_dated/rqkmeans_extra/tiny_minionerec/sft.json").read_text())
    assert sft["config"]["evaluate"]["score_eos"] and sft["config"]["prompts"]["evaluate"]["seq_rec"]
    decoded = {len(parse_sid(sid)) for line in (workdir / "results/predictions/sample_dated/rqkmeans_extra/"
                                                         "tiny_minionerec/sft.jsonl").read_text().splitlines()
               for sid in json.loads(line)["sids"]}
    assert decoded == {3, 4}                                           # short and long SIDs both decoded
    # HSTU's time bias reads the rows' real times here; the sample's timestamps are ordinals, so it is off there
    assert all(list(times) == sorted(times) and (len(times) == 0 or times[-1] <= at)
               for times, at in zip(test["history_timestamps"], test["timestamp"]))
    for dataset, buckets in (("sample_dated", 128), ("sample", 0)):
        trained = json.loads((workdir / f"results/models/{dataset}/baselines/hstu/training.json").read_text())
        assert trained["model"]["time_buckets"] == buckets, dataset
    for stage in ("sft", "rl-ranking", "rl-cf"):
        valid = json.loads((workdir / "results/metrics/sample_dated/rqkmeans_extra/tiny_minionerec/"
                                      f"{stage}.valid.json").read_text())
        assert valid["n_rows"] == len(pd.read_parquet(data / "valid.parquet")) > valid["n_users"]
    board = pd.read_csv(workdir / "results/leaderboard.csv")
    dated = board[board["dataset"] == "sample_dated"]
    metrics = workdir / "results/metrics"
    assert len(dated) == sum(path.relative_to(metrics).parts[0] == "sample_dated"
                             for path in metrics_files(workdir / "results"))
    assert (dated["n_rows"] > dated["n_users"]).all() and set(dated["source"]) == {"reproduced"}


@PIPELINE_TIMEOUT
def test_a_baseline_runs_once_per_seed_of_the_grid(pipeline):
    """`seeds:` through Snakemake: GRU4Rec on sample_dated trained and scored under seed 7, beside the unseeded
    run, each file recording its seed (the Paper tables page combines such runs: tests/test_reported.py)."""
    workdir, run = pipeline
    assert run.returncode == 0, run.stderr[-3000:]
    (workdir / "seeds.yaml").write_text("seeds: [7]\n")
    target = "results/metrics/sample_dated/baselines/gru4rec.seed7.json"
    seeded = snakemake(workdir, target, *FAST, "seeds.yaml")
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    metrics = json.loads((workdir / target).read_text())
    assert metrics["seed"] == 7 and metrics["config"]["training"]["seed"] == 7 and metrics["method"] == "gru4rec"
    trained = json.loads((workdir / "results/models/sample_dated/baselines/gru4rec.seed7/training.json").read_text())
    assert trained["training"]["seed"] == 7
    assert json.loads((workdir / "results/metrics/sample_dated/baselines/gru4rec.json").read_text())["seed"] == 42


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


def test_unknown_tokenizer_fails_before_any_job(workdir):
    plan = snakemake(workdir, "-n", "--config", "sid_tokenizers=[rqvea]")
    assert plan.returncode != 0
    assert "unknown tokenizer(s) ['rqvea']" in plan.stdout + plan.stderr


def test_config_schema_rejects_a_wrong_key(workdir):
    plan = snakemake(workdir, "-n", "--config", "resluts=x")
    assert plan.returncode != 0
    assert "resluts" in plan.stdout + plan.stderr


def test_unknown_backbone_fails_before_any_job(workdir):
    """The Snakefile runs genrec.settings.check_config before any job (its checks: tests/test_settings.py)."""
    plan = snakemake(workdir, "-n", "--config", "sft_backbones=[qwen9]")
    assert plan.returncode != 0
    assert "unknown backbone(s) ['qwen9']" in plan.stdout + plan.stderr
    assert not (workdir / "results").exists()


def dvc(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DVC, *args], cwd=workdir, capture_output=True, text=True, timeout=600)


@PIPELINE_TIMEOUT
def test_artifacts_round_trip_through_a_dvc_remote(pipeline, tmp_path):
    """Push the pipeline's artifacts, lose them (a fresh machine: no results/, no .snakemake/, no DVC cache), pull
    them back: Snakemake has nothing to do and the leaderboard is byte-identical. Runs after the pipeline tests."""
    workdir, run = pipeline
    assert run.returncode == 0, run.stderr[-3000:]
    board = (workdir / "results/leaderboard.csv").read_bytes()
    for step in (["init", "--no-scm"], ["remote", "add", "--default", "store", str(tmp_path / "remote")],
                 ["commit", "--force", "pipeline"], ["push"]):
        done = dvc(workdir, *step)
        assert done.returncode == 0, f"dvc {' '.join(step)}: {done.stderr[-2000:]}"
    shown = dvc(workdir, "metrics", "show")
    assert "results/metrics/sample/rqkmeans/tiny/rl-ranking.valid.json" in shown.stdout
    for local in ("results", ".snakemake", ".dvc/cache"):
        shutil.rmtree(workdir / local)
    pull = subprocess.run(["scripts/pull_artifacts.sh"], cwd=workdir, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "DVC": DVC})
    assert pull.returncode == 0, pull.stderr[-2000:]
    again = snakemake(workdir, "-n", *FAST)
    assert "Nothing to be done" in again.stdout + again.stderr, (again.stdout + again.stderr)[-3000:]
    assert (workdir / "results/leaderboard.csv").read_bytes() == board


@PIPELINE_TIMEOUT
def test_sequence_mode_sft_through_rl_and_evaluation(pipeline, tmp_path):
    """`seq_rec_mode: sequence` on both protocols, through Snakemake: SFT on users' sequences (mixed with per-row
    item tasks), GRPO from it, and evaluation with 0 invalid generations, in a copy of the pipeline's tree that
    reuses its data and SIDs."""
    workdir, run = pipeline
    assert run.returncode == 0, run.stderr[-3000:]
    copy = copy_workflow(tmp_path / "sequence")
    for part in ("data", "embed", "sid"):
        shutil.copytree(workdir / "results" / part, copy / "results" / part)
    targets = [f"results/metrics/{dataset}/{tokenizer}/tiny_seq/{stage}.json"
               for dataset, tokenizer in (("sample", "rqkmeans"), ("sample_dated", "rqkmeans_extra"))
               for stage in ("sft", "rl-ranking")]
    result = snakemake(copy, *targets, *FAST, "tests/fast-sequence.yaml", "--rerun-triggers", "mtime")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rule tokenize" not in result.stdout + result.stderr               # the pipeline's SIDs were reused
    for dataset, tokenizer in (("sample", "rqkmeans"), ("sample_dated", "rqkmeans_extra")):
        model = copy / f"results/models/{dataset}/{tokenizer}/tiny_seq/sft"
        training = json.loads((model / "training.json").read_text())
        train = pd.read_parquet(copy / f"results/data/{dataset}/train.parquet")
        assert training["sft"]["seq_rec_mode"] == "sequence"
        # the windows hold every training row once
        assert training["examples"]["seq_rec"] < training["examples"]["seq_rec_targets"]
        assert training["examples"]["seq_rec_targets"] == len(train)
        assert training["epoch_seconds"] and training["train_tokens"] > 0
        for stage in ("sft", "rl-ranking"):
            metrics = json.loads((copy / f"results/metrics/{dataset}/{tokenizer}/tiny_seq/{stage}.json").read_text())
            test = pd.read_parquet(copy / f"results/data/{dataset}/test.parquet")
            assert metrics["n_rows"] == len(test) and metrics["invalid_generations"] == 0
            assert not metrics["config"]["evaluate"]["score_eos"]


@PIPELINE_TIMEOUT
def test_openonerec_data_on_both_protocols(pipeline):
    """OpenOneRec's itemic tokens and its two data files, as the pipeline builds them: the sample (loo) and
    sample_dated (time_811, users with several valid and test rows)."""
    from genrec.data.sequences import user_sequences
    from genrec.openonerec.data import CHAT_SCHEMA, HISTORY_PRETRAIN, REC_CHAT, SEGMENTS_SCHEMA, read_openonerec_table
    from genrec.openonerec.itemic import itemic_text

    copy, run = pipeline
    assert run.returncode == 0, run.stderr[-3000:]
    for dataset in ("sample", "sample_dated"):
        data = copy / "results/data" / dataset
        splits = {name: pd.read_parquet(data / f"{name}.parquet") for name in ("train", "valid", "test")}
        index = read_index(copy / f"results/sid/{dataset}/openonerec_rqkmeans/index.json", n_items=len(
            pd.read_parquet(data / "items.parquet")))
        assert {len(sid) for sid in index.values()} == {3} and index_to_codes(index).max() < 256
        out = copy / f"results/openonerec/{dataset}/openonerec_rqkmeans"
        chat = read_openonerec_table(out / "chat.parquet", CHAT_SCHEMA)
        rec = chat[chat["source"] == REC_CHAT]
        assert rec.groupby("split").size().to_dict() == {name: len(table) for name, table in splits.items()}
        test = rec[rec["split"] == "test"]["metadata"].map(json.loads)
        assert [m["target"] for m in test] == splits["test"]["target"].tolist()
        segments = read_openonerec_table(out / "segments.parquet", SEGMENTS_SCHEMA)
        histories = segments[segments["source"] == HISTORY_PRETRAIN]
        assert len(histories) == splits["train"]["user_id"].nunique()
        # a user's segment is its training sequence: no valid or test target in pre-training text
        for sequence, text in zip(user_sequences(splits["train"])[:50], histories["segments"][:50]):
            assert json.loads(text)[0]["text"] == "".join(itemic_text(index[item]) for item in sequence.items[-522:])
    assert splits["test"].groupby("user_id").size().max() > 1       # sample_dated: several test rows per user


@PIPELINE_TIMEOUT
def test_openonerec_stages_through_the_pipeline(pipeline):
    """OpenOneRec in the CPU grid, on both protocols: the base model, stage 1, stage 2, chat SFT, distillation and
    GRPO, each with its general-text perplexity, and the SFT, distilled and GRPO models' next-item evaluation on the
    leaderboard. Stage 1 changes only the rows the vocabulary gained (every code of every level), stage 2 every
    parameter, SFT trains on the training split's chats with the general share, distillation on the general
    prompts, GRPO on next-item prompts, and every model is scored on the same held-out tokens."""
    from genrec.models.backbone import load_backbone
    from genrec.openonerec.data import CHAT_SCHEMA, read_openonerec_table
    from genrec.openonerec.itemic import itemic_vocabulary
    from genrec.openonerec.settings import ALIGN, BASE, COPRETRAIN, DISTILL, GENERAL, GRPO, SFT

    workdir, run = pipeline
    assert run.returncode == 0, run.stderr[-3000:]
    board = pd.read_csv(workdir / "results/leaderboard.csv")
    assert not board["run"].str.endswith(".perplexity.json").any()       # beside the metrics files, not on the board
    for dataset in ("sample", "sample_dated"):
        for stage in (SFT, DISTILL, GRPO):
            metrics = json.loads((workdir / f"results/metrics/{dataset}/openonerec_rqkmeans/tiny_chat/{stage}.json")
                                 .read_text())
            test = pd.read_parquet(workdir / f"results/data/{dataset}/test.parquet")
            assert metrics["n_rows"] == len(test) and metrics["invalid_generations"] == 0
            assert metrics["method"] == "openonerec" and metrics["stage"] == stage
        assert len(board[(board["dataset"] == dataset) & (board["method"] == "openonerec")]) == 3
    models = {BASE: f"sample/{GENERAL}/tiny_chat/{BASE}",
              **{stage: f"sample/openonerec_rqkmeans/tiny_chat/{stage}"
                 for stage in (ALIGN, COPRETRAIN, SFT, DISTILL, GRPO)}}
    loaded = {stage: load_backbone(workdir / "results/models" / model) for stage, model in models.items()}
    info = {stage: json.loads((workdir / "results/models" / model / "training.json").read_text())
            for stage, model in models.items()}
    n_base = len(loaded[BASE][1])
    assert info[BASE]["trained"] and info[BASE]["vocab_size"] == n_base
    vocabulary = loaded[ALIGN][1].get_vocab()
    assert all(token in vocabulary for token in itemic_vocabulary(3, 256))
    assert info[ALIGN]["frozen_rows"] == n_base and info[COPRETRAIN]["frozen_rows"] == 0
    segments = pd.read_parquet(workdir / "results/openonerec/sample/openonerec_rqkmeans/segments.parquet")
    assert info[ALIGN]["recommendation_texts"] == len(segments)
    assert info[ALIGN]["general_texts"] == round(0.1 / 0.9 * len(segments))           # tests/fast.yaml: share 0.1
    weights = {stage: dict(model.named_parameters()) for stage, (model, _) in loaded.items()}
    for name, base in weights[BASE].items():
        aligned, copretrained = weights[ALIGN][name], weights[COPRETRAIN][name]
        rows = slice(0, n_base) if "embed_tokens" in name else slice(None)
        assert torch.equal(aligned[rows], base[rows]), name                  # stage 1: the LLM frozen
        assert not torch.equal(copretrained[rows], aligned[rows]), name      # stage 2: every parameter trains
    added = weights[ALIGN]["model.embed_tokens.weight"][n_base:len(loaded[ALIGN][1])]
    assert not torch.equal(added, added[:1].expand_as(added))                  # the new rows left their mean start
    chat = read_openonerec_table(workdir / "results/openonerec/sample/openonerec_rqkmeans/chat.parquet", CHAT_SCHEMA)
    train_chats = int((chat["split"] == "train").sum())                  # next item and item understanding
    assert info[SFT]["recommendation_conversations"] == train_chats
    assert info[SFT]["general_conversations"] == round(0.1 / 0.9 * train_chats)
    assert info[SFT]["steps"] > 0 and info[SFT]["dropped_too_long"] < info[SFT]["general_conversations"]
    assert not torch.equal(weights[SFT]["model.norm.weight"], weights[COPRETRAIN]["model.norm.weight"])
    general_chat = pd.read_parquet(workdir / "results/general/chitchat/chat.parquet")
    assert info[DISTILL]["prompts"] == 64 <= int((general_chat["split"] == "train").sum())    # tests/fast.yaml
    assert info[DISTILL]["steps"] == 2 and info[DISTILL]["teacher_vocab_size"] == n_base
    assert info[DISTILL]["trained_with"] == info[SFT]["trained_with"]          # decoded from the SFT model's prompt
    assert not torch.equal(weights[DISTILL]["model.norm.weight"], weights[SFT]["model.norm.weight"])
    assert info[GRPO]["stage"] == GRPO and info[GRPO]["reward"] == "rule" and info[GRPO]["steps"] == 1
    assert info[GRPO]["trained_with"] == info[SFT]["trained_with"] and info[GRPO]["sft_model"].endswith(DISTILL)
    perplexity = {stage: json.loads((workdir / f"results/metrics/{model}.perplexity.json").read_text())
                  for stage, model in models.items()}
    general = pd.read_parquet(workdir / "results/general/chitchat/segments.parquet")
    assert {p["texts"] for p in perplexity.values()} == {int((general["split"] == "heldout").sum())}
    assert len({p["tokens"] for p in perplexity.values()}) == 1                  # the same held-out tokens
    assert all(p["perplexity_ci95"][0] <= p["perplexity"] <= p["perplexity_ci95"][1] for p in perplexity.values())
    # the RecIF-style tasks of every evaluated chat model, on drawn test targets and query chats (tests/fast.yaml)
    test = pd.read_parquet(workdir / "results/data/sample/test.parquet")
    for stage in (SFT, DISTILL, GRPO):
        metrics = workdir / f"results/metrics/sample/openonerec_rqkmeans/tiny_chat/{stage}"
        understanding = json.loads(metrics.with_name(f"{stage}.item_understanding.json").read_text())
        assert understanding["n_items"] == 64 and len(understanding["answers"]) == 64
        low, high = understanding["ci95"]["title_exact_match"]
        assert 0 <= low <= understanding["metrics"]["title_exact_match"] <= high <= 1
        assert {a["item"] for a in understanding["answers"]} <= set(test["target"])
        query = json.loads(metrics.with_name(f"{stage}.query_rec.json").read_text())
        assert query["n_rows"] == 64 and query["invalid_generations"] == 0 and "ndcg@10" in query["metrics"]


def test_general_text_through_snakemake(workdir):
    """The general-domain corpus rule: both files in their schemas, a held-out share in each."""
    from genrec.openonerec.data import CHAT_SCHEMA, SEGMENTS_SCHEMA, read_openonerec_table

    result = snakemake(workdir, "results/general/chitchat/chat.parquet", "results/general/chitchat/segments.parquet")
    assert result.returncode == 0, result.stderr[-3000:]
    for name, schema in (("segments", SEGMENTS_SCHEMA), ("chat", CHAT_SCHEMA)):
        table = read_openonerec_table(workdir / f"results/general/chitchat/{name}.parquet", schema)
        assert set(table["split"]) == {"train", "valid", "heldout"} and table["uuid"].is_unique
