"""Evaluation's settings (config `evaluate`): constrained beam search, sharding, the K of HR@K / NDCG@K, and
the run's one history-masking rule."""

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
