# Data stage: download raw files, then raw -> items / interactions / splits / stats (DESIGN.md contracts).
from pathlib import Path

# shipped in data/ (a few MB): the quickstart's sample and the time-stamped test copy of it
BUNDLED_DATASETS = {"sample", "sample_dated"}


def raw_files(wildcards):
    """Each raw role of the dataset: its local path, or where the download rule puts it."""
    spec = genrec_settings.dataset(DATASETS, wildcards.dataset)
    return {role: str(raw.local_path(Path(f"{RESULTS}/data/raw/{wildcards.dataset}"))) for role, raw in spec.raw.items()}


def raw_role(wildcards):
    for role, raw in genrec_settings.dataset(DATASETS, wildcards.dataset).raw.items():
        if raw.file == wildcards.file:
            return role
    raise ValueError(f"dataset {wildcards.dataset} declares no downloadable raw file named {wildcards.file}")


rule download:
    output:
        f"{RESULTS}/data/raw/{{dataset}}/{{file}}",
    params:
        role=raw_role,
    log:
        f"{RESULTS}/logs/download/{{dataset}}/{{file}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/download/{{dataset}}/{{file}}.tsv"
    threads: 1
    retries: 2
    resources:
        mem_mb=512,
        runtime=240,
    shell:
        "{GENREC} download --dataset {wildcards.dataset} --role {params.role} --datasets {DATASETS_FILE}"
        " --lock {DOWNLOADS_LOCK} --out {output} 2> {log}"


rule preprocess:
    input:
        unpack(raw_files),
    output:
        item_table=ITEMS,
        interaction_table=f"{DATA}/interactions.parquet",
        train=split_table("train"),
        valid=split_table("valid"),
        test=split_table("test"),
        stats=DATA_STATS,
    params:
        raw=lambda wildcards, input: " ".join(f"--raw {role}={path}" for role, path in input.items()),
        out=lambda wildcards, output: os.path.dirname(output.stats),
    log:
        f"{RESULTS}/logs/preprocess/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/preprocess/{{dataset}}.tsv"
    threads: 1
    resources:
        # Large categories (Books) hold tens of millions of reviews in memory while filtering; the bundled ones are small.
        mem_mb=lambda wildcards: 4000 if wildcards.dataset in BUNDLED_DATASETS else 32000,
        runtime=lambda wildcards: 10 if wildcards.dataset in BUNDLED_DATASETS else 240,
    shell:
        "{GENREC} preprocess --dataset {wildcards.dataset} --datasets {DATASETS_FILE} --out {params.out}"
        " {params.raw} 2> {log}"
