"""OpenOneRec's settings (config `openonerec`): its data, prompts and pre-training stages, checked when the workflow
plans: this module imports no data or torch library."""

from __future__ import annotations

import string
from dataclasses import dataclass

from genrec.config import Settings
from genrec.errors import GenrecError
from genrec.grid import (OPENONEREC_ALIGN, OPENONEREC_BASE, OPENONEREC_COPRETRAIN, OPENONEREC_DISTILL, OPENONEREC_GENERAL,
                         OPENONEREC_GRPO, OPENONEREC_SFT)
from genrec.models.settings import BackboneSpec
from genrec.sft.settings import SFTSettings

# OpenOneRec's training stages by their config sections: the base model (a tiny backbone's general pre-training; the
# model before stage 1), stage 1 (itemic-text alignment), stage 2 (co-pre-training) (genrec.openonerec.pretrain),
# chat SFT (genrec.openonerec.sft), on-policy distillation (genrec.openonerec.distill)
BASE, ALIGN, COPRETRAIN, SFT = OPENONEREC_BASE, OPENONEREC_ALIGN, OPENONEREC_COPRETRAIN, OPENONEREC_SFT
DISTILL, GRPO = OPENONEREC_DISTILL, OPENONEREC_GRPO     # GRPO: the RL stage's (genrec.rl), config openonerec.grpo
GRPO_REWARD = "rule"    # verl_rl/recipe/onerec/onerec_recipe.py first_sid_hit_reward: 1 if the SID is the target
STAGE_SECTIONS = {BASE: "base", ALIGN: "align", COPRETRAIN: "copretrain", SFT: "chat", DISTILL: "distill"}
THINK_MODES = ("auto", "force_think", "force_nothink", "none")
GENERAL = OPENONEREC_GENERAL     # the tokenizer directory of the base model, which knows no SIDs


@dataclass(frozen=True)
class ChatPrompts(Settings):
    """One chat task's prompt pools: a system prompt and a question are drawn per sample."""

    KEY = "openonerec.prompts.<task>"

    system: tuple[str, ...] = ()
    user: tuple[str, ...] = ()


def _expect_fields(template: str, expected: set[str], key: str) -> None:
    """A template's placeholders are exactly `expected` (a literal brace is written {{ or }})."""
    try:
        found = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise GenrecError(f"template {template!r} does not parse ({exc})", key=key,
                          fix="write a literal brace as {{ or }}") from None
    if found != expected:
        raise GenrecError(f"template {template!r} has placeholders {sorted(found)}, expected {sorted(expected)}",
                          key=key)


@dataclass(frozen=True)
class OpenOneRecPrompts(Settings):
    """Config `openonerec.prompts`: the data scripts' templates (docs/fidelity.md says which, and in what words)."""

    KEY = "openonerec.prompts"

    captions: tuple[str | dict[str, str], ...] = ()   # pre-training captions: {sid}, {caption}; a mapping = JSON
    rec: ChatPrompts | None = None                 # next-item recommendation; questions hold {query}
    item_understand: ChatPrompts | None = None     # item understanding; questions hold {sid}
    query_rec: ChatPrompts | None = None           # query-conditioned recommendation; {query} and {keyword}

    def __post_init__(self) -> None:
        for name, fields in (("rec", {"query"}), ("item_understand", {"sid"}), ("query_rec", {"query", "keyword"})):
            prompts = getattr(self, name)
            if prompts is None or not prompts.system or not prompts.user:
                raise GenrecError(f"no {name} prompts", key=f"{self.KEY}.{name}", fix="give it system and user lists")
            for role, expected in (("system", set()), ("user", fields)):
                for template in getattr(prompts, role):
                    _expect_fields(template, expected, f"{self.KEY}.{name}.{role}")
        if not self.captions:
            raise GenrecError("no caption template", key=f"{self.KEY}.captions")
        for template in self.captions:     # a JSON template's placeholders across its values
            text = template if isinstance(template, str) else "".join(template.values())
            _expect_fields(text, {"sid", "caption"}, f"{self.KEY}.captions")


@dataclass(frozen=True)
class OpenOneRecData(Settings):
    """What the segments and chat files hold (config `openonerec.data`, with `openonerec.prompts`)."""

    KEY = "openonerec.data"

    prompts: OpenOneRecPrompts
    max_history: int = 512          # sft/video_rec.py HIST_MAX_LEN: the most recent items of a history
    max_targets: int = 10           # TARGET_MAX_LEN: items after the history in a pre-training sequence
    max_caption_chars: int | None = None    # None: the whole caption, as OpenOneRec's dense captions
    query_share: float = 0.25       # rows of each split that also get a query-conditioned chat
    query_words: int = 3            # words of the target's title drawn as its query (interactive_rec's keyword)
    seed: int = 42                  # the data scripts' random.seed(42)

    def __post_init__(self) -> None:
        if not 0 < self.query_share <= 1 or self.query_words < 1:
            raise GenrecError(f"query_share {self.query_share}, query_words {self.query_words} write no queries",
                              key=self.KEY, fix="use 0 < query_share <= 1 and query_words >= 1")


@dataclass(frozen=True)
class GeneralText(Settings):
    """Config `openonerec.general`: the general-domain corpus the stages mix in, and its held-out share."""

    KEY = "openonerec.general"

    corpus: str = "chitchat"        # genrec.openonerec.general.CORPORA
    heldout_percent: int = 5        # conversations held out for the general-text perplexity (by a hash of their id)
    valid_percent: int = 2          # conversations held out for the stages' validation loss

    def __post_init__(self) -> None:
        if not (0 < self.heldout_percent and 0 < self.valid_percent and self.heldout_percent + self.valid_percent < 100):
            raise GenrecError(f"heldout_percent {self.heldout_percent} and valid_percent {self.valid_percent} are "
                              "not two shares of the corpus", key=self.KEY, fix="use two positive percents summing below 100")


