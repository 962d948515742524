"""The road from config to code: each default written once (schema vs settings dataclasses), the config's
cross-checks (`check_config`), job settings surviving the JSON a rule passes, and the settings modules staying
light enough for the Snakefile to build at DAG time."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from genrec import settings
from genrec.config import Settings, load_config, load_schema, merged, read_yaml
from genrec.data.spec import DatasetSpec, RawFile
from genrec.embed.encode import EncoderSpec
from genrec.errors import GenrecError
from genrec.grid import SFT_METHODS, TITLES, dataset_grid, method_tokenizers
from genrec.etegrec.settings import ETEGRecSettings
from genrec.evaluate.settings import EvalSettings, GroundingSettings
from genrec.sdpo.settings import SDPOSettings
from genrec.models.baselines.registry import build_model
from genrec.models.baselines.settings import DATASET_SIZES, MODEL_CONFIGS, BaselineTraining, S3RecPretraining
from genrec.models.settings import BackboneSpec
from genrec.openonerec.settings import (DistillSettings, GeneralText, OpenOneRecData, OpenOneRecJob, PerplexitySettings,
                                       TaskSettings)
from genrec.rl.settings import GRID_KEYS as RL_GRID_KEYS
from genrec.rl.settings import RLSettings
from genrec.sft.settings import SFTSettings
from genrec.tokenize.build import TokenizerSpec, method_params

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "config.yaml"
DATASETS = read_yaml(ROOT / "config" / "datasets.yaml")

# Where in config.schema.yaml each settings dataclass lives ("*": one entry per name), and which of its schema
# keys are not the dataclass's (the jobs' resources, the grid's keys) or which fields are not config keys (a
# name given by the entry's key, a size given by the dataset).
SECTIONS = {
    ("encoders", "*"): (EncoderSpec, set(), set()),
    ("tokenizers", "*"): (TokenizerSpec, set(), {"name"}),
    ("backbones", "*"): (BackboneSpec, {"resources", "sft"}, {"name"}),
    ("backbones", "*", "resources"): (settings.Resources, set(), set()),
    ("sft",): (SFTSettings, set(), set()),
    ("rl",): (RLSettings, set(RL_GRID_KEYS), set()),
    ("evaluate",): (EvalSettings, set(), set()),
    ("bigrec", "grounding"): (GroundingSettings, set(), set()),
    ("sdpo", "training"): (SDPOSettings, set(), set()),
    ("baseline_training",): (BaselineTraining, set(), set()),
    ("s3rec_pretraining",): (S3RecPretraining, set(), set()),
    ("etegrec", "training"): (ETEGRecSettings, set(), set()),
    ("openonerec", "data"): (OpenOneRecData, set(), {"prompts"}),
    ("openonerec", "general"): (GeneralText, set(), set()),
    ("openonerec", "perplexity"): (PerplexitySettings, set(), set()),
    **{("openonerec", stage): (OpenOneRecJob, {"sft"},
                               {"backbone", "sft", "levels", "codebook_size", "max_history", "prompts", "distill"})
       for stage in ("base", "align", "copretrain", "chat")},
    ("openonerec", "distill"): (DistillSettings, {"sft"}, set()),
    ("openonerec", "grpo"): (RLSettings, set(), set()),
    ("openonerec", "tasks"): (TaskSettings, set(), set()),
    **{("baseline_models", name): (cls, set(), set(DATASET_SIZES)) for name, cls in MODEL_CONFIGS.items()},
}
# The defaults the schema writes: the grid's own keys and empty containers, which no dataclass holds.
GRID_DEFAULTS = {
    "results", "datasets_file", "downloads_lock", "accelerate_config", "datasets", "per_dataset", "sid_tokenizers", "seeds", "encoders",
    "tokenizers", "backbones", "sft_backbones", "prompts", "sft", "evaluate", "baselines", "baseline_models",
    *(f"baseline_models.{name}" for name in MODEL_CONFIGS), "baseline_training", "baseline_training_overrides", "s3rec_pretraining", "rl",
    "rl.rewards", "rl.tokenizers", "rl.compare_on_valid", "rl.encoder", "tiger", "tiger.backbone",
    "tiger.tokenizers", "tiger.sft", "etegrec", "etegrec.backbone", "etegrec.tokenizers", "etegrec.variants",
    "etegrec.compare_on_valid", "etegrec.training", "lcrec", "lcrec.backbones", "lcrec.tokenizers", "lcrec.prompts",
    "lcrec.sft", "d3", "d3.backbones", "d3.prompts", "d3.sft", "d3.guidance_scale", "bigrec", "bigrec.backbones", "bigrec.grounding",
    "sdpo", "sdpo.backbones", "sdpo.training", "openonerec", "openonerec.tokenizers", "openonerec.data",
    "openonerec.prompts", "openonerec.general", "openonerec.perplexity", "openonerec.backbones", "openonerec.grpo",
    "openonerec.tasks",
    *(f"openonerec.{stage}{sft}" for stage in ("base", "align", "copretrain", "chat", "distill") for sft in ("", ".sft")),
}


def schema_section(schema: dict, path: tuple[str, ...]) -> dict:
    node = schema
    for part in path:
        node = node["additionalProperties"] if part == "*" else node["properties"][part]
    return node


def schema_defaults(node: dict, path: str = "") -> dict[str, object]:
    """Every `default` the schema writes, by dotted key path (`*` for any name)."""
    found = {}
    if "default" in node and path:
        found[path] = node["default"]
    for name, sub in node.get("properties", {}).items():
        found |= schema_defaults(sub, f"{path}.{name}".lstrip("."))
    if isinstance(node.get("additionalProperties"), dict):
        found |= schema_defaults(node["additionalProperties"], f"{path}.*".lstrip("."))
    return found


def test_each_default_is_written_once_and_schema_and_dataclasses_name_the_same_settings():
    schema = load_schema("config.schema.yaml")
    written = schema_defaults(schema)
    assert set(written) <= GRID_DEFAULTS, f"schema defaults of settings a dataclass holds: {set(written) - GRID_DEFAULTS}"
    for path, (cls, grid_keys, not_config) in SECTIONS.items():
        keys = set(schema_section(schema, path)["properties"])
        fields = {f.name for f in dataclasses.fields(cls)}
        assert keys - grid_keys == fields - not_config, f"{'.'.join(path)}: schema and {cls.__name__} differ"
        for key in keys - grid_keys:
            assert ".".join((*path, key)) not in written
    # the datasets file: the schema fills every default, DatasetSpec and RawFile take them as they come
    spec_defaults = [f.name for f in dataclasses.fields(DatasetSpec)
                     if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING]
    assert spec_defaults == ["prompt_category", "published", "settings"]   # optional (None), and the raw entry
    raw_schema = load_schema("datasets.schema.yaml")["$defs"]["rawfile"]
    assert not schema_defaults(raw_schema), "RawFile holds the raw files' defaults"
    assert {f.name for f in dataclasses.fields(RawFile)} >= set(raw_schema["properties"])


def test_settings_modules_import_no_torch():
    """The Snakefile builds every job's settings at DAG time: importing them must stay fast."""
    probe = "import sys, genrec.settings; print(sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


