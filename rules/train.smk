# Training stage: supervised training of a backbone on a dataset with a SID index (DESIGN.md: checkpoints).
# Stage `sft`: an LLM backbone's multi-task SFT. Stage `tiger`: the TIGER baseline, a `t5` backbone
# trained on next-SID prediction by the same code (the encoder reads the history, the decoder the SID).
TRAINING_STAGES = {"sft": ("tiny", "hf"), "tiger": ("t5",)}


def training_of(stage):
    """The resolved `sft` settings of a training stage (TIGER's overrides applied)."""
    return {**config["sft"], **(config["tiger"]["sft"] if stage == "tiger" else {})}


def method_of(stage):
    return "tiger" if stage == "tiger" else "minionerec"


def sft_settings(wildcards):
    if wildcards.backbone not in config["backbones"]:
        raise ValueError(f"unknown backbone '{wildcards.backbone}'; config `backbones` defines: "
                         f"{sorted(config['backbones'])}")
    kind = config["backbones"][wildcards.backbone].get("kind", "tiny")
    if kind not in TRAINING_STAGES[wildcards.stage]:
        raise ValueError(f"backbone '{wildcards.backbone}' is of kind {kind}; stage {wildcards.stage} trains "
                         f"kinds {TRAINING_STAGES[wildcards.stage]}")
    # the job's resources are not the model's settings: more GPUs must not retrain it
    backbone = {k: v for k, v in config["backbones"][wildcards.backbone].items() if k != "resources"}
    prompts = backbone.get("prompts", "short")    # only the set this backbone uses: adding one reruns nothing
    return json.dumps({"backbone": backbone, "sft": training_of(wildcards.stage),
                       "prompts": {prompts: config["prompts"][prompts]}})


rule sft:
    input:
        item_table=f"{RESULTS}/data/{{dataset}}/items.parquet",
        train=f"{RESULTS}/data/{{dataset}}/train.parquet",
        valid=f"{RESULTS}/data/{{dataset}}/valid.parquet",
        index=f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}/index.json",
    output:
        model=directory(f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}"),
    params:
        settings=sft_settings,
        data=lambda wildcards, input: os.path.dirname(input.item_table),
        # checkpoints live outside the output, which Snakemake clears before a re-run: resuming needs them
        work=lambda wildcards: f"{RESULTS}/work/models/{wildcards.dataset}/{wildcards.tokenizer}/{wildcards.backbone}/{wildcards.stage}",
    log:
        f"{RESULTS}/logs/{{stage}}/{{dataset}}/{{tokenizer}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{stage}}/{{dataset}}/{{tokenizer}}/{{backbone}}.tsv"
    wildcard_constraints:
        stage="|".join(TRAINING_STAGES),
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: training_resources(wildcards.backbone)["gpu"],
    # the Trainer prints its log dicts on stdout: both streams go to the log
    shell:
        "{GENREC_LAUNCH} --processes {resources.gpu} -- sft --data {params.data} --index {input.index} --backbone {wildcards.backbone}"
        " --settings {params.settings:q} --out {output.model} --work {params.work} --threads {threads} > {log} 2>&1"
