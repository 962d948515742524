"""The experiment grid of a config: every metrics file it produces, with the identity of each run.

One definition for the Snakefile (`rule all` / the leaderboard's inputs) and the dashboard's pipeline page:
datasets x sid_tokenizers x sft_backbones (SFT, then the RL rewards on rl.tokenizers, on test and, with
rl.compare_on_valid, on valid) plus the baselines (TIGER on each of tiger.tokenizers) and ETEGRec's variants on
each of etegrec.tokenizers (with etegrec.compare_on_valid, on valid too, beside TIGER's valid run on that
tokenizer), the LLM methods (LLM_METHODS: LC-Rec on lcrec.tokenizers x lcrec.backbones; D3, BIGRec and S-DPO on
their backbones under `titles`), and OpenOneRec's evaluated stages on openonerec.tokenizers x openonerec.backbones.
`per_dataset` gives a
dataset its own values of those keys (a paper that runs fewer models on one dataset, a test dataset).
"""

from __future__ import annotations

from collections.abc import Collection


def reward_of(stage: str) -> str:
    """The RL reward of a stage (`rl-ranking` -> ranking); `none` for SFT and the baselines."""
    return stage[3:] if stage.startswith("rl-") else "none"


def method_of(stage: str, tokenizer: dict | None = None, text_encoders: Collection[str] = ()) -> str:
    """The method a generative stage belongs to: MiniOneRec's SFT and RL, or TIGER's own training, which stands for
    the published row of its item IDs (`tokenizer`, its config entry): ETEGRec's Table 3 runs TIGER's recommender
    on LETTER's, SID's, CID's and SASRec-quantised (TIGER-SAS) IDs. An encoder outside `text_encoders` (the
    config's `encoders`) is a sequential baseline's item embeddings (genrec.settings.check_config)."""
    if stage.startswith("etegrec"):
        return "etegrec"        # its variants (Table 4's ablations) are told apart by stage
    if stage.startswith(OPENONEREC):
        return OPENONEREC       # its stages (SFT, distilled, GRPO) are told apart by stage
    if stage in LLM_METHODS:
        return stage
    if stage != "tiger":
        return "minionerec"
    tokenizer = tokenizer or {}
    by_method = {"letter": "letter", "sequential": "tiger-sid", "collaborative": "tiger-cid"}
    if tokenizer.get("method") in by_method:
        return by_method[tokenizer["method"]]
    encoder = tokenizer.get("encoder")      # left out: TokenizerSpec's default, a text encoder
    return "tiger" if encoder is None or encoder in text_encoders else "tiger-sas"