# --- check_config ---------------------------------------------------------------------------------------------
def config_with(**overrides) -> dict:
    from genrec.config import validate

    return validate(merged(read_yaml(CONFIG), overrides), "config.schema.yaml", "test")


# Overlays stack on an experiment (`--configfile base.yaml overlay.yaml`); they are checked on their base.
OVERLAYS = {"tiger-beauty-cpu.yaml": "tiger-beauty.yaml", "tiger-beauty-caser-user.yaml": "tiger-beauty.yaml",
            "tiger-beauty-caser-softmax.yaml": "tiger-beauty.yaml", "tiger-beauty-gpu-short.yaml": "tiger-beauty.yaml"}


@pytest.mark.parametrize("path", [CONFIG, *sorted((ROOT / "config" / "experiments").glob("*.yaml"))],
                         ids=lambda p: p.name)
def test_every_shipped_config_passes_the_checks_and_resolves_every_job(path):
    stack = [path.parent / OVERLAYS[path.name], path] if path.name in OVERLAYS else [path]
    config = load_config(CONFIG, *stack) if path != CONFIG else load_config(CONFIG)
    settings.check_config(config, DATASETS)
    for dataset in config["datasets"]:
        grid = dataset_grid(config, dataset)
        for tokenizer in grid["sid_tokenizers"]:
            for backbone in grid["sft_backbones"]:
                job = settings.sft_job(config, backbone, "sft")
                assert SFTJob_round_trip(job) == job
                settings.evaluate_job(config, DATASETS, dataset, tokenizer, backbone, "sft")
        if "tiger" in grid["baselines"]:
            job = settings.sft_job(config, config["tiger"]["backbone"], "tiger")
            assert SFTJob_round_trip(job) == job and job.backbone.kind == "t5"
        for stage in grid["etegrec"]["variants"] if grid["etegrec"]["tokenizers"] else []:
            job = settings.etegrec_job(config, stage)
            assert settings.ETEGRecJob.from_json(job.to_json()) == job and job.backbone.kind == "t5"
            for tokenizer in grid["etegrec"]["tokenizers"]:
                settings.evaluate_job(config, DATASETS, dataset, tokenizer, grid["etegrec"]["backbone"], stage)
        for method in SFT_METHODS:
            for backbone in grid[method]["backbones"]:
                job = settings.sft_job(config, backbone, method)
                assert SFTJob_round_trip(job) == job and job.prompts.name == job.backbone.prompts == config[method]["prompts"]
                for tokenizer in method_tokenizers(grid, method):
                    settings.evaluate_job(config, DATASETS, dataset, tokenizer, backbone, method)
        for tokenizer in {*grid["sid_tokenizers"], *grid["tiger"]["tokenizers"], *grid["etegrec"]["tokenizers"],
                          *grid["lcrec"]["tokenizers"]}:
            method_params(settings.tokenizer(config, tokenizer))     # a typo in `params` fails here, not mid-run
        for baseline in grid["baselines"]:
            if baseline not in ("mostpop", "tiger"):    # the job's settings build the model, as the rule's command does
                job = settings.baseline_job(config, baseline)
                assert settings.BaselineJob.from_json(job.to_json()) == job
                build_model(baseline, job.model, n_items=len(ITEMS), n_users=3, items=ITEMS)
                if baseline in settings.PRETRAINED_BASELINES:
                    job = settings.pretrain_job(config, baseline)
                    assert settings.PretrainJob.from_json(job.to_json()) == job
            if baseline != "tiger":
                settings.baseline_evaluate_job(config, DATASETS, dataset, baseline)


