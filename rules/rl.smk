# RL stage: GRPO from the SFT checkpoint with one reward per stage `rl-{reward}` (DESIGN.md). Its
# checkpoint lands beside SFT's (models/{dataset}/{tokenizer}/{backbone}/rl-{reward}) and is evaluated by
# the same predict/evaluate rules, so the leaderboard shows SFT next to each reward.
# `semantic` reads the embedding stage's item vectors, `cf` the SASRec model of the baselines stage.

def rl_inputs(wildcards):
    inputs = {
        "sft": f"{RESULTS}/models/{wildcards.dataset}/{wildcards.tokenizer}/{wildcards.backbone}/sft",
        "item_table": f"{RESULTS}/data/{wildcards.dataset}/items.parquet",
        "train": f"{RESULTS}/data/{wildcards.dataset}/train.parquet",
        "index": f"{RESULTS}/sid/{wildcards.dataset}/{wildcards.tokenizer}/index.json",
    }
    if wildcards.reward == "semantic":
        inputs["embeddings"] = f"{RESULTS}/embed/{wildcards.dataset}/{RL['encoder']}.npy"
    if wildcards.reward == "cf":
        inputs["scorer"] = f"{RESULTS}/models/{wildcards.dataset}/baselines/sasrec"
    return inputs


def rl_training_settings() -> dict:
    """`rl` without the grid's keys: adding a reward or a tokenizer to the grid reruns no finished stage."""
    return {key: value for key, value in RL.items() if key not in ("rewards", "tokenizers", "compare_on_valid")}


def rl_settings(wildcards):
    backbone = config["backbones"][wildcards.backbone]
    # sorted: the same settings reached through another config file must not rerun the stage
    return json.dumps({"rl": rl_training_settings(), "prompts": config["prompts"][backbone.get("prompts", "short")],
                       "max_history": config["sft"]["max_history"]}, sort_keys=True)


def rl_reward_inputs(wildcards, input):
    """The reward's own input as CLI options (the semantic reward's embeddings, the cf reward's SASRec)."""
    options = {"embeddings": "--embeddings", "scorer": "--scorer"}
    return " ".join(f"{flag} {input[name]}" for name, flag in options.items() if name in input.keys())


rule rl:
    input:
        unpack(rl_inputs),
    output:
        model=directory(f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/rl-{{reward}}"),
    params:
        settings=rl_settings,
        reward_inputs=rl_reward_inputs,
        data=lambda wildcards, input: os.path.dirname(input.item_table),
        work=lambda wildcards: f"{RESULTS}/work/models/{wildcards.dataset}/{wildcards.tokenizer}/{wildcards.backbone}/rl-{wildcards.reward}",
    log:
        f"{RESULTS}/logs/rl/{{dataset}}/{{tokenizer}}/{{backbone}}/rl-{{reward}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rl/{{dataset}}/{{tokenizer}}/{{backbone}}/rl-{{reward}}.tsv"
    wildcard_constraints:
        reward="rule|ranking|semantic|cf",
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: training_resources(wildcards.backbone)["gpu"],
    shell:
        "{GENREC_LAUNCH} --processes {resources.gpu} -- rl --sft-model {input.sft} --reward {wildcards.reward} --data {params.data} --index {input.index}"
        " {params.reward_inputs} --settings {params.settings:q} --out {output.model} --work {params.work}"
        " --threads {threads} > {log} 2>&1"
