"""Each job's typed settings, from the validated config and the job's wildcards: the one road from a config key
to the code that uses it.

The schema (genrec/schemas/config.schema.yaml) checks types and allowed values and fills the grid's own keys
(which datasets, tokenizers, backbones, rewards, baselines). Every other default is written once, in the stage's
settings dataclass. A rule asks this module for its job's settings and passes `to_json()` to its command, which
reads them back with `from_json()` of the same class; neither reads a config key with a fallback of its own.
`check_config` makes the cross-checks no single key's schema can, before any job starts.

This module and every settings dataclass it builds import no torch: the Snakefile builds them at DAG time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from genrec.config import Settings
from genrec.data.spec import DatasetSpec, named_spec
from genrec.embed.encode import EncoderSpec
from genrec.errors import GenrecError
from genrec.etegrec.settings import VARIANTS as ETEGREC_STAGES
from genrec.etegrec.settings import ETEGRecSettings
from genrec.evaluate.settings import EvalSettings, GroundingSettings
from genrec.grid import (BASE_METHOD, GROUNDED_METHODS, OPENONEREC, OPENONEREC_EVALUATED, SFT_METHODS, TITLE_METHODS,
                         TITLES, dataset_grid, grid_union, method_of, reward_of, trained_stage)
from genrec.models.baselines.settings import (DATASET_SIZES, MODEL_CONFIGS, PRETRAINED, BaselineTraining,
                                              S3RecPretraining)
from genrec.models.settings import BackboneSpec
from genrec.openonerec.settings import (GENERAL, STAGE_SECTIONS, DistillSettings, GeneralText, OpenOneRecData,
                                       OpenOneRecJob, PerplexitySettings, TaskSettings)
from genrec.openonerec.settings import DISTILL as OPENONEREC_DISTILL
from genrec.openonerec.settings import GRPO as OPENONEREC_GRPO
from genrec.openonerec.settings import SFT as OPENONEREC_SFT
from genrec.prompts import RECOMMENDATION_TASK, STAGES, stage_templates
from genrec.rl.settings import GRID_KEYS as RL_GRID_KEYS
from genrec.rl.settings import RLSettings
from genrec.sdpo.settings import SDPOSettings
from genrec.sft.sequences import check_chaining
from genrec.sft.settings import TITLE_TASKS, SFTSettings
from genrec.tokenize.build import TokenizerSpec

# The training stages and the backbone kinds each trains: `sft` fine-tunes an LLM (MiniOneRec's SFT), each SFT method
# (genrec.grid.SFT_METHODS: LC-Rec, D3) is the same stage with its prompts and task mix (its config section), `tiger`
# trains TIGER's encoder-decoder on next-SID prediction with the same code.
TRAINING_STAGES = {"sft": ("tiny", "hf"), **{method: ("tiny", "hf") for method in SFT_METHODS}, "tiger": ("t5",)}
# The sequential baselines; their item embeddings are embed/{dataset}/{name}.npy, a name no encoder may take.
SEQUENTIAL_BASELINES = tuple(MODEL_CONFIGS)
PRETRAINED_BASELINES = tuple(PRETRAINED)      # trained in two stages: pretrain_baseline, then train_baseline


def _entry(config: dict, section: str, name: str) -> dict:
    if name not in config[section]:
        raise GenrecError(f"unknown {section[:-1] if section.endswith('s') else section} '{name}'", key=section,
                          fix=f"config `{section}` defines: {', '.join(sorted(config[section])) or '(none)'}")
    return config[section][name]


# --- One stage's settings ------------------------------------------------------------------------------------
def dataset(datasets: dict, name: str) -> DatasetSpec:
    """Dataset `name` of the validated datasets file."""
    return named_spec(datasets, name, "the datasets file")


def encoder(config: dict, name: str) -> EncoderSpec:
    return EncoderSpec.from_config(_entry(config, "encoders", name), key=f"encoders.{name}")


def tokenizer(config: dict, name: str) -> TokenizerSpec:
    return TokenizerSpec.named(name, _entry(config, "tokenizers", name))


def imported_index_file(config: dict, name: str, dataset: str) -> str:
    """The released index file an `imported` tokenizer reads for `dataset`."""
    from genrec.tokenize.build import method_params

    return method_params(tokenizer(config, name)).index_file(dataset, f"tokenizers.{name}")


def backbone(config: dict, name: str) -> BackboneSpec:
    entry = _entry(config, "backbones", name)
    # the jobs' resources are not the model's settings (more GPUs must not retrain it), nor is its SFT overlay
    return BackboneSpec.named(name, {key: value for key, value in entry.items() if key not in ("resources", "sft")})


def stage_backbone(config: dict, name: str, stage: str) -> BackboneSpec:
    """Backbone `name` as training stage `stage` uses it: an SFT method reads its own prompt set (`lcrec.prompts`,
    `d3.prompts`) whatever the backbone's, so one Qwen entry serves MiniOneRec's SFT and every method alike."""
    spec = backbone(config, name)
    if stage in SFT_METHODS:
        return dataclasses.replace(spec, prompts=config[stage]["prompts"])
    return spec


@dataclass(frozen=True)
class PromptSet(Settings):
    """A named set of prompt templates (config `prompts.<name>`): task -> {prompt, response}."""

    KEY = "prompts"

    name: str
    templates: dict


def prompt_set(config: dict, name: str) -> PromptSet:
    return PromptSet(name, _entry(config, "prompts", name))


def sft_training(config: dict, stage: str, backbone_name: str | None = None) -> SFTSettings:
    """`sft`, with TIGER's overrides (`tiger.sft`) for the `tiger` stage, or the backbone's own
    (`backbones.<name>.sft`, e.g. its batch size or `seq_rec_mode`) for the `sft` stage of that backbone; the
    stage of an SFT method lays the method's (`lcrec.sft`, `d3.sft`: its task mix and schedule) over the backbone's."""
    if stage == "tiger":
        overrides, key = config["tiger"]["sft"], "tiger.sft"
    elif backbone_name is not None:
        overrides, key = _entry(config, "backbones", backbone_name).get("sft", {}), f"backbones.{backbone_name}.sft"
    else:
        overrides, key = {}, "sft"
    if stage in SFT_METHODS:
        overrides, key = {**overrides, **config[stage]["sft"]}, f"{stage}.sft"
    return SFTSettings.from_config({**config["sft"], **overrides}, key=key if overrides else "sft")


def rl_training(config: dict) -> RLSettings:
    """`rl` without the grid's keys: adding a reward or a tokenizer to the grid reruns no finished stage."""
    return RLSettings.from_config({key: value for key, value in config["rl"].items() if key not in RL_GRID_KEYS})


