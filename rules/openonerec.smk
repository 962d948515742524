from genrec.grid import OPENONEREC as OPENONEREC_METHOD
from genrec.grid import ITEM_UNDERSTANDING_SUFFIX, OPENONEREC_EVALUATED, PERPLEXITY_SUFFIX, QUERY_REC_SUFFIX
from genrec.openonerec.settings import ALIGN, BASE, COPRETRAIN, DISTILL, GENERAL, GRPO, GRPO_REWARD, SFT

# the tokenizers OpenOneRec runs on, in any dataset's grid (per_dataset may name its own)
OPENONEREC_TOKENIZERS = sorted(grid_union(config, list(GRIDS.values()), OPENONEREC_METHOD, "tokenizers"))


# OpenOneRec (genrec.openonerec): its data in its two formats, per dataset and tokenizer of openonerec.tokenizers
# (DESIGN.md's artifact table). Pre-training segments read the training split only; chat samples cover every
# split's rows, each marked with its split.


rule openonerec_data:
    input:
        item_table=ITEMS,
        splits=[split_table(split) for split in ("train", "valid", "test")],
        index=SID_INDEX,
    output:
        segments=f"{OPENONEREC}/segments.parquet",
        chat=f"{OPENONEREC}/chat.parquet",
    params:
        settings=lambda wildcards: genrec_settings.openonerec_data(config).to_json(),
        data=data_dir,
    log:
        f"{RESULTS}/logs/openonerec_data/{{dataset}}/{{tokenizer}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/openonerec_data/{{dataset}}/{{tokenizer}}.tsv"
    wildcard_constraints:
        tokenizer=names_pattern(OPENONEREC_TOKENIZERS),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{GENREC} openonerec-data --data {params.data} --index {input.index} --settings {params.settings:q}"
        " --out-segments {output.segments} --out-chat {output.chat} 2> {log}"


# The general-domain corpus (genrec.openonerec.general) in the same two formats, with a held-out share.
rule general_text:
    output:
        segments=f"{RESULTS}/general/{{corpus}}/segments.parquet",
        chat=f"{RESULTS}/general/{{corpus}}/chat.parquet",
    params:
        settings=lambda wildcards: genrec_settings.general_text(config).to_json(),
    log:
        f"{RESULTS}/logs/general_text/{{corpus}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/general_text/{{corpus}}.tsv"
    wildcard_constraints:
        corpus=re.escape(genrec_settings.general_text(config).corpus),   # the configured corpus only
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{GENREC} general-text --settings {params.settings:q} --out-segments {output.segments}"
        " --out-chat {output.chat} 2> {log}"



