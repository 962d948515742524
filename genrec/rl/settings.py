"""RL's settings (config `rl`, less the grid's keys: which rewards, on which tokenizers, and where the semantic
reward's embeddings come from are the grid's business, in genrec/grid.py and the schema)."""

from __future__ import annotations

from dataclasses import dataclass, field

from genrec.config import Settings
from genrec.errors import GenrecError
from genrec.grid import GRID_RL

REWARDS = ("rule", "ranking", "semantic", "cf")
ROLLOUTS = ("beam", "sample")
# `rl` keys that shape the grid, not a job: adding a reward or a tokenizer reruns no finished stage
GRID_KEYS = (*GRID_RL, "encoder")


@dataclass(frozen=True)
class RLSettings(Settings):
    """Config `rl` (library defaults; config/config.yaml sets the quickstart's, config/experiments MiniOneRec's)."""

    KEY = "rl"

    tasks: dict = field(default_factory=lambda: {"seq_rec": 1.0})
    max_samples: int | None = 1024    # cap on the mixed prompts (null: all)
    num_generations: int = 16        # group size = beam width of the rollouts (paper 16)
    rollout: str = "beam"            # beam | sample
    include_target: bool = False     # a group the decoder missed gets the target as its last candidate
    score_eos: bool = False          # candidates end with the response's text after the SID and EOS (MiniOneRec's)
    temperature: float = 1.0         # sampling rollouts only
    batch_size: int = 512            # completions per optimizer step, global
    micro_batch_size: int = 256
    learning_rate: float = 1e-5       # MiniOneRec's
    epochs: float = 1.0
    warmup_ratio: float = 0.0
    lr_scheduler: str = "constant"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0       # MiniOneRec's rl.py: 0.3
    beta: float = 1e-3               # KL penalty against the reference (the SFT model)
    sync_ref_model: bool = False
    ref_model_sync_steps: int = 64
    ref_model_mixup_alpha: float = 1.0
    loss_type: str = "grpo"
    scale_rewards: str = "group"
    epsilon: float = 0.2
    epsilon_high: float | None = None     # the upper clip (DAPO's clip-higher; OpenOneRec's 0.28); None: epsilon
    precision: str = "auto"
    gradient_checkpointing: bool = False   # TRL turns it on by default; a tiny model on CPU only pays the recompute
    save_every_steps: int = 50
    max_seconds: float | None = None
    seed: int = 42

    def __post_init__(self) -> None:
        """Every input error GRPO would hit only after loading models, raised before (and before any job runs:
        the Snakefile builds these settings)."""
        if self.num_generations < 2:
            raise GenrecError(f"num_generations {self.num_generations} < 2: GRPO's advantages compare the "
                              "candidates of a group, one candidate has nothing to compare with",
                              key="rl.num_generations", fix="use 2 or more (the paper uses 16)")
        if self.batch_size % self.num_generations:
            raise GenrecError(f"batch_size {self.batch_size} is not divisible by num_generations "
                              f"{self.num_generations}: a batch must hold whole groups", key="rl.batch_size",
                              fix="use a multiple of num_generations")
        if self.rollout not in ROLLOUTS:
            raise GenrecError(f"unknown rollout '{self.rollout}'", key="rl.rollout", fix=f"use one of {list(ROLLOUTS)}")

    @staticmethod
    def check_reward(reward: str) -> None:
        if reward not in REWARDS:
            raise GenrecError(f"unknown reward '{reward}'", key="rl.rewards", fix=f"use one of {list(REWARDS)}")
