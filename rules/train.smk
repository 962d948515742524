# Training stage: multi-task SFT of a backbone on a dataset with a SID index (DESIGN.md: checkpoints).


def sft_settings(wildcards):
    if wildcards.backbone not in config["backbones"]:
        raise ValueError(f"unknown backbone '{wildcards.backbone}'; config `backbones` defines: "
                         f"{sorted(config['backbones'])}")
    return json.dumps({"backbone": config["backbones"][wildcards.backbone], "sft": config["sft"],
                       "prompts": config["prompts"]})


rule sft:
    input:
        item_table=f"{RESULTS}/data/{{dataset}}/items.parquet",
        train=f"{RESULTS}/data/{{dataset}}/train.parquet",
        valid=f"{RESULTS}/data/{{dataset}}/valid.parquet",
        index=f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}/index.json",
    output:
        model=directory(f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/sft"),
    params:
        settings=sft_settings,
        data=lambda wildcards, input: os.path.dirname(input.item_table),
        # checkpoints live outside the output, which Snakemake clears before a re-run: resuming needs them
        work=lambda wildcards: f"{RESULTS}/work/models/{wildcards.dataset}/{wildcards.tokenizer}/{wildcards.backbone}/sft",
    log:
        f"{RESULTS}/logs/sft/{{dataset}}/{{tokenizer}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sft/{{dataset}}/{{tokenizer}}/{{backbone}}.tsv"
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=120,
        gpus=lambda wildcards: 0 if config["backbones"][wildcards.backbone].get("kind", "tiny") == "tiny" else 1,
    shell:
        "{GENREC} sft --data {params.data} --index {input.index} --backbone {wildcards.backbone}"
        " --settings {params.settings:q} --out {output.model} --work {params.work} --threads {threads} 2> {log}"
