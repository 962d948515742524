# genrec: raw reviews -> splits -> SIDs -> models -> metrics -> leaderboard.
# Rules live in rules/<stage>.smk; the grid comes from the (schema-validated) config.
from snakemake.utils import min_version, validate

from genrec.grid import grid_runs

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "genrec/schemas/config.schema.yaml")

include: "rules/common.smk"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_.-]+",
    file=r"[A-Za-z0-9_.-]+",
    encoder=r"[A-Za-z0-9_.-]+",
    tokenizer=r"[A-Za-z0-9_.-]+",
    backbone=r"[A-Za-z0-9_.-]+",
    stage=r"[A-Za-z0-9_-]+",
    split=r"valid|test",
    shard=r"\d+",


# Every metrics file of the grid: datasets x tokenizers x backbones x stages (SFT, RL rewards) x baselines
# (paths under the results root, by genrec/grid.py, which the dashboard's pipeline page shares).
GRID_METRICS = [f"{RESULTS}/{run['metrics']}" for run in grid_runs(config)]


include: "rules/data.smk"
include: "rules/sid.smk"
include: "rules/train.smk"
include: "rules/etegrec.smk"
include: "rules/rl.smk"
include: "rules/sdpo.smk"
include: "rules/openonerec.smk"
include: "rules/evaluate.smk"
include: "rules/baselines.smk"
include: "rules/report.smk"


localrules: all


rule all:
    default_target: True
    input:
        expand(DATA_STATS, dataset=config["datasets"]),
        [SID_STATS.format(dataset=dataset, tokenizer=tokenizer) for dataset, grid in GRIDS.items()
         for tokenizer in grid["sid_tokenizers"]],
        GRID_METRICS,
        OPENONEREC_PERPLEXITY,
        OPENONEREC_TASKS,
        f"{LEADERBOARD}.csv",
        # collaborative item embeddings for the RL `cf` reward
        [f"{EMBEDDINGS}.npy".format(dataset=dataset, encoder="sasrec") for dataset, grid in GRIDS.items()
         if "sasrec" in grid["baselines"]],