def evaluation(config: dict) -> EvalSettings:
    return EvalSettings.from_config(config["evaluate"])


def grounding(config: dict) -> GroundingSettings:
    """BIGRec's generation and grounding (`bigrec.grounding`)."""
    return GroundingSettings.from_config(config["bigrec"]["grounding"])


def sdpo_training(config: dict) -> SDPOSettings:
    """S-DPO's preference training (`sdpo.training`)."""
    return SDPOSettings.from_config(config["sdpo"]["training"])


def openonerec_data(config: dict) -> OpenOneRecData:
    """What OpenOneRec's segments and chat files hold (`openonerec.data` and `openonerec.prompts`)."""
    section = config["openonerec"]
    return OpenOneRecData.from_config({**section["data"], "prompts": section["prompts"]}, key="openonerec")


def general_text(config: dict) -> GeneralText:
    """The general-domain corpus OpenOneRec's stages mix in (`openonerec.general`)."""
    return GeneralText.from_config(config["openonerec"]["general"])


def openonerec_tasks(config: dict) -> TaskSettings:
    """The RecIF-Bench-style tasks' sampling and generation (`openonerec.tasks`)."""
    return TaskSettings.from_config(config["openonerec"]["tasks"])


def openonerec_perplexity(config: dict) -> PerplexitySettings:
    """How every stage's general-text perplexity is measured (`openonerec.perplexity`)."""
    return PerplexitySettings.from_config(config["openonerec"]["perplexity"])


def openonerec_grpo(config: dict) -> RLSettings:
    """OpenOneRec's GRPO (`openonerec.grpo`: the RL stage's settings, on its own schedule)."""
    return RLSettings.from_config(config["openonerec"]["grpo"], key="openonerec.grpo")


