# Baselines on the same splits, metrics code and metrics JSON as the generative models (DESIGN.md):
# MostPop; SASRec / GRU4Rec / Caser (trained with full softmax, early stopping on valid NDCG@10, ranked
# over all items); TIGER, a `t5` backbone trained by the `sft` rule as stage `tiger` (rules/train.smk)
# and decoded by the constrained beam-search rules (rules/evaluate.smk) like the LLMs.
# SASRec's item embeddings are also an `embed/` artifact: the RL `cf` reward scores with them.

SEQUENTIAL_BASELINES = genrec_settings.SEQUENTIAL_BASELINES
PRETRAINED_BASELINES = genrec_settings.PRETRAINED_BASELINES


# A trained baseline run once per seed of `seeds` ({baseline}.seed{N}), or once with its own seed (no suffix).
SEEDED = "{seed_suffix}"


def seed_of(wildcards):
    return int(wildcards.seed_suffix[len(".seed"):]) if wildcards.get("seed_suffix") else None


def baseline_evaluation(baseline=None):
    def settings(wildcards):
        return genrec_settings.baseline_evaluate_job(config, DATASETS, wildcards.dataset, baseline or wildcards.baseline,
                                                     seed=seed_of(wildcards)).to_json()
    return settings


def first_stage(wildcards):
    """A two-stage baseline's pre-trained model (the same seed's), which its training starts from."""
    if wildcards.baseline not in PRETRAINED_BASELINES:
        return {}
    return {"pretrained": concrete(BASELINE_PRETRAINED + SEEDED, wildcards)}


rule pretrain_baseline:
    input:
        item_table=ITEMS,
        train=split_table("train"),
    output:
        model=directory(BASELINE_PRETRAINED + SEEDED),
    params:
        settings=lambda wildcards: genrec_settings.pretrain_job(config, wildcards.baseline, seed_of(wildcards)).to_json(),
        data=data_dir,
    log:
        f"{RESULTS}/logs/pretrain_baseline/{{dataset}}/{{baseline}}{SEEDED}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pretrain_baseline/{{dataset}}/{{baseline}}{SEEDED}.tsv"
    wildcard_constraints:
        baseline="|".join(PRETRAINED_BASELINES),
        seed_suffix=r"|\.seed\d+",
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=240,
    shell:
        "{GENREC} pretrain-baseline --name {wildcards.baseline} --data {params.data} --settings {params.settings:q}"
        " --out {output.model} --threads {threads} 2> {log}"


rule train_baseline:
    input:
        unpack(first_stage),
        item_table=ITEMS,
        train=split_table("train"),
        valid=split_table("valid"),
    output:
        model=directory(BASELINE_MODEL + SEEDED),
    params:
        settings=lambda wildcards: genrec_settings.baseline_job(config, wildcards.baseline, seed_of(wildcards)).to_json(),
        data=data_dir,
        pretrained=lambda wildcards, input: f"--pretrained {input.pretrained}" if "pretrained" in input.keys() else "",
    log:
        f"{RESULTS}/logs/train_baseline/{{dataset}}/{{baseline}}{SEEDED}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_baseline/{{dataset}}/{{baseline}}{SEEDED}.tsv"
    wildcard_constraints:
        baseline="|".join(SEQUENTIAL_BASELINES),
        seed_suffix=r"|\.seed\d+",
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "{GENREC} train-baseline --name {wildcards.baseline} --data {params.data} --settings {params.settings:q}"
        " {params.pretrained} --out {output.model} --threads {threads} 2> {log}"


rule evaluate_baseline:
    input:
        model=BASELINE_MODEL + SEEDED,
        item_table=ITEMS,
        split=evaluated_split,
    output:
        predictions=f"{BASELINE_PREDICTIONS}{SEEDED}{{split_suffix}}.jsonl",
        metrics=f"{BASELINE_METRICS}{SEEDED}{{split_suffix}}.json",
    params:
        settings=baseline_evaluation(),
        data=data_dir,
        split=split_of,
    log:
        f"{RESULTS}/logs/evaluate_baseline/{{dataset}}/{{baseline}}{SEEDED}{{split_suffix}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate_baseline/{{dataset}}/{{baseline}}{SEEDED}{{split_suffix}}.tsv"
    wildcard_constraints:
        baseline="|".join(SEQUENTIAL_BASELINES),
        seed_suffix=r"|\.seed\d+",
        split_suffix=r"|\.valid",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{GENREC} evaluate-baseline --name {wildcards.baseline} --model {input.model} --data {params.data}"
        " --split {params.split} --settings {params.settings:q} --out-predictions {output.predictions}"
        " --out-metrics {output.metrics} --threads {threads} 2> {log}"


rule item_embeddings:
    input:    # with `seeds`, the first seed's model (the cf reward reads one)
        model=BASELINE_MODEL + FIRST_SEED,
    output:
        vectors=EMBEDDINGS.replace("{encoder}", "{baseline}") + ".npy",
        info=EMBEDDINGS.replace("{encoder}", "{baseline}") + ".json",
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
        item_table=ITEMS,
        train=split_table("train"),
        split=evaluated_split,
    output:
        predictions=f"{BASELINE_PREDICTIONS}{{split_suffix}}.jsonl".replace("{baseline}", "mostpop"),
        metrics=f"{BASELINE_METRICS}{{split_suffix}}.json".replace("{baseline}", "mostpop"),
    params:
        settings=baseline_evaluation("mostpop"),
        data=data_dir,
        split=split_of,
    log:
        f"{RESULTS}/logs/mostpop/{{dataset}}{{split_suffix}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/mostpop/{{dataset}}{{split_suffix}}.tsv"
    wildcard_constraints:
        split_suffix=r"|\.valid",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{GENREC} mostpop --data {params.data} --split {params.split} --settings {params.settings:q}"
        " --out-predictions {output.predictions} --out-metrics {output.metrics} 2> {log}"
