"""Evaluation's settings (config `evaluate`): constrained beam search, sharding, the K of HR@K / NDCG@K, and
the run's one history-masking rule; and BIGRec's grounding (config `bigrec.grounding`, genrec.evaluate.grounding)."""

from __future__ import annotations

from dataclasses import dataclass

from genrec.config import Settings
from genrec.errors import GenrecError

DEFAULT_KS = (1, 3, 5, 10, 20)


@dataclass(frozen=True)
class EvalSettings(Settings):
    """Config `evaluate` (beam width: CPU default 20, the paper's 50)."""

    KEY = "evaluate"

    num_beams: int = 20
    length_penalty: float = 0.0
    batch_size: int = 64           # rows per beam search call
    shards: int = 1                # prediction jobs per split (one GPU each on a cluster)
    ks: tuple[int, ...] = DEFAULT_KS
    precision: str = "auto"        # auto: bf16 on a GPU that has it, float32 on CPU (numbers independent of the CPU)
    mask_history: bool = False     # MiniOneRec's default: repeats allowed, the row's history items stay rankable
    score_eos: bool = False        # beam scores include the response's text after the SID and EOS (MiniOneRec's)

    def __post_init__(self) -> None:
        if self.num_beams < max(self.ks):
            raise GenrecError(f"beam width {self.num_beams} is below the largest K = {max(self.ks)}: the ranked "
                              "list would be too short for HR@K / NDCG@K", key="evaluate.num_beams",
                              fix=f"set num_beams >= {max(self.ks)} or drop the larger K from evaluate.ks")
        if self.shards < 1 or self.batch_size < 1:
            raise GenrecError("shards and batch_size must be positive", key="evaluate")


ADJUSTMENTS = ("none", "popularity", "cf")


@dataclass(frozen=True)
class GroundingSettings(Settings):
    """Config `bigrec.grounding`: BIGRec's generation and grounding (its inference.py and evaluate scripts)."""

    KEY = "bigrec.grounding"

    num_beams: int = 4              # inference.py: num_beams 4, the first beam is grounded
    max_new_tokens: int = 128       # inference.py
    adjustment: str = "none"        # none | popularity (adjust_pda.py) | cf (adjust_ci.py, our SASRec)
    gamma: float = 0.0              # the adjustment's strength (the scripts search it; 0 = plain grounding)
    generation_batch_size: int = 8  # prompts per generate call (inference.py: 8; a beam search's prefill holds
                                    # prompts x beams x length^2 attention scores)
    embedding_batch_size: int = 16  # titles embedded per forward pass (evaluate.py: 16)

    def __post_init__(self) -> None:
        if self.adjustment not in ADJUSTMENTS:
            raise GenrecError(f"unknown grounding adjustment '{self.adjustment}'", key=f"{self.KEY}.adjustment",
                              fix=f"use one of {list(ADJUSTMENTS)}")
        if self.gamma < 0 or (self.adjustment == "none" and self.gamma != 0):
            raise GenrecError(f"gamma {self.gamma} needs a non-negative value and an adjustment to scale",
                              key=f"{self.KEY}.gamma", fix="set adjustment: popularity or cf, or gamma: 0")
        if min(self.num_beams, self.max_new_tokens, self.generation_batch_size, self.embedding_batch_size) < 1:
            raise GenrecError("num_beams, max_new_tokens and the batch sizes must be positive", key=self.KEY)