def openonerec_job(config: dict, stage: str, backbone_name: str, tokenizer_name: str | None = None) -> OpenOneRecJob:
    """An OpenOneRec training stage's job: its section's `sft` keys laid over `sft` and the backbone's, its
    mixture, and (stage 1 onwards) the SID tokenizer's codebook, whose every code the vocabulary gains."""
    section = config["openonerec"][STAGE_SECTIONS[stage]]
    key = f"openonerec.{STAGE_SECTIONS[stage]}"
    spec = backbone(config, backbone_name)
    if spec.kind not in ("tiny", "hf"):
        raise GenrecError(f"backbone '{backbone_name}' is of kind {spec.kind}; OpenOneRec trains a causal LM "
                          "(tiny or hf)", key=f"backbones.{backbone_name}.kind")
    backbone_sft = _entry(config, "backbones", backbone_name).get("sft", {})
    sft = SFTSettings.from_config({**config["sft"], **backbone_sft, **section.get("sft", {})}, key=f"{key}.sft")
    codebook = {}
    if tokenizer_name is not None:
        sid = tokenizer(config, tokenizer_name)
        codebook = {"levels": sid.levels, "codebook_size": sid.codebook_size}
    mix = {name: section[name] for name in ("general_share", "valid_rows") if name in section}
    data = openonerec_data(config)
    prompts = {"prompts": data.prompts} if stage == OPENONEREC_SFT else {}
    distill = {}
    if stage == OPENONEREC_DISTILL:
        distill = {"distill": DistillSettings.from_config({k: v for k, v in section.items() if k != "sft"}, key=key)}
    return OpenOneRecJob(backbone=spec, sft=sft, max_history=data.max_history, **mix, **codebook, **prompts, **distill)


def baseline_model(config: dict, name: str) -> Settings:
    if name not in MODEL_CONFIGS:
        raise GenrecError(f"unknown sequential baseline '{name}'", key="baselines", fix=f"use one of {sorted(MODEL_CONFIGS)}")
    return MODEL_CONFIGS[name].from_config(config["baseline_models"][name])


def baseline_training(config: dict, seed: int | None = None, name: str | None = None) -> BaselineTraining:
    """`baseline_training`, with baseline `name`'s entry of `baseline_training_overrides` over it (a model trained
    its own way, e.g. BERT4Rec's cloze task with its softmax where the table's others use a sampled loss); a run of
    the grid's `seeds` replaces its seed."""
    overrides = config["baseline_training_overrides"].get(name, {}) if name else {}
    settings = config["baseline_training"] | overrides | ({"seed": seed} if seed is not None else {})
    key = f"baseline_training_overrides.{name}" if overrides else None
    return BaselineTraining.from_config(settings, key=key)


@dataclass(frozen=True)
class Resources(Settings):
    """An SFT / RL job's resources (config `backbones.<name>.resources`)."""

    KEY = "resources"

    gpus: int
    mem_mb: int
    runtime: int     # minutes


# What a training job asks for unless its backbone's `resources` say otherwise, by where the backbone trains.
GPU_TRAINING = Resources(gpus=1, mem_mb=64000, runtime=1440)     # `hf` backbones
CPU_TRAINING = Resources(gpus=0, mem_mb=8000, runtime=120)       # `tiny` and `t5` backbones


def training_resources(config: dict, name: str) -> Resources:
    """The SFT / RL jobs' resources for backbone `name`: its kind's defaults, updated by its `resources` entry."""
    defaults = GPU_TRAINING if backbone(config, name).kind == "hf" else CPU_TRAINING
    declared = _entry(config, "backbones", name).get("resources", {})    # an optional section, not a default
    return Resources.from_config({**defaults.to_dict(), **declared}, key=f"backbones.{name}.resources")


# --- One job's settings --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SFTJob(Settings):
    """What an `sft` job trains: the backbone, the SFT settings (TIGER's for stage `tiger`), and the prompt set
    the backbone reads (only that one: adding a set reruns nothing)."""

    KEY = "sft job"

    backbone: BackboneSpec
    sft: SFTSettings
    prompts: PromptSet


