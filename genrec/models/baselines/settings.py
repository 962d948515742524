"""The sequential baselines' settings: each model's architecture (config `baseline_models.<name>`) and their
shared training (config `baseline_training`). Without torch: the Snakefile builds them at DAG time."""

# no `from __future__ import annotations`: the hub mixin rebuilds the model configs from their real annotations
from dataclasses import dataclass, field
from typing import Optional

from genrec.config import Settings
from genrec.errors import GenrecError

LOSSES = ("softmax", "sampled_bce", "bpr")


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


@dataclass
class HGNConfig(Settings):
    KEY = "baseline_models.hgn"

    n_items: int = 0
    hidden_size: int = 64           # d (the paper's 50)
    window: int = 5                 # L: the latest items a state sees
    max_length: int = 50
    # the user embedding in both gates and the score (the paper's); off, HGN reads the sequence only
    user_embedding: bool = True
    n_users: int = 0
    # T: the next items each state is trained on under a sampled loss (the released code's 3; 1 is next-item)
    targets: int = 1
    # the released code's instance-gate weights, plain tensors its optimiser never updates (a measurement only)
    frozen_instance_gates: bool = False


@dataclass
class FMLPRecConfig(Settings):
    KEY = "baseline_models.fmlprec"

    n_items: int = 0
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.5
    max_length: int = 50            # also the length of the learnable filters


@dataclass
class BERT4RecConfig(Settings):
    KEY = "baseline_models.bert4rec"

    n_items: int = 0
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 256
    dropout: float = 0.2            # RecBole's hidden and attention dropout
    max_length: int = 50            # positions, the [mask] slot included
    mask_ratio: float = 0.2         # share of a training sequence's items replaced by [mask] (the original: 0.6 on Beauty)
    last_item_ratio: float = 0.5    # share of batches that mask only the last item (RecBole's ft_ratio)


def _attribute_fields() -> list:
    return ["brand", "categories"]


@dataclass
class AttributeEncoderConfig(Settings):
    """What FDSA and S3-Rec share: post-LN transformer blocks over items, and item attributes."""

    n_items: int = 0
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 256
    dropout: float = 0.5
    max_length: int = 50
    attribute_fields: list = field(default_factory=_attribute_fields)   # the item columns attributes come from
    n_attributes: int = 0           # set from the dataset's items
    attributes_per_item: int = 0    # set from the dataset's items


@dataclass
class FDSAConfig(AttributeEncoderConfig):
    KEY = "baseline_models.fdsa"


@dataclass
class S3RecConfig(AttributeEncoderConfig):
    KEY = "baseline_models.s3rec"


@dataclass(frozen=True)
class S3RecPretraining(Settings):
    """Config `s3rec_pretraining`: S3-Rec's self-supervised stage (aHuiWang/CIKM2020-S3Rec @ 49a890d,
    run_pretrain.py defaults; its Beauty model is the checkpoint of epoch 150)."""

    KEY = "s3rec_pretraining"

    epochs: int = 150
    batch_size: int = 100
    learning_rate: float = 1e-3
    mask_ratio: float = 0.2          # mask_p: items masked for MIP / MAP (the last one always is)
    aap_weight: float = 0.2
    mip_weight: float = 1.0
    map_weight: float = 1.0
    sp_weight: float = 0.5
    max_seconds: Optional[float] = None   # stop after this long (the last epoch's weights are kept)
    # random batches as released, each encoding's rows taken in this many groups of similar length (the same
    # losses without encoding the padding; the released code pads every batch to 50). 1 encodes a batch at once.
    length_groups: int = 8


@dataclass
class HSTUConfig(Settings):
    """HSTU's public-dataset settings (facebookresearch/generative-recommenders @ 2e81fab,
    configs/amzn-books/hstu-sampled-softmax-n512-final.gin: the authors' Amazon data)."""

    KEY = "baseline_models.hstu"

    n_items: int = 0
    hidden_size: int = 64
    num_layers: int = 4
    num_heads: int = 4
    head_dim: int = 16              # the per-head width of Q, K and V
    dropout: float = 0.5            # on the input and before each unit's output projection
    max_length: int = 50
    temperature: float = 0.05       # cosine scores are divided by it
    # relative time bias over log-spaced buckets of the gap between the time asked for and a key's time, used where
    # the dataset has real timestamps (`build_model` sets 0 for an order-only one). The released 128 is config.yaml's;
    # the default 0 is what a model saved before the bias existed holds (it must load as it was trained).
    time_buckets: int = 0


MODEL_CONFIGS = {"sasrec": SASRecConfig, "gru4rec": GRU4RecConfig, "caser": CaserConfig, "hgn": HGNConfig,
                 "fmlprec": FMLPRecConfig, "bert4rec": BERT4RecConfig, "fdsa": FDSAConfig, "s3rec": S3RecConfig,
                 "hstu": HSTUConfig}
# fields set from the dataset when a model is built, not configured
DATASET_SIZES = ("n_items", "n_users", "n_attributes", "attributes_per_item")
PRETRAINED = {"s3rec": S3RecPretraining}   # the baselines trained in two stages, and their first stage's settings


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
    # loss, binary cross-entropy against one sampled negative per position (TIGER's Table 1 baselines). bpr:
    # -log sigmoid(positive - negative) against one sampled negative (HGN's released loss).
    loss: str = "softmax"
    # The valid metric whose best epoch is kept (hr@K or ndcg@K). RecBole's default is NDCG@10; S3-Rec's
    # early stopping watches NDCG@20 (run_finetune_full.py: `scores[-1:]` of trainers.get_full_sort_score).
    select_metric: str = "ndcg@10"
    # A batch's rows are encoded in this many groups of similar length, each trimmed to its own longest row: the
    # same states and loss (padding-invariant models), without encoding the padding one long row forces on the
    # rest (87 % of a Beauty batch's positions). 1 encodes the batch at once.
    length_groups: int = 8

    def __post_init__(self) -> None:
        if self.length_groups < 1:
            raise GenrecError(f"length_groups must be at least 1, got {self.length_groups}",
                              key="baseline_training.length_groups", fix="use 1 to encode each batch at once")
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
