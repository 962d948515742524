"""ETEGRec's training settings (config `etegrec.training`; a light module: no torch at DAG time).

The defaults are the released recipe (BishopLiu/ETEGRec @ 58d9736: config/scientific.yaml, run.sh, trainer.py);
docs/fidelity.md ("ETEGRec") names each and what differs. Table 4's ablations are these settings:
`sia_weight: 0` (w/o SIA), `psa_weight: 0` (w/o PSA), both (w/o SIA & PSA), `alternating: false` (w/o AT:
both components learn every objective at every step) and `end_to_end: false` (w/o ETE: a fresh recommender is
trained on the final item codes).
"""

from __future__ import annotations

from dataclasses import dataclass

from genrec.config import Settings
from genrec.errors import GenrecError

# Table 4's rows as stages of the grid: stage name -> the settings that make the ablation
VARIANTS: dict[str, dict] = {
    "etegrec": {},
    "etegrec-no-sia": {"sia_weight": 0.0},
    "etegrec-no-psa": {"psa_weight": 0.0},
    "etegrec-no-sia-psa": {"sia_weight": 0.0, "psa_weight": 0.0},
    "etegrec-no-at": {"alternating": False},
    "etegrec-no-ete": {"end_to_end": False},
}


@dataclass(frozen=True)
class ETEGRecSettings(Settings):
    """Config `etegrec.training`."""

    KEY = "etegrec.training"

    epochs: int = 400                  # the alternating phase: a tokenizer epoch, then cycle - 1 recommender epochs
    cycle: int = 2                     # C (the paper tunes it in {2, 4})
    warm_epochs: int = 10              # alignment losses off for the first epochs (trainer.py `warm_epoch`)
    eval_every: int = 2                # epochs between valid evaluations (must divide `cycle`)
    patience: int = 15                 # evaluations without a better valid NDCG@10
    finetune_epochs: int = 100         # then the recommender alone on the best state's fixed codes, code loss only
    finetune_learning_rate: float = 5e-4
    finetune_patience: int = 10
    learning_rate: float = 5e-3        # the recommender's (lr_rec)
    tokenizer_learning_rate: float = 1e-4   # the item tokenizer's (lr_id)
    weight_decay: float = 0.05
    warmup_steps: int = 8000           # the recommender's; the tokenizer's is warmup_steps / cycle
    batch_size: int = 512
    max_grad_norm: float = 1.0
    sia_weight: float = 1e-4           # sequence-item alignment (kl_loss), in both phases
    psa_weight: float = 3e-4           # preference-semantic alignment (dec_cl_loss), in both phases
    commitment_weight: float = 1.0     # alpha: recon + alpha * RQ loss, the tokenizer's own loss
    temperature: float = 0.07          # PSA's InfoNCE
    code_distance_sign: float = -1.0   # SIA's P(code) = softmax(sign * distance^2): -1 the paper's, +1 the code's
    alternating: bool = True           # False: w/o AT
    end_to_end: bool = True            # False: w/o ETE
    max_history: int = 50              # the latest items the encoder reads (max_his_len)
    group_by_length: bool = True       # batches of similar history length (less padding); released: random
    num_beams: int = 20                # valid evaluation for model selection (constrained, as at test time)
    select_rows: int | None = None     # valid rows scored for model selection (a fixed random subset); None: all
    eval_batch_size: int = 64
    precision: str = "auto"            # bf16 autocast on a GPU that has it
    max_seconds: float | None = None   # end the alternating phase once training has run this long
    seed: int = 42

    def __post_init__(self) -> None:
        if self.cycle < 2:
            raise GenrecError("cycle counts a tokenizer epoch and at least one recommender epoch",
                              key=f"{self.KEY}.cycle", fix="use 2 or more (the paper: 2 or 4)")
        if self.cycle % self.eval_every:
            raise GenrecError(f"eval_every ({self.eval_every}) must divide cycle ({self.cycle}), as the released "
                              "trainer asserts, so that every evaluation follows a recommender epoch",
                              key=f"{self.KEY}.eval_every")

    def variant(self, stage: str) -> ETEGRecSettings:
        """These settings with a Table 4 ablation (`stage`, a key of VARIANTS) applied."""
        if stage not in VARIANTS:
            raise GenrecError(f"unknown ETEGRec stage {stage!r}", key="etegrec.variants", fix=f"use {list(VARIANTS)}")
        return ETEGRecSettings.from_config({**self.to_dict(), **VARIANTS[stage]}, key=self.KEY)