def sft_job(config: dict, backbone_name: str, stage: str) -> SFTJob:
    spec = stage_backbone(config, backbone_name, stage)
    if spec.kind not in TRAINING_STAGES[stage]:
        raise GenrecError(f"backbone '{backbone_name}' is of kind {spec.kind}; stage {stage} trains kinds "
                          f"{TRAINING_STAGES[stage]}", key=f"backbones.{backbone_name}.kind")
    return SFTJob(spec, sft_training(config, stage, backbone_name), prompt_set(config, spec.prompts))


@dataclass(frozen=True)
class ETEGRecJob(Settings):
    """What an `etegrec` job trains: TIGER's backbone, ETEGRec's training with the stage's Table 4 ablation
    applied, and the prompt set (`sids`: the history's SIDs back to back)."""

    KEY = "etegrec job"

    backbone: BackboneSpec
    training: ETEGRecSettings
    prompts: PromptSet


def etegrec_training(config: dict, stage: str) -> ETEGRecSettings:
    """`etegrec.training`, with the ablation of `stage` (a key of genrec.etegrec.settings.VARIANTS)."""
    return ETEGRecSettings.from_config(config["etegrec"]["training"]).variant(stage)


def etegrec_job(config: dict, stage: str) -> ETEGRecJob:
    spec = backbone(config, config["etegrec"]["backbone"])
    return ETEGRecJob(spec, etegrec_training(config, stage), prompt_set(config, spec.prompts))


@dataclass(frozen=True)
class Run(Settings):
    """The identity a metrics file records."""

    KEY = "run"

    dataset: str
    stage: str
    method: str
    seed: int
    tokenizer: str | None = None    # None: a baseline that reads no SIDs
    backbone: str | None = None


@dataclass(frozen=True)
class EvaluateJob(Settings):
    """What an evaluation job scores and records: the evaluation settings, the run's identity, and the resolved
    settings of every stage upstream of it (the metrics file's `config`)."""

    KEY = "evaluate job"

    evaluate: EvalSettings
    run: Run
    provenance: dict


def item_vectors(config: dict, name: str) -> dict:
    """What a tokenizer's item vectors come from: a text encoder of `encoders`, or a sequential baseline's item
    embeddings (collaborative: TIGER-SAS, ETEGRec's tokenizer), described by the model and training behind them."""
    if name in SEQUENTIAL_BASELINES and name not in config["encoders"]:
        return {"collaborative": name, "model": baseline_model(config, name).to_dict(),
                "training": baseline_training(config, config["seeds"][0] if config["seeds"] else None, name).to_dict()}
    return encoder(config, name).to_dict()


def tokenizer_input(config: dict, sid: TokenizerSpec) -> dict:
    """What a tokenizer reads, for provenance: the training split (SID, CID) or item vectors; LETTER also names the
    collaborative embeddings its codes are aligned with."""
    if sid.reads_interactions:
        return {"interactions": "train split"}
    described = item_vectors(config, sid.encoder)
    if sid.collaborative:
        described = {**described, "collaborative_alignment": item_vectors(config, sid.collaborative)}
    return described


