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
# Jobs run the library through this interpreter, so a venv need not be activated (locally or on SLURM).
GENREC = f"{sys.executable} -m genrec"


unknown = sorted(set(config["sid_tokenizers"]) - set(config["tokenizers"]))
if unknown:
    raise ValueError(f"config 'sid_tokenizers' names unknown tokenizer(s) {unknown}; `tokenizers` defines: "
                     + ", ".join(sorted(config["tokenizers"])))
unknown = sorted({t.get("encoder", "minilm") for t in config["tokenizers"].values()} - set(config["encoders"]))
if unknown:
    raise ValueError(f"tokenizers use unknown encoder(s) {unknown}; `encoders` defines: {sorted(config['encoders'])}")


wildcard_constraints:
    dataset=r"[A-Za-z0-9_.-]+",
    file=r"[A-Za-z0-9_.-]+",
    encoder=r"[A-Za-z0-9_.-]+",
    tokenizer=r"[A-Za-z0-9_.-]+",


include: "rules/data.smk"
include: "rules/sid.smk"


rule all:
    default_target: True
    input:
        expand(f"{RESULTS}/data/{{dataset}}/stats.json", dataset=config["datasets"]),
        expand(f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}/stats.json", dataset=config["datasets"],
               tokenizer=config["sid_tokenizers"]),
