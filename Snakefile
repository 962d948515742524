# genrec: raw reviews -> splits -> SIDs -> models -> metrics -> leaderboard.
# Rules live in rules/<stage>.smk; the grid comes from the (schema-validated) config.
from snakemake.utils import min_version, validate

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


include: "rules/data.smk"
include: "rules/sid.smk"
include: "rules/train.smk"
include: "rules/rl.smk"
include: "rules/evaluate.smk"
include: "rules/baselines.smk"


include: "rules/report.smk"


# Every metrics file of the grid: datasets x tokenizers x backbones x stages (SFT, RL rewards) x baselines.
GRID_METRICS = [
    *expand(f"{RESULTS}/metrics/{{dataset}}/{{tokenizer}}/{{backbone}}/sft.json", dataset=config["datasets"],
            tokenizer=config["sid_tokenizers"], backbone=config["sft_backbones"]),
    *expand(f"{RESULTS}/metrics/{{dataset}}/baselines/{{baseline}}.json", dataset=config["datasets"],
            baseline=[b for b in config["baselines"] if b != "tiger"]),
    *expand(f"{RESULTS}/metrics/{{dataset}}/{{tokenizer}}/{{backbone}}/tiger.json", dataset=config["datasets"],
            tokenizer=TIGER["tokenizers"] if "tiger" in config["baselines"] else [], backbone=TIGER["backbone"]),
    # RL next to its SFT starting point, on test (and on valid, where RL is compared with SFT)
    *expand(f"{RESULTS}/metrics/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}{{split}}.json", dataset=config["datasets"],
            tokenizer=RL["tokenizers"] if RL["rewards"] else [], backbone=config["sft_backbones"],
            stage=["sft"] + [f"rl-{reward}" for reward in RL["rewards"]],
            split=["", ".valid"] if RL["compare_on_valid"] else [""]),
]


localrules: all


rule all:
    default_target: True
    input:
        expand(f"{RESULTS}/data/{{dataset}}/stats.json", dataset=config["datasets"]),
        expand(f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}/stats.json", dataset=config["datasets"],
               tokenizer=config["sid_tokenizers"]),
        GRID_METRICS,
        f"{RESULTS}/leaderboard.csv",
        # collaborative item embeddings for the RL `cf` reward
        expand(f"{RESULTS}/embed/{{dataset}}/sasrec.npy", dataset=config["datasets"] if "sasrec" in config["baselines"] else []),
