# Shared by every rule file: the validated config's cross-checks (genrec.settings.check_config, before any job),
# the artifact paths several rules name, the per-backbone job resources and launcher, and the SLURM preflight.
# A job's settings come from genrec.settings (typed, defaults filled once there); no rule reads a config key
# with a fallback of its own.
import shlex
import subprocess
import sys

import yaml
from snakemake.exceptions import WorkflowError

from genrec import settings as genrec_settings
from genrec.grid import GROUNDED_METHODS, TITLES, dataset_grid, grid_union, model_stage, trained_stage

RESULTS = config["results"]
DATASETS_FILE = config["datasets_file"]
DOWNLOADS_LOCK = config["downloads_lock"]
with open(DATASETS_FILE) as handle:
    DATASETS = yaml.safe_load(handle)
validate(DATASETS, "../genrec/schemas/datasets.schema.yaml")
genrec_settings.check_config(config, DATASETS)
# Each dataset's grid (the top-level keys, or its `per_dataset` entry).
GRIDS = {dataset: dataset_grid(config, dataset) for dataset in config["datasets"]}
# Jobs run the library through this interpreter, so a venv need not be activated (locally or on SLURM).
GENREC = f"{sys.executable} -m genrec"


# --- Artifact paths (wildcard patterns; `concrete` fills them in an input function) ----------------------------
DATA = f"{RESULTS}/data/{{dataset}}"
ITEMS = f"{DATA}/items.parquet"
DATA_STATS = f"{DATA}/stats.json"
SID = f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}"
SID_INDEX = f"{SID}/index.json"
SID_STATS = f"{SID}/stats.json"
SID_MODEL = f"{SID}/model.pt"      # a learned tokenizer's model, for the tokenizers ETEGRec starts from
OPENONEREC = f"{RESULTS}/openonerec/{{dataset}}/{{tokenizer}}"    # OpenOneRec's segments and chat data
EMBEDDINGS = f"{RESULTS}/embed/{{dataset}}/{{encoder}}"        # + .npy (vectors) and .json (provenance)
MODEL = f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}"
BASELINE_MODEL = f"{RESULTS}/models/{{dataset}}/baselines/{{baseline}}"
BASELINE_PRETRAINED = f"{BASELINE_MODEL}-pretrained"      # a two-stage baseline's first stage (S3-Rec)
# with `seeds`, the model of the first seed: the one a later stage reads (item embeddings, a grounding prior)
FIRST_SEED = f".seed{config['seeds'][0]}" if config["seeds"] else ""
# a run's predictions (+ .jsonl) and metrics (+ .json) files: genrec/grid.py lists the grid's metrics files
PREDICTIONS = f"{RESULTS}/predictions/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}"
METRICS = f"{RESULTS}/metrics/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}"
BASELINE_PREDICTIONS = f"{RESULTS}/predictions/{{dataset}}/baselines/{{baseline}}"
BASELINE_METRICS = f"{RESULTS}/metrics/{{dataset}}/baselines/{{baseline}}"
LEADERBOARD = f"{RESULTS}/leaderboard"                         # + .csv and .parquet


def split_table(split="{split}"):
    return f"{DATA}/{split}.parquet"


# A metrics file of the test split is {name}.json, of the valid split {name}.valid.json (`split_suffix` "" or
# ".valid"): where RL is compared with SFT, and methods with MostPop, without touching the test users.
def split_of(wildcards):
    return "valid" if wildcards.split_suffix else "test"


def evaluated_split(wildcards):
    """The split table a metrics job scores, by its `split_suffix`."""
    return concrete(split_table(split_of(wildcards)), wildcards)


def work_dir(model_pattern):
    """Where a training job keeps its resumable checkpoints: outside its output, which Snakemake clears before a
    re-run."""
    return model_pattern.replace(f"{RESULTS}/models/", f"{RESULTS}/work/models/", 1)


def concrete(pattern, wildcards, **values):
    return pattern.format(**{**dict(wildcards.items()), **values})


def data_dir(wildcards, input):
    """The prepared dataset directory a command reads its tables from."""
    return os.path.dirname(input.item_table)


# --- Job resources -------------------------------------------------------------------------------------------
# `tiny` and `t5` backbones train on CPU; `hf` backbones take the GPUs of their `resources` entry (SFT and RL),
# and one GPU per prediction shard (the shards are the evaluation's parallelism).
def training_resources(backbone: str) -> dict:
    resources = genrec_settings.training_resources(config, backbone)
    return {"gpu": resources.gpus, "mem_mb": resources.mem_mb, "runtime": resources.runtime}


# Training jobs start through genrec.launch, which takes `accelerate launch` (ZeRO-2) when the job has more
# than one GPU. The launcher is in the shell command, not in params: a venv path must not make a rerun.
GENREC_LAUNCH = f"{sys.executable} -m genrec.launch --accelerate-config {config['accelerate_config']}"


# --- SLURM preflight -------------------------------------------------------------------------------------------
# The executor only finds a wrong partition or a dead controller when sbatch fails on the first job; check both
# before any job is submitted, and say what to do.
def slurm_partitions_requested() -> set[str]:
    """Partitions named by default-resources and set-resources (profile or command line)."""
    settings = workflow.resource_settings
    named = [settings.default_resources.get("slurm_partition") if settings.default_resources else None]
    named += [resources.get("slurm_partition") for resources in settings.overwrite_resources.values()]
    return {str(getattr(r, "raw", r)).strip("'\"") for r in named if r is not None}


def check_slurm() -> None:
    try:
        listing = subprocess.run(["sinfo", "--noheader", "--format=%R"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise WorkflowError(f"SLURM is not reachable (sinfo: {error}); run on a login node of the cluster, or "
                            "use --profile profiles/local")
    if listing.returncode != 0:
        raise WorkflowError(f"SLURM is not reachable: sinfo failed with {listing.stderr.strip()!r}; check that "
                            "slurmctld is up and SLURM_CONF points at its slurm.conf")
    partitions = set(listing.stdout.split())
    missing = sorted(slurm_partitions_requested() - partitions)
    if missing:
        raise WorkflowError(f"the profile or command line names SLURM partition(s) {missing} that this cluster "
                            f"does not have; sinfo lists: {sorted(partitions)}. Set slurm_partition in "
                            "profiles/slurm/config.yaml or pass --default-resources slurm_partition=NAME")


onstart:    # runs once the executor is known, before any job is submitted (never in dry runs or inside jobs)
    if workflow.executor_plugin is not None and workflow.executor_plugin.name == "slurm":
        check_slurm()