def evaluate_job(config: dict, datasets: dict, dataset: str, tokenizer_name: str, backbone_name: str,
                 stage: str) -> EvaluateJob:
    """A generative model's evaluation (SFT, RL, an LLM method or TIGER); a title method's `tokenizer_name` is
    TITLES (its items are named by title: no tokenizer, no item vectors). A grounded method (BIGRec) records the
    training of the model it decodes and its grounding settings."""
    base = trained_stage(stage)
    spec = stage_backbone(config, backbone_name, base)
    if stage in OPENONEREC_EVALUATED:   # its prompt is written from its chat prompts (genrec.openonerec.sft)
        sid = tokenizer(config, tokenizer_name)
        trained = list(STAGE_SECTIONS)     # every stage the model went through, and the data it read
        trained = trained[:trained.index(stage) + 1] if stage in STAGE_SECTIONS else trained
        stages = {name: openonerec_job(config, name, backbone_name, tokenizer_name).to_dict() for name in trained}
        seed = stages[trained[-1]]["sft"]["seed"]
        if stage == OPENONEREC_GRPO:       # the RL stage's settings (genrec.rl)
            stages[stage] = openonerec_grpo(config).to_dict()
            seed = stages[stage]["seed"]
        provenance = {"dataset": datasets["datasets"][dataset], "encoder": tokenizer_input(config, sid),
                      "tokenizer": sid.to_dict(), "backbone": spec.to_dict(), "openonerec": stages,
                      "openonerec_data": openonerec_data(config).to_dict(), "general": general_text(config).to_dict(),
                      "evaluate": evaluation(config).to_dict()}
        run = Run(dataset=dataset, stage=stage, method=method_of(stage), seed=seed, tokenizer=tokenizer_name,
                  backbone=backbone_name)
        return EvaluateJob(evaluation(config), run, provenance)
    if tokenizer_name == TITLES:
        names = {"encoder": None, "tokenizer": {"method": TITLES}}
    else:
        sid = tokenizer(config, tokenizer_name)
        names = {"encoder": tokenizer_input(config, sid), "tokenizer": sid.to_dict()}
    provenance = {"dataset": datasets["datasets"][dataset], **names, "backbone": spec.to_dict(),
                  "prompts": prompt_set(config, spec.prompts).templates, "evaluate": evaluation(config).to_dict()}
    if stage in ETEGREC_STAGES:     # the tokenizer is ETEGRec's starting point; its final codes are the model's
        training = etegrec_training(config, stage)
        provenance["etegrec"] = training.to_dict()
    else:
        training = (sft_training(config, "tiger", None) if stage == "tiger"
                    else sft_training(config, base if base in SFT_METHODS else "sft", backbone_name))
        provenance["sft"] = training.to_dict()
    if stage in GROUNDED_METHODS:
        provenance["grounding"] = grounding(config).to_dict()
    if stage == "sdpo":
        provenance["sdpo"] = sdpo_training(config).to_dict()
    if stage == "d3":
        provenance["guidance_scale"] = config["d3"]["guidance_scale"]
    if stage.startswith("rl-"):
        provenance["rl"] = {**rl_training(config).to_dict(), "reward": reward_of(stage)}
    run = Run(dataset=dataset, stage=stage, method=method_of(stage, config["tokenizers"].get(tokenizer_name), config["encoders"]),
              seed=training.seed, tokenizer=tokenizer_name,
              backbone=backbone_name)
    return EvaluateJob(evaluation(config), run, provenance)


def baseline_evaluate_job(config: dict, datasets: dict, dataset: str, baseline: str,
                          seed: int | None = None) -> EvaluateJob:
    """A baseline's evaluation: trained under `seed` (one of the grid's `seeds`) or, with None, its training's own.
    MostPop, which is deterministic and trains nothing, records seed 0."""
    provenance = {"dataset": datasets["datasets"][dataset], "evaluate": evaluation(config).to_dict()}
    seed_used = 0
    if baseline != "mostpop":
        training = baseline_training(config, seed, baseline)
        provenance |= {"model": baseline_model(config, baseline).to_dict(), "training": training.to_dict()}
        seed_used = training.seed
    return EvaluateJob(evaluation(config), Run(dataset=dataset, stage=baseline, method=baseline, seed=seed_used),
                       provenance)


@dataclass(frozen=True)
class BaselineJob(Settings):
    """What a sequential baseline trains: its architecture, the shared training, and the run's masking rule
    (early stopping ranks the valid split as the test split will be ranked)."""

    KEY = "baseline job"

    model: dict
    training: BaselineTraining
    mask_history: bool


def baseline_job(config: dict, name: str, seed: int | None = None) -> BaselineJob:
    return BaselineJob(_architecture(config, name), baseline_training(config, seed, name),
                       evaluation(config).mask_history)


def _architecture(config: dict, name: str) -> dict:
    """A baseline's configured architecture, without the sizes its dataset sets."""
    return {key: value for key, value in baseline_model(config, name).to_dict().items() if key not in DATASET_SIZES}


@dataclass(frozen=True)
class PretrainJob(Settings):
    """The first stage of a two-stage baseline (S3-Rec): its architecture, that stage's settings
    (`s3rec_pretraining`) and the run's seed."""

    KEY = "pretraining job"

    model: dict
    pretraining: S3RecPretraining
    seed: int


