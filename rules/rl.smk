# RL stage: GRPO from the SFT checkpoint with one reward per stage `rl-{reward}` (DESIGN.md). Its
# checkpoint lands beside SFT's (models/{dataset}/{tokenizer}/{backbone}/rl-{reward}) and is evaluated by
# the same predict/evaluate rules, so the leaderboard shows SFT next to each reward. The prompts, their
# history cap and the SID index are the SFT checkpoint's own (recorded in it), not read again from the config.
# `semantic` reads the embedding stage's item vectors, `cf` the SASRec model of the baselines stage.

from genrec.rl.settings import REWARDS


def rl_inputs(wildcards):
    inputs = {"sft": concrete(MODEL, wildcards, stage="sft"), "item_table": concrete(ITEMS, wildcards),
              "train": concrete(split_table("train"), wildcards)}
    if wildcards.reward == "semantic":
        inputs["embeddings"] = concrete(f"{EMBEDDINGS}.npy", wildcards, encoder=config["rl"]["encoder"])
    if wildcards.reward == "cf":
        inputs["scorer"] = concrete(BASELINE_MODEL, wildcards, baseline="sasrec")
    return inputs


def rl_reward_inputs(wildcards, input):
    """The reward's own input as CLI options (the semantic reward's embeddings, the cf reward's SASRec)."""
    options = {"embeddings": "--embeddings", "scorer": "--scorer"}
    return " ".join(f"{flag} {input[name]}" for name, flag in options.items() if name in input.keys())


rule rl:
    input:
        unpack(rl_inputs),
    output:
        model=directory(MODEL.replace("{stage}", "rl-{reward}")),
    params:
        settings=lambda wildcards: genrec_settings.rl_training(config).to_json(),
        reward_inputs=rl_reward_inputs,
        data=data_dir,
        work=lambda wildcards: concrete(work_dir(MODEL), wildcards, stage=f"rl-{wildcards.reward}"),
    log:
        f"{RESULTS}/logs/rl/{{dataset}}/{{tokenizer}}/{{backbone}}/rl-{{reward}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rl/{{dataset}}/{{tokenizer}}/{{backbone}}/rl-{{reward}}.tsv"
    wildcard_constraints:
        reward="|".join(REWARDS),
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: training_resources(wildcards.backbone)["gpu"],
    shell:
        "{GENREC_LAUNCH} --processes {resources.gpu} -- rl --sft-model {input.sft} --reward {wildcards.reward}"
        " --data {params.data} {params.reward_inputs} --settings {params.settings:q} --out {output.model}"
        " --work {params.work} --threads {threads} > {log} 2>&1"
