# S-DPO (genrec.sdpo): softmax preference optimisation of D3's title SFT model (genrec.grid.BASE_METHOD), against
# that model frozen as the reference. Its checkpoint lands beside D3's (models/{dataset}/titles/{backbone}/sdpo) and
# is decoded by the shared predict/evaluate rules over the items' titles, as D3's is.


rule sdpo:
    input:
        sft=lambda wildcards: concrete(MODEL, wildcards, stage=trained_stage("sdpo")),
        item_table=ITEMS,
        train=split_table("train"),
        valid=split_table("valid"),
    output:
        model=directory(MODEL.replace("{stage}", "sdpo")),
    params:
        settings=lambda wildcards: genrec_settings.sdpo_training(config).to_json(),
        data=data_dir,
        work=lambda wildcards: concrete(work_dir(MODEL), wildcards, stage="sdpo"),
    log:
        f"{RESULTS}/logs/sdpo/{{dataset}}/{{tokenizer}}/{{backbone}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sdpo/{{dataset}}/{{tokenizer}}/{{backbone}}.tsv"
    wildcard_constraints:
        tokenizer=TITLES,
    threads: workflow.cores
    resources:
        mem_mb=lambda wildcards: training_resources(wildcards.backbone)["mem_mb"],
        runtime=lambda wildcards: training_resources(wildcards.backbone)["runtime"],
        gpu=lambda wildcards: training_resources(wildcards.backbone)["gpu"],
    # the Trainer prints its log dicts on stdout: both streams go to the log
    shell:
        "{GENREC_LAUNCH} --processes {resources.gpu} -- sdpo --sft-model {input.sft} --data {params.data}"
        " --settings {params.settings:q} --out {output.model} --work {params.work} --threads {threads} > {log} 2>&1"