ITEMS = pd.DataFrame({"brand": ["a", "", "b"], "categories": [["top", "x"], ["top"], ["top", "y", "x"]]})


def SFTJob_round_trip(job: settings.SFTJob) -> settings.SFTJob:
    return settings.SFTJob.from_json(job.to_json())


@pytest.mark.parametrize("overrides, key, message", [
    ({"sft_backbones": ["qwen9"]}, "sft_backbones", "unknown backbone(s) ['qwen9']"),
    ({"sid_tokenizers": ["rqvea"]}, "sid_tokenizers", "unknown tokenizer(s) ['rqvea']"),
    ({"datasets": ["sampel"]}, "datasets", "unknown dataset(s) ['sampel']"),
    ({"per_dataset": {"sampel": {}}}, "per_dataset", "unknown dataset(s) ['sampel']"),
    ({"sft_backbones": ["tiny", "tiger"]}, "sft_backbones", "names t5 backbone 'tiger'"),
    ({"baselines": ["tiger"], "tiger": {"backbone": "tiny"}}, "tiger.backbone", "must name a `kind: t5` entry"),
    ({"baselines": ["tiger"], "tiger": {"tokenizers": []}}, "tiger.tokenizers", "TIGER on no tokenizer"),
    ({"evaluate": {"num_beams": 5}}, "evaluate.num_beams", "beam width 5 is below the largest K = 20"),
    ({"rl": {"num_generations": 16, "batch_size": 100}}, "rl.batch_size", "not divisible by num_generations 16"),
    ({"rl": {"tokenizers": ["nope"]}}, "rl.tokenizers", "unknown tokenizer(s) ['nope']"),
    ({"rl": {"rewards": ["semantic"], "encoder": "qwen"}}, "rl.encoder", "unknown encoder ['qwen']"),
    ({"backbones": {"tiny": {"prompts": "long"}}}, "backbones.tiny.prompts", "unknown prompt set(s) ['long']"),
    ({"tokenizers": {"rqkmeans": {"encoder": "bge"}}}, "tokenizers.rqkmeans.encoder", "unknown encoder(s) ['bge']"),
    ({"encoders": {"sasrec": {"model": "x"}}}, "encoders", "taken by the baselines' item embeddings"),
    ({"baselines": ["tiger"], "tiger": {"sft": {"epoch": 3}}}, "tiger.sft", "unknown sft setting(s) ['epoch']"),
    ({"etegrec": {"tokenizers": ["rqkmeans"]}}, "etegrec.tokenizers", "ETEGRec's item tokenizer is an RQ-VAE"),
    ({"etegrec": {"tokenizers": ["rqvea"]}}, "etegrec.tokenizers", "unknown tokenizer(s) ['rqvea']"),
    ({"etegrec": {"tokenizers": ["etegrec_rqvae"], "backbone": "tiny"}}, "etegrec.backbone", "must name a `kind: t5`"),
    ({"etegrec": {"tokenizers": ["etegrec_rqvae"], "training": {"cycle": 4, "eval_every": 3}}},
     "etegrec.training.eval_every", "must divide cycle"),
    ({"lcrec": {"backbones": ["qwen9"]}}, "lcrec.backbones", "unknown backbone(s) ['qwen9']"),
    ({"lcrec": {"backbones": ["tiger"]}}, "lcrec.backbones", "names t5 backbone 'tiger'"),
    ({"lcrec": {"backbones": ["tiny_text"], "tokenizers": []}}, "lcrec.tokenizers", "runs lcrec on no tokenizer"),
    ({"lcrec": {"backbones": ["tiny_text"], "tokenizers": ["rqvea"]}}, "lcrec.tokenizers", "unknown tokenizer(s)"),
    ({"lcrec": {"backbones": ["tiny_text"], "prompts": "lcrce"}}, "lcrec.prompts", "unknown prompt set 'lcrce'"),
    ({"lcrec": {"backbones": ["tiny_text"], "sft": {"tasks": {"seq_rec": 1.0, "title_hist2title": 1.0}}}},
     "lcrec.sft.tasks", "['title_hist2title'] that prompt set 'lcrec' has no template for"),
    ({"lcrec": {"backbones": ["tiny"], "sft": {"seq_rec_mode": "sequence"}}}, "lcrec.sft.seq_rec_mode",
     "trains one example per row"),
    ({"lcrec": {"backbones": ["tiny_text"], "sft": {"epoch": 3}}}, "lcrec.sft", "unknown sft setting(s) ['epoch']"),
    ({"d3": {"backbones": ["tiny_text"], "sft": {"tasks": {"title_hist2title": 1.0, "seq_rec": 1.0}}}}, "d3.sft.tasks",
     "prompt set 'd3' has no template for"),
    ({"d3": {"backbones": ["tiny_text"], "prompts": "minionerec", "sft": {"tasks": {"title_hist2title": 1.0, "seq_rec": 1.0}}}},
     "d3.sft.tasks", "names items by title (no SID index), so it trains ['title_hist2title'] only"),
    ({"d3": {"backbones": ["tiny_text"], "prompts": "sids"}}, "d3.sft.tasks", "['title_hist2title'] that prompt set 'sids'"),
    ({"tokenizers": {"titles": {"method": "rqkmeans"}}}, "tokenizers.titles", "where the title methods' runs live"),
    ({"tokenizers": {"general": {"method": "rqkmeans"}}}, "tokenizers.general", "where OpenOneRec's base model lives"),
])
def test_check_config_names_the_key_to_fix(overrides, key, message):
    config = config_with(**overrides)
    with pytest.raises(GenrecError) as error:
        settings.check_config(config, DATASETS)
    assert error.value.key == key and message in error.value.what