# --- Pre-training (genrec.openonerec.pretrain) -------------------------------------------------------------------
# The base model (a tiny backbone pre-trained on the general text, an hf one as loaded: the model before stage 1,
# distillation's teacher) knows no SIDs, so it sits under the tokenizer directory `general`; stage 1 (itemic-text
# alignment) and stage 2 (co-pre-training) follow per SID tokenizer, each on the recommendation segments mixed with
# the general ones. Every model's general-text perplexity is a metrics file beside the grid's.
GENERAL_SEGMENTS = f"{RESULTS}/general/{genrec_settings.general_text(config).corpus}/segments.parquet"
GENERAL_CHAT = f"{RESULTS}/general/{genrec_settings.general_text(config).corpus}/chat.parquet"
OPENONEREC_MODEL = f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}"
PREVIOUS_STAGE = {ALIGN: f"{RESULTS}/models/{{dataset}}/{GENERAL}/{{backbone}}/{BASE}",
                  COPRETRAIN: f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{ALIGN}",
                  SFT: f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{COPRETRAIN}",
                  DISTILL: f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{SFT}"}


rule openonerec_base:
    input:
        item_table=ITEMS,
        valid=split_table("valid"),
        general=GENERAL_SEGMENTS,
    output:
        model=directory(f"{RESULTS}/models/{{dataset}}/{GENERAL}/{{backbone}}/{BASE}"),
    params:
        settings=lambda wildcards: genrec_settings.openonerec_job(config, BASE, wildcards.backbone).to_json(),
        data=data_dir,
        work=lambda wildcards: f"{RESULTS}/work/models/{wildcards.dataset}/{GENERAL}/{wildcards.backbone}/{BASE}",
    log:
        f"{RESULTS}/logs/{BASE}/{{dataset}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{BASE}/{{dataset}}/{{backbone}}.tsv"
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: training_resources(wildcards.backbone)["gpu"],
    shell:
        "{GENREC_LAUNCH} --processes {resources.gpu} -- openonerec-pretrain --stage {BASE} --data {params.data}"
        " --general {input.general} --settings {params.settings:q} --out {output.model} --work {params.work}"
        " --threads {threads} > {log} 2>&1"


rule openonerec_pretrain:
    input:
        item_table=ITEMS,
        valid=split_table("valid"),
        general=GENERAL_SEGMENTS,
        segments=f"{OPENONEREC}/segments.parquet",
        index=SID_INDEX,
        model=lambda wildcards: concrete(PREVIOUS_STAGE[wildcards.stage], wildcards),
    output:
        model=directory(OPENONEREC_MODEL),
    params:
        settings=lambda wildcards: genrec_settings.openonerec_job(config, wildcards.stage, wildcards.backbone,
                                                                           wildcards.tokenizer).to_json(),
        data=data_dir,
        work=lambda wildcards: concrete(work_dir(OPENONEREC_MODEL), wildcards),
    log:
        f"{RESULTS}/logs/{{stage}}/{{dataset}}/{{tokenizer}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{stage}}/{{dataset}}/{{tokenizer}}/{{backbone}}.tsv"
    wildcard_constraints:
        stage=f"{ALIGN}|{COPRETRAIN}",
        tokenizer=names_pattern(OPENONEREC_TOKENIZERS),
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: training_resources(wildcards.backbone)["gpu"],
    shell:
        "{GENREC_LAUNCH} --processes {resources.gpu} -- openonerec-pretrain --stage {wildcards.stage}"
        " --data {params.data} --general {input.general} --segments {input.segments} --index {input.index}"
        " --model {input.model} --settings {params.settings:q} --out {output.model} --work {params.work}"
        " --threads {threads} > {log} 2>&1"


# Chat SFT from stage 2's model: the recommendation chats of the training split with the general chats.
rule openonerec_sft:
    input:
        chat=f"{OPENONEREC}/chat.parquet",
        general=GENERAL_CHAT,
        index=SID_INDEX,
        model=lambda wildcards: concrete(PREVIOUS_STAGE[SFT], wildcards),
    output:
        model=directory(f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{SFT}"),
    params:
        settings=lambda wildcards: genrec_settings.openonerec_job(config, SFT, wildcards.backbone,
                                                                  wildcards.tokenizer).to_json(),
        work=lambda wildcards: concrete(work_dir(OPENONEREC_MODEL), wildcards, stage=SFT),
    log:
        f"{RESULTS}/logs/{SFT}/{{dataset}}/{{tokenizer}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{SFT}/{{dataset}}/{{tokenizer}}/{{backbone}}.tsv"
    wildcard_constraints:
        tokenizer=names_pattern(OPENONEREC_TOKENIZERS),
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: training_resources(wildcards.backbone)["gpu"],
    shell:
        "{GENREC_LAUNCH} --processes {resources.gpu} -- openonerec-sft --chat {input.chat} --general {input.general}"
        " --index {input.index} --model {input.model} --settings {params.settings:q} --out {output.model} --work {params.work}"
        " --threads {threads} > {log} 2>&1"


# On-policy distillation (genrec.openonerec.distill): the chat SFT model samples replies to the general chats'
# training prompts and learns the base model's (the teacher's) distribution on them, by reverse KL (TRL's GKD).
rule openonerec_distill:
    input:
        general=GENERAL_CHAT,
        model=lambda wildcards: concrete(PREVIOUS_STAGE[DISTILL], wildcards),
        teacher=f"{RESULTS}/models/{{dataset}}/{GENERAL}/{{backbone}}/{BASE}",
    output:
        model=directory(f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{DISTILL}"),
    params:
        settings=lambda wildcards: genrec_settings.openonerec_job(config, DISTILL, wildcards.backbone,
                                                                  wildcards.tokenizer).to_json(),
        work=lambda wildcards: concrete(work_dir(OPENONEREC_MODEL), wildcards, stage=DISTILL),
    log:
        f"{RESULTS}/logs/{DISTILL}/{{dataset}}/{{tokenizer}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{DISTILL}/{{dataset}}/{{tokenizer}}/{{backbone}}.tsv"
    wildcard_constraints:
        tokenizer=names_pattern(OPENONEREC_TOKENIZERS),
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: training_resources(wildcards.backbone)["gpu"],
    shell:
        "{GENREC_LAUNCH} --processes {resources.gpu} -- openonerec-distill --general {input.general}"
        " --model {input.model} --teacher {input.teacher} --settings {params.settings:q} --out {output.model}"
        " --work {params.work} --threads {threads} > {log} 2>&1"


# GRPO (OpenOneRec's RL, verl_rl/recipe/onerec): the distilled model on the training split's next-item prompts with
# the first-SID hit reward, through the RL stage every generative model takes (genrec.rl, settings openonerec.grpo).
rule openonerec_grpo:
    input:
        model=f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{DISTILL}",
        item_table=ITEMS,
        train=split_table("train"),
    output:
        model=directory(f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{GRPO}"),
    params:
        settings=lambda wildcards: genrec_settings.openonerec_grpo(config).to_json(),
        data=data_dir,
        work=lambda wildcards: concrete(work_dir(OPENONEREC_MODEL), wildcards, stage=GRPO),
    log:
        f"{RESULTS}/logs/{GRPO}/{{dataset}}/{{tokenizer}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{GRPO}/{{dataset}}/{{tokenizer}}/{{backbone}}.tsv"
    wildcard_constraints:
        tokenizer=names_pattern(OPENONEREC_TOKENIZERS),
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: training_resources(wildcards.backbone)["gpu"],
    shell:
        "{GENREC_LAUNCH} --processes {resources.gpu} -- rl --sft-model {input.model} --reward {GRPO_REWARD}"
        " --stage {GRPO} --data {params.data} --settings {params.settings:q} --out {output.model}"
        " --work {params.work} --threads {threads} > {log} 2>&1"


# The general-text perplexity of every OpenOneRec model the grid trains (rule all): the base model and each stage.
OPENONEREC_PERPLEXITY = sorted({
    f"{METRICS}{PERPLEXITY_SUFFIX}".format(dataset=dataset, tokenizer=tokenizer, backbone=backbone, stage=stage)
    for dataset, grid in GRIDS.items() for tokenizer in grid[OPENONEREC_METHOD]["tokenizers"]
    for backbone in grid[OPENONEREC_METHOD]["backbones"] for stage in (ALIGN, COPRETRAIN, SFT, DISTILL, GRPO)} | {
    f"{METRICS}{PERPLEXITY_SUFFIX}".format(dataset=dataset, tokenizer=GENERAL, backbone=backbone, stage=BASE)
    for dataset, grid in GRIDS.items() if grid[OPENONEREC_METHOD]["tokenizers"]
    for backbone in grid[OPENONEREC_METHOD]["backbones"]})


# A model's perplexity on the general corpus's held-out conversations (no stage trains or selects on them).
rule openonerec_perplexity:
    input:
        model=OPENONEREC_MODEL,
        general=GENERAL_SEGMENTS,
    output:
        perplexity=f"{METRICS}{PERPLEXITY_SUFFIX}",
    params:
        settings=lambda wildcards: genrec_settings.openonerec_perplexity(config).to_json(),
    log:
        f"{RESULTS}/logs/perplexity/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/perplexity/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.tsv"
    wildcard_constraints:
        stage=f"{BASE}|{ALIGN}|{COPRETRAIN}|{SFT}|{DISTILL}|{GRPO}",
    threads: workflow.cores
    resources:       # the backbone's: a Qwen3 scores on a GPU (openonerec.perplexity.batch_size bounds its logits)
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: min(1, training_resources(wildcards.backbone)["gpu"]),
    shell:
        "{GENREC} openonerec-perplexity --model {input.model} --general {input.general}"
        " --settings {params.settings:q} --out {output.perplexity} --threads {threads} 2> {log}"


# The RecIF-Bench-style tasks beside next-item recommendation (genrec.openonerec.tasks) of every chat model the grid
# evaluates: item understanding (SID -> title) and query-conditioned recommendation, on the test split.
OPENONEREC_TASKS = sorted(
    f"{METRICS}{suffix}".format(dataset=dataset, tokenizer=tokenizer, backbone=backbone, stage=stage)
    for dataset, grid in GRIDS.items() for tokenizer in grid[OPENONEREC_METHOD]["tokenizers"]
    for backbone in grid[OPENONEREC_METHOD]["backbones"] for stage in OPENONEREC_EVALUATED
    for suffix in (ITEM_UNDERSTANDING_SUFFIX, QUERY_REC_SUFFIX))


rule openonerec_tasks:
    input:
        model=OPENONEREC_MODEL,
        chat=f"{OPENONEREC}/chat.parquet",
        item_table=ITEMS,
        test=split_table("test"),
    output:
        understanding=f"{METRICS}{ITEM_UNDERSTANDING_SUFFIX}",
        query=f"{METRICS}{QUERY_REC_SUFFIX}",
        predictions=f"{RESULTS}/predictions/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.query_rec.jsonl",
    params:
        settings=lambda wildcards: genrec_settings.openonerec_tasks(config).to_json(),
        evaluate=lambda wildcards: genrec_settings.evaluation(config).to_json(),
        data=data_dir,
    log:
        f"{RESULTS}/logs/openonerec_tasks/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/openonerec_tasks/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.tsv"
    wildcard_constraints:
        stage="|".join(OPENONEREC_EVALUATED),
        tokenizer=names_pattern(OPENONEREC_TOKENIZERS),
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: min(1, training_resources(wildcards.backbone)["gpu"]),
    shell:
        "{GENREC} openonerec-tasks --model {input.model} --chat {input.chat} --data {params.data}"
        " --settings {params.settings:q} --evaluate {params.evaluate:q} --out-understanding {output.understanding}"
        " --out-query {output.query} --out-predictions {output.predictions} --threads {threads} 2> {log}"
