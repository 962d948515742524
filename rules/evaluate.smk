# Evaluation stage: constrained beam search over every item, scattered over shards and gathered into
# predictions + a metrics file (DESIGN.md). Merged metrics equal an unsharded run's exactly. The test split's
# files are {stage}.json, the valid split's {stage}.valid.json (where RL is compared with SFT without touching
# the test users): one rule, whose `split_suffix` wildcard is empty or `.valid`. A grounded method (BIGRec,
# genrec.grid.GROUNDED_METHODS) decodes another stage's model by its own predict path (--grounding).

SHARDS = genrec_settings.evaluation(config).shards


def decoded_model(wildcards):
    """The checkpoint a run decodes: its stage's own, or for a grounded method (BIGRec) the model it grounds."""
    return concrete(MODEL, wildcards, stage=model_stage(wildcards.stage))


def prediction_inputs(wildcards):
    inputs = {"model": decoded_model(wildcards), "item_table": concrete(ITEMS, wildcards),
              "split": concrete(split_table(), wildcards)}
    if wildcards.stage in GROUNDED_METHODS:
        inputs["train"] = concrete(split_table("train"), wildcards)     # the popularity adjustment's counts
    if uses_sasrec(wildcards.stage):
        inputs["scorer"] = concrete(BASELINE_MODEL + FIRST_SEED, wildcards, baseline="sasrec")
    return inputs


def uses_sasrec(stage):
    """Whether a run's decoding reads the SASRec model: BIGRec's cf adjustment, D3's assistant."""
    if stage in GROUNDED_METHODS:
        return genrec_settings.grounding(config).adjustment == "cf"
    return stage == "d3" and config["d3"]["guidance_scale"] != 1.0


def decoding_arguments(wildcards, input):
    """A run's own decoding as predict options: a grounded method's settings, D3's assistant; none otherwise."""
    scorer = f" --scorer {input.scorer}" if "scorer" in input.keys() else ""
    if wildcards.stage in GROUNDED_METHODS:
        return f"--grounding {shlex.quote(genrec_settings.grounding(config).to_json())}{scorer}"
    if wildcards.stage == "d3" and scorer:
        return f"--guidance-scale {config['d3']['guidance_scale']}{scorer}"
    return ""


def prediction_shards(extension):
    def shards(wildcards):
        return [concrete(f"{PREDICTIONS}.{{split}}.shard{shard}.{extension}", wildcards, split=split_of(wildcards))
                for shard in range(SHARDS)]
    return shards


rule predict_shard:
    input:
        unpack(prediction_inputs),
    output:
        predictions=temp(f"{PREDICTIONS}.{{split}}.shard{{shard}}.jsonl"),
        timing=temp(f"{PREDICTIONS}.{{split}}.shard{{shard}}.json"),
    params:
        settings=lambda wildcards: genrec_settings.evaluation(config).to_json(),
        data=data_dir,
        decoding=decoding_arguments,
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
        "{GENREC} predict --model {input.model} --data {params.data} --split {wildcards.split}"
        " --settings {params.settings:q} --shard {wildcards.shard} --out {output.predictions} {params.decoding}"
        " --threads {threads} 2> {log}"


rule evaluate:
    input:
        shards=prediction_shards("jsonl"),
        timings=prediction_shards("json"),
        model=decoded_model,
        item_table=ITEMS,
    output:
        predictions=f"{PREDICTIONS}{{split_suffix}}.jsonl",
        metrics=f"{METRICS}{{split_suffix}}.json",
    params:
        settings=lambda wildcards: genrec_settings.evaluate_job(config, DATASETS, wildcards.dataset, wildcards.tokenizer,
                                                                wildcards.backbone, wildcards.stage).to_json(),
        data=data_dir,
        split=split_of,
    log:
        f"{RESULTS}/logs/evaluate/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}{{split_suffix}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}{{split_suffix}}.tsv"
    wildcard_constraints:
        split_suffix=r"|\.valid",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{GENREC} evaluate --predictions {input.shards} --data {params.data} --split {params.split}"
        " --model {input.model} --settings {params.settings:q} --out-predictions {output.predictions}"
        " --out-metrics {output.metrics} 2> {log}"
