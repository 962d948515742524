"""The experiment grids plan the jobs they should: config/experiments/*.yaml through the profiles (dry runs)."""

import re
from pathlib import Path

import yaml
from conftest import snakemake

ROOT = Path(__file__).resolve().parents[1]

# MiniOneRec's table: 2 datasets x 4 tokenizers x 3 Qwen2.5 backbones; rewards none (SFT), rule, ranking;
# 6 baselines (MostPop, SASRec, GRU4Rec, Caser, HSTU, TIGER), TIGER on 2 tokenizers; LC-Rec on its own tokenizer, and
# D3, BIGRec (D3's model grounded) and S-DPO (from D3's model) on titles, each on the 3 backbones; 8 prediction shards
# per evaluation, RL and its SFT (and MostPop) also on valid.
PAPER_JOBS = {
    "download": 2 * 2,                  # reviews + meta per dataset
    "preprocess": 2,
    "embed": 2,                         # Qwen3-Embedding per dataset
    "tokenize": 2 * 4 + 2,              # + LC-Rec's 4-level RQ-VAE
    "sft": 2 * 4 * 3 + 2 * 2 + 2 * 3 * 2,   # SFT per dataset x tokenizer x backbone, + TIGER, + LC-Rec and D3 per backbone
    "rl": 2 * 4 * 3 * 2,
    "sdpo": 2 * 3,
    "evaluate": 2 * 4 * 3 * 3 * 2 + 2 * 2 + 2 * 3 * 4,   # SFT and the two RL stages on test and valid, + TIGER, LC-Rec, D3, BIGRec, S-DPO
    "predict_shard": (2 * 4 * 3 * 3 * 2 + 2 * 2 + 2 * 3 * 4) * 8,
    "mostpop": 2 * 2,                   # on test, and on valid as the floor of RL's valid comparison
    "train_baseline": 2 * 4,            # SASRec, GRU4Rec, Caser, HSTU
    "evaluate_baseline": 2 * 4,
    "item_embeddings": 2,               # SASRec's, for the cf reward
    "leaderboard": 1,
    "all": 1,
}


def job_counts(output: str) -> dict[str, int]:
    table = output[output.index("Job stats:"):]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)
            if name != "total"}


