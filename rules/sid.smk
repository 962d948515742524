# SID stage: item text -> embeddings -> Semantic-ID index per tokenizer (DESIGN.md contracts).
import re


rule embed:
    input:
        item_table=ITEMS,
    output:
        vectors=f"{EMBEDDINGS}.npy",
        info=f"{EMBEDDINGS}.json",
    params:
        settings=lambda wildcards: genrec_settings.encoder(config, wildcards.encoder).to_json(),
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


def imported(name):
    return genrec_settings.tokenizer(config, name).method == "imported"


def names_pattern(names):
    """A wildcard constraint matching exactly these names (and nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


rule tokenize:
    input:
        item_table=ITEMS,
        vectors=lambda wildcards: concrete(f"{EMBEDDINGS}.npy", wildcards,
                                           encoder=genrec_settings.tokenizer(config, wildcards.tokenizer).encoder),
    output:
        index=SID_INDEX,
        stats=SID_STATS,
    params:
        settings=lambda wildcards: genrec_settings.tokenizer(config, wildcards.tokenizer).to_json(),
        out=lambda wildcards, output: os.path.dirname(output.index),
    log:
        f"{RESULTS}/logs/tokenize/{{dataset}}/{{tokenizer}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/tokenize/{{dataset}}/{{tokenizer}}.tsv"
    wildcard_constraints:
        tokenizer=names_pattern([n for n in config["tokenizers"] if not imported(n)]),
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{GENREC} tokenize --items {input.item_table} --embeddings {input.vectors}"
        " --settings {params.settings:q} --out-dir {params.out} --threads {threads} 2> {log}"


rule import_index:
    """A released index (method `imported`) stands in for a tokenizer: checked against our item ids."""
    input:
        item_table=ITEMS,
        index=lambda wildcards: genrec_settings.imported_index_file(config, wildcards.tokenizer, wildcards.dataset),
    output:
        index=SID_INDEX,
        stats=SID_STATS,
    params:
        settings=lambda wildcards: genrec_settings.tokenizer(config, wildcards.tokenizer).to_json(),
        out=lambda wildcards, output: os.path.dirname(output.index),
    log:
        f"{RESULTS}/logs/tokenize/{{dataset}}/{{tokenizer}}.log",
    wildcard_constraints:
        tokenizer=names_pattern([n for n in config["tokenizers"] if imported(n)]),
    resources:
        mem_mb=2000,
        runtime=5,
    shell:
        "{GENREC} import-index --dataset {wildcards.dataset} --items {input.item_table}"
        " --settings {params.settings:q} --out-dir {params.out} 2> {log}"