@dataclass(frozen=True)
class DistillSettings(Settings):
    """Config `openonerec.distill` (beside its `sft` schedule): OpenOneRec's on-policy distillation
    (verl_distillation/recipe/onpolicy_distill/run_qwen3_distill.sh) as TRL's GKD with lambda 1, beta 1: the student
    samples a reply to a general prompt, the teacher (the base model) scores each of its tokens, the student
    minimises the reverse KL on its own samples."""

    KEY = "openonerec.distill"

    max_prompts: int | None = None  # general training prompts drawn (the script samples 200,000); None: all
    max_prompt_length: int = 512    # a longer prompt keeps its last tokens (the script: 10,240)
    max_new_tokens: int = 128       # MAX_RESPONSE_LEN 2048
    temperature: float = 1.1        # rollout sampling: temperature, top_p, top_k as the script's
    top_p: float = 0.95
    top_k: int = 200
    think_mode: str = "auto"        # onerec_dataset.py: " /think", " /no_think" or nothing after the question
    lmbda: float = 1.0              # GKD: the share of on-policy batches (1: every batch the student's samples)
                                    # (the prompts carry no reference replies, so lambda < 1 has nothing to train on)
    beta: float = 1.0               # GKD: the generalised JSD's interpolation (1: reverse KL, the only one verl has)
    logprob_floor: float = -100.0   # ref_log_prob_replace_val: the teacher's log-probability of a token it lacks
    # DISTILL_ADV_MIN / DISTILL_ADV_MAX: the bounds of the per-token advantage -(log p_student - log p_teacher)
    # (None: unbounded, verl's default 1e9)
    advantage_min: float | None = -30.0
    advantage_max: float | None = 5.0

    def __post_init__(self) -> None:
        if self.think_mode not in THINK_MODES:
            raise GenrecError(f"unknown think_mode {self.think_mode!r}", key=f"{self.KEY}.think_mode",
                              fix=f"use one of {list(THINK_MODES)}")
        if self.beta != 1:
            raise GenrecError(f"beta {self.beta}: OpenOneRec's distillation signal is the reverse KL, and its advantage "
                              "clip is defined on it", key=f"{self.KEY}.beta", fix="use 1")
        for name, excludes_zero in (("advantage_min", self.advantage_min is not None and self.advantage_min > 0),
                                    ("advantage_max", self.advantage_max is not None and self.advantage_max < 0)):
            if excludes_zero:
                raise GenrecError(f"advantage bounds [{self.advantage_min}, {self.advantage_max}] exclude 0, where "
                                  "the student agrees with the teacher", key=f"{self.KEY}.{name}",
                                  fix="use advantage_min <= 0 <= advantage_max (the script's: -30, 5)")
        if self.lmbda != 1:
            raise GenrecError(f"lmbda {self.lmbda}: the distillation prompts carry no reference replies to train on "
                              "off-policy", key=f"{self.KEY}.lmbda", fix="use 1 (OpenOneRec's: every batch on-policy)")
        if self.temperature <= 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise GenrecError(f"sampling temperature {self.temperature}, top_p {self.top_p}, top_k {self.top_k} "
                              "cannot sample", key=self.KEY, fix="use temperature > 0, 0 < top_p <= 1, top_k >= 0")


@dataclass(frozen=True)
class OpenOneRecJob(Settings):
    """What an OpenOneRec training stage trains (config `openonerec.<base|align|copretrain|chat>`): the backbone, the
    stage's schedule (`sft` keys over `sft` and the backbone's), the mixture with general data, and the itemic
    vocabulary stage 1 adds."""

    KEY = "openonerec"

    backbone: BackboneSpec
    sft: SFTSettings
    general_share: float | None = None   # general samples' share of the mix; None: all of both, as OpenOneRec
    levels: int = 3                      # the SID tokenizer's levels and codebook: stage 1 adds every code
    codebook_size: int = 256
    max_history: int = 512               # the valid split's sequences, as the segments write histories
    valid_rows: int | None = 2000        # valid rows drawn for the validation loss (None: all; the sample has 8,317)
    prompts: OpenOneRecPrompts | None = None   # chat SFT: the prompts its evaluation prompt is written from
    distill: DistillSettings | None = None     # distillation: its rollouts and loss

    def __post_init__(self) -> None:
        if self.general_share is not None and not 0 < self.general_share < 1:
            raise GenrecError(f"general_share {self.general_share} is not a share of the mix",
                              key=f"{self.KEY}.general_share", fix="use a number in (0, 1), or null for all of both")


@dataclass(frozen=True)
class TaskSettings(Settings):
    """Config `openonerec.tasks`: the RecIF-Bench-style tasks beside next-item recommendation, on the test split."""

    KEY = "openonerec.tasks"

    item_samples: int = 500         # item understanding: test targets drawn (RecIF-Bench's item_understand: 500)
    query_samples: int = 1000       # query-conditioned recommendation: test query chats drawn (interactive: 1,000)
    batch_size: int = 32
    seed: int = 42


@dataclass(frozen=True)
class PerplexitySettings(Settings):
    """Config `openonerec.perplexity`: how the held-out general text is scored, the same for every stage."""

    KEY = "openonerec.perplexity"

    max_length: int = 512           # window length in tokens (a longer conversation is scored window by window)
    batch_size: int = 16
