# Shared by every rule file: the validated grid's cross-checks (each fails before any job, naming the key),
# the per-backbone job resources and launcher, and the SLURM preflight.
import subprocess
import sys

import yaml
from snakemake.exceptions import WorkflowError

from genrec.grid import dataset_grid

RESULTS = config["results"]
DATASETS_FILE = config["datasets_file"]
with open(DATASETS_FILE) as handle:
    DATASETS = yaml.safe_load(handle)
validate(DATASETS, "../genrec/schemas/datasets.schema.yaml")
unknown = sorted(set(config["datasets"]) - set(DATASETS["datasets"]))
if unknown:
    raise ValueError(
        f"config 'datasets' names unknown dataset(s) {unknown}; {DATASETS_FILE} defines: "
        + ", ".join(sorted(DATASETS["datasets"]))
    )
unknown = sorted(set(config["per_dataset"]) - set(DATASETS["datasets"]))
if unknown:
    raise ValueError(f"config 'per_dataset' names unknown dataset(s) {unknown}; {DATASETS_FILE} defines: "
                     + ", ".join(sorted(DATASETS["datasets"])))
# Each dataset's grid (the top-level keys, or its `per_dataset` entry): every check below covers all of them.
GRIDS = {dataset: dataset_grid(config, dataset) for dataset in config["datasets"]}


def grid_union(key, sub=None):
    """Every name `key` (or `key.sub`) takes in the top-level grid or in any dataset's grid."""
    values = [config[key] if sub is None else config[key].get(sub, [])]
    values += [grid[key] if sub is None else grid[key][sub] for grid in GRIDS.values()]
    return {name for names in values for name in names}


unknown = sorted(grid_union("sft_backbones") - set(config["backbones"]))
if unknown:
    raise ValueError(f"config 'sft_backbones' names unknown backbone(s) {unknown}; `backbones` defines: "
                     + ", ".join(sorted(config["backbones"])))
unknown = sorted({b.get("prompts", "short") for b in config["backbones"].values()} - set(config["prompts"]))
if unknown:
    raise ValueError(f"backbones use unknown prompt set(s) {unknown}; `prompts` defines: {sorted(config['prompts'])}")
if config["evaluate"]["num_beams"] < max(config["evaluate"]["ks"]):
    raise ValueError(f"evaluate: num_beams {config['evaluate']['num_beams']} is below the largest K "
                     f"{max(config['evaluate']['ks'])}; the ranked lists would be too short for HR@K / NDCG@K")
# Jobs run the library through this interpreter, so a venv need not be activated (locally or on SLURM).
GENREC = f"{sys.executable} -m genrec"


unknown = sorted(grid_union("sid_tokenizers") - set(config["tokenizers"]))
if unknown:
    raise ValueError(f"config 'sid_tokenizers' names unknown tokenizer(s) {unknown}; `tokenizers` defines: "
                     + ", ".join(sorted(config["tokenizers"])))
unknown = sorted({t.get("encoder", "minilm") for t in config["tokenizers"].values()} - set(config["encoders"]))
if unknown:
    raise ValueError(f"tokenizers use unknown encoder(s) {unknown}; `encoders` defines: {sorted(config['encoders'])}")
clash = sorted(set(config["encoders"]) & {"sasrec", "gru4rec", "caser"})
if clash:
    raise ValueError(f"encoder name(s) {clash} are taken by the baselines' item embeddings (embed/{{dataset}}/NAME.npy)")
causal = {name for name, b in config["backbones"].items() if b.get("kind", "tiny") != "t5"}
unknown = sorted(grid_union("sft_backbones") - causal)
if unknown:
    raise ValueError(f"config 'sft_backbones' names t5 backbone(s) {unknown}: an encoder-decoder trains as the "
                     "TIGER baseline (`baselines: [tiger]`, `tiger.backbone`), not by LLM SFT")
TIGER = config["tiger"]
if "tiger" in grid_union("baselines"):
    if config["backbones"].get(TIGER["backbone"], {}).get("kind") != "t5":
        raise ValueError(f"tiger.backbone '{TIGER['backbone']}' must name a `kind: t5` entry of `backbones`")
    unknown = sorted(grid_union("tiger", "tokenizers") - set(config["tokenizers"]))
    if unknown or not grid_union("tiger", "tokenizers"):
        raise ValueError(f"tiger.tokenizers must name tokenizers of `tokenizers`; unknown: {unknown or '(empty list)'}")
RL = config["rl"]
unknown = sorted(grid_union("rl", "tokenizers") - set(config["tokenizers"]))
if grid_union("rl", "rewards") and (unknown or not grid_union("rl", "tokenizers")):
    raise ValueError(f"rl.tokenizers must name tokenizers of `tokenizers`; unknown: {unknown or '(empty list)'}")
if grid_union("rl", "rewards") and RL.get("batch_size", 256) % RL.get("num_generations", 16):
    raise ValueError(f"rl.batch_size {RL.get('batch_size', 256)} is not divisible by rl.num_generations "
                     f"{RL.get('num_generations', 16)}: a batch must hold whole groups of completions")
if "semantic" in grid_union("rl", "rewards") and RL["encoder"] not in config["encoders"]:
    raise ValueError(f"rl.encoder '{RL['encoder']}' (the semantic reward's embeddings) is not in `encoders`")


# --- Job resources -------------------------------------------------------------------------------------------
# `tiny` and `t5` backbones train on CPU; `hf` backbones take the GPUs of their `resources` entry (SFT and RL),
# and one GPU per prediction shard (the shards are the evaluation's parallelism).
def training_resources(backbone: str) -> dict:
    entry = config["backbones"][backbone]
    declared = entry.get("resources", {})
    on_gpu = entry.get("kind", "tiny") == "hf"
    return {"gpu": declared.get("gpus", 1 if on_gpu else 0),
            "mem_mb": declared.get("mem_mb", 64000 if on_gpu else 8000),
            "runtime": declared.get("runtime", 1440 if on_gpu else 120)}


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
