"""S-DPO's training settings (config `sdpo.training`): chenyuxin1999/S-DPO @ 07befa4, softmax_dpo.sh and
softmax_dpo.py. No torch here: the Snakefile builds them at DAG time."""

from __future__ import annotations

from dataclasses import dataclass

from genrec.config import Settings
from genrec.errors import GenrecError


@dataclass(frozen=True)
class SDPOSettings(Settings):
    """Config `sdpo.training` (defaults: S-DPO's softmax_dpo.sh on 4 GPUs)."""

    KEY = "sdpo.training"

    beta: float = 1.0                  # softmax_dpo.sh --beta 1
    negatives: int = 3                 # --neg_num 3: items sampled per row, fixed for the run
    learning_rate: float = 1e-5        # --learning_rate 1e-5
    epochs: float = 3                  # --num_train_epochs 3
    batch_size: int = 128              # 4 GPUs x 4 x 8 accumulation steps
    micro_batch_size: int = 4
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 0.3
    max_length: int = 512              # cutoff_len
    max_samples: int | None = None     # training rows used (None: every row; the CPU grid caps them)
    valid_samples: int = 2000          # softmax_dpo.py: 2,000 validation rows
    eval_every_epochs: float = 0.5     # valid loss and a checkpoint; the best is kept (S-DPO: every 0.1 of the run)
    precision: str = "auto"
    max_seconds: float | None = None   # stop (and keep the best checkpoint) after this much training
    seed: int = 1958                   # softmax_dpo.py's random.seed(1958) draws the negatives

    def __post_init__(self) -> None:
        if self.negatives < 1:
            raise GenrecError("S-DPO needs at least one negative (one negative is DPO)", key=f"{self.KEY}.negatives")
        if self.beta <= 0:
            raise GenrecError(f"beta {self.beta} must be positive", key=f"{self.KEY}.beta")
        if self.batch_size % self.micro_batch_size:
            raise GenrecError(f"batch_size {self.batch_size} is not a multiple of micro_batch_size "
                              f"{self.micro_batch_size}", key=f"{self.KEY}.batch_size")
        if self.max_samples is not None and self.max_samples < 1:
            raise GenrecError("max_samples must be positive (or null: every training row)",
                              key=f"{self.KEY}.max_samples")
