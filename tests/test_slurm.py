"""The CPU grid through SLURM: a real one-node cluster on this host (tests/slurm_cluster.py), profiles/slurm,
snakemake-executor-plugin-slurm. `make test` installs the Debian packages and requires this test to run.
(`make test-slurm` runs only this file.)"""

import os

import pandas as pd
import pytest
from conftest import snakemake
from slurm_cluster import LocalSlurm, have_slurm

REQUIRED = os.environ.get("GENREC_REQUIRE_SYSTEM_DEPS") == "1"     # set by `make test`: no skipping there
pytestmark = pytest.mark.skipif(not have_slurm() and not REQUIRED,
                                reason="Debian's slurmctld, slurmd, slurm-client and munge are not installed "
                                       "(`make system-deps` installs them)")

# A subset of the CPU grid that runs in about a minute: splits, MostPop, a one-epoch SASRec, the leaderboard.
SUBSET = """\
sid_tokenizers: []
sft_backbones: []
baselines: [mostpop, sasrec]
rl: {rewards: []}
baseline_models: {sasrec: {hidden_size: 16, num_layers: 1, max_length: 20}}
baseline_training: {max_epochs: 1, eval_every: 1, batch_size: 512}
"""
SLURM_RULES = {"preprocess", "mostpop", "train_baseline", "evaluate_baseline", "item_embeddings", "leaderboard"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    slurm = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    slurm.start()
    yield slurm
    slurm.stop()


@pytest.fixture
def subset(workdir):
    (workdir / "subset.yaml").write_text(SUBSET)
    return workdir


@pytest.mark.timeout(900)
def test_cpu_grid_subset_runs_as_slurm_jobs(cluster, subset):
    run = snakemake(subset, "--profile", "profiles/slurm", "--configfile", "subset.yaml", "--max-threads", "2",
                    cores=None, env=cluster.env, timeout=600)   # a hard limit: a lost status poll must not hang CI
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    board = pd.read_csv(subset / "results/leaderboard.csv")
    assert sorted(board["stage"]) == ["mostpop", "sasrec"]
    assert set(board["n_users"]) == {8_317}
    completed = [line for line in cluster.completed_jobs() if "JobState=COMPLETED" in line]
    assert len(completed) == len(SLURM_RULES)
    rule_logs = {path.name.removeprefix("rule_") for path in (subset / ".snakemake/slurm_logs").glob("rule_*")}
    assert rule_logs == SLURM_RULES


def test_unknown_partition_fails_before_any_job(cluster, subset):
    before = len(cluster.completed_jobs())
    run = snakemake(subset, "--profile", "profiles/slurm", "--default-resources", "slurm_partition=nope",
                    "--configfile", "subset.yaml", cores=None, env=cluster.env, timeout=120)
    assert run.returncode != 0
    assert "SLURM partition(s) ['nope'] that this cluster does not have" in run.stdout + run.stderr
    assert len(cluster.completed_jobs()) == before
    assert not (subset / "results").exists()


def test_unreachable_slurm_fails_before_any_job(tmp_path, subset):
    down = LocalSlurm(tmp_path)          # configured, never started: nothing listens on its ports
    run = snakemake(subset, "--profile", "profiles/slurm", "--configfile", "subset.yaml", cores=None,
                    env=down.env, timeout=120)
    assert run.returncode != 0
    assert "SLURM is not reachable" in run.stdout + run.stderr
    assert not (subset / "results").exists()
