"""The sequential baselines' settings: each model's architecture (config `baseline_models.<name>`) and their
shared training (config `baseline_training`). Without torch: the Snakefile builds them at DAG time."""

# no `from __future__ import annotations`: the hub mixin rebuilds the model configs from their real annotations
from dataclasses import dataclass
from typing import Optional

from genrec.config import Settings
from genrec.errors import GenrecError

LOSSES = ("softmax", "sampled_bce")


@dataclass
class SASRecConfig(Settings):
    KEY = "baseline_models.sasrec"

    n_items: int = 0               # set from the dataset when the model is built
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    dropout: float = 0.2
    max_length: int = 50


@dataclass
class GRU4RecConfig(Settings):
    KEY = "baseline_models.gru4rec"

    n_items: int = 0
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.2
    max_length: int = 50


@dataclass
class CaserConfig(Settings):
    KEY = "baseline_models.caser"

    n_items: int = 0
    hidden_size: int = 64
    window: int = 5                 # L: the latest items a state sees
    horizontal_filters: int = 16    # per filter height 1..L
    vertical_filters: int = 4
    dropout: float = 0.2
    max_length: int = 50
    # The paper's (and graytowne/caser_pytorch's) user embedding P_u beside the convolutional state; off, Caser is
    # sequence-only like the other models. `n_users` is filled from the training split (unseen users share row 0).
    user_embedding: bool = False
    n_users: int = 0


MODEL_CONFIGS = {"sasrec": SASRecConfig, "gru4rec": GRU4RecConfig, "caser": CaserConfig}
DATASET_SIZES = ("n_items", "n_users")     # fields set from the dataset when a model is built, not configured


@dataclass(frozen=True)
class BaselineTraining(Settings):
    """Config `baseline_training` (RecBole's defaults for these models, except the epoch budget)."""

    KEY = "baseline_training"

    batch_size: int = 128            # user sequences per step
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    max_epochs: int = 200
    eval_every: int = 1              # epochs between valid evaluations
    patience: int = 5                # evaluations without improvement before stopping
    max_seconds: Optional[float] = None  # stop once training has run this long (the best model so far is kept)
    seed: int = 42
    # softmax: cross-entropy over all items at every position (RecBole's CE). sampled_bce: S3-Rec's fine-tuning
    # loss, binary cross-entropy against one sampled negative per position (TIGER's Table 1 baselines).
    loss: str = "softmax"
    # The valid metric whose best epoch is kept (hr@K or ndcg@K). RecBole's default is NDCG@10; S3-Rec's
    # early stopping watches NDCG@20 (run_finetune_full.py: `scores[-1:]` of trainers.get_full_sort_score).
    select_metric: str = "ndcg@10"

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise GenrecError(f"unknown baseline loss {self.loss!r}", key="baseline_training.loss",
                              fix=f"use one of {list(LOSSES)}")
        name, _, k = self.select_metric.partition("@")
        if name not in ("hr", "ndcg") or not k.isdigit() or int(k) < 1:
            raise GenrecError(f"unknown early-stopping metric {self.select_metric!r}",
                              key="baseline_training.select_metric", fix="use hr@K or ndcg@K, e.g. ndcg@10")

    @property
    def select_k(self) -> int:
        return int(self.select_metric.partition("@")[2])