TIGER_METHODS = ("tiger", "tiger-sas", "letter", "tiger-sid", "tiger-cid")
# Methods that are one SFT stage of an LLM with their own prompt set and task mix (config sections of one shape:
# backbones, prompts, sft, and the SID tokenizers where the method names items by SID). A title method trains
# without a SID index and names items by title; its runs sit under the tokenizer directory TITLES.
SFT_METHODS = ("lcrec", "d3")
# Methods built on an SFT method's trained model (BASE_METHOD: the one they start from; their backbones train it):
# BIGRec decodes D3's title SFT model its own way, with no training of its own (GROUNDED_METHODS: the authors
# released their BIGRec models as that training, SAI990323/DecodingMatters README); S-DPO trains it further by
# softmax preference optimisation (its own model, stage `sdpo`).
BASE_METHOD = {"bigrec": "d3", "sdpo": "d3"}
GROUNDED_METHODS = ("bigrec",)
LLM_METHODS = SFT_METHODS + tuple(BASE_METHOD)
TITLE_METHODS = ("d3", "bigrec", "sdpo")
TITLES = "titles"
# OpenOneRec (genrec.openonerec): its staged training on its own tokenizers and backbones (config `openonerec`); the
# stages a run evaluates by next-item recommendation
OPENONEREC = "openonerec"
OPENONEREC_SFT = "openonerec-sft"
OPENONEREC_DISTILL = "openonerec-distill"
OPENONEREC_GRPO = "openonerec-grpo"
OPENONEREC_EVALUATED = (OPENONEREC_SFT, OPENONEREC_DISTILL, OPENONEREC_GRPO)
# every stage in training order (the base model, stage 1, stage 2 before SFT), each with a general-text perplexity;
# the base model knows no SIDs, so it sits under the tokenizer directory OPENONEREC_GENERAL
OPENONEREC_BASE, OPENONEREC_ALIGN, OPENONEREC_COPRETRAIN = "openonerec-base", "openonerec-align", "openonerec-copretrain"
OPENONEREC_CHAIN = (OPENONEREC_BASE, OPENONEREC_ALIGN, OPENONEREC_COPRETRAIN, *OPENONEREC_EVALUATED)
OPENONEREC_GENERAL = "general"
# a model's general-text perplexity, beside its metrics file (METRICS + this): not a ranking metric, so the
# leaderboard leaves it out
PERPLEXITY_SUFFIX = ".perplexity.json"
# the other RecIF-Bench-style tasks' metrics files beside a model's (genrec.openonerec.tasks): other tasks than the
# leaderboard's next-item ranking
ITEM_UNDERSTANDING_SUFFIX, QUERY_REC_SUFFIX = ".item_understanding.json", ".query_rec.json"
TASK_SUFFIXES = (PERPLEXITY_SUFFIX, ITEM_UNDERSTANDING_SUFFIX, QUERY_REC_SUFFIX)


def model_stage(stage: str) -> str:
    """The training stage whose model a run of `stage` decodes: its own, or a grounded method's base's."""
    return BASE_METHOD[stage] if stage in GROUNDED_METHODS else stage


def trained_stage(stage: str) -> str:
    """The SFT stage whose backbone, prompts and training a run of `stage` rests on (its base method's)."""
    return BASE_METHOD.get(stage, stage)


def method_tokenizers(grid: dict, method: str) -> list[str]:
    """The item names an SFT method's runs are under on a dataset's grid: its SID tokenizers, or TITLES."""
    return [TITLES] if method in TITLE_METHODS else grid[method]["tokenizers"]


GRID_LISTS = ("sid_tokenizers", "sft_backbones", "baselines")
GRID_RL = ("rewards", "tokenizers", "compare_on_valid")


def dataset_grid(config: dict, dataset: str) -> dict:
    """The grid keys in force for `dataset`: the top-level values, replaced by those `per_dataset[dataset]` names.
    Only the grid's keys can differ; every training setting stays the run's one. `config` is validated (the
    schema fills the grid's keys)."""
    override = config["per_dataset"].get(dataset, {})
    return {**{key: override.get(key, config[key]) for key in GRID_LISTS},
            "rl": {key: override.get("rl", {}).get(key, config["rl"][key]) for key in GRID_RL},
            "tiger": {"backbone": config["tiger"]["backbone"],
                      "tokenizers": override.get("tiger", {}).get("tokenizers", config["tiger"]["tokenizers"])},
            "etegrec": {**{key: config["etegrec"][key] for key in ("backbone", "variants", "compare_on_valid")},
                        "tokenizers": override.get("etegrec", {}).get("tokenizers", config["etegrec"]["tokenizers"])},
            **{method: {key: override.get(method, {}).get(key, config[method][key])
                        for key in ("backbones", "tokenizers") if key in config[method]}
               for method in (*LLM_METHODS, OPENONEREC)}}


def grid_union(config: dict, grids: list[dict], key: str, sub: str | None = None) -> set[str]:
    """Every name `key` (or `key.sub`) takes in the top-level grid or in any of `grids` (the datasets' grids)."""
    values = [config[key] if sub is None else config[key][sub]]
    values += [grid[key] if sub is None else grid[key][sub] for grid in grids]
    return {name for names in values for name in names}