def test_paper_grid_plans_every_job_through_the_slurm_profile(workdir):
    plan = snakemake(workdir, "-n", "--profile", "profiles/slurm", "--configfile",
                     "config/experiments/paper-minionerec.yaml", cores=None, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert job_counts(plan.stdout + plan.stderr) == PAPER_JOBS
    # an 8-GPU backbone: sbatch gets gpu=8 on the gpu partition, the job starts 8 processes via accelerate
    # the plan lists jobs in no fixed order, and TIGER trains under rule sft too: take an LLM SFT job's block
    blocks = [block for block in plan.stdout.split("\n\n") if "rule sft:" in block]
    sft = next(block for block in blocks if "stage=sft" in block and "backbone=qwen2.5-1.5b" in block)
    assert "slurm_partition=gpu" in sft
    assert ", gpu=8" in sft
    assert "--processes 8 -- sft" in sft
    # LC-Rec trains under rule sft with its own stage, prompt set and schedule
    lcrec = next(block for block in blocks if "stage=lcrec" in block and "backbone=qwen2.5-3b" in block)
    assert "tokenizer=lcrec_rqvae" in lcrec and "--processes 8 -- sft" in lcrec


def test_quickstart_grid_plans_two_tokenizers_sft_one_reward_and_two_baselines(workdir):
    plan = snakemake(workdir, "-n", "--profile", "profiles/local")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert job_counts(plan.stdout + plan.stderr) == {
        # test: 2 SFT + 1 RL; valid: the RL model and its SFT model (rl.compare_on_valid), and MostPop; 2 shards each
        "preprocess": 1, "embed": 1, "tokenize": 2, "sft": 2, "rl": 1, "predict_shard": 5 * 2, "evaluate": 5,
        "mostpop": 2, "train_baseline": 1, "evaluate_baseline": 1, "item_embeddings": 1, "leaderboard": 1,
        "all": 1}


def test_per_dataset_grid_replaces_only_the_keys_it_names():
    from genrec.config import validate
    from genrec.grid import dataset_grid, grid_runs

    config = {"datasets": ["a", "b"], "sid_tokenizers": ["t1", "t2"], "sft_backbones": ["tiny"],
              "baselines": ["mostpop", "tiger"], "rl": {"rewards": ["ranking"], "tokenizers": ["t1", "t2"]},
              "tiger": {"tokenizers": ["t1", "t2"]},
              "per_dataset": {"b": {"sid_tokenizers": ["t1"], "rl": {"tokenizers": ["t1"]},
                                    "tiger": {"tokenizers": ["t1"]}}}}
    validate(config, "config.schema.yaml", "test")
    assert dataset_grid(config, "b")["rl"] == {"rewards": ["ranking"], "tokenizers": ["t1"], "compare_on_valid": True}
    runs = grid_runs(config)
    per = {d: sorted(r["metrics"] for r in runs if r["dataset"] == d) for d in ("a", "b")}
    assert len(per["a"]) == 2 * 2 * 2 + 2 + 2          # sft + rl on test and valid per tokenizer, mostpop x2, tiger x2
    assert per["b"] == ["metrics/b/baselines/mostpop.json", "metrics/b/baselines/mostpop.valid.json",
                        "metrics/b/t1/tiger/tiger.json",
                        "metrics/b/t1/tiny/rl-ranking.json", "metrics/b/t1/tiny/rl-ranking.valid.json",
                        "metrics/b/t1/tiny/sft.json", "metrics/b/t1/tiny/sft.valid.json"]


def test_per_dataset_names_are_checked_before_any_job(workdir):
    (workdir / "typo.yaml").write_text("per_dataset: {sampel: {sid_tokenizers: [rqkmeans]}}\n")
    plan = snakemake(workdir, "-n", "--configfile", "typo.yaml")
    assert plan.returncode != 0 and "unknown dataset(s) ['sampel']" in plan.stdout + plan.stderr
    (workdir / "tok.yaml").write_text("per_dataset: {sample: {sid_tokenizers: [rqvea]}}\n")
    plan = snakemake(workdir, "-n", "--configfile", "tok.yaml")
    assert plan.returncode != 0 and "unknown tokenizer(s) ['rqvea']" in plan.stdout + plan.stderr


def test_etegrec_grid_plans_tables_3_and_4_on_its_three_datasets(workdir):
    """config/experiments/etegrec.yaml: per dataset, the tokenizers of Table 3 (TIGER's recommender on each), ETEGRec
    and its five ablations from the pre-trained RQ-VAE (its own rule saves the model), on test and valid, with TIGER
    on valid beside them where it runs on the same tokenizer."""
    plan = snakemake(workdir, "-n", "--profile", "profiles/slurm", "--configfile", "config/experiments/etegrec.yaml",
                     cores=None, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = job_counts(plan.stdout + plan.stderr)
    datasets, variants, tiger_rows = 3, 6, 5
    assert jobs["tokenize_with_model"] == datasets           # etegrec_rqvae, whose model.pt ETEGRec starts from
    assert jobs["etegrec"] == datasets * variants
    assert jobs["sft"] == datasets * tiger_rows               # TIGER trains under rule sft
    assert jobs["evaluate"] == datasets * (variants * 2 + tiger_rows)
    block = next(b for b in plan.stdout.split("\n\n") if "rule etegrec:" in b and "stage=etegrec-no-at" in b)
    assert "slurm_partition=gpu" in block and ", gpu=1" in block


def test_every_rule_that_takes_gpus_goes_to_the_gpu_partition():
    """A rule with a `gpu` resource (an hf backbone's GPUs) must reach the profile's GPU partition: sbatch refuses
    --gpus on a CPU partition, and only when the job is submitted."""
    rules = "".join(path.read_text() for path in sorted((ROOT / "rules").glob("*.smk")))
    gpu_rules = {name for name, body in re.findall(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", rules, re.MULTILINE | re.DOTALL)
                 if re.search(r"^\s+gpu=", body, re.MULTILINE)}
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())["set-resources"]
    assert gpu_rules >= {"sft", "rl", "sdpo", "openonerec_pretrain", "openonerec_distill", "openonerec_grpo"}
    assert {name for name in gpu_rules if profile.get(name, {}).get("slurm_partition") != "gpu"} == set()


def test_openonerec_grid_plans_every_stage_on_both_qwen3_backbones(workdir):
    """config/experiments/openonerec.yaml: per dataset and Qwen3 backbone, the base model, stages 1 and 2, chat SFT,
    distillation and GRPO (on GPUs), each model's general-text perplexity, and the SFT, distilled and
    GRPO models' evaluation; the itemic tokenizer on Qwen3-Embedding-8B."""
    plan = snakemake(workdir, "-n", "--profile", "profiles/slurm", "--configfile", "config/experiments/openonerec.yaml",
                     cores=None, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = job_counts(plan.stdout + plan.stderr)
    runs = 2 * 2                                              # datasets x backbones
    assert (jobs["openonerec_base"], jobs["openonerec_pretrain"], jobs["openonerec_sft"], jobs["openonerec_distill"],
            jobs["openonerec_grpo"]) == (runs, 2 * runs, runs, runs, runs)
    assert jobs["openonerec_perplexity"] == 6 * runs and jobs["evaluate"] == jobs["openonerec_tasks"] == 3 * runs
    assert jobs["tokenize"] == jobs["openonerec_data"] == jobs["embed"] == 2
    block = next(b for b in plan.stdout.split("\n\n") if "rule openonerec_pretrain:" in b and "qwen3-8b" in b)
    assert "slurm_partition=gpu" in block and "gpu=8" in block and "openonerec-copretrain" in plan.stdout


def test_paper_grid_makes_the_runs_of_every_minionerec_row_the_pipeline_has():
    """Each row of MiniOneRec's table maps (genrec.report.board.metrics_paths_of) to metrics files the paper grid
    plans, on both datasets: every row of the table."""
    from genrec.config import load_config
    from genrec.grid import grid_runs
    from genrec.report.board import metrics_paths_of
    from genrec.report.reported import load_reported

    config = load_config(ROOT / "config/config.yaml", ROOT / "config/experiments/paper-minionerec.yaml")
    planned = {run["metrics"] for run in grid_runs(config)}
    rows = load_reported(ROOT / "config/reported_results.yaml")
    rows = rows[rows["paper"] == "minionerec"]
    missing = set()
    for row in rows.itertuples():
        paths = metrics_paths_of(row.dataset, row.method, row.stage, config)
        if not paths:
            missing.add(row.method)
        assert set(paths) <= planned, (row.dataset, row.method)
    assert not missing