def pretrain_job(config: dict, name: str, seed: int | None = None) -> PretrainJob:
    if name not in PRETRAINED:
        raise GenrecError(f"baseline '{name}' has no pre-training stage", key="baselines",
                          fix=f"pre-trained baselines: {sorted(PRETRAINED)}")
    return PretrainJob(_architecture(config, name), PRETRAINED[name].from_config(config[f"{name}_pretraining"]),
                       baseline_training(config, seed).seed)


# --- Cross-checks --------------------------------------------------------------------------------------------
def check_sequence_mode(config: dict, backbone_name: str, score_eos: bool) -> None:
    """A backbone trained in sequence mode needs chaining `seq_rec` prompts, and learns no EOS after a SID for a
    beam score to include."""
    if score_eos or (config["rl"]["rewards"] and rl_training(config).score_eos):
        raise GenrecError(f"backbone '{backbone_name}' trains seq_rec in sequence mode, which learns no EOS after a "
                          "SID, so a beam score cannot include one",
                          key="evaluate.score_eos" if score_eos else "rl.score_eos", fix="set it to false")
    prompts = backbone(config, backbone_name).prompts
    for stage in STAGES:
        templates = stage_templates(config["prompts"][prompts], stage, f"prompts.{prompts}")
        if "seq_rec" in templates:
            check_chaining(templates["seq_rec"], f"prompts.{prompts}.{stage}.seq_rec")


def check_known(what: str, used: set[str], known, key: str, fix: str) -> None:
    """Fail on the names of `used` that `known` lacks, at `key`; `fix` is followed by the known names."""
    unknown = sorted(used - set(known))
    if unknown:
        raise GenrecError(f"{what} {unknown}", key=key, fix=fix + ", ".join(sorted(known)))


