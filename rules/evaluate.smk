# Evaluation stage: constrained beam search over every item, scattered over shards and gathered into
# predictions + a metrics file (DESIGN.md). Merged metrics equal an unsharded run's exactly.

SHARDS = config["evaluate"]["shards"]


def eval_settings(wildcards):
    backbone = config["backbones"][wildcards.backbone]
    prompts = config["prompts"][backbone.get("prompts", "short")]
    return json.dumps({"evaluate": config["evaluate"], "prompts": prompts,
                       "max_history": training_of(wildcards.stage).get("max_history", 20)})


def metrics_settings(wildcards):
    """Identity and the resolved configuration of every upstream stage, recorded in the metrics file."""
    dataset = DATASETS["datasets"][wildcards.dataset]
    tokenizer = config["tokenizers"][wildcards.tokenizer]
    return json.dumps({
        "evaluate": config["evaluate"], "dataset": wildcards.dataset, "tokenizer": wildcards.tokenizer,
        "backbone": wildcards.backbone, "stage": wildcards.stage, "method": method_of(wildcards.stage),
        "seed": training_of(wildcards.stage).get("seed", 42),
        "config": {"dataset": dataset, "encoder": config["encoders"][tokenizer.get("encoder", "minilm")],
                   "tokenizer": tokenizer, "backbone": config["backbones"][wildcards.backbone],
                   "sft": training_of(wildcards.stage),
                   **({"rl": {**rl_training_settings(), "reward": wildcards.stage[3:]}} if wildcards.stage.startswith("rl-") else {}),
                   "prompts": config["prompts"][config["backbones"][wildcards.backbone].get("prompts", "short")],
                   "evaluate": config["evaluate"]},
    })


rule predict_shard:
    input:
        model=f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}",
        item_table=f"{RESULTS}/data/{{dataset}}/items.parquet",
        split=f"{RESULTS}/data/{{dataset}}/{{split}}.parquet",
        index=f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}/index.json",
    output:
        predictions=temp(f"{RESULTS}/predictions/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.{{split}}.shard{{shard}}.jsonl"),
        timing=temp(f"{RESULTS}/predictions/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.{{split}}.shard{{shard}}.json"),
    params:
        settings=eval_settings,
        data=lambda wildcards, input: os.path.dirname(input.item_table),
    log:
        f"{RESULTS}/logs/predict/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.{{split}}.shard{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/predict/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.{{split}}.shard{{shard}}.tsv"
    threads: max(1, workflow.cores // SHARDS)
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=lambda wildcards: min(1, training_resources(wildcards.backbone)["gpu"]),
    shell:
        "{GENREC} predict --model {input.model} --data {params.data} --split {wildcards.split} --index {input.index}"
        " --settings {params.settings:q} --shard {wildcards.shard} --shards {SHARDS} --out {output.predictions}"
        " --threads {threads} 2> {log}"


rule evaluate:
    input:
        shards=expand(f"{RESULTS}/predictions/{{{{dataset}}}}/{{{{tokenizer}}}}/{{{{backbone}}}}/{{{{stage}}}}.test.shard{{shard}}.jsonl",
                      shard=range(SHARDS)),
        timings=expand(f"{RESULTS}/predictions/{{{{dataset}}}}/{{{{tokenizer}}}}/{{{{backbone}}}}/{{{{stage}}}}.test.shard{{shard}}.json",
                       shard=range(SHARDS)),
        model=f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}",
        item_table=f"{RESULTS}/data/{{dataset}}/items.parquet",
        index=f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}/index.json",
    output:
        predictions=f"{RESULTS}/predictions/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.jsonl",
        metrics=f"{RESULTS}/metrics/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.json",
    params:
        settings=metrics_settings,
        data=lambda wildcards, input: os.path.dirname(input.item_table),
        split="test",
    log:
        f"{RESULTS}/logs/evaluate/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{GENREC} evaluate --predictions {input.shards} --data {params.data} --split {params.split} --index {input.index}"
        " --model {input.model} --settings {params.settings:q} --out-predictions {output.predictions}"
        " --out-metrics {output.metrics} 2> {log}"


# The same on the valid split ({stage}.valid.json): where RL is compared with SFT without touching the test users.
use rule evaluate as evaluate_valid with:
    input:
        shards=expand(f"{RESULTS}/predictions/{{{{dataset}}}}/{{{{tokenizer}}}}/{{{{backbone}}}}/{{{{stage}}}}.valid.shard{{shard}}.jsonl",
                      shard=range(SHARDS)),
        timings=expand(f"{RESULTS}/predictions/{{{{dataset}}}}/{{{{tokenizer}}}}/{{{{backbone}}}}/{{{{stage}}}}.valid.shard{{shard}}.json",
                       shard=range(SHARDS)),
        model=f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}",
        item_table=f"{RESULTS}/data/{{dataset}}/items.parquet",
        index=f"{RESULTS}/sid/{{dataset}}/{{tokenizer}}/index.json",
    output:
        predictions=f"{RESULTS}/predictions/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.valid.jsonl",
        metrics=f"{RESULTS}/metrics/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.valid.json",
    params:
        settings=metrics_settings,
        data=lambda wildcards, input: os.path.dirname(input.item_table),
        split="valid",
    log:
        f"{RESULTS}/logs/evaluate/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.valid.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.valid.tsv"