def grid_runs(config: dict) -> list[dict]:
    """One dict per metrics file: dataset, method, tokenizer, backbone, stage, reward, split, metrics (path under
    the results root)."""
    runs = []

    def add(dataset, method, tokenizer, backbone, stage, split, path):
        runs.append({"dataset": dataset, "method": method, "tokenizer": tokenizer, "backbone": backbone,
                     "stage": stage, "reward": reward_of(stage), "split": split, "metrics": path})

    for dataset in config["datasets"]:
        grid = dataset_grid(config, dataset)
        rl = grid["rl"]
        rl_tokenizers = rl["tokenizers"] if rl["rewards"] else []
        for tokenizer in grid["sid_tokenizers"]:
            for backbone in grid["sft_backbones"]:
                stages = ["sft"] + ([f"rl-{r}" for r in rl["rewards"]] if tokenizer in rl_tokenizers else [])
                splits = ["test", "valid"] if tokenizer in rl_tokenizers and rl["compare_on_valid"] else ["test"]
                for stage in stages:
                    for split in splits:
                        suffix = "" if split == "test" else ".valid"
                        add(dataset, method_of(stage), tokenizer, backbone, stage, split,
                            f"metrics/{dataset}/{tokenizer}/{backbone}/{stage}{suffix}.json")
        for baseline in grid["baselines"]:
            if baseline == "tiger":
                backbone = grid["tiger"]["backbone"]
                for tokenizer in grid["tiger"]["tokenizers"]:
                    method = method_of("tiger", config["tokenizers"].get(tokenizer), config["encoders"])
                    add(dataset, method, tokenizer, backbone, "tiger", "test",
                        f"metrics/{dataset}/{tokenizer}/{backbone}/tiger.json")
            elif baseline != "mostpop" and config["seeds"]:       # a trained baseline, once per seed
                for seed in config["seeds"]:
                    add(dataset, baseline, None, None, baseline, "test",
                        f"metrics/{dataset}/baselines/{baseline}.seed{seed}.json")
            else:
                add(dataset, baseline, None, None, baseline, "test", f"metrics/{dataset}/baselines/{baseline}.json")
        for method in LLM_METHODS:
            for tokenizer in method_tokenizers(grid, method):
                for backbone in grid[method]["backbones"]:
                    add(dataset, method, tokenizer, backbone, method, "test",
                        f"metrics/{dataset}/{tokenizer}/{backbone}/{method}.json")
        for tokenizer in grid[OPENONEREC]["tokenizers"]:
            for backbone in grid[OPENONEREC]["backbones"]:
                for stage in OPENONEREC_EVALUATED:
                    add(dataset, OPENONEREC, tokenizer, backbone, stage, "test",
                        f"metrics/{dataset}/{tokenizer}/{backbone}/{stage}.json")
        etegrec = grid["etegrec"]
        splits = ["test", "valid"] if etegrec["compare_on_valid"] else ["test"]
        for tokenizer in etegrec["tokenizers"]:
            backbone = etegrec["backbone"]
            for stage in etegrec["variants"]:
                for split in splits:
                    suffix = "" if split == "test" else ".valid"
                    add(dataset, "etegrec", tokenizer, backbone, stage, split,
                        f"metrics/{dataset}/{tokenizer}/{backbone}/{stage}{suffix}.json")
            if "valid" in splits and "tiger" in grid["baselines"] and tokenizer in grid["tiger"]["tokenizers"]:
                backbone = grid["tiger"]["backbone"]     # TIGER on the same IDs, the comparison's other side
                method = method_of("tiger", config["tokenizers"].get(tokenizer), config["encoders"])
                add(dataset, method, tokenizer, backbone, "tiger", "valid",
                    f"metrics/{dataset}/{tokenizer}/{backbone}/tiger.valid.json")
        if "mostpop" in grid["baselines"] and any(run["dataset"] == dataset and run["split"] == "valid" for run in runs):
            # the floor of every valid comparison, on the same rows
            add(dataset, "mostpop", None, None, "mostpop", "valid", f"metrics/{dataset}/baselines/mostpop.valid.json")
    return runs