# --- the JSON between a rule and its command ------------------------------------------------------------------
def test_job_settings_survive_the_json_a_rule_passes():
    config = config_with(rl={"rewards": ["ranking"]})
    jobs: list[Settings] = [
        settings.encoder(config, "minilm"), settings.tokenizer(config, "rqvae"), settings.sft_job(config, "tiny", "sft"),
        settings.sft_job(config, "tiger", "tiger"), settings.rl_training(config), settings.evaluation(config),
        settings.evaluate_job(config, DATASETS, "sample", "rqkmeans", "tiny", "rl-ranking"),
        settings.baseline_job(config, "sasrec"), settings.baseline_evaluate_job(config, DATASETS, "sample", "sasrec"),
    ]
    for job in jobs:
        again = type(job).from_json(job.to_json())
        assert again == job and again.to_json() == job.to_json()
    assert isinstance(jobs[5].ks, tuple)                       # a JSON list comes back as the field's tuple


def test_tiger_stage_takes_its_overrides_and_rl_stage_records_its_reward():
    config = load_config(CONFIG)
    tiger = settings.sft_job(config, "tiger", "tiger")
    assert (tiger.sft.epochs, tiger.sft.learning_rate, tiger.prompts.name) == (10, 0.002, "sids")
    assert settings.sft_job(config, "tiny", "sft").sft.epochs == config["sft"]["epochs"] != tiger.sft.epochs
    job = settings.evaluate_job(config, DATASETS, "sample", "rqkmeans", "tiny", "rl-ranking")
    assert job.provenance["rl"]["reward"] == "ranking" and job.run.method == "minionerec"
    with pytest.raises(GenrecError, match="stage tiger trains kinds"):
        settings.sft_job(config, "tiny", "tiger")


