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
        tokenizer=names_pattern(config["openonerec"]["tokenizers"]),
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
from genrec.openonerec.settings import ALIGN, BASE, COPRETRAIN, GENERAL

GENERAL_SEGMENTS = f"{RESULTS}/general/{genrec_settings.general_text(config).corpus}/segments.parquet"
OPENONEREC_MODEL = f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}"
PREVIOUS_STAGE = {ALIGN: f"{RESULTS}/models/{{dataset}}/{GENERAL}/{{backbone}}/{BASE}",
                  COPRETRAIN: f"{RESULTS}/models/{{dataset}}/{{tokenizer}}/{{backbone}}/{ALIGN}"}


rule openonerec_base:
    input:
        item_table=ITEMS,
        valid=split_table("valid"),
        general=GENERAL_SEGMENTS,
    output:
        model=directory(f"{RESULTS}/models/{{dataset}}/{GENERAL}/{{backbone}}/{BASE}"),
    params:
        settings=lambda wildcards: genrec_settings.openonerec_pretrain_job(config, BASE, wildcards.backbone).to_json(),
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
        settings=lambda wildcards: genrec_settings.openonerec_pretrain_job(config, wildcards.stage, wildcards.backbone,
                                                                           wildcards.tokenizer).to_json(),
        data=data_dir,
        work=lambda wildcards: concrete(work_dir(OPENONEREC_MODEL), wildcards),
    log:
        f"{RESULTS}/logs/{{stage}}/{{dataset}}/{{tokenizer}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{stage}}/{{dataset}}/{{tokenizer}}/{{backbone}}.tsv"
    wildcard_constraints:
        stage=f"{ALIGN}|{COPRETRAIN}",
        tokenizer=names_pattern(config["openonerec"]["tokenizers"]),
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


# A model's perplexity on the general corpus's held-out conversations (no stage trains or selects on them).
rule openonerec_perplexity:
    input:
        model=OPENONEREC_MODEL,
        general=GENERAL_SEGMENTS,
    output:
        metrics=f"{METRICS}.perplexity.json",
    params:
        settings=lambda wildcards: genrec_settings.openonerec_perplexity(config).to_json(),
    log:
        f"{RESULTS}/logs/perplexity/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/perplexity/{{dataset}}/{{tokenizer}}/{{backbone}}/{{stage}}.tsv"
    wildcard_constraints:
        stage=f"{BASE}|{ALIGN}|{COPRETRAIN}",
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{GENREC} openonerec-perplexity --model {input.model} --general {input.general}"
        " --settings {params.settings:q} --out {output.metrics} --threads {threads} 2> {log}"