def check_config(config: dict, datasets: dict) -> None:
    """The checks no single key's schema can make, each naming the key to fix. `config` is validated against
    config.schema.yaml and `datasets` against datasets.schema.yaml; every stage's settings of the grid are built
    once here, so a bad value fails before any job starts."""
    defined = sorted(datasets["datasets"])
    names = check_known
    names("unknown dataset(s)", set(config["datasets"]), defined, "datasets", "the datasets file defines: ")
    names("unknown dataset(s)", set(config["per_dataset"]), defined, "per_dataset", "the datasets file defines: ")
    grids = [dataset_grid(config, dataset) for dataset in config["datasets"]]
    names("unknown backbone(s)", grid_union(config, grids, "sft_backbones"), config["backbones"], "sft_backbones",
          "`backbones` defines: ")
    names("unknown tokenizer(s)", grid_union(config, grids, "sid_tokenizers"), config["tokenizers"], "sid_tokenizers",
          "`tokenizers` defines: ")
    for name in config["encoders"]:
        encoder(config, name)
    clash = sorted(set(config["encoders"]) & set(SEQUENTIAL_BASELINES))
    if clash:
        raise GenrecError(f"encoder name(s) {clash} are taken by the baselines' item embeddings "
                          "(embed/{dataset}/NAME.npy)", key="encoders", fix="rename the encoder")
    for name in config["tokenizers"]:
        sid = tokenizer(config, name)
        if sid.reads_interactions:
            continue
        # a sequential baseline's item embeddings serve as well (collaborative SIDs: TIGER-SAS)
        names("unknown encoder(s)", {sid.encoder}, [*config["encoders"], *SEQUENTIAL_BASELINES],
              f"tokenizers.{name}.encoder", "`encoders` defines, besides the sequential baselines: ")
        if sid.collaborative:
            names("unknown sequential baseline", {sid.collaborative}, SEQUENTIAL_BASELINES,
                  f"tokenizers.{name}.collaborative", "its item embeddings come from one of: ")
    for name in config["backbones"]:
        names("unknown prompt set(s)", {backbone(config, name).prompts}, config["prompts"],
              f"backbones.{name}.prompts", "`prompts` defines: ")
    for name in grid_union(config, grids, "sft_backbones"):
        if backbone(config, name).kind not in TRAINING_STAGES["sft"]:
            raise GenrecError(f"config 'sft_backbones' names t5 backbone '{name}': an encoder-decoder trains as the "
                              "TIGER baseline (`baselines: [tiger]`, `tiger.backbone`), not by LLM SFT",
                              key="sft_backbones")
    sft_training(config, "sft")
    score_eos = evaluation(config).score_eos
    for name in sorted(grid_union(config, grids, "sft_backbones")):
        if sft_training(config, "sft", name).seq_rec_mode == "sequence":
            check_sequence_mode(config, name, score_eos)
    baselines = grid_union(config, grids, "baselines")
    if "tiger" in baselines:
        name = config["tiger"]["backbone"]
        if name not in config["backbones"] or backbone(config, name).kind != "t5":
            raise GenrecError(f"tiger.backbone '{name}' must name a `kind: t5` entry of `backbones`", key="tiger.backbone")
        used = grid_union(config, grids, "tiger", "tokenizers")
        if not used:
            raise GenrecError("the grid runs TIGER on no tokenizer", key="tiger.tokenizers",
                              fix="name tokenizers of `tokenizers`")
        names("unknown tokenizer(s)", used, config["tokenizers"], "tiger.tokenizers", "`tokenizers` defines: ")
        if sft_training(config, "tiger").seq_rec_mode != "row":
            raise GenrecError("TIGER (an encoder-decoder) trains one example per row", key="tiger.sft.seq_rec_mode",
                              fix="set tiger.sft.seq_rec_mode: row")
    check_etegrec(config, grids)
    for method in SFT_METHODS:
        check_sft_method(config, grids, method)
    if grid_union(config, grids, "bigrec", "backbones"):
        grounding(config)
    if grid_union(config, grids, "sdpo", "backbones"):
        sdpo_training(config)
    check_openonerec(config, grids)
    for reserved, what in ((TITLES, "the title methods' runs live"), (GENERAL, "OpenOneRec's base model lives")):
        if reserved in config["tokenizers"]:
            raise GenrecError(f"tokenizer name '{reserved}' is where {what}", key=f"tokenizers.{reserved}",
                              fix="rename the tokenizer")
    for name in baselines - {"mostpop", "tiger"}:
        baseline_model(config, name)
    if baselines - {"mostpop", "tiger"}:
        baseline_training(config)
    for name in config["baseline_training_overrides"]:
        baseline_training(config, name=name)
    rewards = grid_union(config, grids, "rl", "rewards")
    if rewards:
        used = grid_union(config, grids, "rl", "tokenizers")
        if not used:
            raise GenrecError("the grid runs RL on no tokenizer", key="rl.tokenizers",
                              fix="name tokenizers of `tokenizers`")
        names("unknown tokenizer(s)", used, config["tokenizers"], "rl.tokenizers", "`tokenizers` defines: ")
        rl_training(config)
    if "semantic" in rewards:
        names("unknown encoder", {config["rl"]["encoder"]}, config["encoders"], "rl.encoder",
              "the semantic reward's embeddings come from `encoders`: ")


def check_openonerec(config: dict, grids: list[dict]) -> None:
    """OpenOneRec's grid: known tokenizers and causal-LM backbones, and every stage's settings built once."""
    tokenizers = grid_union(config, grids, OPENONEREC, "tokenizers")
    check_known("unknown tokenizer(s)", tokenizers, config["tokenizers"], "openonerec.tokenizers",
                "`tokenizers` defines: ")
    if tokenizers:
        openonerec_data(config)
        general_text(config)
        openonerec_perplexity(config)
        openonerec_grpo(config)
        openonerec_tasks(config)
    backbones = grid_union(config, grids, OPENONEREC, "backbones")
    check_known("unknown backbone(s)", backbones, config["backbones"], "openonerec.backbones", "`backbones` defines: ")
    if backbones and not tokenizers:
        raise GenrecError("the grid runs OpenOneRec on no tokenizer", key="openonerec.tokenizers",
                          fix="name tokenizers of `tokenizers` (its own is openonerec_rqkmeans)")
    for name in sorted(backbones):
        for stage in STAGE_SECTIONS:       # a wrong kind or setting fails here, before any job
            openonerec_job(config, stage, name, sorted(tokenizers)[0])