def test_lcrec_stage_reads_its_prompts_and_task_mix_over_the_backbones_settings():
    """One Qwen entry serves MiniOneRec's SFT and LC-Rec: the lcrec stage swaps in LC-Rec's prompt set and lays
    `lcrec.sft` over the backbone's own SFT settings (tiny's sequence mode gives way to one example per row)."""
    config = config_with(lcrec={"backbones": ["tiny"]})
    sft, lcrec = settings.sft_job(config, "tiny", "sft"), settings.sft_job(config, "tiny", "lcrec")
    assert (sft.backbone.prompts, sft.sft.seq_rec_mode) == ("sequence", "sequence")
    assert (lcrec.backbone.prompts, lcrec.prompts.name, lcrec.sft.seq_rec_mode) == ("lcrec", "lcrec", "row")
    assert lcrec.sft.batch_size == 64 and lcrec.sft.tasks == config["lcrec"]["sft"]["tasks"]   # tiny's batch stays
    job = settings.evaluate_job(config, DATASETS, "sample", "lcrec_rqvae", "tiny", "lcrec")
    assert (job.run.method, job.provenance["backbone"]["prompts"]) == ("lcrec", "lcrec")
    assert job.provenance["sft"]["tasks"] == lcrec.sft.tasks


def test_d3_stage_trains_title_generation_and_records_titles_as_its_item_names():
    config = config_with(d3={"backbones": ["tiny"]})
    job = settings.sft_job(config, "tiny", "d3")
    assert (job.prompts.name, job.sft.tasks, job.sft.seq_rec_mode) == ("d3", {"title_hist2title": 1.0}, "row")
    evaluation = settings.evaluate_job(config, DATASETS, "sample", TITLES, "tiny", "d3")
    assert (evaluation.run.method, evaluation.run.tokenizer) == ("d3", TITLES)
    assert evaluation.provenance["tokenizer"] == {"method": TITLES} and evaluation.provenance["encoder"] is None


def test_a_settings_json_with_an_unknown_or_mistyped_key_is_refused():
    with pytest.raises(GenrecError, match=r"unknown evaluate setting\(s\) \['beams'\]"):
        EvalSettings.from_json(json.dumps({"beams": 20}))
    with pytest.raises(GenrecError, match="not JSON"):
        EvalSettings.from_json("{beams: 20")


def test_training_resources_default_by_backbone_kind():
    config = config_with(backbones={"qwen": {"kind": "hf", "path": "/models/qwen", "resources": {"gpus": 8}}})
    assert settings.training_resources(config, "qwen") == settings.Resources(gpus=8, mem_mb=64000, runtime=1440)
    assert settings.training_resources(config, "tiny") == settings.CPU_TRAINING
    assert "resources" not in settings.backbone(config, "qwen").to_dict()


def test_seeds_give_each_trained_baseline_one_run_per_seed_with_that_seed():
    from genrec.grid import grid_runs

    config = config_with(seeds=[1, 2], baselines=["mostpop", "sasrec"], sid_tokenizers=[], rl={"rewards": []})
    assert sorted(run["metrics"] for run in grid_runs(config)) == [
        "metrics/sample/baselines/mostpop.json", "metrics/sample/baselines/sasrec.seed1.json",
        "metrics/sample/baselines/sasrec.seed2.json"]
    assert settings.baseline_job(config, "sasrec", seed=2).training.seed == 2
    assert settings.baseline_job(config, "sasrec").training.seed == config["baseline_training"]["seed"]
    assert settings.baseline_evaluate_job(config, DATASETS, "sample", "sasrec", seed=2).run.seed == 2


def test_a_baselines_training_overrides_apply_to_it_alone():
    config = load_config(CONFIG)
    config["baseline_training_overrides"] = {"bert4rec": {"loss": "softmax", "patience": 3}}
    config["baseline_training"] = {**config["baseline_training"], "loss": "sampled_bce"}
    job = settings.baseline_job(config, "bert4rec", seed=2)
    assert (job.training.loss, job.training.patience, job.training.seed) == ("softmax", 3, 2)
    assert settings.baseline_job(config, "sasrec").training.loss == "sampled_bce"
    evaluated = settings.baseline_evaluate_job(config, DATASETS, "sample", "bert4rec")
    assert json.loads(evaluated.to_json())["provenance"]["training"]["loss"] == "softmax"
    config["baseline_training_overrides"] = {"bert4rec": {"los": "softmax"}}
    with pytest.raises(GenrecError, match=r"unknown .*\['los'\]") as error:
        settings.check_config(config, DATASETS)
    assert "baseline_training_overrides.bert4rec" in str(error.value)
