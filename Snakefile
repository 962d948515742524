# genrec: raw reviews -> splits -> SIDs -> models -> metrics -> leaderboard.
# Rules live in rules/<stage>.smk; the grid comes from the (schema-validated) config.
import sys

import yaml
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "genrec/schemas/config.schema.yaml")

RESULTS = config["results"]
DATASETS_FILE = config["datasets_file"]
with open(DATASETS_FILE) as handle:
    DATASETS = yaml.safe_load(handle)
validate(DATASETS, "genrec/schemas/datasets.schema.yaml")
unknown = sorted(set(config["datasets"]) - set(DATASETS["datasets"]))
if unknown:
    raise ValueError(
        f"config 'datasets' names unknown dataset(s) {unknown}; {DATASETS_FILE} defines: "
        + ", ".join(sorted(DATASETS["datasets"]))
    )
unknown = sorted(set(config["sft_backbones"]) - set(config["backbones"]))
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


unknown = sorted(set(config["sid_tokenizers"]) - set(config["tokenizers"]))
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
unknown = sorted(set(config["sft_backbones"]) - causal)
if unknown:
    raise ValueError(f"config 'sft_backbones' names t5 backbone(s) {unknown}: an encoder-decoder trains as the "
                     "TIGER baseline (`baselines: [tiger]`, `tiger.backbone`), not by LLM SFT")
TIGER = config["tiger"]
if "tiger" in config["baselines"]:
    if config["backbones"].get(TIGER["backbone"], {}).get("kind") != "t5":
        raise ValueError(f"tiger.backbone '{TIGER['backbone']}' must name a `kind: t5` entry of `backbones`")
    unknown = sorted(set(TIGER["tokenizers"]) - set(config["tokenizers"]))
    if unknown or not TIGER["tokenizers"]:
        raise ValueError(f"tiger.tokenizers must name tokenizers of `tokenizers`; unknown: {unknown or '(empty list)'}")
RL = config["rl"]
unknown = sorted(set(RL["tokenizers"]) - set(config["tokenizers"]))
if RL["rewards"] and (unknown or not RL["tokenizers"]):
    raise ValueError(f"rl.tokenizers must name tokenizers of `tokenizers`; unknown: {unknown or '(empty list)'}")
if RL["rewards"] and RL.get("batch_size", 256) % RL.get("num_generations", 16):
    raise ValueError(f"rl.batch_size {RL.get('batch_size', 256)} is not divisible by rl.num_generations "
                     f"{RL.get('num_generations', 16)}: a batch must hold whole groups of completions")
if "semantic" in RL["rewards"] and RL["encoder"] not in config["encoders"]:
    raise ValueError(f"rl.encoder '{RL['encoder']}' (the semantic reward's embeddings) is not in `encoders`")


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


rule all:
    default_target: True
    input:
        expand(f"{RESULTS}/data/{{dataset}}/stats.json", dataset=config["datasets"]),
        expand(f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}/stats.json", dataset=config["datasets"],
               tokenizer=config["sid_tokenizers"]),
        expand(f"{RESULTS}/metrics/{{dataset}}/{{tokenizer}}/{{backbone}}/sft.json", dataset=config["datasets"],
               tokenizer=config["sid_tokenizers"], backbone=config["sft_backbones"]),
        expand(f"{RESULTS}/metrics/{{dataset}}/baselines/{{baseline}}.json", dataset=config["datasets"],
               baseline=[b for b in config["baselines"] if b != "tiger"]),
        expand(f"{RESULTS}/metrics/{{dataset}}/{{tokenizer}}/{{backbone}}/tiger.json", dataset=config["datasets"],
               tokenizer=TIGER["tokenizers"] if "tiger" in config["baselines"] else [], backbone=TIGER["backbone"]),
        # RL next to its SFT starting point, on test and on valid
        expand(f"{RESULTS}/metrics/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}{{split}}.json", dataset=config["datasets"],
               tokenizer=RL["tokenizers"] if RL["rewards"] else [], backbone=config["sft_backbones"],
               stage=["sft"] + [f"rl-{reward}" for reward in RL["rewards"]], split=["", ".valid"]),
        # collaborative item embeddings for the RL `cf` reward
        expand(f"{RESULTS}/embed/{{dataset}}/sasrec.npy", dataset=config["datasets"] if "sasrec" in config["baselines"] else []),