def check_sft_method(config: dict, grids: list[dict], method: str) -> None:
    """An SFT method's grid (LC-Rec, D3): LLM backbones, known SID tokenizers (a title method has none: it trains
    title tasks only), and a prompt set with a template for every task it trains and the one it is decoded from."""
    decoders = [method] + [other for other, base in BASE_METHOD.items() if base == method]
    used = set().union(*(grid_union(config, grids, name, "backbones") for name in decoders))
    if not used:
        return
    for name in decoders:       # a method built on this one: its backbones train this method's model
        check_known("unknown backbone(s)", grid_union(config, grids, name, "backbones"), config["backbones"],
                    f"{name}.backbones", "`backbones` defines: ")
    for name in sorted(used):
        if backbone(config, name).kind not in TRAINING_STAGES[method]:
            raise GenrecError(f"{method}.backbones names t5 backbone '{name}': the method fine-tunes a decoder-only "
                              "LLM", key=f"{method}.backbones", fix="name `kind: tiny` or `kind: hf` entries of `backbones`")
    naming = "title" if method in TITLE_METHODS else "sid"
    if naming == "sid":
        tokenizers = grid_union(config, grids, method, "tokenizers")
        if not tokenizers:
            raise GenrecError(f"the grid runs {method} on no tokenizer", key=f"{method}.tokenizers",
                              fix="name tokenizers of `tokenizers`")
        check_known("unknown tokenizer(s)", tokenizers, config["tokenizers"], f"{method}.tokenizers",
                    "`tokenizers` defines: ")
    prompts = config[method]["prompts"]
    if prompts not in config["prompts"]:
        raise GenrecError(f"unknown prompt set '{prompts}'", key=f"{method}.prompts",
                          fix="`prompts` defines: " + ", ".join(sorted(config["prompts"])))
    templates = stage_templates(config["prompts"][prompts], "sft", f"prompts.{prompts}")
    decoded = RECOMMENDATION_TASK[naming]
    for name in sorted(used):
        training = sft_training(config, method, name)
        missing = sorted(task for task in set(training.tasks) | {decoded} if task not in templates)
        if missing:
            raise GenrecError(f"{method} trains task(s) {missing} that prompt set '{prompts}' has no template for",
                              key=f"{method}.sft.tasks", fix=f"add them under prompts.{prompts}.sft or drop them")
        if naming == "title" and set(training.tasks) - set(TITLE_TASKS):
            raise GenrecError(f"{method} names items by title (no SID index), so it trains {list(TITLE_TASKS)} only, "
                              f"not {sorted(set(training.tasks) - set(TITLE_TASKS))}", key=f"{method}.sft.tasks")
        if training.seq_rec_mode != "row":
            raise GenrecError(f"{method}'s prompts wrap the history in an instruction, so it trains one example "
                              "per row", key=f"{method}.sft.seq_rec_mode", fix=f"set {method}.sft.seq_rec_mode: row")
    if naming == "title":
        stage_templates(config["prompts"][prompts], "evaluate", f"prompts.{prompts}")[decoded].title_response("")


def check_etegrec(config: dict, grids: list[dict]) -> None:
    """ETEGRec's grid: a t5 backbone (TIGER's recommender), RQ-VAE tokenizers to start from, known variants."""
    used = grid_union(config, grids, "etegrec", "tokenizers")
    if not used:
        return
    name = config["etegrec"]["backbone"]
    if name not in config["backbones"] or backbone(config, name).kind != "t5":
        raise GenrecError(f"etegrec.backbone '{name}' must name a `kind: t5` entry of `backbones` (ETEGRec's "
                          "recommender is TIGER's encoder-decoder)", key="etegrec.backbone")
    check_known("unknown tokenizer(s)", used, config["tokenizers"], "etegrec.tokenizers", "`tokenizers` defines: ")
    for name in sorted(used):
        if tokenizer(config, name).method != "rqvae":
            raise GenrecError(f"ETEGRec's item tokenizer is an RQ-VAE; tokenizer '{name}' is of method "
                              f"{tokenizer(config, name).method}", key="etegrec.tokenizers",
                              fix="name `method: rqvae` tokenizers (e.g. etegrec_rqvae)")
    for stage in config["etegrec"]["variants"]:
        etegrec_training(config, stage)
