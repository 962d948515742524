# SID stage: item text -> embeddings -> Semantic-ID index per tokenizer (DESIGN.md contracts).
import json
import re


def tokenizer_settings(name):
    if name not in config["tokenizers"]:
        raise ValueError(f"unknown tokenizer '{name}'; config `tokenizers` defines: {sorted(config['tokenizers'])}")
    return config["tokenizers"][name]


rule embed:
    input:
        item_table=f"{RESULTS}/data/{{dataset}}/items.parquet",
    output:
        vectors=f"{RESULTS}/embed/{{dataset}}/{{encoder}}.npy",
        info=f"{RESULTS}/embed/{{dataset}}/{{encoder}}.json",
    params:
        settings=lambda wildcards: json.dumps(config["encoders"][wildcards.encoder]),
    log:
        f"{RESULTS}/logs/embed/{{dataset}}/{{encoder}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/embed/{{dataset}}/{{encoder}}.tsv"
    wildcard_constraints:    # embed/ also holds collaborative embeddings (rules/baselines.smk)
        encoder="|".join(re.escape(name) for name in config["encoders"]),
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "{GENREC} embed --items {input.item_table} --name {wildcards.encoder} --settings {params.settings:q}"
        " --out {output.vectors} --threads {threads} 2> {log}"


rule tokenize:
    input:
        item_table=f"{RESULTS}/data/{{dataset}}/items.parquet",
        vectors=lambda wildcards: f"{RESULTS}/embed/{wildcards.dataset}/"
        f"{tokenizer_settings(wildcards.tokenizer).get('encoder', 'minilm')}.npy",
    output:
        index=f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}/index.json",
        stats=f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}/stats.json",
    params:
        settings=lambda wildcards: json.dumps(tokenizer_settings(wildcards.tokenizer)),
        out=lambda wildcards, output: os.path.dirname(output.index),
    log:
        f"{RESULTS}/logs/tokenize/{{dataset}}/{{tokenizer}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/tokenize/{{dataset}}/{{tokenizer}}.tsv"
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{GENREC} tokenize --items {input.item_table} --embeddings {input.vectors} --name {wildcards.tokenizer}"
        " --settings {params.settings:q} --out-dir {params.out} --threads {threads} 2> {log}"
