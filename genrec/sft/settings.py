"""SFT's settings (config `sft`; TIGER's training is the same settings with `tiger.sft` applied on top).

A light module, as every settings module is: the Snakefile builds these at DAG time without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genrec.config import Settings
from genrec.errors import GenrecError

# SFT tasks (genrec/sft/tasks.py); RL trains on those answered by a SID. The last four complete LC-Rec's
# index-language alignment (an item's description, or title and description, to and from its SID).
TASKS = ("seq_rec", "title2sid", "sid2title", "hist2title", "hist2description", "title_hist2sid", "title_hist2title",
         "description2sid", "titledesc2sid", "sid2description", "sid2titledesc")
RL_TASKS = ("seq_rec", "title2sid", "description2sid", "title_hist2sid")
# the tasks that neither show nor name a SID: all a title method (BIGRec, D3), trained without an index, can train
TITLE_TASKS = ("title_hist2title",)


@dataclass(frozen=True)
class SFTSettings(Settings):
    """Config `sft`. The defaults are the library's; config/config.yaml sets the quickstart's values and
    config/experiments/paper-minionerec.yaml the paper's."""

    KEY = "sft"

    tasks: dict = field(default_factory=lambda: {"seq_rec": 1.0})   # task -> weight, or {samples: N}
    batch_size: int = 256             # global: examples per optimizer step (paper 1024)
    micro_batch_size: int = 256
    learning_rate: float = 1e-3
    epochs: float = 10
    warmup_ratio: float = 0.05
    warmup_steps: int | None = None   # a fixed warm-up (MiniOneRec's 20 steps), in place of warmup_ratio
    weight_decay: float = 0.01
    optimizer: str = "adamw_torch"    # an HF `optim` name; T5X (TIGER's framework) defaults to adafactor
    lr_scheduler: str = "cosine"      # an HF scheduler name, or rsqrt (TIGER's: constant for the warm-up, then 1/sqrt)
    min_lr_rate: float | None = None  # cosine_with_min_lr's floor, a share of learning_rate (OpenOneRec: 1e-4 / 2e-4)
    adam_beta2: float = 0.999         # AdamW's second-moment decay (OpenOneRec: 0.95)
    prompt_history: int = 20          # the latest items a prompt shows (the split's own cap is the dataset's)
    max_length: int = 512
    freeze_llm: bool = False
    sid_init: str = "mean"
    precision: str = "auto"           # auto: bf16 where the device supports it
    save_every_epochs: float = 1.0    # also how often valid loss is computed (MiniOneRec: 5 % of the steps)
    early_stopping_patience: int | None = None   # stop after this many evaluations without a better valid loss
    group_by_length: bool = True      # batches of similar length (less padding); MiniOneRec samples at random
    seq_rec_mode: str = "row"         # sequence: seq_rec as windows of users' sequences (genrec/sft/sequences.py)
    max_grad_norm: float = 1.0
    dataloader_workers: int = 0       # processes collating batches beside the step (a GPU's step outruns one)
    torch_compile: bool = False       # HF's torch_compile: fewer kernel launches for a small model on a GPU
    static_shapes: bool = False       # TIGER: every batch padded to the data's longest prompt and SID (for torch_compile)
    max_seconds: float | None = None  # stop (after a checkpoint) once training has run this long
    seed: int = 42

    def __post_init__(self) -> None:
        if (self.min_lr_rate is not None) != (self.lr_scheduler == "cosine_with_min_lr"):
            raise GenrecError(f"min_lr_rate {self.min_lr_rate} with lr_scheduler {self.lr_scheduler}: the floor is "
                              "cosine_with_min_lr's, and that schedule needs one", key=f"{self.KEY}.min_lr_rate",
                              fix="set both, or neither")
