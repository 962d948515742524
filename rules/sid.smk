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


def tokenize_inputs(wildcards):
    """The items, then what the tokenizer reads: item vectors (a text encoder's, or a sequential baseline's), the
    training split (SID, CID), and for LETTER a baseline's item embeddings too."""
    sid = genrec_settings.tokenizer(config, wildcards.tokenizer)
    inputs = {"item_table": concrete(ITEMS, wildcards)}
    if sid.reads_interactions:
        inputs["train"] = concrete(split_table("train"), wildcards)
    else:
        inputs["embeddings"] = concrete(f"{EMBEDDINGS}.npy", wildcards, encoder=sid.encoder)
    if sid.collaborative:
        inputs["collaborative"] = concrete(f"{EMBEDDINGS}.npy", wildcards, encoder=sid.collaborative)
    return inputs


# The tokenizers ETEGRec starts from also save their model (SID_MODEL): a rule of their own, so that the other
# tokenizers' outputs stay index + stats.
ETEGREC_TOKENIZERS = sorted(grid_union(config, list(GRIDS.values()), "etegrec", "tokenizers"))


rule tokenize:
    input:
        unpack(tokenize_inputs),
    output:
        index=SID_INDEX,
        stats=SID_STATS,
    params:
        settings=lambda wildcards: genrec_settings.tokenizer(config, wildcards.tokenizer).to_json(),
        sources=lambda wildcards, input: " ".join(f"--{role} {path}" for role, path in input.items()
                                                  if role != "item_table"),
        out=lambda wildcards, output: os.path.dirname(output.index),
        model="",
    log:
        f"{RESULTS}/logs/tokenize/{{dataset}}/{{tokenizer}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/tokenize/{{dataset}}/{{tokenizer}}.tsv"
    wildcard_constraints:
        tokenizer=names_pattern([n for n in config["tokenizers"] if not imported(n) and n not in ETEGREC_TOKENIZERS]),
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{GENREC} tokenize --items {input.item_table} {params.sources} {params.model}"
        " --settings {params.settings:q} --out-dir {params.out} --threads {threads} 2> {log}"


use rule tokenize as tokenize_with_model with:
    output:
        index=SID_INDEX,
        stats=SID_STATS,
        model=SID_MODEL,
    params:
        model=lambda wildcards, output: f"--out-model {output.model}",
    wildcard_constraints:
        tokenizer=names_pattern(ETEGREC_TOKENIZERS),


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
