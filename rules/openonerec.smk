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
