# ETEGRec stage (genrec/etegrec): the pre-trained RQ-VAE of an `etegrec.tokenizers` entry (SID_MODEL) and TIGER's
# T5 backbone trained together, one job per variant (stage: etegrec or a Table 4 ablation). The checkpoint is
# TIGER's layout with the final item codes inside, so rules/evaluate.smk decodes it as it decodes TIGER.


def etegrec_inputs(wildcards):
    """The prepared split, the tokenizer's model, and the item embeddings that tokenizer quantises."""
    sid = genrec_settings.tokenizer(config, wildcards.tokenizer)
    return {"item_table": concrete(ITEMS, wildcards), "train": concrete(split_table("train"), wildcards),
            "valid": concrete(split_table("valid"), wildcards), "tokenizer_model": concrete(SID_MODEL, wildcards),
            "embeddings": concrete(f"{EMBEDDINGS}.npy", wildcards, encoder=sid.encoder)}


rule etegrec:
    input:
        unpack(etegrec_inputs),
    output:
        model=directory(MODEL),
    params:
        settings=lambda wildcards: genrec_settings.etegrec_job(config, wildcards.stage).to_json(),
        data=data_dir,
    log:
        f"{RESULTS}/logs/{{stage}}/{{dataset}}/{{tokenizer}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{stage}}/{{dataset}}/{{tokenizer}}/{{backbone}}.tsv"
    wildcard_constraints:
        stage="|".join(genrec_settings.ETEGREC_STAGES),
        tokenizer=names_pattern(ETEGREC_TOKENIZERS),
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: min(1, training_resources(wildcards.backbone)["gpu"]),
    shell:
        "{GENREC} etegrec --data {params.data} --tokenizer-model {input.tokenizer_model}"
        " --embeddings {input.embeddings} --settings {params.settings:q} --out {output.model}"
        " --threads {threads} > {log} 2>&1"
