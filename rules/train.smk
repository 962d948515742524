# Training stage: supervised training of a backbone on a dataset with a SID index (DESIGN.md: checkpoints).
# Stage `sft`: an LLM backbone's multi-task SFT. Stage `tiger`: the TIGER baseline, a `t5` backbone
# trained on next-SID prediction by the same code (the encoder reads the history, the decoder the SID).
# Stages `lcrec`, `d3` (genrec.grid.SFT_METHODS): the same SFT with the method's prompts and tasks; a title method
# (D3) trains under the tokenizer directory `titles`, without a SID index.


def sid_index_of(wildcards):
    return [] if wildcards.tokenizer == TITLES else concrete(SID_INDEX, wildcards)


def index_argument(wildcards, input):
    return f"--index {input.index}" if input.index else ""


rule sft:
    input:
        item_table=ITEMS,
        train=split_table("train"),
        valid=split_table("valid"),
        index=sid_index_of,
    output:
        model=directory(MODEL),
    params:
        settings=lambda wildcards: genrec_settings.sft_job(config, wildcards.backbone, wildcards.stage).to_json(),
        data=data_dir,
        work=lambda wildcards: concrete(work_dir(MODEL), wildcards),
        index=index_argument,
    log:
        f"{RESULTS}/logs/{{stage}}/{{dataset}}/{{tokenizer}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{stage}}/{{dataset}}/{{tokenizer}}/{{backbone}}.tsv"
    wildcard_constraints:
        stage="|".join(genrec_settings.TRAINING_STAGES),
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: training_resources(wildcards.backbone)["gpu"],
    # the Trainer prints its log dicts on stdout: both streams go to the log
    shell:
        "{GENREC_LAUNCH} --processes {resources.gpu} -- sft --data {params.data} {params.index}"
        " --settings {params.settings:q} --out {output.model} --work {params.work} --threads {threads} > {log} 2>&1"
