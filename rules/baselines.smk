# Baselines on the same splits, metrics code and metrics JSON as the generative models (DESIGN.md):
# MostPop; SASRec / GRU4Rec / Caser (trained with full softmax, early stopping on valid NDCG@10, ranked
# over all items); TIGER, a `t5` backbone trained by the `sft` rule as stage `tiger` (rules/train.smk)
# and decoded by the constrained beam-search rules (rules/evaluate.smk) like the LLMs.
# SASRec's item embeddings are also an `embed/` artifact: the RL `cf` reward scores with them.

SEQUENTIAL_BASELINES = ["sasrec", "gru4rec", "caser"]


def baseline_settings(wildcards):
    # early stopping ranks the valid split under the run's masking rule; the other evaluate keys do not touch training
    return json.dumps({"model": config["baseline_models"].get(wildcards.baseline, {}),
                       "training": config["baseline_training"],
                       "evaluate": {"mask_history": config["evaluate"]["mask_history"]}})


def baseline_metrics_settings(wildcards):
    """Identity and resolved configuration recorded in a baseline's metrics file."""
    baseline = getattr(wildcards, "baseline", "mostpop")
    model = {"model": config["baseline_models"].get(baseline, {}), "training": config["baseline_training"]}
    return json.dumps({
        "evaluate": config["evaluate"], "dataset": wildcards.dataset, "training": config["baseline_training"],
        "config": {"dataset": DATASETS["datasets"][wildcards.dataset], "evaluate": config["evaluate"],
                   **(model if baseline in SEQUENTIAL_BASELINES else {})},
    })


rule train_baseline:
    input:
        item_table=f"{RESULTS}/data/{{dataset}}/items.parquet",
        train=f"{RESULTS}/data/{{dataset}}/train.parquet",
        valid=f"{RESULTS}/data/{{dataset}}/valid.parquet",
    output:
        model=directory(f"{RESULTS}/models/{{dataset}}/baselines/{{baseline}}"),
    params:
        settings=baseline_settings,
        data=lambda wildcards, input: os.path.dirname(input.item_table),
    log:
        f"{RESULTS}/logs/train_baseline/{{dataset}}/{{baseline}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_baseline/{{dataset}}/{{baseline}}.tsv"
    wildcard_constraints:
        baseline="|".join(SEQUENTIAL_BASELINES),
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "{GENREC} train-baseline --name {wildcards.baseline} --data {params.data} --settings {params.settings:q}"
        " --out {output.model} --threads {threads} 2> {log}"


rule evaluate_baseline:
    input:
        model=f"{RESULTS}/models/{{dataset}}/baselines/{{baseline}}",
        item_table=f"{RESULTS}/data/{{dataset}}/items.parquet",
        split=f"{RESULTS}/data/{{dataset}}/test.parquet",
    output:
        predictions=f"{RESULTS}/predictions/{{dataset}}/baselines/{{baseline}}.jsonl",
        metrics=f"{RESULTS}/metrics/{{dataset}}/baselines/{{baseline}}.json",
    params:
        settings=baseline_metrics_settings,
        data=lambda wildcards, input: os.path.dirname(input.item_table),
    log:
        f"{RESULTS}/logs/evaluate_baseline/{{dataset}}/{{baseline}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_baseline/{{dataset}}/{{baseline}}.tsv"
    wildcard_constraints:
        baseline="|".join(SEQUENTIAL_BASELINES),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{GENREC} evaluate-baseline --name {wildcards.baseline} --model {input.model} --data {params.data}"
        " --split test --settings {params.settings:q} --out-predictions {output.predictions}"
        " --out-metrics {output.metrics} --threads {threads} 2> {log}"


rule item_embeddings:
    input:
        model=f"{RESULTS}/models/{{dataset}}/baselines/{{baseline}}",
    output:
        vectors=f"{RESULTS}/embed/{{dataset}}/{{baseline}}.npy",
        info=f"{RESULTS}/embed/{{dataset}}/{{baseline}}.json",
    log:
        f"{RESULTS}/logs/item_embeddings/{{dataset}}/{{baseline}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/item_embeddings/{{dataset}}/{{baseline}}.tsv"
    wildcard_constraints:
        baseline="|".join(SEQUENTIAL_BASELINES),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{GENREC} item-embeddings --name {wildcards.baseline} --model {input.model} --out {output.vectors} 2> {log}"


rule mostpop:
    input:
        item_table=f"{RESULTS}/data/{{dataset}}/items.parquet",
        train=f"{RESULTS}/data/{{dataset}}/train.parquet",
        split=f"{RESULTS}/data/{{dataset}}/test.parquet",
    output:
        predictions=f"{RESULTS}/predictions/{{dataset}}/baselines/mostpop.jsonl",
        metrics=f"{RESULTS}/metrics/{{dataset}}/baselines/mostpop.json",
    params:
        settings=baseline_metrics_settings,
        data=lambda wildcards, input: os.path.dirname(input.item_table),
    log:
        f"{RESULTS}/logs/mostpop/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/mostpop/{{dataset}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{GENREC} mostpop --data {params.data} --split test --settings {params.settings:q}"
        " --out-predictions {output.predictions} --out-metrics {output.metrics} 2> {log}"
